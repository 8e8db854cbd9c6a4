//! The one core under every face. A [`Session`] holds the store, the model (on its own thread) and the settings,
//! and offers moodtape's operations: resolve a song, make songs ready (missing lyrics, then analysis), recommend,
//! deliver a playlist, feedback, library and database reports. The CLI, the TUI and the server all call these,
//! directly or as a [`Call`], so each pipeline is written once. Progress and cancellation are plain values.

mod calls;
mod context;
mod events;
mod model;
mod ops;
mod playing;
mod upkeep;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

pub use calls::{
    Answer, Call, Delivered, Delivery, Destination, Detail, Entry, FeedbackEntry, FeedbackFor,
    FeedbackGiven, Hello, ImportRequest, LibraryStats, Mode, Playlist, PlaylistRequest, Progress,
    SongInfo, UnexpectedAnswer,
};
pub use context::{Context, Flags, Settings};
pub use events::{lock as lock_ignoring_poison, Event, Hub, JobKind, JobStatus, ModelStatus};
pub use model::{Model, ModelError};
pub use ops::export_name;
pub use playing::{radio_request, NowPlaying, RadioRequest, RadioStatus, MAX_AHEAD};

use crate::recommend::Candidate;
use crate::records::Feedback;
use crate::store::Store;

/// What is ranked: every analyzed song and all feedback, loaded once and kept until something changes them.
pub struct Pool {
    pub candidates: Vec<Candidate>,
    pub feedback: Vec<Feedback>,
}

pub struct Session {
    store: Store,
    settings: Settings,
    hub: Arc<Hub>,
    model: Model,
    pool: Mutex<Option<Arc<Pool>>>,
    upkeep: Mutex<Option<upkeep::Upkeep>>,
    /// Set when the session closes: running jobs stop after their current batch.
    closing: Arc<AtomicBool>,
    /// The thread that follows MPD, once started.
    watcher: Mutex<Option<playing::Watcher>>,
    /// The mood radio, while it runs.
    radio: Mutex<Option<playing::Radio>>,
    /// Asks the watcher to look at MPD now (a radio started).
    radio_kick: AtomicBool,
    /// The library's song for each URI MPD played (`None`: not in the library).
    uri_songs: Mutex<std::collections::HashMap<String, Option<crate::records::SongId>>>,
}

impl Session {
    /// Opens the database (loading the demo songs into it for the demo). Fails with the store's error, such as
    /// [`crate::store::StoreError::Locked`] when another moodtape holds it.
    pub fn open(settings: Settings) -> anyhow::Result<Session> {
        let hub = Arc::new(Hub::default());
        let verify = if settings.verify_in_background {
            let hub = hub.clone();
            let path = settings.db_path.clone();
            crate::store::Verify::Background(Box::new(move |shortfalls: Vec<String>| {
                if shortfalls.is_empty() {
                    return;
                }
                let text = format!(
                    "the database {} is damaged ({}): quit and run `moodtape db check`; its manifest is kept as it was",
                    path.display(),
                    shortfalls.join("; ")
                );
                hub.publish(Event::Damaged { text });
            }))
        } else {
            crate::store::Verify::Now
        };
        let store = Store::open_checked(&settings.db_path, verify)?;
        if settings.demo {
            crate::library::demo::load_demo(&store)?;
        }
        let model = Model::new(settings.engine.clone(), hub.clone());
        Ok(Session {
            store,
            settings,
            hub,
            model,
            pool: Mutex::new(None),
            upkeep: Mutex::new(None),
            closing: Arc::new(AtomicBool::new(false)),
            watcher: Mutex::new(None),
            radio: Mutex::new(None),
            radio_kick: AtomicBool::new(false),
            uri_songs: Mutex::new(std::collections::HashMap::new()),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Every event from now on (and the current model and job states first).
    pub fn subscribe(&self) -> Receiver<Event> {
        self.hub.subscribe()
    }

    pub fn publish(&self, event: Event) {
        self.hub.publish(event);
    }

    pub fn model_status(&self) -> ModelStatus {
        self.hub.model_status()
    }

    /// Set once the session is closing; long operations stop at their next batch.
    pub fn closing(&self) -> &AtomicBool {
        &self.closing
    }

    /// Runs one call. `progress` hears what it reports; `cancel` stops long work between batches.
    pub fn call(
        &self,
        call: Call,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> anyhow::Result<Answer> {
        ops::dispatch(self, call, progress, cancel)
    }

    /// Starts the background upkeep: missing lyrics are looked up (when online) and songs without an analysis
    /// analyzed, now and whenever songs come in. For the TUI and `serve`; short commands do their work inline.
    pub fn start_upkeep(self: &Arc<Self>) {
        let mut slot = events::lock(&self.upkeep);
        if slot.is_none() {
            *slot = upkeep::Upkeep::start(Arc::downgrade(self), self.closing.clone());
        } else if let Some(u) = slot.as_ref() {
            u.kick();
        }
    }

    /// Asks the upkeep (when it runs) to look again: new songs or lyrics came in.
    fn kick_upkeep(&self) {
        if let Some(u) = events::lock(&self.upkeep).as_ref() {
            u.kick();
        }
    }

    /// Stops background work after its current batch, waiting up to `wait`, and makes everything durable.
    pub fn close(&self, wait: std::time::Duration) {
        self.closing.store(true, Ordering::SeqCst);
        if let Some(u) = events::lock(&self.upkeep).take() {
            u.stop(wait);
        }
        let _ = self.store.flush();
        self.back_up_if_changed();
    }

    /// Writes a rolling backup when songs, lyrics or feedback changed in this session.
    pub fn back_up_if_changed(&self) {
        let Some((dir, keep)) = &self.settings.backups else {
            return;
        };
        if !self.store.changed() {
            return;
        }
        match crate::store::write_backup(&self.store, dir, *keep) {
            Ok(path) => {
                self.store.clear_changed();
                tracing::info!(path = %path.display(), "backup written");
            }
            Err(e) => tracing::warn!(error = %e, "cannot write the rolling backup"),
        }
    }

    /// The ranking pool, loaded when something changed since the last ranking.
    fn pool(&self) -> anyhow::Result<Arc<Pool>> {
        let mut slot = events::lock(&self.pool);
        if let Some(p) = slot.as_ref() {
            return Ok(p.clone());
        }
        let pool = Arc::new(Pool {
            candidates: crate::recommend::load_candidates(&self.store)?,
            feedback: crate::recommend::load_feedback(&self.store)?,
        });
        *slot = Some(pool.clone());
        Ok(pool)
    }

    fn forget_pool(&self) {
        *events::lock(&self.pool) = None;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.closing.store(true, Ordering::SeqCst);
        let _ = self.store.flush();
        self.back_up_if_changed();
    }
}
