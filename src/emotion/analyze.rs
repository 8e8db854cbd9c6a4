//! The analysis job: every song with lyrics and no analysis by the current model is read in batches and its mood
//! stored. Each batch is written and flushed before the next starts, so an interrupted job resumes where it
//! stopped, and songs whose lyrics changed are analyzed again (their lyrics hash is part of the key).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{Engine, EngineError};
use crate::records::mood_key;
use crate::records::{LyricsRecord, Song, SongId, SongMood};
use crate::store::{Store, StoreError};

/// Songs read per batch on the CPU (their chunks are embedded together).
pub const SONGS_PER_BATCH: usize = 32;

static BATCH_SONGS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(SONGS_PER_BATCH);

/// Songs per batch for this process: [`SONGS_PER_BATCH`] unless the model runs on a GPU, which takes many more
/// at once (set when the engine loads).
pub fn songs_per_batch() -> usize {
    BATCH_SONGS.load(std::sync::atomic::Ordering::Relaxed)
}

pub fn set_songs_per_batch(n: usize) {
    BATCH_SONGS.store(n.max(1), std::sync::atomic::Ordering::Relaxed);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Which {
    /// Songs with no analysis by the current model.
    Missing,
    /// Every song with lyrics, again.
    All,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalyzeSummary {
    /// Songs given a mood in this run.
    pub analyzed: usize,
    /// Songs whose analysis (a mood, or a skip) is up to date.
    pub already: usize,
    pub no_lyrics: usize,
    /// Songs found in this run to be sung in a language the model does not read: they get no mood, and are not
    /// tried again until their lyrics or the model change.
    #[serde(default)]
    pub skipped_language: usize,
    pub interrupted: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalyzeProgress {
    pub done: usize,
    pub total: usize,
    pub songs_per_s: f64,
    pub eta_s: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The model could not read a batch (said by whoever runs it).
    #[error("{0}")]
    Model(String),
}

/// Songs that need analysis, with their lyrics, and how many were skipped.
pub fn pending(
    store: &Store,
    model_key: &str,
    which: Which,
) -> Result<(Vec<(Song, LyricsRecord)>, AnalyzeSummary), StoreError> {
    let mut summary = AnalyzeSummary::default();
    let mut out = Vec::new();
    for song in store.all_songs()? {
        let lyrics = match store.lyrics.get(song.id.as_str())? {
            Some(l) if l.has_words() => l,
            _ => {
                summary.no_lyrics += 1;
                continue;
            }
        };
        if which == Which::Missing && store.moods.contains(&mood_key(model_key, &lyrics.hash()))? {
            summary.already += 1;
            continue;
        }
        out.push((song, lyrics));
    }
    Ok((out, summary))
}

/// Reads the lyrics of a batch of songs: one mood per record, `None` for records without words.
pub type ReadBatch<'a> =
    dyn FnMut(&[&LyricsRecord]) -> Result<Vec<Option<SongMood>>, AnalyzeError> + 'a;

/// Hears about each stored batch: the progress so far and the analyses the batch stored, by song.
pub type OnBatch<'a> = dyn FnMut(AnalyzeProgress, &[(SongId, SongMood)]) + 'a;

/// Runs the job with `engine` on this thread; `progress` is called after every stored batch.
pub fn run(
    store: &Store,
    engine: &Engine,
    model_key: &str,
    which: Which,
    progress: &mut dyn FnMut(AnalyzeProgress),
    cancel: &AtomicBool,
) -> Result<AnalyzeSummary, AnalyzeError> {
    run_with(
        store,
        model_key,
        which,
        &mut |records| Ok(engine.analyze_lyrics(records, model_key)?),
        &mut |p, _| progress(p),
        cancel,
    )
}

/// Runs the job, reading each batch with `read`. After every stored batch `on_batch` gets the progress and the
/// analyses that batch stored, by song; `cancel` is checked between batches. Songs another run analyzed
/// meanwhile are skipped, so two runs over one database share the work instead of doing it twice.
pub fn run_with(
    store: &Store,
    model_key: &str,
    which: Which,
    read: &mut ReadBatch,
    on_batch: &mut OnBatch,
    cancel: &AtomicBool,
) -> Result<AnalyzeSummary, AnalyzeError> {
    let (todo, mut summary) = pending(store, model_key, which)?;
    let total = todo.len();
    let start = Instant::now();
    on_batch(
        AnalyzeProgress {
            done: 0,
            total,
            ..Default::default()
        },
        &[],
    );
    let mut done = 0;
    for batch in todo.chunks(songs_per_batch()) {
        if cancel.load(Ordering::Relaxed) {
            summary.interrupted = true;
            break;
        }
        let mut fresh: Vec<&(Song, LyricsRecord)> = Vec::with_capacity(batch.len());
        for item in batch {
            if which == Which::Missing
                && store.moods.contains(&mood_key(model_key, &item.1.hash()))?
            {
                summary.already += 1;
            } else {
                fresh.push(item);
            }
        }
        done += batch.len();
        let records: Vec<&LyricsRecord> = fresh.iter().map(|(_, l)| l).collect();
        let moods = if records.is_empty() {
            Vec::new()
        } else {
            read(&records)?
        };
        let mut write = sled::Batch::default();
        let mut stored = Vec::with_capacity(moods.len());
        for ((song, _), mood) in fresh.iter().zip(moods) {
            let Some(mood) = mood else { continue };
            write.insert(
                mood_key(model_key, &mood.lyrics_hash).as_bytes(),
                store.moods.encode(&mood)?,
            );
            if mood.is_read() {
                summary.analyzed += 1;
            } else {
                summary.skipped_language += 1;
            }
            stored.push((song.id.clone(), mood));
        }
        store
            .moods
            .raw()
            .apply_batch(write)
            .map_err(StoreError::from)?;
        store.flush()?;
        let elapsed = start.elapsed().as_secs_f64().max(1e-6);
        let rate = done as f64 / elapsed;
        on_batch(
            AnalyzeProgress {
                done,
                total,
                songs_per_s: rate,
                eta_s: (rate > 0.0).then(|| (total - done) as f64 / rate),
            },
            &stored,
        );
    }
    Ok(summary)
}
