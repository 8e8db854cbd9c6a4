//! Fetching lyrics for many songs: a few worker threads ask the source chain, the calling thread stores what they
//! find and reports progress. Usable from the CLI and from a background thread of the TUI (with a cancel flag).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::error::LyricsError;
use super::lrclib::{Lrclib, LrclibSettings};
use super::source::{Chain, Outcome};
use crate::records::now_s;
use crate::records::Song;
use crate::records::{LyricsMiss, LyricsRecord};
use crate::store::Store;

/// Worker threads are never more than this, whatever `--jobs` says.
pub const MAX_JOBS: usize = 32;

/// What a fetch needs from the configuration, owned so a background thread can keep it.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchSettings {
    /// Source names in order (config `lyrics.sources`).
    pub sources: Vec<String>,
    /// Never touch the network (`--offline` or config `lyrics.online = false`).
    pub offline: bool,
    pub lrclib: LrclibSettings,
    /// Worker threads, and so requests in flight at once.
    pub jobs: usize,
    pub not_found_ttl_days: u32,
}

/// Which songs to fetch for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchOptions {
    /// Only songs with no lyrics that are not known to be instrumental.
    pub missing_only: bool,
    /// Overrides [`FetchSettings::jobs`].
    pub jobs: Option<usize>,
    /// Stop here: no song is started after it and requests in flight are cut short (a caller's time budget).
    pub deadline: Option<Instant>,
}

/// Reported after each song (and once before the first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FetchProgress {
    pub done: usize,
    pub total: usize,
    /// "Artist - Title" of the song just finished.
    pub current: String,
    pub found: usize,
    pub not_found: usize,
    pub failed: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchFailure {
    pub id: String,
    pub song: String,
    pub reason: String,
}

/// The outcome of a fetch. Serialized, it is the documented `{"found", "synced", "instrumental", "not_found",
/// "failed"}` plus the list of failures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FetchSummary {
    /// Songs with words found (synced ones included).
    pub found: usize,
    /// Of those, songs with synced lyrics.
    pub synced: usize,
    pub instrumental: usize,
    pub not_found: usize,
    pub failed: usize,
    pub failures: Vec<FetchFailure>,
    /// Of `found` and `instrumental`, those that were already stored.
    pub already_stored: usize,
    /// Songs looked at.
    pub total: usize,
    /// Not found, but not asked online again because of an earlier miss.
    pub recently_missed: usize,
    pub requests: u64,
    pub offline: bool,
    pub cancelled: bool,
    /// Why the run stopped asking the server (the circuit breaker), when it did; the songs it did not ask for
    /// are in `failed` with this reason.
    #[serde(default)]
    pub stopped: Option<String>,
    /// The deadline of [`FetchOptions::deadline`] ended the run; `skipped` songs were not looked up.
    #[serde(default)]
    pub out_of_time: bool,
    /// Songs not looked up because the run was cancelled or ran out of time.
    #[serde(default)]
    pub skipped: usize,
}

impl FetchSummary {
    /// "12 found, 3 not found, 985 failed: why", for one line of a status bar or a note. Every count is there,
    /// failures included, with the reason the run stopped or the first failure's reason.
    pub fn line(&self) -> String {
        let found = self.found + self.instrumental;
        let mut line = format!(
            "{found} found, {} not found, {} failed",
            self.not_found, self.failed
        );
        if self.skipped > 0 {
            line.push_str(&format!(", {} not looked up", self.skipped));
        }
        let reason = self
            .stopped
            .clone()
            .or_else(|| self.failures.first().map(|f| f.reason.clone()));
        if let (true, Some(reason)) = (self.failed > 0, reason) {
            line.push_str(": ");
            line.push_str(&crate::sanitize::clean_line(&reason));
        }
        line
    }
}

/// Fetches lyrics for the songs `options` selects.
pub fn fetch(
    settings: &FetchSettings,
    store: &Store,
    options: &FetchOptions,
    progress: &mut dyn FnMut(FetchProgress),
    cancel: &AtomicBool,
) -> anyhow::Result<FetchSummary> {
    let songs: Vec<Song> = store
        .all_songs()?
        .into_iter()
        .filter(|s| !options.missing_only || (!s.has_lyrics() && !s.instrumental))
        .collect();
    let wants_online = !settings.offline && settings.sources.iter().any(|s| s == "lrclib");
    let client = if wants_online && !songs.is_empty() {
        Some(Arc::new(
            Lrclib::new(settings.lrclib.clone())
                .context("cannot set up the LRCLIB client")?
                .with_deadline(options.deadline),
        ))
    } else {
        None
    };
    let chain = Chain::from_names(&settings.sources, store, client.clone());
    let now = now_s();
    let ttl_s = u64::from(settings.not_found_ttl_days) * 86_400;
    let mut recently_missed = vec![false; songs.len()];
    if chain.has_online() {
        for (flag, song) in recently_missed.iter_mut().zip(&songs) {
            // The TTL of the current config counts too, so shortening it takes effect at once.
            *flag = match store.lyrics_miss.get(song.id.as_str()) {
                Ok(Some(miss)) => now < miss.until.min(miss.checked_at.saturating_add(ttl_s)),
                Ok(None) => false,
                Err(e) => {
                    tracing::warn!(song = %song.id, error = %e, "unreadable lyrics miss record");
                    false
                }
            };
        }
    }

    let mut summary = FetchSummary {
        total: songs.len(),
        offline: settings.offline,
        ..FetchSummary::default()
    };
    let mut report = FetchProgress {
        total: songs.len(),
        ..FetchProgress::default()
    };
    progress(report.clone());
    if songs.is_empty() {
        return Ok(summary);
    }

    let jobs = options
        .jobs
        .unwrap_or(settings.jobs)
        .clamp(1, MAX_JOBS)
        .min(songs.len());
    let next = AtomicUsize::new(0);
    // Set when storing fails: the workers stop taking songs, and the error is returned after they finish.
    let stop = AtomicBool::new(false);
    let out_of_time = AtomicBool::new(false);
    let past_deadline = || options.deadline.is_some_and(|d| Instant::now() >= d);
    let mut store_error: Option<anyhow::Error> = None;

    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
        for n in 0..jobs {
            let tx = tx.clone();
            let (songs, chain, next, stop, recently_missed, out_of_time, past_deadline) = (
                &songs,
                &chain,
                &next,
                &stop,
                &recently_missed,
                &out_of_time,
                &past_deadline,
            );
            std::thread::Builder::new()
                .name(format!("lyrics-fetch-{n}"))
                .spawn_scoped(scope, move || loop {
                    if cancel.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if past_deadline() {
                        out_of_time.store(true, Ordering::Relaxed);
                        break;
                    }
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(song) = songs.get(index) else { break };
                    let outcome = chain.lookup(song, !recently_missed[index], cancel);
                    if tx.send((index, outcome)).is_err() {
                        break;
                    }
                })
                .context("cannot start a lyrics worker thread")?;
        }
        drop(tx);
        for (index, outcome) in rx {
            let song = &songs[index];
            if store_error.is_some() {
                continue;
            }
            match outcome {
                Outcome::Found { record, source } => {
                    if let Err(e) = keep(store, song, &record, source) {
                        store_error = Some(e);
                        stop.store(true, Ordering::Relaxed);
                        continue;
                    }
                    if source == "cache" {
                        summary.already_stored += 1;
                    }
                    if record.instrumental {
                        summary.instrumental += 1;
                    } else {
                        summary.found += 1;
                        if record.synced.is_some() {
                            summary.synced += 1;
                        }
                    }
                }
                Outcome::NotFound { asked_online } => {
                    summary.not_found += 1;
                    if recently_missed[index] {
                        summary.recently_missed += 1;
                    }
                    if asked_online {
                        let miss = LyricsMiss {
                            checked_at: now_s(),
                            until: now_s().saturating_add(ttl_s),
                            reason: "not found on LRCLIB".into(),
                        };
                        if let Err(e) = store.lyrics_miss.insert(song.id.as_str(), &miss) {
                            store_error = Some(e.into());
                            stop.store(true, Ordering::Relaxed);
                            continue;
                        }
                    }
                }
                Outcome::Failed {
                    error: LyricsError::Cancelled,
                } => {
                    summary.cancelled = true;
                    continue;
                }
                Outcome::Failed {
                    error: LyricsError::OutOfTime,
                } => {
                    out_of_time.store(true, Ordering::Relaxed);
                    continue;
                }
                Outcome::Failed { error } => {
                    summary.failed += 1;
                    summary.failures.push(FetchFailure {
                        id: song.id.to_string(),
                        song: song.display_name(),
                        reason: crate::sanitize::clean_line(&error.to_string()),
                    });
                }
            }
            report.done += 1;
            report.current = song.display_name();
            report.found = summary.found + summary.instrumental;
            report.not_found = summary.not_found;
            report.failed = summary.failed;
            progress(report.clone());
        }
        Ok(())
    })?;
    if let Some(e) = store_error {
        return Err(e.context("cannot store fetched lyrics"));
    }
    store.flush()?;
    summary.cancelled |= cancel.load(Ordering::Relaxed) && report.done < songs.len();
    summary.out_of_time = out_of_time.load(Ordering::Relaxed) && report.done < songs.len();
    summary.skipped = songs.len().saturating_sub(report.done);
    summary.requests = client.as_ref().map_or(0, |c| c.requests_sent());
    summary.stopped = client.as_ref().and_then(|c| c.stop_reason());
    Ok(summary)
}

/// Stores a found record unless the same one is already stored, and keeps the song's lyrics fields in step.
fn keep(store: &Store, song: &Song, record: &LyricsRecord, source: &str) -> anyhow::Result<()> {
    let expected_origin = (!record.text.trim().is_empty()).then_some(record.origin);
    let song_in_step =
        song.lyrics_origin == expected_origin && song.instrumental == record.instrumental;
    if source == "cache" {
        if !song_in_step {
            store.set_lyrics(song, record)?;
        }
        return Ok(());
    }
    let same = store.lyrics.get(song.id.as_str())?.is_some_and(|stored| {
        stored.text == record.text
            && stored.synced == record.synced
            && stored.origin == record.origin
            && stored.instrumental == record.instrumental
    });
    if !(same && song_in_step) {
        store.set_lyrics(song, record)?;
    }
    Ok(())
}
