//! Scanning music folders: tags read with lofty, lyrics from sidecar `.lrc`/`.txt` files and embedded tags.
//! Rescans skip files whose size and mtime (and those of their sidecars) did not change, and remove songs whose
//! files are gone. A file that cannot be read is reported and skipped; nothing about one file stops the scan.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use lofty::config::{ParseOptions, ParsingMode};
use lofty::file::{AudioFile, TaggedFileExt};
use lofty::prelude::{Accessor, ItemKey};
use lofty::probe::Probe;
use serde::{Deserialize, Serialize};

use crate::records::LyricsRecord;
use crate::records::{FileStamp, Location, LyricsOrigin, Song, SongId};
use crate::store::{Store, StoreError};

/// Extensions read as audio.
pub const AUDIO_EXTENSIONS: [&str; 12] = [
    "mp3", "flac", "ogg", "oga", "opus", "m4a", "mp4", "aac", "wav", "wv", "aiff", "aif",
];

/// Songs are written in transactions of this many, each flushed, so a crash loses at most one batch.
const BATCH: usize = 100;

/// How long the lyrics of a removed song are kept for its file's return.
const TOMBSTONE_KEEP_S: u64 = 180 * 24 * 3600;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanSummary {
    pub files_seen: usize,
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub removed: usize,
    pub with_lyrics: usize,
    /// Links not followed (see [`ScanOptions::follow_symlinks`]).
    #[serde(default)]
    pub links_skipped: usize,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub path: String,
    pub reason: String,
}

/// Progress reported while scanning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ScanProgress {
    pub files_seen: usize,
    pub committed: usize,
    /// Audio files under the folders, counted before the scan reads them (for a bar with an ETA).
    #[serde(default)]
    pub total: usize,
}

/// What reading one file produced.
struct Read {
    song: Song,
    lyrics: Option<LyricsRecord>,
}

/// How a scan walks folders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// Follow links to folders and files, wherever they lead; off, a scan stays inside the folders it was given
    /// (a link to `/usr` would otherwise walk the whole system).
    pub follow_symlinks: bool,
}

/// Scans `roots` into the store. `progress` is called after each committed batch. Only regular files are read;
/// links are followed only with [`ScanOptions::follow_symlinks`].
pub fn scan(
    store: &Store,
    roots: &[PathBuf],
    options: ScanOptions,
    progress: &mut dyn FnMut(ScanProgress),
) -> Result<ScanSummary, StoreError> {
    let mut summary = ScanSummary::default();
    let mut committed = 0;
    let total = count_audio(roots, options);
    let mut last_report = std::time::Instant::now();
    for root in roots {
        let root = match std::fs::canonicalize(root) {
            Ok(r) if r.is_dir() => r,
            Ok(r) => {
                summary.problems.push(problem(&r, "not a folder"));
                continue;
            }
            Err(e) => {
                summary.problems.push(problem(root, &e.to_string()));
                continue;
            }
        };
        let existing = songs_under(store, &root)?;
        let mut seen: HashSet<SongId> = HashSet::new();
        // Folders that could not be listed: what they hold was not checked, so none of it counts as gone.
        let mut unlisted: Vec<(PathBuf, String)> = Vec::new();
        let mut pending: Vec<(Song, Option<LyricsRecord>)> = Vec::new();
        for entry in walkdir::WalkDir::new(&root)
            .follow_links(options.follow_symlinks)
            .sort_by_file_name()
        {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = e
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| root.clone());
                    let reason = e
                        .io_error()
                        .map_or_else(|| e.to_string(), ToString::to_string);
                    summary.problems.push(problem(&path, &reason));
                    unlisted.push((path, reason));
                    continue;
                }
            };
            if entry.file_type().is_symlink() {
                summary.links_skipped += 1;
                continue;
            }
            if !entry.file_type().is_file() || !is_audio(entry.path()) {
                continue;
            }
            summary.files_seen += 1;
            // Unchanged files commit nothing, so progress is also reported by time.
            if last_report.elapsed() >= std::time::Duration::from_millis(200) {
                last_report = std::time::Instant::now();
                progress(ScanProgress {
                    files_seen: summary.files_seen,
                    committed,
                    total,
                });
            }
            let path = entry.path().to_path_buf();
            let location = Location::File(path.clone());
            let Some(id) = SongId::for_location(&location) else {
                continue;
            };
            seen.insert(id.clone());
            let stamp = match entry.metadata() {
                Ok(m) => FileStamp::of(&m),
                Err(e) => {
                    summary.problems.push(problem(&path, &e.to_string()));
                    continue;
                }
            };
            let sidecar_stamp = sidecar(&path)
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| FileStamp::of(&m));
            let previous = existing.get(&id);
            if let Some(prev) = previous {
                if prev.stamp == Some(stamp) && prev.sidecar_stamp == sidecar_stamp {
                    summary.unchanged += 1;
                    if prev.has_lyrics() {
                        summary.with_lyrics += 1;
                    }
                    continue;
                }
            }
            match read_file_guarded(&path, &root) {
                Ok(mut read) => {
                    read.song.stamp = Some(stamp);
                    read.song.sidecar_stamp = sidecar_stamp;
                    if let Some(prev) = previous {
                        keep_fetched_lyrics(store, prev, &mut read)?;
                        summary.updated += 1;
                    } else {
                        lyrics_from_tombstone(store, &mut read)?;
                        summary.added += 1;
                    }
                    if read.song.has_lyrics() {
                        summary.with_lyrics += 1;
                    }
                    pending.push((read.song, read.lyrics));
                }
                Err(reason) => summary.problems.push(problem(&path, &reason)),
            }
            if pending.len() >= BATCH {
                committed += commit(store, &mut pending)?;
                progress(ScanProgress {
                    files_seen: summary.files_seen,
                    committed,
                    total,
                });
            }
        }
        committed += commit(store, &mut pending)?;
        let gone = really_gone(&existing, &seen, &unlisted, &mut summary);
        summary.removed += gone.len();
        store.bury_songs(&gone, crate::records::now_s(), TOMBSTONE_KEEP_S)?;
        store.flush()?;
        progress(ScanProgress {
            files_seen: summary.files_seen,
            committed,
            total,
        });
    }
    Ok(summary)
}

/// The audio files a scan of `roots` will see: a quick walk of names only, so the scan can show how far it is.
fn count_audio(roots: &[PathBuf], options: ScanOptions) -> usize {
    roots
        .iter()
        .flat_map(|root| {
            walkdir::WalkDir::new(root)
                .follow_links(options.follow_symlinks)
                .into_iter()
                .flatten()
        })
        .filter(|e| e.file_type().is_file() && is_audio(e.path()))
        .count()
}

fn commit(
    store: &Store,
    pending: &mut Vec<(Song, Option<LyricsRecord>)>,
) -> Result<usize, StoreError> {
    if pending.is_empty() {
        return Ok(0);
    }
    store.put_songs(pending)?;
    store.flush()?;
    let n = pending.len();
    pending.clear();
    Ok(n)
}

/// Songs in the store whose files lie under `root`.
fn songs_under(store: &Store, root: &Path) -> Result<HashMap<SongId, Song>, StoreError> {
    let mut out = HashMap::new();
    for item in store.songs.iter() {
        let (_, song) = match item {
            Ok(x) => x,
            Err(StoreError::Decode { .. }) => continue,
            Err(e) => return Err(e),
        };
        if song.location.file().is_some_and(|p| p.starts_with(root)) {
            out.insert(song.id.clone(), song);
        }
    }
    Ok(out)
}

/// Songs not seen in this scan whose files are really gone: a song under a folder that could not be listed, or
/// whose file cannot be looked at (a permission, a mount that went away), is kept as it is and reported.
fn really_gone(
    existing: &HashMap<SongId, Song>,
    seen: &HashSet<SongId>,
    unlisted: &[(PathBuf, String)],
    summary: &mut ScanSummary,
) -> Vec<SongId> {
    let mut gone = Vec::new();
    let mut kept: Vec<(PathBuf, String, usize)> = Vec::new();
    for (id, song) in existing.iter().filter(|(id, _)| !seen.contains(*id)) {
        let Some(path) = song.location.file() else {
            continue;
        };
        let why = match unlisted.iter().find(|(dir, _)| path.starts_with(dir)) {
            Some((dir, reason)) => Some((dir.clone(), reason.clone())),
            None => match std::fs::symlink_metadata(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                // There but not walked (e.g. no longer an audio file by name): gone from the library.
                Ok(_) => None,
                Err(e) => Some((
                    path.parent().map(Path::to_path_buf).unwrap_or_default(),
                    e.to_string(),
                )),
            },
        };
        match why {
            None => gone.push(id.clone()),
            Some((dir, reason)) => {
                match kept.iter_mut().find(|(d, r, _)| *d == dir && *r == reason) {
                    Some(entry) => entry.2 += 1,
                    None => kept.push((dir, reason, 1)),
                }
            }
        }
    }
    for (dir, reason, n) in kept {
        let noun = if n == 1 { "song" } else { "songs" };
        summary.problems.push(problem(
            &dir,
            &format!("{n} {noun} under it not checked and kept: {reason}"),
        ));
    }
    gone.sort();
    gone
}

/// A song whose file came back after a rescan removed it gets its kept lyrics again, unless it has its own.
fn lyrics_from_tombstone(store: &Store, read: &mut Read) -> Result<(), StoreError> {
    let Some(stone) = store.unbury(&read.song.id)? else {
        return Ok(());
    };
    let local = matches!(
        stone.lyrics.origin,
        LyricsOrigin::Sidecar | LyricsOrigin::Tags
    );
    if read.lyrics.is_none() && !local {
        read.song.lyrics_origin = Some(stone.lyrics.origin);
        read.song.instrumental = stone.lyrics.instrumental;
        read.lyrics = Some(stone.lyrics);
    }
    Ok(())
}

/// A changed file with no local lyrics keeps lyrics fetched online earlier; local lyrics that vanished go.
fn keep_fetched_lyrics(store: &Store, previous: &Song, read: &mut Read) -> Result<(), StoreError> {
    if read.lyrics.is_some() {
        return Ok(());
    }
    let local = matches!(
        previous.lyrics_origin,
        Some(LyricsOrigin::Sidecar) | Some(LyricsOrigin::Tags)
    );
    if !local {
        if let Some(record) = store.lyrics.get(previous.id.as_str())? {
            read.song.lyrics_origin = previous.lyrics_origin;
            read.song.instrumental = record.instrumental;
        }
    } else {
        store.lyrics.remove(previous.id.as_str())?;
    }
    Ok(())
}

pub fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The sidecar lyrics file of an audio file, `.lrc` before `.txt`.
pub fn sidecar(audio: &Path) -> Option<PathBuf> {
    ["lrc", "LRC", "txt", "TXT"]
        .iter()
        .map(|ext| audio.with_extension(ext))
        .find(|p| p.is_file())
}

/// Lyrics from a sidecar file; text that is not UTF-8 is read as Latin-1, which never fails. Only a regular file
/// of sane size is read, never through a link (a sidecar linked to `/proc/self/environ` would store the
/// environment as lyrics).
pub fn read_sidecar(path: &Path) -> std::io::Result<LyricsRecord> {
    let bytes = crate::files::read_bounded(
        path,
        crate::files::MAX_SIDECAR_BYTES,
        crate::files::Links::Refuse,
        "read as lyrics",
    )
    .map_err(std::io::Error::other)?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    };
    let is_lrc = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("lrc"))
        || looks_like_lrc(&text);
    Ok(if is_lrc {
        LyricsRecord::synced(&text, LyricsOrigin::Sidecar)
    } else {
        LyricsRecord::new(&text, LyricsOrigin::Sidecar)
    })
}

fn looks_like_lrc(text: &str) -> bool {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .take(5)
        .any(|l| l.starts_with('[') && l.as_bytes().get(1).is_some_and(u8::is_ascii_digit))
}

/// [`read_file`], with a panic inside the tag reader turned into a problem for this file only.
fn read_file_guarded(path: &Path, root: &Path) -> Result<Read, String> {
    std::panic::catch_unwind(|| read_file(path, root))
        .unwrap_or_else(|_| Err("the tag reader failed on this file (damaged tags?)".to_string()))
}

/// Reads one file's tags and lyrics. Broken tags are read leniently; a file lofty cannot read at all is an error.
fn read_file(path: &Path, root: &Path) -> Result<Read, String> {
    let options = ParseOptions::new()
        .parsing_mode(ParsingMode::Relaxed)
        .read_properties(true);
    let probe = Probe::open(path)
        .map_err(|e| format!("cannot open: {e}"))?
        .options(options)
        .guess_file_type()
        .map_err(|e| format!("cannot read: {e}"))?;
    let tagged = probe
        .read()
        .map_err(|e| format!("unreadable audio file: {e}"))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tag = tagged.primary_tag().or_else(|| tagged.first_tag());
    let text = |f: &dyn Fn(&lofty::tag::Tag) -> Option<String>| tag.and_then(f).unwrap_or_default();
    let title = text(&|t| t.title().map(|s| s.into_owned()));
    let artist = text(&|t| t.artist().map(|s| s.into_owned()));
    let album = text(&|t| t.album().map(|s| s.into_owned()));
    let mut song = Song::new(
        &artist,
        if title.trim().is_empty() {
            &stem
        } else {
            &title
        },
        &album,
        Location::File(path.to_path_buf()),
    );
    song.genre = crate::sanitize::clean_line(&text(&|t| t.genre().map(|s| s.into_owned())));
    song.track = tag.and_then(|t| t.track());
    song.year = tag.and_then(|t| t.year()).map(|y| y as i32);
    let duration = tagged.properties().duration().as_secs_f64();
    song.duration_s = (duration > 0.0).then_some(duration);
    song.source = root.display().to_string();

    let mut lyrics = None;
    if let Some(side) = sidecar(path) {
        match read_sidecar(&side) {
            Ok(record) if record.has_words() => lyrics = Some(record),
            Ok(_) => {}
            Err(e) => tracing::warn!(path = %side.display(), error = %e, "unreadable sidecar"),
        }
    }
    if lyrics.is_none() {
        let embedded = tag
            .and_then(|t| t.get_string(&ItemKey::Lyrics))
            .unwrap_or_default();
        if !embedded.trim().is_empty() {
            let record = if looks_like_lrc(embedded) {
                LyricsRecord::synced(embedded, LyricsOrigin::Tags)
            } else {
                LyricsRecord::new(embedded, LyricsOrigin::Tags)
            };
            if record.has_words() {
                lyrics = Some(record);
            }
        }
    }
    song.lyrics_origin = lyrics.as_ref().map(|l| l.origin);
    Ok(Read { song, lyrics })
}

fn problem(path: &Path, reason: &str) -> Problem {
    Problem {
        path: crate::sanitize::clean_line(&path.to_string_lossy()),
        reason: crate::sanitize::clean_line(reason),
    }
}
