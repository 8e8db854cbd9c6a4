//! What a session tells whoever listens: the model's state, background jobs, and every change to the library,
//! its analyses and feedback, whichever face or client caused it. The TUI redraws from these; a client attached
//! to a running moodtape gets the same events over its socket.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::playing::{NowPlaying, RadioStatus};
use crate::records::{Feedback, MoodSummary, Song, SongId};

/// The emotion model's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ModelStatus {
    /// Not asked for yet, or being loaded.
    Loading,
    Ready {
        device: String,
    },
    Failed {
        reason: String,
    },
}

/// The background jobs a session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Lyrics,
    Analysis,
    Scan,
    Import,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JobStatus {
    Running {
        done: usize,
        total: usize,
        rate: f64,
        eta_s: Option<f64>,
    },
    Done {
        summary: String,
    },
    Failed {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Model {
        status: ModelStatus,
    },
    Job {
        kind: JobKind,
        status: JobStatus,
    },
    /// Songs added or changed (tags, lyrics found).
    Songs {
        songs: Vec<Song>,
    },
    SongsRemoved {
        ids: Vec<SongId>,
    },
    /// Songs came or went in numbers (a scan, an import): read the library again.
    LibraryChanged,
    /// New analyses were stored.
    Moods {
        moods: Vec<(SongId, MoodSummary)>,
        /// Songs found to be in a language the model does not read, with it.
        #[serde(default)]
        skipped: Vec<(SongId, String)>,
    },
    /// A like or dislike was kept.
    Feedback {
        feedback: Feedback,
    },
    FeedbackCleared,
    /// A playlist went to MPD's queue.
    Queued {
        songs: usize,
        at: String,
    },
    /// Something worth a line in a status bar.
    Notice {
        text: String,
    },
    /// The database was found damaged after it opened (see `Verify::Background`): kept for late subscribers.
    Damaged {
        text: String,
    },
    /// What MPD plays, or why it cannot be reached (from the session's MPD watcher).
    NowPlaying {
        now: NowPlaying,
    },
    /// The mood radio started, filled the queue, or stopped.
    Radio {
        radio: RadioStatus,
    },
}

/// Fans events out to every subscriber, and remembers the latest model and job states for late ones.
#[derive(Default)]
pub struct Hub {
    subscribers: Mutex<Vec<Sender<Event>>>,
    state: Mutex<Vec<Event>>,
}

impl Hub {
    pub fn subscribe(&self) -> Receiver<Event> {
        let (tx, rx) = std::sync::mpsc::channel();
        for ev in self.current() {
            let _ = tx.send(ev);
        }
        lock(&self.subscribers).push(tx);
        rx
    }

    pub fn publish(&self, event: Event) {
        if matches!(
            event,
            Event::Model { .. }
                | Event::Job { .. }
                | Event::NowPlaying { .. }
                | Event::Radio { .. }
                | Event::Damaged { .. }
        ) {
            let mut state = lock(&self.state);
            state.retain(|e| !same_slot(e, &event));
            state.push(event.clone());
        }
        lock(&self.subscribers).retain(|tx| tx.send(event.clone()).is_ok());
    }

    /// The latest model state, job states, player, radio and damage found, for a subscriber that joins late.
    pub fn current(&self) -> Vec<Event> {
        lock(&self.state).clone()
    }

    pub fn model_status(&self) -> ModelStatus {
        lock(&self.state)
            .iter()
            .find_map(|e| match e {
                Event::Model { status } => Some(status.clone()),
                _ => None,
            })
            .unwrap_or(ModelStatus::Loading)
    }
}

fn same_slot(a: &Event, b: &Event) -> bool {
    match (a, b) {
        (Event::Model { .. }, Event::Model { .. }) => true,
        (Event::Job { kind: x, .. }, Event::Job { kind: y, .. }) => x == y,
        (Event::NowPlaying { .. }, Event::NowPlaying { .. }) => true,
        (Event::Radio { .. }, Event::Radio { .. }) => true,
        (Event::Damaged { .. }, Event::Damaged { .. }) => true,
        _ => false,
    }
}

/// A poisoned lock only means another thread panicked while holding it; the data is still usable.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_subscribers_get_the_current_state() {
        let hub = Hub::default();
        hub.publish(Event::Model {
            status: ModelStatus::Loading,
        });
        hub.publish(Event::Model {
            status: ModelStatus::Ready {
                device: "cpu".into(),
            },
        });
        hub.publish(Event::Notice { text: "x".into() });
        let rx = hub.subscribe();
        let got: Vec<Event> = rx.try_iter().collect();
        assert_eq!(
            got,
            vec![Event::Model {
                status: ModelStatus::Ready {
                    device: "cpu".into()
                }
            }]
        );
        hub.publish(Event::FeedbackCleared);
        assert_eq!(rx.try_recv().ok(), Some(Event::FeedbackCleared));
    }
}
