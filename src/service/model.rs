//! The emotion model lives on one thread, `moodtape-model`, which owns the device, tokenizer and weights. Every
//! other thread asks it through a [`Model`] handle and waits for the answer. Reading a text goes before reading
//! a batch of songs, so a mood typed during a long analysis waits for one batch at most.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::events::{lock, Event, Hub, ModelStatus};
use crate::emotion::{Engine, EngineOptions};
use crate::records::{LyricsRecord, SongMood, TextMood};

/// A failed load is tried again for a request that comes this long after it (the user may have fetched the
/// model meanwhile).
const RETRY_LOAD_AFTER: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ModelError(pub String);

type Reply<T> = Sender<Result<T, ModelError>>;

enum Job {
    Read(Vec<String>, Reply<Vec<TextMood>>),
    Analyze(Vec<LyricsRecord>, String, Reply<Vec<Option<SongMood>>>),
    Warm,
}

impl Job {
    fn urgent(&self) -> bool {
        matches!(self, Job::Read(..))
    }
}

/// A handle to the model thread; cheap to share. The thread starts with the first request.
pub struct Model {
    opts: EngineOptions,
    hub: Arc<Hub>,
    tx: Mutex<Option<Sender<Job>>>,
}

impl Model {
    pub fn new(opts: EngineOptions, hub: Arc<Hub>) -> Model {
        Model {
            opts,
            hub,
            tx: Mutex::new(None),
        }
    }

    /// Starts loading the model now, so the first mood does not wait for it.
    pub fn warm(&self) {
        let _ = self.send(Job::Warm);
    }

    /// The mood and embedding of each text, in order.
    pub fn read_texts(&self, texts: Vec<String>) -> Result<Vec<TextMood>, ModelError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.send(Job::Read(texts, tx))?;
        rx.recv().unwrap_or_else(|_| Err(stopped()))
    }

    /// The analysis of each record (`None` for records without words).
    pub fn analyze(
        &self,
        records: Vec<LyricsRecord>,
        model_key: &str,
    ) -> Result<Vec<Option<SongMood>>, ModelError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.send(Job::Analyze(records, model_key.to_string(), tx))?;
        rx.recv().unwrap_or_else(|_| Err(stopped()))
    }

    fn send(&self, job: Job) -> Result<(), ModelError> {
        let mut guard = lock(&self.tx);
        if guard.is_none() {
            let (tx, rx) = std::sync::mpsc::channel();
            let opts = self.opts.clone();
            let hub = self.hub.clone();
            std::thread::Builder::new()
                .name("moodtape-model".into())
                .spawn(move || model_thread(&opts, &hub, &rx))
                .map_err(|e| ModelError(format!("cannot start the model thread: {e}")))?;
            *guard = Some(tx);
        }
        match guard.as_ref() {
            Some(tx) => tx.send(job).map_err(|_| stopped()),
            None => Err(stopped()),
        }
    }
}

fn stopped() -> ModelError {
    ModelError("the model thread has stopped".into())
}

fn model_thread(opts: &EngineOptions, hub: &Hub, rx: &Receiver<Job>) {
    let mut engine: Option<Engine> = None;
    let mut failed: Option<(Instant, String)> = None;
    let mut queue: VecDeque<Job> = VecDeque::new();
    loop {
        if queue.is_empty() {
            match rx.recv() {
                Ok(job) => queue.push_back(job),
                Err(_) => return,
            }
        }
        queue.extend(rx.try_iter());
        let next = match queue.iter().position(Job::urgent) {
            Some(i) => queue.remove(i),
            None => queue.pop_front(),
        };
        let Some(job) = next else { continue };
        if engine.is_none() {
            let retry = failed
                .as_ref()
                .is_none_or(|(at, _)| at.elapsed() >= RETRY_LOAD_AFTER);
            if retry {
                hub.publish(Event::Model {
                    status: ModelStatus::Loading,
                });
                match Engine::load(opts) {
                    Ok(e) => {
                        hub.publish(Event::Model {
                            status: ModelStatus::Ready {
                                device: e.device_label.clone(),
                            },
                        });
                        engine = Some(e);
                        failed = None;
                    }
                    Err(e) => {
                        let reason = e.to_string();
                        tracing::warn!(%reason, "cannot load the emotion model");
                        hub.publish(Event::Model {
                            status: ModelStatus::Failed {
                                reason: reason.clone(),
                            },
                        });
                        failed = Some((Instant::now(), reason));
                    }
                }
            }
        }
        let unavailable = || {
            ModelError(
                failed
                    .as_ref()
                    .map_or_else(|| "the emotion model is not loaded".into(), |f| f.1.clone()),
            )
        };
        match job {
            Job::Warm => {}
            Job::Read(texts, reply) => {
                let result = match &engine {
                    Some(e) => {
                        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                        e.read_texts(&refs).map_err(|e| ModelError(e.to_string()))
                    }
                    None => Err(unavailable()),
                };
                let _ = reply.send(result);
            }
            Job::Analyze(records, key, reply) => {
                let result = match &engine {
                    Some(e) => {
                        let refs: Vec<&LyricsRecord> = records.iter().collect();
                        e.analyze_lyrics(&refs, &key)
                            .map_err(|e| ModelError(e.to_string()))
                    }
                    None => Err(unavailable()),
                };
                let _ = reply.send(result);
            }
        }
    }
}
