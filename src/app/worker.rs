//! Worker threads. Everything slow runs here and reports back to the main loop as an [`Event`]; only the main loop
//! changes the app's state. Each worker is a named thread with its own request enum; requests carry an id, the
//! newest request of a kind wins and the app drops replies to older ones.
//!
//! - `moodtape-model` owns the emotion engine: it loads the model, analyzes songs that have no analysis yet (each
//!   batch is stored as it goes, so quitting loses nothing and the next start resumes), and reads the mood of the
//!   user's text, also between analysis batches so a mood never waits for the whole library.
//! - `moodtape-recommend` keeps the analyzed songs as candidates and ranks them; it keeps feedback too.
//! - `moodtape-library` reads the stored analyses of the library at startup, in slices, so the first frame never
//!   waits for them.
//! - `moodtape-lyrics` looks up missing lyrics (not for the demo, not offline), then asks for their analysis.
//! - `moodtape-player` writes M3U8 files and talks to MPD or the player command.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::emotion::analyze::{AnalyzeProgress, Which, SONGS_PER_BATCH};
use crate::emotion::{Engine, EngineOptions, MoodReading, Quadrant, SongMood, TextMood};
use crate::library::{Song, SongId};
use crate::recommend::{Candidate, Feedback, Pick, Target, Weights};
use crate::store::Store;

use super::state::MoodSummary;

/// A reply from a worker thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The model is loaded and runs on `device`.
    ModelReady {
        device: String,
    },
    ModelFailed(String),
    /// The mood of the text of request `id`.
    MoodRead {
        id: u64,
        mood: TextMood,
    },
    MoodFailed {
        id: u64,
        reason: String,
    },
    /// Stored analyses of songs, by id (at startup and as analysis goes).
    Moods(Vec<(SongId, MoodSummary)>),
    /// Every stored analysis has been read.
    MoodsLoaded,
    AnalysisProgress {
        done: usize,
        total: usize,
        rate: f64,
        eta_s: Option<f64>,
    },
    /// The analysis job ended: how many songs it analyzed, and whether it was stopped.
    AnalysisDone {
        analyzed: usize,
        interrupted: bool,
    },
    AnalysisFailed(String),
    LyricsProgress {
        done: usize,
        total: usize,
        found: usize,
        rate: f64,
        eta_s: Option<f64>,
    },
    /// The lyrics job ended; songs whose lyrics flags changed come with it.
    LyricsDone {
        found: usize,
        not_found: usize,
        failed: usize,
        songs: Vec<Song>,
    },
    LyricsFailed(String),
    /// A recommendation for request `id`.
    Picks {
        id: u64,
        picks: Vec<Pick>,
    },
    RecommendFailed {
        id: u64,
        reason: String,
    },
    /// The lyrics and analysis of a song, for the lyrics pane.
    Detail {
        id: SongId,
        lyrics: Option<crate::lyrics::LyricsRecord>,
        mood: Option<SongMood>,
    },
    /// A line for the status bar: what a finished action did.
    Notice(String),
    /// A line for the status bar: what went wrong. Never fatal.
    JobError(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ModelRequest {
    Read {
        id: u64,
        text: String,
    },
    /// Analyze whatever has no analysis yet (after new lyrics arrived).
    Analyze,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RecommendRequest {
    Match {
        id: u64,
        mood: TextMood,
        limit: usize,
    },
    Near {
        id: u64,
        valence: f32,
        arousal: f32,
        limit: usize,
    },
    Like {
        id: u64,
        seed: SongId,
        limit: usize,
    },
    /// A mood journey of `steps` songs from the user's mood to the centre of a quadrant.
    Journey {
        id: u64,
        from: TextMood,
        to: Quadrant,
        steps: usize,
    },
    Feedback {
        song: SongId,
        liked: bool,
        mood: MoodReading,
        text: String,
    },
    /// New analyses were stored: reload the candidates before the next ranking.
    Reload,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PlayerRequest {
    Export { path: PathBuf, songs: Vec<Song> },
    Mpd { songs: Vec<Song> },
    Command { template: String, songs: Vec<Song> },
}

/// The handles the main loop keeps: request senders, the cancel flag and the threads to wait for.
pub struct Workers {
    pub model: Sender<ModelRequest>,
    pub recommend: Sender<RecommendRequest>,
    pub player: Sender<PlayerRequest>,
    pub cancel: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// What the workers need from the run's context.
pub struct WorkerSetup {
    pub store: Arc<Store>,
    pub engine: EngineOptions,
    pub weights: Weights,
    pub songs: Vec<Song>,
    /// Look lyrics up at startup (a real library, online).
    pub fetch_lyrics: Option<crate::lyrics::fetch::FetchSettings>,
    pub mpd: crate::player::MpdTarget,
}

impl Workers {
    pub fn start(setup: WorkerSetup, events: Sender<Event>) -> std::io::Result<Workers> {
        let cancel = Arc::new(AtomicBool::new(false));
        let (model_tx, model_rx) = std::sync::mpsc::channel();
        let (rec_tx, rec_rx) = std::sync::mpsc::channel();
        let (player_tx, player_rx) = std::sync::mpsc::channel();
        let mut threads = Vec::new();

        let (store, tx) = (setup.store.clone(), events.clone());
        let songs = setup.songs;
        threads.push(spawn("moodtape-library", move || {
            load_moods(&store, &songs, &tx)
        })?);

        let (store, tx, c) = (setup.store.clone(), events.clone(), cancel.clone());
        let rec = rec_tx.clone();
        // The model starts analyzing at once unless lyrics are still to come; then the lyrics job asks for it.
        let analyze_first = setup.fetch_lyrics.is_none();
        threads.push(spawn("moodtape-model", move || {
            model_worker(
                &store,
                &setup.engine,
                analyze_first,
                &model_rx,
                &rec,
                &tx,
                &c,
            )
        })?);

        let (store, tx, weights) = (setup.store.clone(), events.clone(), setup.weights);
        threads.push(spawn("moodtape-recommend", move || {
            recommend_worker(&store, weights, &rec_rx, &tx)
        })?);

        if let Some(settings) = setup.fetch_lyrics {
            let (store, tx, c, model) = (
                setup.store.clone(),
                events.clone(),
                cancel.clone(),
                model_tx.clone(),
            );
            threads.push(spawn("moodtape-lyrics", move || {
                lyrics_worker(&store, &settings, &model, &tx, &c)
            })?);
        }

        let (tx, mpd) = (events, setup.mpd);
        threads.push(spawn("moodtape-player", move || {
            player_worker(&mpd, &player_rx, &tx)
        })?);

        Ok(Workers {
            model: model_tx,
            recommend: rec_tx,
            player: player_tx,
            cancel,
            threads,
        })
    }

    /// Asks every job to stop after its current batch and waits up to `wait` for them, so what they were writing
    /// is stored. A thread still busy after that is left behind (it only ever writes whole batches).
    pub fn shutdown(self, wait: std::time::Duration) {
        self.cancel.store(true, Ordering::Relaxed);
        let Workers {
            model,
            recommend,
            player,
            threads,
            ..
        } = self;
        drop((model, recommend, player));
        let deadline = std::time::Instant::now() + wait;
        for t in threads {
            while !t.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name.to_string()).spawn(f)
}

/// Reads the stored analyses of `songs` and sends them in slices.
fn load_moods(store: &Store, songs: &[Song], tx: &Sender<Event>) {
    let key = crate::emotion::model_key();
    for slice in songs.chunks(2000) {
        let mut out = Vec::with_capacity(slice.len());
        for song in slice {
            match crate::emotion::stored_mood(store, &key, song) {
                Ok(Some(m)) => out.push((song.id.clone(), MoodSummary::of(&m.reading))),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(song = %song.id, error = %e, "unreadable analysis");
                }
            }
        }
        if !out.is_empty() && tx.send(Event::Moods(out)).is_err() {
            return;
        }
    }
    let _ = tx.send(Event::MoodsLoaded);
}

fn model_worker(
    store: &Store,
    opts: &EngineOptions,
    analyze_first: bool,
    rx: &Receiver<ModelRequest>,
    rec: &Sender<RecommendRequest>,
    tx: &Sender<Event>,
    cancel: &AtomicBool,
) {
    let engine = match Engine::load(opts) {
        Ok(e) => {
            let _ = tx.send(Event::ModelReady {
                device: e.device_label.clone(),
            });
            Some(e)
        }
        Err(e) => {
            let _ = tx.send(Event::ModelFailed(crate::sanitize::clean_line(
                &e.to_string(),
            )));
            None
        }
    };
    let mut analyze = analyze_first;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        if analyze {
            analyze = false;
            if let Some(engine) = &engine {
                if run_analysis(store, engine, rx, rec, tx, cancel) {
                    analyze = true;
                }
            }
            continue;
        }
        let Ok(first) = rx.recv() else { return };
        // The newest text wins: older ones in the queue are answered as superseded by dropping them.
        let mut latest_read = None;
        for req in std::iter::once(first).chain(rx.try_iter()) {
            match req {
                ModelRequest::Read { id, text } => latest_read = Some((id, text)),
                ModelRequest::Analyze => analyze = true,
            }
        }
        if let Some((id, text)) = latest_read {
            read_mood(engine.as_ref(), id, &text, tx);
        }
    }
}

fn read_mood(engine: Option<&Engine>, id: u64, text: &str, tx: &Sender<Event>) {
    let event = match engine {
        Some(engine) => match engine.read_text(text) {
            Ok(mood) => Event::MoodRead { id, mood },
            Err(e) => Event::MoodFailed {
                id,
                reason: crate::sanitize::clean_line(&e.to_string()),
            },
        },
        None => Event::MoodFailed {
            id,
            reason: "the emotion model is not loaded".into(),
        },
    };
    let _ = tx.send(event);
}

/// Analyzes every song without an analysis, streaming each stored batch to the app. Mood reads that come in
/// meanwhile are answered between batches. Returns whether another analysis was asked for during this one.
fn run_analysis(
    store: &Store,
    engine: &Engine,
    rx: &Receiver<ModelRequest>,
    rec: &Sender<RecommendRequest>,
    tx: &Sender<Event>,
    cancel: &AtomicBool,
) -> bool {
    let key = crate::emotion::model_key();
    // The same list the job works through, in its order, so each progress report names its batch.
    let todo: Vec<Song> = match crate::emotion::analyze::pending(store, &key, Which::Missing) {
        Ok((todo, _)) => todo.into_iter().map(|(s, _)| s).collect(),
        Err(e) => {
            let _ = tx.send(Event::AnalysisFailed(e.to_string()));
            return false;
        }
    };
    if todo.is_empty() {
        let _ = tx.send(Event::AnalysisDone {
            analyzed: 0,
            interrupted: false,
        });
        return false;
    }
    let mut batches_seen = 0usize;
    let mut again = false;
    let mut on_progress = |p: AnalyzeProgress| {
        if batches_seen > 0 {
            let start = (batches_seen - 1) * SONGS_PER_BATCH;
            let end = (start + SONGS_PER_BATCH).min(todo.len());
            let fresh: Vec<(SongId, MoodSummary)> = todo
                .get(start..end)
                .unwrap_or(&[])
                .iter()
                .filter_map(|s| {
                    crate::emotion::stored_mood(store, &key, s)
                        .ok()
                        .flatten()
                        .map(|m| (s.id.clone(), MoodSummary::of(&m.reading)))
                })
                .collect();
            if !fresh.is_empty() {
                let _ = tx.send(Event::Moods(fresh));
                let _ = rec.send(RecommendRequest::Reload);
            }
        }
        batches_seen += 1;
        let _ = tx.send(Event::AnalysisProgress {
            done: p.done,
            total: p.total,
            rate: p.songs_per_s,
            eta_s: p.eta_s,
        });
        let mut latest_read = None;
        for req in rx.try_iter() {
            match req {
                ModelRequest::Read { id, text } => latest_read = Some((id, text)),
                ModelRequest::Analyze => again = true,
            }
        }
        if let Some((id, text)) = latest_read {
            read_mood(Some(engine), id, &text, tx);
        }
    };
    let result = crate::emotion::analyze::run(
        store,
        engine,
        &key,
        Which::Missing,
        &mut on_progress,
        cancel,
    );
    let _ = rec.send(RecommendRequest::Reload);
    match result {
        Ok(summary) => {
            let _ = tx.send(Event::AnalysisDone {
                analyzed: summary.analyzed,
                interrupted: summary.interrupted,
            });
        }
        Err(e) => {
            let _ = tx.send(Event::AnalysisFailed(crate::sanitize::clean_line(
                &e.to_string(),
            )));
        }
    }
    again
}

fn recommend_worker(
    store: &Store,
    weights: Weights,
    rx: &Receiver<RecommendRequest>,
    tx: &Sender<Event>,
) {
    let mut cache: Option<(Vec<Candidate>, Vec<Feedback>)> = None;
    while let Ok(first) = rx.recv() {
        let mut latest = None;
        for req in std::iter::once(first).chain(rx.try_iter()) {
            match req {
                RecommendRequest::Reload => cache = None,
                RecommendRequest::Feedback {
                    song,
                    liked,
                    mood,
                    text,
                } => {
                    match crate::recommend::record_feedback(store, &song, liked, &mood, &text) {
                        Ok(()) => {
                            let word = if liked { "liked" } else { "disliked" };
                            let _ = tx
                                .send(Event::Notice(format!("{word}; noted for moods like this")));
                        }
                        Err(e) => {
                            let _ = tx.send(Event::JobError(format!("cannot keep feedback: {e}")));
                        }
                    }
                    cache = None;
                }
                other => latest = Some(other),
            }
        }
        let Some(req) = latest else { continue };
        if cache.is_none() {
            let loaded = crate::recommend::load_candidates(store)
                .and_then(|c| crate::recommend::load_feedback(store).map(|f| (c, f)));
            match loaded {
                Ok(c) => cache = Some(c),
                Err(e) => {
                    let id = request_id(&req);
                    let _ = tx.send(Event::RecommendFailed {
                        id,
                        reason: e.to_string(),
                    });
                    continue;
                }
            }
        }
        let Some((cands, feedback)) = &cache else {
            continue;
        };
        let (id, picks) = match req {
            RecommendRequest::Match { id, mood, limit } => (
                id,
                crate::recommend::rank_match(cands, &mood, &weights, feedback, limit),
            ),
            RecommendRequest::Near {
                id,
                valence,
                arousal,
                limit,
            } => (
                id,
                crate::recommend::near(cands, valence, arousal, limit, &weights, feedback),
            ),
            RecommendRequest::Like { id, seed, limit } => (
                id,
                crate::recommend::like(cands, &seed, limit, &weights, feedback),
            ),
            RecommendRequest::Journey {
                id,
                from,
                to,
                steps,
            } => (
                id,
                crate::recommend::journey(
                    cands,
                    &from,
                    &Target::Quadrant(to),
                    steps,
                    &weights,
                    feedback,
                ),
            ),
            RecommendRequest::Feedback { .. } | RecommendRequest::Reload => continue,
        };
        if tx.send(Event::Picks { id, picks }).is_err() {
            return;
        }
    }
}

fn request_id(req: &RecommendRequest) -> u64 {
    match req {
        RecommendRequest::Match { id, .. }
        | RecommendRequest::Near { id, .. }
        | RecommendRequest::Like { id, .. }
        | RecommendRequest::Journey { id, .. } => *id,
        _ => 0,
    }
}

fn lyrics_worker(
    store: &Store,
    settings: &crate::lyrics::fetch::FetchSettings,
    model: &Sender<ModelRequest>,
    tx: &Sender<Event>,
    cancel: &AtomicBool,
) {
    let before: std::collections::HashMap<SongId, (bool, bool)> = match store.all_songs() {
        Ok(songs) => songs
            .into_iter()
            .map(|s| {
                let flags = (s.has_lyrics(), s.instrumental);
                (s.id, flags)
            })
            .collect(),
        Err(e) => {
            let _ = tx.send(Event::LyricsFailed(e.to_string()));
            return;
        }
    };
    let start = std::time::Instant::now();
    let mut progress = |p: crate::lyrics::fetch::FetchProgress| {
        let rate = p.done as f64 / start.elapsed().as_secs_f64().max(1e-6);
        let _ = tx.send(Event::LyricsProgress {
            done: p.done,
            total: p.total,
            found: p.found,
            rate,
            eta_s: (rate > 0.0).then(|| p.total.saturating_sub(p.done) as f64 / rate),
        });
    };
    let options = crate::lyrics::fetch::FetchOptions {
        missing_only: true,
        jobs: None,
    };
    match crate::lyrics::fetch::fetch(settings, store, &options, &mut progress, cancel) {
        Ok(summary) => {
            let changed = store
                .all_songs()
                .map(|songs| {
                    songs
                        .into_iter()
                        .filter_map(|s| {
                            let flags = (s.has_lyrics(), s.instrumental);
                            (before.get(&s.id) != Some(&flags)).then_some(s)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let _ = tx.send(Event::LyricsDone {
                found: summary.found,
                not_found: summary.not_found,
                failed: summary.failed,
                songs: changed,
            });
        }
        Err(e) => {
            let _ = tx.send(Event::LyricsFailed(crate::sanitize::clean_line(&format!(
                "{e:#}"
            ))));
        }
    }
    // Whatever was found (or not), songs with lyrics and no analysis are next.
    let _ = model.send(ModelRequest::Analyze);
}

fn player_worker(mpd: &crate::player::MpdTarget, rx: &Receiver<PlayerRequest>, tx: &Sender<Event>) {
    // Started players run on after this; they are waited for here so none is left a zombie.
    let mut children: Vec<std::process::Child> = Vec::new();
    for req in rx.iter() {
        children.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        let event = match req {
            PlayerRequest::Export { path, songs } => {
                let written = path
                    .parent()
                    .map(std::fs::create_dir_all)
                    .unwrap_or(Ok(()))
                    .and_then(|_| crate::player::write_m3u8(&path, &songs));
                match written {
                    Ok(()) => Event::Notice(format!(
                        "exported {} songs to {}",
                        songs.len(),
                        crate::sanitize::clean_line(&path.display().to_string())
                    )),
                    Err(e) => Event::JobError(format!(
                        "cannot write {}: {e}",
                        crate::sanitize::clean_line(&path.display().to_string())
                    )),
                }
            }
            PlayerRequest::Mpd { songs } => match crate::player::queue(mpd, &songs, true, true) {
                Ok(report) if report.missing.is_empty() => {
                    Event::Notice(format!("MPD plays {} songs", report.queued))
                }
                Ok(report) => Event::Notice(format!(
                    "MPD plays {} songs; {} not in its database",
                    report.queued,
                    report.missing.len()
                )),
                Err(e) => Event::JobError(crate::sanitize::clean_line(&e.to_string())),
            },
            PlayerRequest::Command { template, songs } => {
                match crate::player::spawn_command(&template, &songs) {
                    Ok(child) => {
                        children.push(child);
                        Event::Notice(format!("sent {} songs to the player", songs.len()))
                    }
                    Err(e) => Event::JobError(crate::sanitize::clean_line(&e.to_string())),
                }
            }
        };
        if tx.send(event).is_err() {
            return;
        }
    }
}
