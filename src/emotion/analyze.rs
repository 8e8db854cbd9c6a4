//! The analysis job: every song with lyrics and no analysis by the current model is read in batches and its mood
//! stored. Each batch is written and flushed in order (while the next is read), so an interrupted job resumes
//! where it stopped, and songs whose lyrics changed are analyzed again (their lyrics hash is part of the key).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{Engine, EngineError};
use crate::records::mood_key;
use crate::records::{LyricsRecord, Song, SongId, SongMood};
use crate::store::{Store, StoreError};

/// Songs read per batch on the CPU (their chunks are embedded together). 128 songs make about 450 chunks, enough
/// batches of similar length for every encoder worker to finish together; at 32 the workers waited on each other
/// at the end of each batch, and analysis kept the int8 encoder only 84–86% as busy as it is alone.
pub const SONGS_PER_BATCH: usize = 128;

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

/// Runs the job with `engine`; `progress` is called after every stored batch. Three stages overlap: while the
/// encoder reads a batch on this thread, the next one is chunked and tokenized on another and the last one is
/// written on a third, so the encoder (a GPU's especially) is not left waiting on either.
pub fn run(
    store: &Store,
    engine: &Engine,
    model_key: &str,
    which: Which,
    progress: &mut dyn FnMut(AnalyzeProgress),
    cancel: &AtomicBool,
) -> Result<AnalyzeSummary, AnalyzeError> {
    run_stages(
        store,
        model_key,
        which,
        &|records| Ok(engine.prepare_lyrics(records)?),
        &mut |prepared, records| Ok(engine.read_prepared(prepared, records, model_key)?),
        &mut |p, _| progress(p),
        cancel,
    )
}

/// Runs the job, reading each batch with `read`. After every stored batch `on_batch` gets the progress and the
/// analyses that batch stored, by song; `cancel` is checked between batches. Songs another run analyzed
/// meanwhile are skipped, so two runs over one database share the work instead of doing it twice. Each batch is
/// written on another thread while the next one is read.
pub fn run_with(
    store: &Store,
    model_key: &str,
    which: Which,
    read: &mut ReadBatch,
    on_batch: &mut OnBatch,
    cancel: &AtomicBool,
) -> Result<AnalyzeSummary, AnalyzeError> {
    run_stages(
        store,
        model_key,
        which,
        &|_| Ok(()),
        &mut |(), records| read(records),
        on_batch,
        cancel,
    )
}

/// Makes a batch's records ready for reading (on a thread of its own, a batch ahead of the reading).
type Prepare<'a, P> = dyn Fn(&[&LyricsRecord]) -> Result<P, AnalyzeError> + Sync + 'a;
/// Reads a batch made ready: one mood per record, `None` for records without words.
type ReadPrepared<'a, P> =
    dyn FnMut(P, &[&LyricsRecord]) -> Result<Vec<Option<SongMood>>, AnalyzeError> + 'a;

/// A batch as the preparing stage hands it on.
struct Ready<'t, P> {
    batch: &'t [(Song, LyricsRecord)],
    /// The songs of `batch` still to read (by index); the others were analyzed meanwhile.
    fresh: Vec<usize>,
    prepared: Option<P>,
}

/// The job in three stages, each on its own thread: prepare (which songs still need reading, then `prepare`),
/// read (`read`, on this thread), write (applied and flushed in order). A batch is reported to `on_batch` once it
/// is flushed, so an interrupted job loses at most the batches not yet reported, and resumes with them.
fn run_stages<P: Send>(
    store: &Store,
    model_key: &str,
    which: Which,
    prepare: &Prepare<P>,
    read: &mut ReadPrepared<P>,
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
    let batches: Vec<&[(Song, LyricsRecord)]> = todo.chunks(songs_per_batch()).collect();
    let batch_count = batches.len();
    std::thread::scope(|scope| {
        let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<Ready<P>, AnalyzeError>>(1);
        scope.spawn(move || {
            for batch in batches {
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
                let ready = (|| {
                    let mut fresh = Vec::with_capacity(batch.len());
                    for (i, (_, lyrics)) in batch.iter().enumerate() {
                        if which == Which::Missing
                            && store.moods.contains(&mood_key(model_key, &lyrics.hash()))?
                        {
                            continue;
                        }
                        fresh.push(i);
                    }
                    let records: Vec<&LyricsRecord> = fresh.iter().map(|&i| &batch[i].1).collect();
                    let prepared = if records.is_empty() {
                        None
                    } else {
                        Some(prepare(&records)?)
                    };
                    Ok(Ready {
                        batch,
                        fresh,
                        prepared,
                    })
                })();
                let failed = ready.is_err();
                if ready_tx.send(ready).is_err() || failed {
                    break;
                }
            }
        });
        // The writer encodes each batch's records, applies and flushes them, and hands the analyses back.
        type Stored = Vec<(SongId, SongMood)>;
        let (write_tx, write_rx) = mpsc::sync_channel::<Stored>(1);
        let (stored_tx, stored_rx) = mpsc::channel::<Result<Stored, StoreError>>();
        scope.spawn(move || {
            for stored in write_rx {
                let result = (|| {
                    let mut write = sled::Batch::default();
                    for (_, mood) in &stored {
                        write.insert(
                            mood_key(model_key, &mood.lyrics_hash).as_bytes(),
                            store.moods.encode(mood)?,
                        );
                    }
                    store.moods.raw().apply_batch(write)?;
                    store.flush()?;
                    Ok(stored)
                })();
                let failed = result.is_err();
                if stored_tx.send(result).is_err() || failed {
                    break;
                }
            }
        });
        // Songs done once the batch being written is stored.
        let mut writing: Option<usize> = None;
        let mut settle = |writing: &mut Option<usize>| {
            let Some(done) = writing.take() else {
                return Ok::<(), AnalyzeError>(());
            };
            let stored = stored_rx
                .recv()
                .map_err(|_| AnalyzeError::Model("the database writer stopped".into()))??;
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
            Ok(())
        };
        let (mut done, mut batches_read) = (0, 0);
        let read_all = || -> Result<(), AnalyzeError> {
            for ready in ready_rx {
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
                let Ready {
                    batch,
                    fresh,
                    prepared,
                } = ready?;
                batches_read += 1;
                summary.already += batch.len() - fresh.len();
                let records: Vec<&LyricsRecord> = fresh.iter().map(|&i| &batch[i].1).collect();
                let moods = match prepared {
                    Some(prepared) => read(prepared, &records)?,
                    None => Vec::new(),
                };
                let mut stored = Vec::with_capacity(moods.len());
                for (&i, mood) in fresh.iter().zip(moods) {
                    let Some(mood) = mood else { continue };
                    if mood.is_read() {
                        summary.analyzed += 1;
                    } else {
                        summary.skipped_language += 1;
                    }
                    stored.push((batch[i].0.id.clone(), mood));
                }
                // The batch before is flushed and reported before this one is handed to the writer.
                settle(&mut writing)?;
                done += batch.len();
                write_tx
                    .send(stored)
                    .map_err(|_| AnalyzeError::Model("the database writer stopped".into()))?;
                writing = Some(done);
            }
            Ok(())
        };
        let outcome = read_all();
        // The batch being written is stored and reported even when a later one failed.
        let last = settle(&mut writing);
        outcome?;
        last?;
        summary.interrupted = batches_read < batch_count;
        Ok(summary)
    })
}
