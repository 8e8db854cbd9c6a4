//! The sled database: one file tree per library, typed trees with versioned names, a schema version in `meta`,
//! clear errors for a locked or damaged database, and a JSONL backup format.

mod backup;
mod check;

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use backup::{export_jsonl, import_jsonl, ImportMode, ImportSummary};
pub use check::{check, CheckReport};

use crate::records::{Feedback, LyricsMiss, LyricsRecord, Song, SongId, SongMood};

/// The layout version this build writes; bumped when a tree's record shape changes incompatibly.
pub const SCHEMA_VERSION: u32 = 1;

pub const TREE_SONGS: &str = "songs.v1";
pub const TREE_LYRICS: &str = "lyrics.v1";
pub const TREE_MOODS: &str = "moods.v1";
pub const TREE_FEEDBACK: &str = "feedback.v1";
pub const TREE_LYRICS_MISS: &str = "lyrics_miss.v1";
pub const TREE_META: &str = "meta";
/// Every data tree, in backup order.
pub const DATA_TREES: [&str; 5] = [
    TREE_SONGS,
    TREE_LYRICS,
    TREE_MOODS,
    TREE_FEEDBACK,
    TREE_LYRICS_MISS,
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database {path} is in use by another moodtape (close it, or pass --db to use another database)")]
    Locked { path: PathBuf },
    #[error("the database {path} is damaged ({detail}); run `moodtape db check` for a report, then restore a backup with `moodtape db import`")]
    Corrupt { path: PathBuf, detail: String },
    #[error("the database {path} was written by a newer moodtape (schema {found}, this build reads {SCHEMA_VERSION}); upgrade moodtape or use another --db")]
    TooNew { path: PathBuf, found: u32 },
    #[error("cannot open the database {path}: {detail}")]
    Open { path: PathBuf, detail: String },
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    #[error("record {key:?} in {tree} cannot be read: {detail}")]
    Decode {
        tree: &'static str,
        key: String,
        detail: String,
    },
    #[error("cannot encode a record for {tree}: {detail}")]
    Encode { tree: &'static str, detail: String },
    #[error("{0}")]
    Backup(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A sled tree holding JSON records of one type.
pub struct Tree<V> {
    name: &'static str,
    tree: sled::Tree,
    _value: PhantomData<fn() -> V>,
}

impl<V> Clone for Tree<V> {
    fn clone(&self) -> Self {
        Tree {
            name: self.name,
            tree: self.tree.clone(),
            _value: PhantomData,
        }
    }
}

impl<V: Serialize + DeserializeOwned> Tree<V> {
    fn open(db: &sled::Db, name: &'static str) -> Result<Self> {
        Ok(Tree {
            name,
            tree: db.open_tree(name)?,
            _value: PhantomData,
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn raw(&self) -> &sled::Tree {
        &self.tree
    }

    pub fn encode(&self, value: &V) -> Result<Vec<u8>> {
        serde_json::to_vec(value).map_err(|e| StoreError::Encode {
            tree: self.name,
            detail: e.to_string(),
        })
    }

    pub fn decode(&self, key: &[u8], bytes: &[u8]) -> Result<V> {
        serde_json::from_slice(bytes).map_err(|e| StoreError::Decode {
            tree: self.name,
            key: String::from_utf8_lossy(key).into_owned(),
            detail: e.to_string(),
        })
    }

    pub fn get(&self, key: &str) -> Result<Option<V>> {
        match self.tree.get(key.as_bytes())? {
            Some(bytes) => Ok(Some(self.decode(key.as_bytes(), &bytes)?)),
            None => Ok(None),
        }
    }

    pub fn contains(&self, key: &str) -> Result<bool> {
        Ok(self.tree.contains_key(key.as_bytes())?)
    }

    pub fn insert(&self, key: &str, value: &V) -> Result<()> {
        self.tree.insert(key.as_bytes(), self.encode(value)?)?;
        Ok(())
    }

    pub fn remove(&self, key: &str) -> Result<()> {
        self.tree.remove(key.as_bytes())?;
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// Every record; a record that cannot be decoded is an error for the caller to report.
    pub fn iter(&self) -> impl Iterator<Item = Result<(String, V)>> + '_ {
        self.tree.iter().map(move |item| {
            let (k, v) = item?;
            let value = self.decode(&k, &v)?;
            Ok((String::from_utf8_lossy(&k).into_owned(), value))
        })
    }

    /// Records whose key starts with `prefix`.
    pub fn scan_prefix(&self, prefix: &str) -> impl Iterator<Item = Result<(String, V)>> + '_ {
        self.tree.scan_prefix(prefix.as_bytes()).map(move |item| {
            let (k, v) = item?;
            let value = self.decode(&k, &v)?;
            Ok((String::from_utf8_lossy(&k).into_owned(), value))
        })
    }

    pub fn clear(&self) -> Result<()> {
        self.tree.clear()?;
        Ok(())
    }
}

/// The open database with its typed trees.
#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    db: sled::Db,
    pub meta: sled::Tree,
    pub songs: Tree<Song>,
    pub lyrics: Tree<LyricsRecord>,
    pub moods: Tree<SongMood>,
    pub feedback: Tree<Feedback>,
    pub lyrics_miss: Tree<LyricsMiss>,
}

impl Store {
    /// Opens (or creates) the database at `path`. A database held by another process, a damaged one, or one from
    /// a newer moodtape gives an error that names the path and what to do.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Open {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
        }
        let db = open_sled(path)?;
        let store = Store::from_db(path, db).map_err(|e| as_corrupt(path, e))?;
        store.check_schema()?;
        Ok(store)
    }

    fn from_db(path: &Path, db: sled::Db) -> Result<Store> {
        Ok(Store {
            path: path.to_path_buf(),
            meta: db.open_tree(TREE_META)?,
            songs: Tree::open(&db, TREE_SONGS)?,
            lyrics: Tree::open(&db, TREE_LYRICS)?,
            moods: Tree::open(&db, TREE_MOODS)?,
            feedback: Tree::open(&db, TREE_FEEDBACK)?,
            lyrics_miss: Tree::open(&db, TREE_LYRICS_MISS)?,
            db,
        })
    }

    fn check_schema(&self) -> Result<()> {
        match self.schema_version()? {
            Some(found) if found > SCHEMA_VERSION => Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
            }),
            Some(_) => Ok(()),
            None => {
                self.meta
                    .insert("schema_version", SCHEMA_VERSION.to_string().as_bytes())?;
                self.flush()
            }
        }
    }

    /// The schema version recorded in `meta`, if any.
    pub fn schema_version(&self) -> Result<Option<u32>> {
        match self.meta.get("schema_version")? {
            Some(v) => {
                let text = String::from_utf8_lossy(&v).into_owned();
                text.trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| StoreError::Corrupt {
                        path: self.path.clone(),
                        detail: format!("schema version {text:?} is not a number"),
                    })
            }
            None => Ok(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn sled(&self) -> &sled::Db {
        &self.db
    }

    /// Makes everything written so far durable; called after each batch so a crash loses at most the batch.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// Every song, sorted by artist, album, track and title; unreadable records are skipped and logged.
    pub fn all_songs(&self) -> Result<Vec<Song>> {
        let mut songs = Vec::with_capacity(self.songs.len());
        for item in self.songs.iter() {
            match item {
                Ok((_, song)) => songs.push(song),
                Err(StoreError::Decode { key, detail, .. }) => {
                    tracing::warn!(%key, %detail, "skipping unreadable song record")
                }
                Err(e) => return Err(e),
            }
        }
        sort_songs(&mut songs);
        Ok(songs)
    }

    pub fn song(&self, id: &SongId) -> Result<Option<Song>> {
        self.songs.get(id.as_str())
    }

    /// Writes songs and their lyrics in one transaction: a song never lands without its lyrics or the reverse.
    pub fn put_songs(&self, items: &[(Song, Option<LyricsRecord>)]) -> Result<()> {
        use sled::transaction::{ConflictableTransactionError, TransactionError};
        use sled::Transactional;
        let mut encoded = Vec::with_capacity(items.len());
        for (song, lyrics) in items {
            let lyrics = match lyrics {
                Some(l) => Some(self.lyrics.encode(l)?),
                None => None,
            };
            encoded.push((
                song.id.as_str().as_bytes().to_vec(),
                self.songs.encode(song)?,
                lyrics,
            ));
        }
        let result = (&self.songs.tree, &self.lyrics.tree).transaction(|(songs, lyrics)| {
            for (key, song, lyric) in &encoded {
                songs.insert(key.as_slice(), song.as_slice())?;
                if let Some(l) = lyric {
                    lyrics.insert(key.as_slice(), l.as_slice())?;
                }
            }
            Ok::<(), ConflictableTransactionError<()>>(())
        });
        match result {
            Ok(()) => Ok(()),
            Err(TransactionError::Storage(e)) => Err(e.into()),
            Err(TransactionError::Abort(())) => {
                Err(StoreError::Backup("transaction aborted".into()))
            }
        }
    }

    /// Removes songs with everything keyed by their id.
    pub fn remove_songs(&self, ids: &[SongId]) -> Result<()> {
        use sled::transaction::ConflictableTransactionError;
        use sled::Transactional;
        (&self.songs.tree, &self.lyrics.tree, &self.lyrics_miss.tree)
            .transaction(|(songs, lyrics, miss)| {
                for id in ids {
                    songs.remove(id.as_str().as_bytes())?;
                    lyrics.remove(id.as_str().as_bytes())?;
                    miss.remove(id.as_str().as_bytes())?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
                sled::transaction::TransactionError::Abort(()) => {
                    StoreError::Backup("transaction aborted".into())
                }
            })
    }

    /// Stores a song's lyrics and updates the song's lyrics fields together.
    pub fn set_lyrics(&self, song: &Song, record: &LyricsRecord) -> Result<Song> {
        let mut updated = song.clone();
        updated.lyrics_origin = if record.text.trim().is_empty() {
            None
        } else {
            Some(record.origin)
        };
        updated.instrumental = record.instrumental;
        self.put_songs(&[(updated.clone(), Some(record.clone()))])?;
        self.lyrics_miss.remove(song.id.as_str())?;
        Ok(updated)
    }
}

/// The order libraries are listed in.
pub fn sort_songs(songs: &mut [Song]) {
    songs.sort_by_cached_key(|s| {
        (
            s.artist.to_lowercase(),
            s.album.to_lowercase(),
            s.track.unwrap_or(u32::MAX),
            s.title.to_lowercase(),
            s.id.clone(),
        )
    });
}

fn open_sled(path: &Path) -> Result<sled::Db> {
    let config = sled::Config::new()
        .path(path)
        .mode(sled::Mode::HighThroughput)
        // sled's default page cache is 1 GiB, so memory grew with every song written (a million imported rows
        // took 580 MB); a library's hot pages fit in far less.
        .cache_capacity(64 << 20);
    // sled panics on some kinds of damage instead of returning an error; a damaged file must not take the app down.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.open()));
    std::panic::set_hook(previous_hook);
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(classify_open_error(path, e)),
        Err(panic) => Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: panic_message(&panic),
        }),
    }
}

fn classify_open_error(path: &Path, e: sled::Error) -> StoreError {
    match e {
        sled::Error::Io(io)
            if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock") =>
        {
            StoreError::Locked {
                path: path.to_path_buf(),
            }
        }
        sled::Error::Corruption { .. }
        | sled::Error::Unsupported(_)
        | sled::Error::ReportableBug(_) => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
        },
        other => StoreError::Open {
            path: path.to_path_buf(),
            detail: other.to_string(),
        },
    }
}

fn as_corrupt(path: &Path, e: StoreError) -> StoreError {
    match e {
        StoreError::Sled(err) => classify_open_error(path, err),
        other => other,
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "the storage engine stopped on bad data".to_string())
}
