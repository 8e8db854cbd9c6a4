//! Filling the library from inside the TUI: the folder prompt (a path with Tab completion of folders), a scan or
//! an import of MPD's library running in the background with its progress, and the last folder scanned, which the
//! prompt offers again for a rescan. An empty library shows these keys as its welcome (see `view::welcome`).

use std::path::PathBuf;

use super::{App, Effect};
use crate::library::scan::ScanSummary;
use crate::player::ImportReport;
use crate::tui::action::Action;
use crate::tui::editor::{EditOp, LineEditor};
use crate::tui::layer::Overlay;
use crate::tui::paths::Completion;

/// What the scan and MPD keys say while a job runs; the job's end replaces it.
const RUNNING: &str = "a scan is running; its progress is in the status bar";

/// A scan or an import of MPD's library, for the status bar and the welcome.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ImportJob {
    #[default]
    Idle,
    Scanning {
        folder: String,
        files_seen: usize,
        committed: usize,
    },
    ImportingMpd,
    /// What the last one did, in words.
    Done(String),
    Failed(String),
}

impl ImportJob {
    pub fn running(&self) -> bool {
        matches!(self, ImportJob::Scanning { .. } | ImportJob::ImportingMpd)
    }

    /// The job in a few words, and whether it failed; nothing when none ran.
    pub fn text(&self) -> Option<(String, bool)> {
        match self {
            ImportJob::Idle => None,
            ImportJob::Scanning {
                folder,
                files_seen: 0,
                ..
            } => Some((format!("scanning {folder}…"), false)),
            ImportJob::Scanning {
                folder,
                files_seen,
                committed,
            } => Some((
                format!("scan {folder}: {files_seen} files, {committed} songs stored"),
                false,
            )),
            ImportJob::ImportingMpd => Some(("importing MPD's library…".into(), false)),
            ImportJob::Done(text) => Some((text.clone(), false)),
            ImportJob::Failed(reason) => Some((reason.clone(), true)),
        }
    }
}

/// The folder prompt and the job it starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Imports {
    /// The folder being typed; its history holds the folders scanned before.
    pub prompt: LineEditor,
    /// The last Tab's answer while it still fits the text: the folders that match, or why none does.
    pub completion: Option<Completion>,
    pub job: ImportJob,
    /// The folder scanned last, as typed: the prompt starts with it, so Enter rescans.
    pub last_folder: Option<String>,
    /// A library reload asked for by the scan's progress has not come back yet.
    reload_pending: bool,
    /// Songs stored when the last reload was asked for.
    reloaded_at: usize,
}

/// A worker's answer about folders, scans and imports.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportReply {
    Completed(Completion),
    /// A batch of the scan was stored.
    ScanProgress {
        files_seen: usize,
        committed: usize,
    },
    Scanned {
        folder: String,
        summary: ScanSummary,
    },
    MpdImported(ImportReport),
    Failed(String),
}

impl App {
    /// The scan key: the folder prompt, holding the last folder scanned.
    pub(super) fn open_scan_prompt(&mut self) {
        if self.imports.job.running() {
            self.message(true, RUNNING);
            return;
        }
        let last = self.imports.last_folder.clone().unwrap_or_default();
        self.imports.prompt.set_text(&last);
        self.imports.completion = None;
        self.overlay = Some(Overlay::ScanPrompt);
    }

    pub(super) fn edit_scan_prompt(&mut self, op: EditOp) {
        match op {
            EditOp::Submit => self.start_scan(),
            EditOp::Cancel => self.close_scan_prompt(),
            EditOp::Complete => {
                let text = self.imports.prompt.text();
                self.effects.push(Effect::CompletePath { text });
            }
            op => {
                if self.imports.prompt.apply(&op) {
                    self.imports.completion = None;
                }
            }
        }
    }

    /// Any key but an edit closes the prompt; the scan key and Back only close it.
    pub(super) fn leave_scan_prompt(&mut self, action: Action) {
        self.close_scan_prompt();
        if !matches!(action, Action::Back | Action::ScanFolder) {
            self.on_action(action);
        }
    }

    fn close_scan_prompt(&mut self) {
        self.overlay = None;
        self.imports.completion = None;
    }

    fn start_scan(&mut self) {
        let folder = crate::sanitize::clean_line(&self.imports.prompt.text())
            .trim()
            .to_string();
        if folder.is_empty() {
            self.imports.completion = Some(Completion {
                problem: Some("type the folder your music is in".into()),
                ..Completion::default()
            });
            return;
        }
        self.close_scan_prompt();
        self.imports.prompt.remember(&folder);
        self.imports.last_folder = Some(folder.clone());
        self.imports.job = ImportJob::Scanning {
            folder: folder.clone(),
            files_seen: 0,
            committed: 0,
        };
        self.imports.reloaded_at = 0;
        self.effects.push(Effect::Scan {
            dirs: vec![PathBuf::from(folder)],
        });
    }

    /// The MPD key: imports (or imports again) MPD's library.
    pub(super) fn import_mpd(&mut self) {
        if self.imports.job.running() {
            self.message(true, RUNNING);
            return;
        }
        self.imports.job = ImportJob::ImportingMpd;
        self.effects.push(Effect::ScanMpd);
    }

    /// The demo key. The demo is a database of its own, and the TUI holds one database for its whole run (other
    /// moodtapes may be attached to it), so it says how to open the demo instead of switching.
    pub(super) fn tell_demo(&mut self) {
        let text = if self.options.demo {
            "this is the demo library; run `moodtape` for your own"
        } else {
            "the demo is a database of its own: quit (q) and run `moodtape --demo`"
        };
        self.message(false, text);
    }

    pub(super) fn on_import_reply(&mut self, reply: ImportReply) {
        if matches!(
            reply,
            ImportReply::Scanned { .. } | ImportReply::MpdImported(_) | ImportReply::Failed(_)
        ) && self
            .jobs
            .message
            .as_ref()
            .is_some_and(|(_, text)| text == RUNNING)
        {
            self.jobs.message = None;
        }
        match reply {
            ImportReply::Completed(c) => {
                let open = self.overlay == Some(Overlay::ScanPrompt);
                if open && self.imports.prompt.text() == c.typed {
                    if c.text != c.typed {
                        self.imports.prompt.set_text(&c.text);
                    }
                    self.imports.completion = Some(c);
                }
            }
            ImportReply::ScanProgress {
                files_seen: seen,
                committed: stored,
            } => {
                if let ImportJob::Scanning {
                    files_seen,
                    committed,
                    ..
                } = &mut self.imports.job
                {
                    *files_seen = seen;
                    *committed = stored;
                }
                // The library fills as batches are stored: one reload at a time, so a fast scan never queues
                // more reads than the library lane can answer.
                if stored > self.imports.reloaded_at && !self.imports.reload_pending {
                    self.imports.reload_pending = true;
                    self.imports.reloaded_at = stored;
                    self.effects.push(Effect::ReloadLibrary);
                }
            }
            ImportReply::Scanned { folder, summary } => {
                self.imports.job = scan_outcome(&folder, &summary);
            }
            ImportReply::MpdImported(r) => {
                self.imports.job = ImportJob::Done(crate::sanitize::clean_line(&format!(
                    "MPD at {}: {} songs ({} new, {} updated, {} removed)",
                    r.mpd, r.songs, r.added, r.updated, r.removed
                )));
            }
            ImportReply::Failed(reason) => {
                self.imports.job = ImportJob::Failed(crate::sanitize::clean_line(&reason));
            }
        }
    }

    /// The library was read again.
    pub(super) fn library_reloaded(&mut self) {
        self.imports.reload_pending = false;
    }
}

/// What a finished scan says: its counts, or why it found nothing.
fn scan_outcome(folder: &str, s: &ScanSummary) -> ImportJob {
    let folder = crate::sanitize::clean_line(folder);
    if s.files_seen == 0 {
        return ImportJob::Failed(match s.problems.first() {
            Some(p) => {
                crate::sanitize::clean_line(&format!("scan {folder}: {}: {}", p.path, p.reason))
            }
            None => format!("scan {folder}: no music files there"),
        });
    }
    let mut text = format!(
        "scan {folder}: {} files, {} new, {} updated, {} removed",
        s.files_seen, s.added, s.updated, s.removed
    );
    if !s.problems.is_empty() {
        text.push_str(&format!(
            "; {} unreadable (`moodtape scan` lists them)",
            s.problems.len()
        ));
    }
    ImportJob::Done(crate::sanitize::clean_line(&text))
}
