//! The manifest beside sled's files: how many records each tree held and the write generation at the last flush,
//! plus a fingerprint (names, sizes, mtimes) of sled's files then. sled recovers a damaged log silently to its
//! intact prefix; a database that holds fewer records or an older generation than its manifest was damaged, and
//! a fingerprint that no longer matches means the files changed while no moodtape had them open (or one was
//! killed), so they are inspected on a copy before sled may touch them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The manifest's file name inside the database folder (sled only reads its own names there).
pub const MANIFEST_FILE: &str = "moodtape-manifest.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Raised at every flush; stored in `meta` too, so a database rolled back to an older state shows it.
    pub generation: u64,
    /// Records per tree at the last flush (a lower bound: writes after it only add).
    pub counts: BTreeMap<String, u64>,
    /// sled's files as they were right after the last flush.
    pub files: Vec<FileSeen>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSeen {
    pub name: String,
    pub len: u64,
    pub mtime_ns: i128,
}

impl Manifest {
    /// The manifest of the database at `db`; `None` when there is none (a database older than manifests). One
    /// that cannot be read is an error: damage that reached it may have reached sled's files too.
    pub fn read(db: &Path) -> Result<Option<Manifest>, String> {
        let text = match std::fs::read(db.join(MANIFEST_FILE)) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("its manifest cannot be read ({e})")),
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|_| "its manifest is damaged, so what it held cannot be checked".to_string())
    }

    /// Writes the manifest atomically: a temp file in the same folder, fsync, rename, fsync of the folder.
    pub fn write(&self, db: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_atomic(&db.join(MANIFEST_FILE), &bytes)
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::files::write_bytes(path, bytes).map_err(std::io::Error::other)
}

/// A fresh name beside `path` for a temp file or folder.
pub fn temp_beside(path: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}-{nanos}", std::process::id()))
}

/// Makes a rename in `dir` durable (a no-op where folders cannot be opened).
pub fn sync_dir(dir: Option<&Path>) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// sled's files under `db` (the manifest aside), sorted by name.
pub fn fingerprint(db: &Path) -> Vec<FileSeen> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(db).sort_by_file_name() {
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_file() || entry.file_name() == MANIFEST_FILE {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let rel = entry.path().strip_prefix(db).unwrap_or(entry.path());
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        out.push(FileSeen {
            name: rel.to_string_lossy().into_owned(),
            len: meta.len(),
            mtime_ns,
        });
    }
    out
}

/// Copies the database folder `from` to `to` (which must not exist), file by file.
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.map_err(std::io::Error::other)?;
        let rel = entry
            .path()
            .strip_prefix(from)
            .map_err(std::io::Error::other)?;
        let target = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target)?;
        } else if entry.file_type().is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// A copy of a database folder, removed when dropped.
pub struct TempCopy {
    pub path: PathBuf,
}

impl TempCopy {
    /// Copies `db` beside itself (same disk), or into the temp dir when its folder is not writable.
    pub fn of(db: &Path) -> std::io::Result<TempCopy> {
        let beside = temp_beside(db);
        match copy_dir(db, &beside) {
            Ok(()) => Ok(TempCopy { path: beside }),
            Err(first) => {
                let _ = std::fs::remove_dir_all(&beside);
                let name = beside.file_name().map(PathBuf::from).unwrap_or_default();
                let elsewhere = std::env::temp_dir().join(name);
                copy_dir(db, &elsewhere).map_err(|_| first)?;
                Ok(TempCopy { path: elsewhere })
            }
        }
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// What a tree's records are called in messages.
pub fn tree_noun(tree: &str) -> &str {
    match tree {
        super::TREE_SONGS => "songs",
        super::TREE_LYRICS => "lyrics",
        super::TREE_MOODS => "analyses",
        super::TREE_FEEDBACK => "feedback records",
        super::TREE_LYRICS_MISS => "lyrics look-ups",
        super::TREE_TOMBSTONES => "kept lyrics of removed songs",
        other => other,
    }
}

/// Where the database falls short of its manifest: one line per tree, like "50 songs expected, 0 found".
pub fn shortfalls(
    manifest: &Manifest,
    generation: u64,
    counts: &BTreeMap<String, u64>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (tree, &expected) in &manifest.counts {
        let found = counts.get(tree).copied().unwrap_or(0);
        if found < expected {
            out.push(format!(
                "{expected} {} expected, {found} found",
                tree_noun(tree)
            ));
        }
    }
    if generation < manifest.generation {
        out.push(format!(
            "the data is older than its last save (write {generation}, expected {})",
            manifest.generation
        ));
    }
    out
}
