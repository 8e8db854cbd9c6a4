//! The analysis job: every song with lyrics and no analysis by the current model is read in batches and its mood
//! stored. Each batch is written and flushed before the next starts, so an interrupted job resumes where it
//! stopped, and songs whose lyrics changed are analyzed again (their lyrics hash is part of the key).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::Serialize;

use super::{mood_key, Engine, EngineError};
use crate::library::Song;
use crate::lyrics::LyricsRecord;
use crate::store::{Store, StoreError};

/// Songs read per batch (their chunks are embedded together).
pub const SONGS_PER_BATCH: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Songs with no analysis by the current model.
    Missing,
    /// Every song with lyrics, again.
    All,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AnalyzeSummary {
    pub analyzed: usize,
    pub already: usize,
    pub no_lyrics: usize,
    pub interrupted: bool,
}

#[derive(Debug, Clone, Copy, Default)]
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

/// Runs the job; `progress` is called after every stored batch, `cancel` is checked between batches.
pub fn run(
    store: &Store,
    engine: &Engine,
    model_key: &str,
    which: Which,
    progress: &mut dyn FnMut(AnalyzeProgress),
    cancel: &AtomicBool,
) -> Result<AnalyzeSummary, AnalyzeError> {
    let (todo, mut summary) = pending(store, model_key, which)?;
    let total = todo.len();
    let start = Instant::now();
    progress(AnalyzeProgress {
        done: 0,
        total,
        ..Default::default()
    });
    for batch in todo.chunks(SONGS_PER_BATCH) {
        if cancel.load(Ordering::Relaxed) {
            summary.interrupted = true;
            break;
        }
        let records: Vec<&LyricsRecord> = batch.iter().map(|(_, l)| l).collect();
        let moods = engine.analyze_lyrics(&records, model_key)?;
        let mut write = sled::Batch::default();
        for mood in moods.iter().flatten() {
            write.insert(
                mood_key(model_key, &mood.lyrics_hash).as_bytes(),
                store.moods.encode(mood)?,
            );
            summary.analyzed += 1;
        }
        store
            .moods
            .raw()
            .apply_batch(write)
            .map_err(StoreError::from)?;
        store.flush()?;
        let done = summary.analyzed;
        let elapsed = start.elapsed().as_secs_f64().max(1e-6);
        let rate = done as f64 / elapsed;
        progress(AnalyzeProgress {
            done,
            total,
            songs_per_s: rate,
            eta_s: (rate > 0.0).then(|| (total - done) as f64 / rate),
        });
    }
    Ok(summary)
}
