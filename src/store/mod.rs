//! The sled database: one file tree per library, typed trees with versioned names, a schema version in `meta`,
//! clear errors for a locked or damaged database, and a JSONL backup format.

mod backup;
mod check;
mod manifest;
mod migrate;

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use backup::{
    backup_dir, export_copy, export_jsonl, export_trees, import_jsonl, latest_backup, list_backups,
    restore, salvage, write_backup, ImportMode, ImportSummary, Restored, BACKUP_TREES,
};
pub use check::{check, inspect, CheckReport};
pub use manifest::{write_atomic, Manifest, TempCopy, MANIFEST_FILE};

use crate::records::{Feedback, LyricsMiss, LyricsRecord, Song, SongId, SongMood};

/// The layout version this build writes; bumped when a tree's record shape changes incompatibly.
/// 2: ids of songs without a location come from their exact names (NFC, case-folded), not a transliteration.
pub const SCHEMA_VERSION: u32 = 2;

pub const TREE_SONGS: &str = "songs.v1";
pub const TREE_LYRICS: &str = "lyrics.v1";
pub const TREE_MOODS: &str = "moods.v1";
pub const TREE_FEEDBACK: &str = "feedback.v1";
pub const TREE_LYRICS_MISS: &str = "lyrics_miss.v1";
/// Lyrics of songs a rescan removed, kept a while so a file that comes back gets them again.
pub const TREE_TOMBSTONES: &str = "tombstones.v1";
pub const TREE_META: &str = "meta";
/// Every data tree, in backup order.
pub const DATA_TREES: [&str; 6] = [
    TREE_SONGS,
    TREE_LYRICS,
    TREE_MOODS,
    TREE_FEEDBACK,
    TREE_LYRICS_MISS,
    TREE_TOMBSTONES,
];
/// Trees whose changes call for a rolling backup (the rest can be recomputed or looked up again).
const PRECIOUS_TREES: [&str; 3] = [TREE_SONGS, TREE_LYRICS, TREE_FEEDBACK];
/// Counting every record is linear; between removals a count this recent is reused (inserts only add, so an
/// older count stays a true lower bound).
const RECOUNT_AFTER: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database {path} is in use by another moodtape (close it, or pass --db to use another database)")]
    Locked { path: PathBuf },
    #[error(
        "the database {path} is damaged ({detail}); it was left as it is.\n{}",
        ways_back(path)
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error("the database {path} is damaged: {}; it was left as it is.\n{}", shortfalls.join(", "), ways_back(path))]
    Damaged {
        path: PathBuf,
        shortfalls: Vec<String>,
    },
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

/// A file the store writes (the manifest, a backup, an export) could not be written.
impl From<crate::files::FileError> for StoreError {
    fn from(e: crate::files::FileError) -> Self {
        StoreError::Backup(format!("cannot write {e}"))
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The ways back from a damaged database, for messages.
pub fn ways_back(path: &Path) -> String {
    format!(
        "  ways back: `moodtape db restore --latest` (the newest automatic backup), \
         `moodtape db salvage FILE.jsonl` (saves every record still readable, for `moodtape db restore FILE.jsonl`), \
         or move {} aside and start afresh",
        path.display()
    )
}

/// What every handle on one open database shares: the manifest's state and the flags that decide when to
/// recount and when a backup is due.
struct Shared {
    path: PathBuf,
    db: sled::Db,
    state: Mutex<FlushState>,
    /// Set while the manifest may be written: not for inspection copies, nor for a database found damaged (its
    /// manifest is the evidence).
    keeps_manifest: AtomicBool,
    /// Songs, lyrics or feedback changed since the last backup.
    changed: AtomicBool,
    /// Removals so far, so a count that overlapped one is not mistaken for damage.
    removals: AtomicU64,
    /// The thread waiting to count the records against the manifest (see [`Store::start_verification`]).
    verifier: Mutex<Option<std::thread::Thread>>,
    verify_now: AtomicBool,
}

#[derive(Default)]
struct FlushState {
    generation: u64,
    counts: BTreeMap<String, u64>,
    counted_at: Option<Instant>,
    /// A removal happened since the last count: the next flush counts again.
    removed: bool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, FlushState> {
        lock(&self.state)
    }

    /// Before records of `tree` are removed, the manifest stops promising that tree's count, so a crash after
    /// sled persisted the removal but before the next flush never reads as damage.
    fn before_removal(&self, state: &mut FlushState, tree: &str) {
        state.removed = true;
        self.removals.fetch_add(1, Ordering::SeqCst);
        if !self.keeps_manifest.load(Ordering::SeqCst) {
            return;
        }
        if state.counts.get(tree).is_some_and(|&n| n > 0) {
            state.counts.insert(tree.to_string(), 0);
            let manifest = Manifest {
                generation: state.generation,
                counts: state.counts.clone(),
                files: Vec::new(),
            };
            if let Err(e) = manifest.write(&self.path) {
                tracing::warn!(error = %e, "cannot write the database manifest");
            }
        }
    }

    fn mark_changed(&self, tree: &str) {
        if PRECIOUS_TREES.contains(&tree) {
            self.changed.store(true, Ordering::SeqCst);
        }
    }

    /// Flushes sled and writes the manifest: counts first (all counted records are then made durable by the
    /// flush), then the generation, then the flush, then the manifest.
    fn flush(&self, full_count: bool) -> Result<()> {
        let mut state = self.lock();
        let keeps = self.keeps_manifest.load(Ordering::SeqCst);
        if keeps {
            let stale = state
                .counted_at
                .is_none_or(|at| at.elapsed() >= RECOUNT_AFTER);
            if full_count || state.removed || stale {
                state.counts = count_trees(&self.db)?;
                state.counted_at = Some(Instant::now());
                state.removed = false;
            }
            state.generation += 1;
            self.db
                .open_tree(TREE_META)?
                .insert("generation", state.generation.to_string().as_bytes())?;
        }
        self.db.flush()?;
        if keeps {
            let manifest = Manifest {
                generation: state.generation,
                counts: state.counts.clone(),
                files: manifest::fingerprint(&self.path),
            };
            if let Err(e) = manifest.write(&self.path) {
                tracing::warn!(error = %e, "cannot write the database manifest");
            }
        }
        Ok(())
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Err(e) = self.flush(true) {
            tracing::warn!(error = %e, "cannot flush the database on close");
        }
    }
}

/// Records per data tree.
fn count_trees(db: &sled::Db) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for name in DATA_TREES {
        out.insert(name.to_string(), db.open_tree(name)?.len() as u64);
    }
    Ok(out)
}

/// The write generation stored in `meta` (0 before the first flush).
fn stored_generation(db: &sled::Db) -> Result<u64> {
    Ok(db
        .open_tree(TREE_META)?
        .get("generation")?
        .and_then(|v| String::from_utf8_lossy(&v).trim().parse().ok())
        .unwrap_or(0))
}

/// A sled tree holding JSON records of one type.
pub struct Tree<V> {
    name: &'static str,
    tree: sled::Tree,
    shared: Arc<Shared>,
    _value: PhantomData<fn() -> V>,
}

impl<V> Clone for Tree<V> {
    fn clone(&self) -> Self {
        Tree {
            name: self.name,
            tree: self.tree.clone(),
            shared: self.shared.clone(),
            _value: PhantomData,
        }
    }
}

impl<V: Serialize + DeserializeOwned> Tree<V> {
    fn open(shared: &Arc<Shared>, name: &'static str) -> Result<Self> {
        Ok(Tree {
            name,
            tree: shared.db.open_tree(name)?,
            shared: shared.clone(),
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
        self.shared.mark_changed(self.name);
        Ok(())
    }

    pub fn remove(&self, key: &str) -> Result<()> {
        if !self.tree.contains_key(key.as_bytes())? {
            return Ok(());
        }
        let mut state = self.shared.lock();
        self.shared.before_removal(&mut state, self.name);
        self.tree.remove(key.as_bytes())?;
        self.shared.mark_changed(self.name);
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
        let mut state = self.shared.lock();
        self.shared.before_removal(&mut state, self.name);
        self.tree.clear()?;
        self.shared.mark_changed(self.name);
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
    pub tombstones: Tree<Tombstone>,
    shared: Arc<Shared>,
}

/// The lyrics of a song a rescan found gone, kept so the song gets them back if its file returns.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Tombstone {
    pub song: Song,
    pub lyrics: LyricsRecord,
    /// Unix seconds when the song was removed.
    pub removed_at: u64,
}

/// When [`Store::open_checked`] counts the records against the manifest.
pub enum Verify {
    /// Before the store is handed out (what every command does).
    Now,
    /// Behind the caller's back when the files are unchanged (the TUI, whose first frame should not wait for a
    /// read of the whole database). The callback hears what is missing (nothing when all is well) once the
    /// check is done. It is never called when the store closes first, nor when there is nothing to check later
    /// (no manifest, or changed files that were checked before opening).
    Background(Box<dyn FnOnce(Vec<String>) + Send>),
}

/// Counts the records of `store` on a thread of its own and compares them with `manifest`. The thread lets go of
/// the database as soon as the store is closed, so it never holds a closed database's lock for long.
fn verify_in_background(
    store: &Store,
    manifest: Manifest,
    on_done: Box<dyn FnOnce(Vec<String>) + Send>,
) {
    let removals = store.shared.removals.load(Ordering::SeqCst);
    let shared = Arc::downgrade(&store.shared);
    let spawned = std::thread::Builder::new()
        .name("db-verify".into())
        .spawn(move || {
            // Started by the caller once it has what it needs first (the TUI: its first frame), or after a while.
            let waited = Instant::now();
            loop {
                match shared.upgrade() {
                    Some(s) if s.verify_now.load(Ordering::SeqCst) => break,
                    Some(_) => {}
                    None => return,
                }
                let Some(left) = VERIFY_AFTER.checked_sub(waited.elapsed()) else {
                    break;
                };
                std::thread::park_timeout(left);
            }
            lower_thread_priority();
            let mut counts = BTreeMap::new();
            let mut unreadable = Vec::new();
            for name in DATA_TREES {
                let Some(tree) = shared.upgrade().and_then(|s| s.db.open_tree(name).ok()) else {
                    return;
                };
                let mut n = 0u64;
                for item in tree.iter() {
                    if let Err(e) = item {
                        unreadable.push(format!(
                            "{} cannot be read past record {n} ({e})",
                            manifest::tree_noun(name)
                        ));
                        break;
                    }
                    n += 1;
                    if n.is_multiple_of(4096) && shared.strong_count() == 0 {
                        return;
                    }
                }
                counts.insert(name.to_string(), n);
            }
            release_freed_memory();
            let Some(s) = shared.upgrade() else { return };
            // The generation was checked before the store was handed out. A count that overlapped a removal
            // proves nothing.
            let mut short = if s.removals.load(Ordering::SeqCst) == removals {
                manifest::shortfalls(&manifest, manifest.generation, &counts)
            } else {
                Vec::new()
            };
            short.extend(unreadable);
            if !short.is_empty() {
                // The manifest is the evidence of what the database held: it is no longer rewritten.
                s.keeps_manifest.store(false, Ordering::SeqCst);
                tracing::error!(path = %s.path.display(), shortfalls = ?short, "the database holds fewer records than its manifest");
            }
            drop(s);
            on_done(short);
        });
    match spawned {
        Ok(handle) => *lock(&store.shared.verifier) = Some(handle.thread().clone()),
        Err(e) => tracing::warn!(error = %e, "cannot start the database check"),
    }
}

/// How long a background check of the records waits for [`Store::start_verification`].
const VERIFY_AFTER: Duration = Duration::from_secs(2);

/// A poisoned lock only means another thread panicked while holding it; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The calling thread yields to the others (Linux: its nice value goes up; elsewhere nothing changes).
fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on this thread's own id only changes its scheduling priority.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10);
    }
}

/// Hands the heap's free pages back to the system. `main` tells glibc to keep freed memory for the model's
/// tensors, so whatever a one-off read of the whole database (the library at startup, a check) freed would
/// otherwise stay resident for the whole session.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the system; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl Store {
    /// Opens (or creates) the database at `path`. A database held by another process, a damaged one, or one from
    /// a newer moodtape gives an error that names the path and what to do. A database whose files changed since
    /// moodtape last saw them is first opened on a copy, so sled's recovery never damages the original further;
    /// one that holds fewer records or older data than its manifest is refused and left as it is.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_checked(path, Verify::Now)
    }

    /// [`Store::open`], choosing when the records are counted against the manifest. With [`Verify::Background`]
    /// a database whose files are as moodtape left them (the manifest's fingerprint matches, which damage from a
    /// crash, a truncation or a copy changes) opens without reading every record: the generation is checked at
    /// once, the manifest's counts stand as the lower bound they are, and the records are counted on a thread of
    /// their own (from [`Store::start_verification`], or after a short wait). Should they fall short, the
    /// manifest is kept as the evidence and the callback hears what is missing. Files that changed are checked in
    /// full before opening, as with [`Verify::Now`].
    pub fn open_checked(path: &Path, verify: Verify) -> Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Open {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
        }
        if !released(path) {
            return Err(StoreError::Locked {
                path: path.to_path_buf(),
            });
        }
        let manifest = Manifest::read(path).map_err(|what| StoreError::Damaged {
            path: path.to_path_buf(),
            shortfalls: vec![what],
        })?;
        let mut later = None;
        let unchanged = manifest
            .as_ref()
            .is_some_and(|m| m.files == manifest::fingerprint(path));
        if let Some(m) = &manifest {
            if !unchanged {
                verify_on_copy(path, m)?;
            }
        }
        let store = Store::open_unchecked(path, false)?;
        if let Some(m) = &manifest {
            let generation = stored_generation(&store.db).map_err(|e| as_corrupt(path, e))?;
            let counts = match &verify {
                Verify::Background(_) if unchanged => m.counts.clone(),
                _ => count_trees(&store.db).map_err(|e| as_corrupt(path, e))?,
            };
            let short = manifest::shortfalls(m, generation, &counts);
            if !short.is_empty() {
                return Err(StoreError::Damaged {
                    path: path.to_path_buf(),
                    shortfalls: short,
                });
            }
            let mut state = store.shared.lock();
            state.generation = m.generation.max(generation);
            // What was just counted (or what the manifest promises) is a true lower bound: the flush below need
            // not count again.
            state.counts = counts;
            state.counted_at = Some(Instant::now());
            drop(state);
            if let Verify::Background(on_done) = verify {
                if unchanged {
                    later = Some((m.clone(), on_done));
                }
            }
        }
        store.shared.keeps_manifest.store(true, Ordering::SeqCst);
        if let Some((m, on_done)) = later {
            verify_in_background(&store, m, on_done);
        }
        store.check_schema()?;
        store.flush()?;
        Ok(store)
    }

    /// Opens sled at `path` without the manifest's checks and without writing one (inspection copies, a fresh
    /// database being restored).
    pub fn open_unchecked(path: &Path, keeps_manifest: bool) -> Result<Store> {
        let db = open_sled(path)?;
        Store::from_db(path, db, keeps_manifest).map_err(|e| as_corrupt(path, e))
    }

    fn from_db(path: &Path, db: sled::Db, keeps_manifest: bool) -> Result<Store> {
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            db: db.clone(),
            state: Mutex::new(FlushState::default()),
            keeps_manifest: AtomicBool::new(keeps_manifest),
            changed: AtomicBool::new(false),
            removals: AtomicU64::new(0),
            verifier: Mutex::new(None),
            verify_now: AtomicBool::new(false),
        });
        Ok(Store {
            path: path.to_path_buf(),
            meta: db.open_tree(TREE_META)?,
            songs: Tree::open(&shared, TREE_SONGS)?,
            lyrics: Tree::open(&shared, TREE_LYRICS)?,
            moods: Tree::open(&shared, TREE_MOODS)?,
            feedback: Tree::open(&shared, TREE_FEEDBACK)?,
            lyrics_miss: Tree::open(&shared, TREE_LYRICS_MISS)?,
            tombstones: Tree::open(&shared, TREE_TOMBSTONES)?,
            db,
            shared,
        })
    }

    fn check_schema(&self) -> Result<()> {
        match self.schema_version()? {
            Some(found) if found > SCHEMA_VERSION => Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
            }),
            Some(found) if found < SCHEMA_VERSION => {
                migrate::migrate(self, found)?;
                self.meta
                    .insert("schema_version", SCHEMA_VERSION.to_string().as_bytes())?;
                self.flush()
            }
            Some(_) => Ok(()),
            None => {
                self.meta
                    .insert("schema_version", SCHEMA_VERSION.to_string().as_bytes())?;
                self.flush()
            }
        }
    }

    /// Lets a background check of the records (see [`Verify::Background`]) start now rather than after its wait.
    pub fn start_verification(&self) {
        self.shared.verify_now.store(true, Ordering::SeqCst);
        if let Some(t) = lock(&self.shared.verifier).as_ref() {
            t.unpark();
        }
    }

    /// Whether songs, lyrics or feedback changed since this was last cleared (a backup is then due).
    pub fn changed(&self) -> bool {
        self.shared.changed.load(Ordering::SeqCst)
    }

    pub fn clear_changed(&self) {
        self.shared.changed.store(false, Ordering::SeqCst);
    }

    /// Marks songs, lyrics or feedback as changed by a write that bypassed the typed trees.
    pub fn mark_changed(&self) {
        self.shared.changed.store(true, Ordering::SeqCst);
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

    /// Makes everything written so far durable and records it in the manifest; called after each batch so a
    /// crash loses at most the batch.
    pub fn flush(&self) -> Result<()> {
        self.shared.flush(false)
    }

    /// [`Store::flush`] with every record counted now.
    pub fn flush_counted(&self) -> Result<()> {
        self.shared.flush(true)
    }

    /// Every song, sorted by artist, album, track and title; unreadable records are skipped and logged. The
    /// records are read in one pass and decoded and sorted on every core (a big library opens this way).
    pub fn all_songs(&self) -> Result<Vec<Song>> {
        use rayon::prelude::*;
        use std::ops::Bound::{self, Excluded, Included, Unbounded};
        // Ids are hex digests: one key range per leading digit (any other key falls in the first or last range),
        // each read and decoded on its own core.
        let cuts: Vec<&[u8]> = b"0123456789abcdef".chunks(1).collect();
        let ranges: Vec<[Bound<&[u8]>; 2]> = (0..=cuts.len())
            .map(|i| {
                let lo = i.checked_sub(1).map_or(Unbounded, |j| Included(cuts[j]));
                [lo, cuts.get(i).map_or(Unbounded, |c| Excluded(*c))]
            })
            .collect();
        let parts: Vec<Vec<Result<Song>>> = ranges
            .par_iter()
            .map(|range| {
                self.songs
                    .tree
                    .range::<&[u8], _>((range[0], range[1]))
                    .map(|item| {
                        let (k, v) = item?;
                        self.songs.decode(&k, &v)
                    })
                    .collect()
            })
            .collect();
        let mut songs = Vec::with_capacity(parts.iter().map(Vec::len).sum());
        for item in parts.into_iter().flatten() {
            match item {
                Ok(song) => songs.push(song),
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
            Ok(()) => {
                self.shared.mark_changed(TREE_SONGS);
                Ok(())
            }
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
        if ids.is_empty() {
            return Ok(());
        }
        let mut state = self.shared.lock();
        for tree in [TREE_SONGS, TREE_LYRICS, TREE_LYRICS_MISS] {
            self.shared.before_removal(&mut state, tree);
        }
        self.shared.mark_changed(TREE_SONGS);
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

    /// Removes songs whose files are gone, keeping the lyrics of each in a tombstone so the song gets them back
    /// if its file returns ([`Store::unbury`]). Tombstones older than `keep_s` seconds are dropped.
    pub fn bury_songs(&self, ids: &[SongId], now: u64, keep_s: u64) -> Result<()> {
        for id in ids {
            let (Some(song), Some(lyrics)) =
                (self.songs.get(id.as_str())?, self.lyrics.get(id.as_str())?)
            else {
                continue;
            };
            let stone = Tombstone {
                song,
                lyrics,
                removed_at: now,
            };
            self.tombstones.insert(id.as_str(), &stone)?;
        }
        self.remove_songs(ids)?;
        let mut expired = Vec::new();
        for item in self.tombstones.iter() {
            match item {
                Ok((key, stone)) if now.saturating_sub(stone.removed_at) > keep_s => {
                    expired.push(key)
                }
                Ok(_) => {}
                Err(StoreError::Decode { key, .. }) => expired.push(key),
                Err(e) => return Err(e),
            }
        }
        for key in expired {
            self.tombstones.remove(&key)?;
        }
        Ok(())
    }

    /// The tombstone of a song that comes back, taken out of the store.
    pub fn unbury(&self, id: &SongId) -> Result<Option<Tombstone>> {
        let stone = self.tombstones.get(id.as_str())?;
        if stone.is_some() {
            self.tombstones.remove(id.as_str())?;
        }
        Ok(stone)
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
pub use crate::records::order::sort_songs;

/// Whether another process holds the database (sled locks its `db` file while open). Checked without opening
/// sled, so a damaged database is not touched.
pub fn is_held(path: &Path) -> bool {
    use fs2::FileExt;
    let Ok(file) = std::fs::File::open(path.join("db")) else {
        return false;
    };
    match file.try_lock_exclusive() {
        Ok(()) => {
            let _ = FileExt::unlock(&file);
            false
        }
        Err(_) => true,
    }
}

/// How long opening waits for a lock to go: sled lets go of its file from a thread of its own, a moment after
/// the last handle in this process is dropped, so a database closed and opened again at once would otherwise be
/// reported held.
const LOCK_GRACE: std::time::Duration = std::time::Duration::from_millis(1500);

/// Whether the database at `path` is free, waiting up to [`LOCK_GRACE`] for a lock to be let go.
fn released(path: &Path) -> bool {
    let start = std::time::Instant::now();
    loop {
        if !is_held(path) {
            return true;
        }
        if start.elapsed() >= LOCK_GRACE {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Opens a copy of the database and compares it with the manifest; the original is never touched.
fn verify_on_copy(path: &Path, manifest: &Manifest) -> Result<()> {
    let copy = TempCopy::of(path).map_err(|e| StoreError::Open {
        path: path.to_path_buf(),
        detail: format!("cannot copy it to check it first: {e}"),
    })?;
    let db = open_sled(&copy.path).map_err(|e| retarget(e, path))?;
    let counts = count_trees(&db).map_err(|e| retarget(as_corrupt(&copy.path, e), path))?;
    let generation =
        stored_generation(&db).map_err(|e| retarget(as_corrupt(&copy.path, e), path))?;
    drop(db);
    let short = manifest::shortfalls(manifest, generation, &counts);
    if short.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Damaged {
            path: path.to_path_buf(),
            shortfalls: short,
        })
    }
}

/// An error about an inspection copy, told about the database it was copied from.
fn retarget(e: StoreError, original: &Path) -> StoreError {
    match e {
        StoreError::Corrupt { detail, .. } => StoreError::Corrupt {
            path: original.to_path_buf(),
            detail,
        },
        StoreError::Open { detail, .. } => StoreError::Open {
            path: original.to_path_buf(),
            detail,
        },
        other => other,
    }
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with panics on this thread kept off stderr (they are caught and reported by the caller). The hook
/// is installed once and asks a flag of the panicking thread, so panics elsewhere — another thread, or a later
/// test — are reported as before; swapping the process-wide hook around the call would silence them.
fn quiet_panics<T>(f: impl FnOnce() -> T) -> T {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let out = f();
    QUIET.with(|q| q.set(false));
    out
}

fn open_sled(path: &Path) -> Result<sled::Db> {
    let config = sled::Config::new()
        .path(path)
        .mode(sled::Mode::HighThroughput)
        // sled's default page cache is 1 GiB, so memory grew with every song written (a million imported rows
        // took 580 MB); a library's hot pages fit in far less, and sled's own bookkeeping comes on top.
        .cache_capacity(32 << 20);
    // sled panics on some kinds of damage instead of returning an error; a damaged file must not take the app down.
    let open = || {
        quiet_panics(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.open())))
    };
    let mut opened = open();
    // A lock let go a moment ago (see `LOCK_GRACE`) is waited for once.
    if let Ok(Err(e)) = &opened {
        if matches!(
            classify_open_error(path, e.clone()),
            StoreError::Locked { .. }
        ) && released(path)
        {
            opened = open();
        }
    }
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(classify_open_error(path, e)),
        Err(panic) => {
            tracing::warn!(detail = %panic_message(&panic), "sled stopped while opening the database");
            Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: "the storage engine stopped on bad data".to_string(),
            })
        }
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
        sled::Error::Corruption { .. } => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: "its data file holds bytes that do not check out".to_string(),
        },
        sled::Error::Unsupported(_) | sled::Error::ReportableBug(_) => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: "the storage engine cannot make sense of its files".to_string(),
        },
        other => StoreError::Open {
            path: path.to_path_buf(),
            detail: other.to_string(),
        },
    }
}

pub(crate) fn as_corrupt(path: &Path, e: StoreError) -> StoreError {
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
