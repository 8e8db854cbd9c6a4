//! `radio`: keep MPD's queue going with songs for a mood (or a journey from it). With no moodtape holding the
//! database, this one holds it and runs the radio in the foreground until Ctrl-C, or until the queue is cleared;
//! otherwise the radio runs in the moodtape that holds it (the TUI, `serve`) and this command returns.

use std::time::Duration;

use clap::Args;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::server::{Core, Link};
use crate::service::{radio_request, Answer, Call, Event, RadioStatus};

#[derive(Debug, Args)]
pub struct RadioArgs {
    /// How you feel, in your own words
    #[arg(required_unless_present = "stop")]
    pub text: Option<String>,
    /// Walk a journey to Q1..Q4 or to the mood of a text instead of staying in the mood
    #[arg(long)]
    pub to: Option<String>,
    /// Songs the journey takes (default: config recommend.journey_length)
    #[arg(long)]
    pub over: Option<usize>,
    /// Songs kept in MPD's queue after the current one (default: config radio.ahead)
    #[arg(long)]
    pub ahead: Option<usize>,
    /// Stop the radio of the running moodtape
    #[arg(long, conflicts_with_all = ["text", "to", "over", "ahead"])]
    pub stop: bool,
}

fn describe(status: &RadioStatus) -> String {
    match status {
        RadioStatus::On {
            text,
            to,
            queued,
            ahead,
            ..
        } => format!(
            "radio: \"{text}\"{}, {ahead} songs ahead, {queued} queued so far",
            to.as_ref().map(|t| format!(" → {t}")).unwrap_or_default()
        ),
        RadioStatus::Off { reason } if reason.is_empty() => "radio: off".to_string(),
        RadioStatus::Off { reason } => format!("radio: off ({reason})"),
    }
}

pub fn run(core: &Core, args: RadioArgs) -> anyhow::Result<i32> {
    let none = std::sync::atomic::AtomicBool::new(false);
    if args.stop {
        let answer = core.call(Call::RadioStop, &mut |_| {}, &none)?;
        if let Answer::Radio { radio } = answer {
            errln!("{}", describe(&radio));
        }
        return Ok(0);
    }
    let text = args.text.unwrap_or_default();
    let request = radio_request(&text, args.to.as_deref(), args.over, args.ahead)?;
    let session = match &core.link {
        Link::Remote(client) => {
            let answer = core.call(Call::RadioStart { request }, &mut |_| {}, &none)?;
            if let Answer::Radio { radio } = answer {
                errln!("{}", describe(&radio));
            }
            errln!(
                "the radio plays in the moodtape holding this database (pid {}); `moodtape radio --stop` stops it",
                client.hello.pid
            );
            return Ok(0);
        }
        Link::Local(session) => session.clone(),
    };
    // Signals are caught before the radio starts, so Ctrl-C always stops it cleanly.
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let events = session.subscribe();
    session.start_watch();
    let status = session.start_radio(request)?;
    errln!("{}; Ctrl-C stops", describe(&status));
    let mut last_song = None;
    loop {
        if signals.pending().next().is_some() {
            session.stop_radio("stopped");
            errln!("radio: stopped; the songs it queued stay in MPD's queue");
            return Ok(0);
        }
        match events.recv_timeout(Duration::from_millis(100)) {
            Ok(Event::Radio { radio }) => {
                errln!("{}", describe(&radio));
                if matches!(radio, RadioStatus::Off { .. }) {
                    return Ok(0);
                }
            }
            Ok(Event::NowPlaying { now }) => {
                if let Some(problem) = &now.problem {
                    errln!("{problem}");
                } else if let Some(st) = &now.status {
                    let name = st.song_id.map(|_| st.display_name());
                    if name.is_some() && name != last_song {
                        errln!("playing: {}", name.as_deref().unwrap_or_default());
                        last_song = name;
                    }
                }
            }
            Ok(Event::Feedback { feedback }) if !feedback.liked => {
                errln!("skipped quickly: noted as a dislike for this mood");
            }
            Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(0),
        }
    }
}
