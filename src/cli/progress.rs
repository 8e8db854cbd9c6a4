//! Progress of a call on stderr: notes as lines, long jobs as indicatif bars (drawn only when stderr is a
//! terminal, so scripts reading `--json` see nothing of them).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::sanitize::clean_line;
use crate::service::Progress;

pub struct Reporter {
    quiet: bool,
    /// stderr is a terminal: bars; otherwise plain lines now and then.
    terminal: bool,
    bar: Option<(&'static str, ProgressBar)>,
    last_line: Option<Instant>,
}

/// Plain progress lines come at most this often.
const LINE_EVERY: Duration = Duration::from_millis(200);

impl Reporter {
    /// With `quiet`, bars and progress lines are left out (notes still go to stderr: they say what is done and
    /// why).
    pub fn new(quiet: bool) -> Reporter {
        Reporter {
            quiet,
            terminal: std::io::stderr().is_terminal(),
            bar: None,
            last_line: None,
        }
    }

    /// A progress line for a log or a pipe, at most every [`LINE_EVERY`].
    fn line(&mut self, text: impl FnOnce() -> String) {
        if self.quiet || self.terminal {
            return;
        }
        if self.last_line.is_none_or(|t| t.elapsed() >= LINE_EVERY) {
            self.last_line = Some(Instant::now());
            errln!("{}", text());
        }
    }

    pub fn show(&mut self, p: Progress) {
        match p {
            Progress::Note { text } => {
                self.clear();
                errln!("{text}");
            }
            Progress::Analysis(p) => {
                let bar = self.bar(
                    "analysis",
                    "analyzing {bar:30} {pos}/{len} songs  {per_sec}  eta {eta}",
                );
                bar.set_length(p.total as u64);
                bar.set_position(p.done as u64);
            }
            Progress::Lyrics(p) => {
                let bar = self.bar(
                    "lyrics",
                    "{spinner} lyrics [{bar:30}] {pos}/{len} {wide_msg}",
                );
                bar.set_length(p.total as u64);
                bar.set_position(p.done as u64);
                bar.set_message(clean_line(&p.current));
            }
            Progress::Scan(p) => {
                self.line(|| {
                    format!(
                        "scanned {}/{} files, {} songs committed",
                        p.files_seen, p.total, p.committed
                    )
                });
                let bar = self.bar(
                    "scan",
                    "scanning {bar:30} {pos}/{len} files  {per_sec}  eta {eta}  {msg}",
                );
                bar.set_length(p.total.max(p.files_seen) as u64);
                bar.set_position(p.files_seen as u64);
                bar.set_message(format!("{} songs committed", p.committed));
            }
            Progress::Import(p) => {
                self.line(|| {
                    format!(
                        "{} songs stored, {}% of the file read",
                        p.committed,
                        (p.bytes * 100).checked_div(p.total_bytes).unwrap_or(0)
                    )
                });
                let bar = self.bar(
                    "import",
                    "importing {bar:30} {bytes}/{total_bytes}  {bytes_per_sec}  eta {eta}  {msg}",
                );
                bar.set_length(p.total_bytes.max(p.bytes));
                bar.set_position(p.bytes);
                bar.set_message(format!("{} songs stored", p.committed));
            }
            Progress::MpdListed { songs } => {
                self.line(|| format!("{songs} songs listed from MPD"));
                let bar = self.bar("mpd", "{spinner} {pos} songs listed from MPD");
                bar.set_position(songs as u64);
            }
            Progress::Event(_) => {}
        }
    }

    /// The bar for `kind`, started when another kind's bar (or none) was showing. Bars are cheap handles.
    fn bar(&mut self, kind: &'static str, template: &str) -> ProgressBar {
        if let Some((k, bar)) = &self.bar {
            if *k == kind {
                return bar.clone();
            }
        }
        self.clear();
        let bar = if self.quiet {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        };
        self.bar = Some((kind, bar.clone()));
        bar
    }

    fn clear(&mut self) {
        if let Some((_, bar)) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    pub fn finish(mut self) {
        self.clear();
    }
}
