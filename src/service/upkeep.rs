//! The background upkeep of a long-running session (the TUI, `serve`): on start and whenever songs come in, it
//! looks up missing lyrics (when online) and analyzes songs that have no analysis, publishing progress as job
//! events. It holds the session weakly, so closing the session ends it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Session;
use crate::emotion::analyze::Which;

pub(super) struct Upkeep {
    kick: Sender<()>,
    thread: JoinHandle<()>,
}

impl Upkeep {
    pub(super) fn start(session: Weak<Session>, closing: Arc<AtomicBool>) -> Option<Upkeep> {
        let (kick, rx) = std::sync::mpsc::channel::<()>();
        let _ = kick.send(());
        let thread = std::thread::Builder::new()
            .name("moodtape-upkeep".into())
            .spawn(move || loop {
                match rx.recv_timeout(Duration::from_millis(200)) {
                    Ok(()) => {
                        // Several kicks in a row are one round.
                        while rx.try_recv().is_ok() {}
                        let Some(session) = session.upgrade() else {
                            return;
                        };
                        session.upkeep_round(&closing);
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        if closing.load(Ordering::Relaxed) || session.strong_count() == 0 {
                            return;
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            })
            .ok()?;
        Some(Upkeep { kick, thread })
    }

    pub(super) fn kick(&self) {
        let _ = self.kick.send(());
    }

    pub(super) fn stop(self, wait: Duration) {
        drop(self.kick);
        let deadline = Instant::now() + wait;
        while !self.thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if self.thread.is_finished() {
            let _ = self.thread.join();
        }
    }
}

impl Session {
    fn upkeep_round(&self, closing: &AtomicBool) {
        let lyrics = self.settings.lyrics_online;
        // Failures are published as job events by make_ready; the round itself has nobody to tell.
        let _ = self.make_ready(lyrics, None, Which::Missing, false, &mut |_| {}, closing);
    }
}
