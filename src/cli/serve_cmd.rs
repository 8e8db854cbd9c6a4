//! `serve`: hold the database and serve other moodtapes without a TUI, in the foreground, for SSH and GPU boxes
//! where a long analysis should go on after the TUI is closed. Logs what happens on stderr; Ctrl-C, SIGTERM or
//! SIGHUP stop it after the batch in hand, and the database is released.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use clap::Args;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::server::{Core, Link};
use crate::service::{Context, Event, JobKind, JobStatus, ModelStatus};

/// Running jobs are logged at most this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
pub struct ServeArgs {}

pub fn run(ctx: &Context, _args: ServeArgs) -> anyhow::Result<i32> {
    // Signals are caught before the database opens, so none can end the process with it half-closed.
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let core = Core::open(ctx)?;
    let session = match &core.link {
        Link::Local(s) => s.clone(),
        Link::Remote(c) => anyhow::bail!(
            "another moodtape already serves {} (pid {})",
            c.hello.database,
            c.hello.pid
        ),
    };
    let Some(socket) = core.socket().map(|p| p.display().to_string()) else {
        anyhow::bail!("cannot listen for other moodtapes; see the log for why");
    };
    let events = session.subscribe();
    errln!(
        "moodtape: serving {} on {} (pid {}); Ctrl-C stops",
        ctx.db_path.display(),
        socket,
        std::process::id()
    );
    session.model().warm();
    session.start_upkeep();
    session.start_watch();
    let mut last_mpd = String::new();
    let mut last_progress: HashMap<JobKind, Instant> = HashMap::new();
    let stopped_by = loop {
        if let Some(sig) = signals.pending().next() {
            break sig;
        }
        match events.recv_timeout(Duration::from_millis(100)) {
            Ok(ev) => log_event(&ev, &mut last_progress, &mut last_mpd),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break SIGTERM,
        }
    };
    let name = match stopped_by {
        SIGINT => "interrupt",
        SIGHUP => "hangup",
        _ => "terminate",
    };
    errln!("moodtape: stopping ({name}); finishing the batch in hand");
    core.close(Duration::from_secs(10));
    errln!("moodtape: stopped; the database is released");
    Ok(0)
}

fn log_event(ev: &Event, last: &mut HashMap<JobKind, Instant>, last_mpd: &mut String) {
    let line = match ev {
        Event::Model { status } => match status {
            ModelStatus::Loading => "model: loading".to_string(),
            ModelStatus::Ready { device } => format!("model: ready on {device}"),
            ModelStatus::Failed { reason } => format!("model: failed: {reason}"),
        },
        Event::Job { kind, status } => {
            let name = format!("{kind:?}").to_lowercase();
            match status {
                JobStatus::Running { done, total, .. } => {
                    let due = last.get(kind).is_none_or(|t| t.elapsed() >= PROGRESS_EVERY);
                    if !due {
                        return;
                    }
                    last.insert(*kind, Instant::now());
                    format!("{name}: {done}/{total}")
                }
                JobStatus::Done { summary } => format!("{name}: done, {summary}"),
                JobStatus::Failed { reason } => format!("{name}: failed: {reason}"),
            }
        }
        Event::Songs { songs } => format!("library: {} songs changed", songs.len()),
        Event::SongsRemoved { ids } => format!("library: {} songs removed", ids.len()),
        Event::LibraryChanged => "library: changed".to_string(),
        Event::Moods { .. } => return,
        Event::Feedback { feedback } => format!(
            "feedback: {} {}",
            if feedback.liked { "liked" } else { "disliked" },
            feedback.song_id
        ),
        Event::FeedbackCleared => "feedback: cleared".to_string(),
        Event::Queued { songs, at } => format!("mpd: queued {songs} songs at {at}"),
        Event::Notice { text } => text.clone(),
        Event::Damaged { text } => format!("error: {text}"),
        // What MPD plays, once per song or state (not for every resync of the elapsed time).
        Event::NowPlaying { now } => {
            let line = match (&now.status, &now.problem) {
                (_, Some(problem)) => format!("mpd: {problem}"),
                (Some(st), None) => {
                    let state = match st.state {
                        crate::player::PlayState::Play => "playing",
                        crate::player::PlayState::Pause => "paused",
                        crate::player::PlayState::Stop => "stopped",
                    };
                    format!("mpd: {state} {}", st.display_name())
                }
                (None, None) => return,
            };
            if line == *last_mpd {
                return;
            }
            last_mpd.clone_from(&line);
            line
        }
        Event::Radio { radio } => match radio {
            crate::service::RadioStatus::On { text, queued, .. } => {
                format!("radio: \"{text}\", {queued} songs queued")
            }
            crate::service::RadioStatus::Off { reason } => format!("radio: off ({reason})"),
        },
    };
    errln!("moodtape: {}", crate::sanitize::clean_line(&line));
}
