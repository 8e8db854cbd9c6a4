//! Where lyrics come from, behind one [`LyricsSource`] trait: sidecar files next to the audio, lyrics embedded in
//! tags, the sled cache, then LRCLIB. A [`Chain`] tries them in the order config `lyrics.sources` gives.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use lofty::config::{ParseOptions, ParsingMode};
use lofty::file::TaggedFileExt;
use lofty::prelude::ItemKey;
use lofty::probe::Probe;

use super::error::LyricsError;
use super::lrc;
use super::lrclib::Lrclib;
use crate::library::scan;
use crate::records::LyricsRecord;
use crate::records::{LyricsOrigin, Song};
use crate::store::Store;

/// One place lyrics can come from. `Ok(None)` means "not here"; the chain then asks the next source.
pub trait LyricsSource: Send + Sync {
    /// The name used in config `lyrics.sources`.
    fn name(&self) -> &'static str;
    /// True for sources that use the network; they are skipped offline and for songs recently not found.
    fn is_online(&self) -> bool {
        false
    }
    fn lookup(&self, song: &Song, cancel: &AtomicBool)
        -> Result<Option<LyricsRecord>, LyricsError>;
}

/// `.lrc` or `.txt` files next to the audio file.
pub struct SidecarSource;

impl LyricsSource for SidecarSource {
    fn name(&self) -> &'static str {
        "sidecar"
    }

    fn lookup(&self, song: &Song, _: &AtomicBool) -> Result<Option<LyricsRecord>, LyricsError> {
        let Some(audio) = song.location.file() else {
            return Ok(None);
        };
        let Some(path) = scan::sidecar(audio) else {
            return Ok(None);
        };
        let record = scan::read_sidecar(&path).map_err(|e| LyricsError::Local {
            path: crate::sanitize::clean_line(&path.to_string_lossy()),
            detail: e.to_string(),
        })?;
        Ok(record.has_words().then_some(record))
    }
}

/// Lyrics embedded in the audio file's tags (ID3 USLT, Vorbis LYRICS, MP4 ©lyr…).
pub struct TagSource;

impl LyricsSource for TagSource {
    fn name(&self) -> &'static str {
        "tags"
    }

    fn lookup(&self, song: &Song, _: &AtomicBool) -> Result<Option<LyricsRecord>, LyricsError> {
        let Some(audio) = song.location.file() else {
            return Ok(None);
        };
        if !audio.is_file() {
            return Ok(None);
        }
        // The tag reader has panicked on damaged files; one bad file must not end a fetch.
        let read = std::panic::catch_unwind(|| read_tag_lyrics(audio)).unwrap_or_else(|_| {
            Err(LyricsError::Local {
                path: crate::sanitize::clean_line(&audio.to_string_lossy()),
                detail: "the tag reader failed on this file (damaged tags?)".into(),
            })
        })?;
        let Some(text) = read.filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        let record = if lrc::looks_like_lrc(&text) {
            LyricsRecord::synced(&text, LyricsOrigin::Tags)
        } else {
            LyricsRecord::new(&text, LyricsOrigin::Tags)
        };
        Ok(record.has_words().then_some(record))
    }
}

fn read_tag_lyrics(path: &Path) -> Result<Option<String>, LyricsError> {
    let local = |detail: String| LyricsError::Local {
        path: crate::sanitize::clean_line(&path.to_string_lossy()),
        detail,
    };
    let options = ParseOptions::new()
        .parsing_mode(ParsingMode::Relaxed)
        .read_properties(false);
    let tagged = Probe::open(path)
        .map_err(|e| local(e.to_string()))?
        .options(options)
        .guess_file_type()
        .map_err(|e| local(e.to_string()))?
        .read()
        .map_err(|e| local(e.to_string()))?;
    let lyrics = tagged
        .primary_tag()
        .and_then(|t| t.get_string(&ItemKey::Lyrics))
        .or_else(|| {
            tagged
                .tags()
                .iter()
                .find_map(|t| t.get_string(&ItemKey::Lyrics))
        })
        .map(str::to_string);
    Ok(lyrics)
}

/// The lyrics already stored in the database (instrumental records included).
pub struct CacheSource {
    store: Store,
}

impl CacheSource {
    pub fn new(store: Store) -> CacheSource {
        CacheSource { store }
    }
}

impl LyricsSource for CacheSource {
    fn name(&self) -> &'static str {
        "cache"
    }

    fn lookup(&self, song: &Song, _: &AtomicBool) -> Result<Option<LyricsRecord>, LyricsError> {
        let record = self.store.lyrics.get(song.id.as_str())?;
        Ok(record.filter(|r| r.has_words() || r.instrumental))
    }
}

/// LRCLIB over HTTP.
pub struct LrclibSource {
    client: Arc<Lrclib>,
}

impl LrclibSource {
    pub fn new(client: Arc<Lrclib>) -> LrclibSource {
        LrclibSource { client }
    }
}

impl LyricsSource for LrclibSource {
    fn name(&self) -> &'static str {
        "lrclib"
    }

    fn is_online(&self) -> bool {
        true
    }

    fn lookup(
        &self,
        song: &Song,
        cancel: &AtomicBool,
    ) -> Result<Option<LyricsRecord>, LyricsError> {
        self.client.lookup(song, cancel)
    }
}

/// What the chain found for one song.
#[derive(Debug)]
pub enum Outcome {
    /// Lyrics (or an instrumental record) from the named source.
    Found {
        record: LyricsRecord,
        source: &'static str,
    },
    /// No source had them. `asked_online` is set when an online source answered "none", so the miss is cached.
    NotFound { asked_online: bool },
    /// An online source failed and no other source had them.
    Failed { error: LyricsError },
}

/// Sources in order.
pub struct Chain {
    sources: Vec<Box<dyn LyricsSource>>,
}

impl Chain {
    pub fn new(sources: Vec<Box<dyn LyricsSource>>) -> Chain {
        Chain { sources }
    }

    /// The sources named in `names` (config `lyrics.sources`), in that order. Online sources are left out when
    /// `client` is `None` (offline).
    pub fn from_names(names: &[String], store: &Store, client: Option<Arc<Lrclib>>) -> Chain {
        let mut sources: Vec<Box<dyn LyricsSource>> = Vec::new();
        for name in names {
            match name.as_str() {
                "sidecar" => sources.push(Box::new(SidecarSource)),
                "tags" => sources.push(Box::new(TagSource)),
                "cache" => sources.push(Box::new(CacheSource::new(store.clone()))),
                "lrclib" => {
                    if let Some(client) = &client {
                        sources.push(Box::new(LrclibSource::new(client.clone())));
                    }
                }
                other => tracing::warn!(source = other, "unknown lyrics source ignored"),
            }
        }
        Chain { sources }
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.sources.iter().map(|s| s.name()).collect()
    }

    pub fn has_online(&self) -> bool {
        self.sources.iter().any(|s| s.is_online())
    }

    /// Asks each source in turn. Online sources are skipped unless `online` is set. A local source that fails
    /// (an unreadable sidecar) is logged and passed over; an online failure is returned only when no later
    /// source has the lyrics.
    pub fn lookup(&self, song: &Song, online: bool, cancel: &AtomicBool) -> Outcome {
        let mut asked_online = false;
        let mut failure: Option<LyricsError> = None;
        for source in &self.sources {
            if source.is_online() && !online {
                continue;
            }
            match source.lookup(song, cancel) {
                Ok(Some(record)) => {
                    return Outcome::Found {
                        record,
                        source: source.name(),
                    }
                }
                Ok(None) => asked_online |= source.is_online(),
                Err(LyricsError::Cancelled) => {
                    return Outcome::Failed {
                        error: LyricsError::Cancelled,
                    }
                }
                Err(error) if source.is_online() => {
                    tracing::info!(song = %song.id, source = source.name(), %error, "lyrics lookup failed");
                    failure.get_or_insert(error);
                }
                Err(error) => {
                    tracing::warn!(song = %song.id, source = source.name(), %error, "lyrics source unreadable");
                }
            }
        }
        match failure {
            Some(error) => Outcome::Failed { error },
            None => Outcome::NotFound { asked_online },
        }
    }
}
