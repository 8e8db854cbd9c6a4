//! Worker threads. Everything slow runs here and reports back to the main loop as an [`Action`]; only the main
//! loop changes the app's state. Each lane is a named thread that makes calls on the core (this process's
//! session, or the running moodtape this TUI is attached to), the very calls the CLI makes.
//!
//! - `moodtape-mood` reads the mood of the user's text; the newest text wins.
//! - `moodtape-recommend` asks for playlists; the newest request wins (the app drops answers to older ones).
//! - `moodtape-detail` reads a song's lyrics and analysis for the lyrics pane; the newest song wins.
//! - `moodtape-library` reads the stored analyses at startup, in slices so the first frame never waits, and the
//!   library again when it changed elsewhere.
//! - `moodtape-player` delivers playlists (export, MPD), keeps feedback, and runs the player command.
//! - `moodtape-import` scans music folders and imports MPD's library, passing the scan's progress on.
//! - `moodtape-files` completes folder names for the folder prompt; the newest text wins.
//! - `moodtape-events` passes the core's events on: analyses stored, jobs, feedback from other clients.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::action::Action;
use super::state::{Effect, ImportReply, Reply};
use crate::records::{Song, SongId};
use crate::server::{Core, Link};
use crate::service::{Answer, Call, FeedbackFor, Progress};

/// Analyses are read this many songs per call, so they reach the screen as they come.
const MOODS_SLICE: usize = 2000;

#[derive(Debug)]
enum Job {
    Effect(Effect),
    /// Read the stored analyses of these songs, in slices.
    LoadMoods(Vec<SongId>),
}

struct Lane {
    tx: Sender<Job>,
}

/// The handles the main loop keeps: one sender per lane, the stop flag, and the threads to wait for.
pub struct Workers {
    mood: Lane,
    recommend: Lane,
    detail: Lane,
    library: Lane,
    player: Lane,
    import: Lane,
    files: Lane,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    pub fn start(core: Arc<Core>, tx: Sender<Action>) -> std::io::Result<Workers> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let mut lane = |name: &str, newest_wins: bool| -> std::io::Result<Lane> {
            let (jtx, jrx) = std::sync::mpsc::channel::<Job>();
            let core = core.clone();
            let tx = tx.clone();
            let stop = stop.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(name.to_string())
                    .spawn(move || run_lane(&core, &jrx, &tx, &stop, newest_wins))?,
            );
            Ok(Lane { tx: jtx })
        };
        let mood = lane("moodtape-mood", true)?;
        let recommend = lane("moodtape-recommend", true)?;
        let detail = lane("moodtape-detail", true)?;
        let library = lane("moodtape-library", false)?;
        let player = lane("moodtape-player", false)?;
        let import = lane("moodtape-import", false)?;
        let files = lane("moodtape-files", true)?;
        {
            let core = core.clone();
            let stop = stop.clone();
            threads.push(
                std::thread::Builder::new()
                    .name("moodtape-events".into())
                    .spawn(move || forward_events(&core, &tx, &stop))?,
            );
        }
        Ok(Workers {
            mood,
            recommend,
            detail,
            library,
            player,
            import,
            files,
            stop,
            threads,
        })
    }

    /// Hands an effect to the lane that does it; an error says why it could not be handed over.
    pub fn send(&self, effect: Effect) -> Result<(), String> {
        let lane = match &effect {
            Effect::ReadMood { .. } => &self.mood,
            Effect::Recommend { .. } => &self.recommend,
            Effect::LoadDetail(_) => &self.detail,
            Effect::ReloadLibrary => &self.library,
            Effect::Feedback { .. }
            | Effect::Deliver { .. }
            | Effect::SendPlayer { .. }
            | Effect::Player(_)
            | Effect::ImportFromMpd(_)
            | Effect::Radio(_) => &self.player,
            Effect::Scan { .. } | Effect::ScanMpd => &self.import,
            Effect::CompletePath { .. } => &self.files,
        };
        lane.tx
            .send(Job::Effect(effect))
            .map_err(|_| "a worker has stopped; restart moodtape".to_string())
    }

    /// Starts reading the stored analyses of `songs`.
    pub fn load_moods(&self, songs: &[Song]) {
        let ids = songs.iter().map(|s| s.id.clone()).collect();
        let _ = self.library.tx.send(Job::LoadMoods(ids));
    }

    /// Asks every lane to stop after the call in hand and waits up to `wait` for them.
    pub fn shutdown(self, wait: Duration) {
        self.stop.store(true, Ordering::SeqCst);
        let Workers {
            mood,
            recommend,
            detail,
            library,
            player,
            import,
            files,
            threads,
            ..
        } = self;
        drop((mood, recommend, detail, library, player, import, files));
        let deadline = Instant::now() + wait;
        for t in threads {
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

fn run_lane(
    core: &Core,
    rx: &Receiver<Job>,
    tx: &Sender<Action>,
    stop: &AtomicBool,
    newest_wins: bool,
) {
    // Started players run on after this; they are waited for here so none is left a zombie.
    let mut children: Vec<std::process::Child> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut jobs: Vec<Job> = std::iter::once(first).chain(rx.try_iter()).collect();
        if newest_wins {
            jobs.drain(..jobs.len().saturating_sub(1));
        }
        for job in jobs {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            children.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
            let replies = match job {
                Job::Effect(Effect::SendPlayer { template, songs }) => {
                    match crate::player::spawn_command(&template, &songs) {
                        Ok(child) => {
                            children.push(child);
                            vec![Reply::Notice(format!(
                                "sent {} songs to the player",
                                songs.len()
                            ))]
                        }
                        Err(e) => vec![Reply::Failed(e.to_string())],
                    }
                }
                Job::Effect(Effect::ReloadLibrary) => {
                    let mut replies = perform(core, Effect::ReloadLibrary, stop);
                    if let Some(Reply::Library(songs)) = replies.first() {
                        let ids: Vec<SongId> = songs.iter().map(|s| s.id.clone()).collect();
                        for r in replies.drain(..) {
                            if tx.send(Action::Reply(r)).is_err() {
                                return;
                            }
                        }
                        load_moods(core, ids, tx, stop);
                    }
                    replies
                }
                Job::Effect(Effect::Scan { dirs }) => {
                    let mut progress = |r: Reply| {
                        let _ = tx.send(Action::Reply(r));
                    };
                    vec![scan(core, &dirs, &mut progress, stop)]
                }
                Job::Effect(effect) => perform(core, effect, stop),
                Job::LoadMoods(ids) => {
                    load_moods(core, ids, tx, stop);
                    Vec::new()
                }
            };
            for r in replies {
                if tx.send(Action::Reply(r)).is_err() {
                    return;
                }
            }
        }
    }
}

pub(super) fn load_moods(core: &Core, ids: Vec<SongId>, tx: &Sender<Action>, stop: &AtomicBool) {
    for slice in ids.chunks(MOODS_SLICE) {
        let call = Call::MoodSummaries {
            ids: slice.to_vec(),
        };
        match core.call(call, &mut |_| {}, stop) {
            Ok(Answer::MoodSummaries { moods, skipped }) => {
                if !moods.is_empty() && tx.send(Action::Reply(Reply::Moods(moods))).is_err() {
                    return;
                }
                if !skipped.is_empty() && tx.send(Action::Reply(Reply::Skipped(skipped))).is_err() {
                    return;
                }
            }
            Ok(other) => {
                let _ = tx.send(Action::Reply(Reply::Failed(
                    other.unexpected("mood summaries").to_string(),
                )));
                return;
            }
            Err(e) => {
                let _ = tx.send(Action::Reply(Reply::Failed(format!(
                    "cannot read the analyses: {e}"
                ))));
                return;
            }
        }
    }
    // Reading every analysis of a big library freed ~80 MB that glibc would otherwise keep for this thread.
    crate::store::release_freed_memory();
    let _ = tx.send(Action::Reply(Reply::MoodsLoaded));
}

/// Does one effect through the core and says how it went. The player command is not done here: it runs in
/// the TUI's own process, whichever core answers.
pub fn perform(core: &Core, effect: Effect, cancel: &AtomicBool) -> Vec<Reply> {
    let call = |c: Call| core.call(c, &mut |_| {}, cancel);
    let reply = match effect {
        Effect::ReadMood { id, text } => match call(Call::ReadMood { text }) {
            Ok(Answer::Mood { mood }) => Reply::MoodRead { id, mood },
            Ok(other) => Reply::MoodFailed {
                id,
                reason: other.unexpected("read mood").to_string(),
            },
            Err(e) => Reply::MoodFailed {
                id,
                reason: e.to_string(),
            },
        },
        Effect::Recommend { id, request } => match call(Call::Recommend { request }) {
            Ok(Answer::Playlist(p)) => Reply::Playlist {
                id,
                entries: p.entries,
            },
            Ok(other) => Reply::RecommendFailed {
                id,
                reason: other.unexpected("recommend").to_string(),
            },
            Err(e) => Reply::RecommendFailed {
                id,
                reason: e.to_string(),
            },
        },
        Effect::LoadDetail(id) => match call(Call::Detail { id: id.clone() }) {
            Ok(Answer::Detail(d)) => Reply::Detail {
                id,
                lyrics: d.lyrics,
                mood: d.mood,
            },
            Ok(other) => Reply::Failed(other.unexpected("detail").to_string()),
            Err(e) => Reply::Failed(format!("cannot read the song: {e}")),
        },
        Effect::ReloadLibrary => match call(Call::Library) {
            Ok(Answer::Library { songs }) => Reply::Library(songs),
            Ok(other) => Reply::Failed(other.unexpected("library").to_string()),
            Err(e) => Reply::Failed(format!("cannot read the library: {e}")),
        },
        Effect::Feedback {
            song,
            liked,
            reading,
            text,
        } => {
            let c = Call::Feedback {
                song: song.to_string(),
                liked,
                mood: FeedbackFor::Reading { reading, text },
            };
            match call(c) {
                // The core tells every client, this one too, with an event; nothing more to say here.
                Ok(_) => return Vec::new(),
                Err(e) => Reply::Failed(format!("cannot keep feedback: {e}")),
            }
        }
        Effect::Deliver { songs, to } => {
            let n = songs.len();
            match call(Call::Deliver { songs, to }) {
                Ok(Answer::Delivered(d)) => match (&d.written, &d.queue) {
                    (Some(_), _) => Reply::Notice(d.written_note.clone()),
                    (None, Some(q)) if q.missing.is_empty() => {
                        Reply::Notice(format!("MPD plays {} songs", q.queued))
                    }
                    (None, Some(q)) => Reply::Notice(format!(
                        "MPD plays {} songs; {} not in its database",
                        q.queued,
                        q.missing.len()
                    )),
                    (None, None) => Reply::Notice(format!("{n} songs delivered")),
                },
                Ok(other) => Reply::Failed(other.unexpected("deliver").to_string()),
                Err(e) => Reply::Failed(e.to_string()),
            }
        }
        Effect::SendPlayer { .. } => {
            Reply::Failed("the player command runs in the TUI's own worker".into())
        }
        Effect::Scan { dirs } => scan(core, &dirs, &mut |_| {}, cancel),
        Effect::ScanMpd => Reply::Import(match call(Call::ScanMpd) {
            Ok(Answer::MpdImported(report)) => ImportReply::MpdImported(report),
            Ok(other) => ImportReply::Failed(other.unexpected("scan --mpd").to_string()),
            Err(e) => ImportReply::Failed(format!("cannot import MPD's library: {e:#}")),
        }),
        Effect::CompletePath { text } => {
            Reply::Import(ImportReply::Completed(super::paths::complete(&text)))
        }
        // The watcher tells every client what changed; only failures are said here.
        Effect::Player(op) => match call(Call::Player { op }) {
            Ok(_) => return Vec::new(),
            Err(e) => Reply::Failed(format!("{e:#}")),
        },
        Effect::ImportFromMpd(uri) => match call(Call::ImportFromMpd { uri }) {
            Ok(Answer::Song { song }) => {
                Reply::Notice(format!("added {} to the library", song.display_name()))
            }
            Ok(other) => Reply::Failed(other.unexpected("import from MPD").to_string()),
            Err(e) => Reply::Failed(format!("{e:#}")),
        },
        Effect::Radio(request) => {
            let c = match request {
                Some(request) => Call::RadioStart { request },
                None => Call::RadioStop,
            };
            match call(c) {
                Ok(_) => return Vec::new(),
                Err(e) => Reply::Failed(format!("radio: {e:#}")),
            }
        }
    };
    vec![reply]
}

/// Scans the folders as typed (`~` expanded, made absolute) through the core, the call `moodtape scan` makes,
/// handing each stored batch's progress to `progress`. A folder that cannot be opened is named before anything
/// is scanned.
fn scan(
    core: &Core,
    dirs: &[PathBuf],
    progress: &mut dyn FnMut(Reply),
    cancel: &AtomicBool,
) -> Reply {
    let shown = dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut resolved = Vec::new();
    for (typed, dir) in dirs.iter().map(|d| (d, super::paths::resolve(d))) {
        let problem = match std::fs::metadata(&dir) {
            Err(e) => Some(format!("cannot open {}: {e}", typed.display())),
            Ok(m) if !m.is_dir() => Some(format!("{} is not a folder", typed.display())),
            Ok(_) => std::fs::read_dir(&dir)
                .err()
                .map(|e| format!("cannot read {}: {e}", typed.display())),
        };
        if let Some(reason) = problem {
            return Reply::Import(ImportReply::Failed(reason));
        }
        resolved.push(dir);
    }
    let mut on_progress = |p: Progress| {
        if let Progress::Scan(p) = p {
            progress(Reply::Import(ImportReply::ScanProgress {
                files_seen: p.files_seen,
                committed: p.committed,
            }));
        }
    };
    Reply::Import(
        match core.call(Call::Scan { dirs: resolved }, &mut on_progress, cancel) {
            Ok(Answer::Scanned(summary)) => ImportReply::Scanned {
                folder: shown,
                summary,
            },
            Ok(other) => ImportReply::Failed(other.unexpected("scan").to_string()),
            Err(e) => ImportReply::Failed(format!("cannot scan {shown}: {e:#}")),
        },
    )
}

/// Passes the core's events to the main loop until the app stops or the core goes away.
fn forward_events(core: &Core, tx: &Sender<Action>, stop: &AtomicBool) {
    let rx = match &core.link {
        Link::Local(session) => session.subscribe(),
        Link::Remote(client) => client.watch(),
    };
    while !stop.load(Ordering::Relaxed) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(ev) => {
                if tx.send(Action::Service(ev)).is_err() {
                    return;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                if matches!(core.link, Link::Remote(_)) {
                    let _ = tx.send(Action::Reply(Reply::Failed(
                        "the moodtape this one is attached to has stopped; restart moodtape".into(),
                    )));
                }
                return;
            }
        }
    }
}
