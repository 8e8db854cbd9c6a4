//! Full backup and restore as JSONL: a header line, then one line per record with its tree, key and value.
//! Rolling backups are the same, gzip-compressed, written after each session that changed something. A restore
//! builds a fresh database beside the current one, streaming records in bounded batches, and swaps it in only
//! when it is complete, so a kill at any point leaves the old library or the new one, whole.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::manifest::{self, Manifest, TempCopy};
use super::{Store, StoreError, DATA_TREES, SCHEMA_VERSION};

/// The trees a rolling backup holds: everything but the analyses, which are recomputed from the lyrics.
pub const BACKUP_TREES: [&str; 5] = [
    super::TREE_SONGS,
    super::TREE_LYRICS,
    super::TREE_FEEDBACK,
    super::TREE_LYRICS_MISS,
    super::TREE_TOMBSTONES,
];

/// Records written to the fresh database per batch while restoring.
const RESTORE_BATCH: usize = 1000;

#[derive(Serialize, Deserialize)]
struct Header {
    moodtape_backup: u32,
    schema_version: u32,
}

#[derive(Serialize, Deserialize)]
struct Line {
    tree: String,
    key: String,
    value: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Records from the backup replace records with the same key; others stay.
    Merge,
    /// The data trees are emptied first, so the database equals the backup.
    Replace,
}

#[derive(Debug, Default, Serialize)]
pub struct ImportSummary {
    pub records: usize,
    pub per_tree: std::collections::BTreeMap<String, usize>,
}

/// Writes every record of every data tree, in key order, so two exports of equal databases are equal files.
pub fn export_jsonl(store: &Store, out: &mut dyn Write) -> Result<usize, StoreError> {
    export_trees(store, &DATA_TREES, out)
}

/// [`export_jsonl`] for some trees only.
pub fn export_trees(
    store: &Store,
    trees: &[&str],
    out: &mut dyn Write,
) -> Result<usize, StoreError> {
    let io = |e: std::io::Error| StoreError::Backup(format!("cannot write the backup: {e}"));
    let header = Header {
        moodtape_backup: 1,
        schema_version: SCHEMA_VERSION,
    };
    writeln!(out, "{}", json(&header)?).map_err(io)?;
    let mut count = 0;
    for &name in trees {
        let Some(&name) = DATA_TREES.iter().find(|t| **t == name) else {
            continue;
        };
        let tree = store.sled().open_tree(name)?;
        for item in tree.iter() {
            let (key, value) = item?;
            let key = String::from_utf8(key.to_vec())
                .map_err(|_| StoreError::Backup(format!("a key in {name} is not UTF-8")))?;
            let value: serde_json::Value =
                serde_json::from_slice(&value).map_err(|e| StoreError::Decode {
                    tree: name,
                    key: key.clone(),
                    detail: e.to_string(),
                })?;
            let line = Line {
                tree: name.to_string(),
                key,
                value,
            };
            writeln!(out, "{}", json(&line)?).map_err(io)?;
            count += 1;
        }
    }
    out.flush().map_err(io)?;
    Ok(count)
}

/// Reads a backup written by [`export_jsonl`]. The whole file is checked before anything is written, so a bad
/// backup leaves the database as it was.
pub fn import_jsonl(
    store: &Store,
    input: &mut dyn BufRead,
    mode: ImportMode,
) -> Result<ImportSummary, StoreError> {
    let mut lines = input.lines().enumerate();
    let header = match lines.next() {
        Some((_, Ok(text))) => serde_json::from_str::<Header>(&text)
            .map_err(|_| StoreError::Backup("line 1: not a moodtape backup (no header)".into()))?,
        Some((_, Err(e))) => {
            return Err(StoreError::Backup(format!("cannot read the backup: {e}")))
        }
        None => return Err(StoreError::Backup("the backup is empty".into())),
    };
    if header.schema_version > SCHEMA_VERSION {
        return Err(StoreError::Backup(format!(
            "the backup has schema {}, newer than this moodtape's {SCHEMA_VERSION}",
            header.schema_version
        )));
    }
    let mut records = Vec::new();
    for (index, line) in lines {
        let number = index + 1;
        let text = line.map_err(|e| StoreError::Backup(format!("line {number}: {e}")))?;
        if text.trim().is_empty() {
            continue;
        }
        records.push(parse_line(&text, number)?);
    }
    if mode == ImportMode::Replace {
        let mut state = store.shared.lock();
        for name in DATA_TREES {
            store.shared.before_removal(&mut state, name);
            store.sled().open_tree(name)?.clear()?;
        }
    }
    let mut summary = ImportSummary::default();
    for name in DATA_TREES {
        let tree = store.sled().open_tree(name)?;
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for (_, key, value) in records.iter().filter(|r| r.0 == name) {
            batch.insert(key.as_bytes(), value.as_slice());
            n += 1;
        }
        tree.apply_batch(batch)?;
        summary.records += n;
        summary.per_tree.insert(name.to_string(), n);
    }
    store.mark_changed();
    store.flush_counted()?;
    Ok(summary)
}

/// What a restore did.
#[derive(Debug, Default, Serialize)]
pub struct Restored {
    pub records: usize,
    pub per_tree: std::collections::BTreeMap<String, usize>,
    /// Where the database that was replaced now lies, when there was one.
    pub replaced: Option<PathBuf>,
}

/// Replaces the database at `db` with the backup in `file` (JSONL, gzip-compressed or not). The records are
/// streamed into a fresh database beside it, which is swapped in only once it is complete and flushed; the
/// current database is not opened, so a damaged one is kept as it is (moved to the `replaced` path).
pub fn restore(db: &Path, file: &Path) -> Result<Restored, StoreError> {
    use fs2::FileExt;
    // Hold the current database's lock, so no moodtape opens it while it is being replaced.
    let lock = match std::fs::File::open(db.join("db")) {
        Ok(f) => {
            if f.try_lock_exclusive().is_err() {
                return Err(StoreError::Locked {
                    path: db.to_path_buf(),
                });
            }
            Some(f)
        }
        Err(_) => None,
    };
    let fresh = sibling(db, "restoring");
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh).map_err(|e| {
            StoreError::Backup(format!(
                "cannot remove an unfinished restore at {}: {e}",
                fresh.display()
            ))
        })?;
    }
    let mut input = open_backup(file)?;
    let built = fill_fresh(&fresh, &mut input);
    let mut summary = match built {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&fresh);
            return Err(e);
        }
    };
    summary.replaced = swap_in(&fresh, db)?;
    drop(lock);
    Ok(summary)
}

/// Streams a backup into a new database at `fresh`, closed and flushed when this returns.
fn fill_fresh(fresh: &Path, input: &mut dyn BufRead) -> Result<Restored, StoreError> {
    let header = read_header(input)?;
    let store = Store::open_unchecked(fresh, true)?;
    let mut summary = Restored::default();
    let mut batches: std::collections::BTreeMap<&'static str, (sled::Batch, usize)> =
        Default::default();
    let mut text = String::new();
    let mut number = 1;
    loop {
        text.clear();
        number += 1;
        let n = input
            .read_line(&mut text)
            .map_err(|e| StoreError::Backup(format!("line {number}: cannot read: {e}")))?;
        if n == 0 {
            break;
        }
        if text.trim().is_empty() {
            continue;
        }
        let (tree, key, value) = parse_line(&text, number)?;
        let entry = batches.entry(tree).or_default();
        entry.0.insert(key.as_bytes(), value);
        entry.1 += 1;
        *summary.per_tree.entry(tree.to_string()).or_default() += 1;
        summary.records += 1;
        if entry.1 >= RESTORE_BATCH {
            let (batch, _) = std::mem::take(entry);
            store.sled().open_tree(tree)?.apply_batch(batch)?;
        }
    }
    for (tree, (batch, _)) in batches {
        store.sled().open_tree(tree)?.apply_batch(batch)?;
    }
    // A backup of an older layout is migrated when the restored database first opens.
    store.meta.insert(
        "schema_version",
        header.schema_version.to_string().as_bytes(),
    )?;
    store.flush_counted()?;
    drop(store);
    Ok(summary)
}

/// Puts the complete database at `fresh` in the place of `db` in one step; the one it replaces is moved beside.
fn swap_in(fresh: &Path, db: &Path) -> Result<Option<PathBuf>, StoreError> {
    let io = |what: &str, e: std::io::Error| {
        StoreError::Backup(format!(
            "cannot {what} (the restored database is complete at {}): {e}",
            fresh.display()
        ))
    };
    let parent = db.parent();
    if !db.exists() {
        std::fs::rename(fresh, db).map_err(|e| io("move it into place", e))?;
        manifest::sync_dir(parent).map_err(|e| io("sync its folder", e))?;
        return Ok(None);
    }
    let aside = sibling(db, "replaced");
    if aside.exists() {
        std::fs::remove_dir_all(&aside)
            .map_err(|e| io("remove the previous replaced database", e))?;
    }
    exchange(fresh, db).map_err(|e| io("swap it in", e))?;
    manifest::sync_dir(parent).map_err(|e| io("sync its folder", e))?;
    // `fresh` now holds the old database.
    std::fs::rename(fresh, &aside).map_err(|e| io("move the old database aside", e))?;
    manifest::sync_dir(parent).map_err(|e| io("sync its folder", e))?;
    Ok(Some(aside))
}

/// Exchanges two folders atomically where the system can (Linux); elsewhere in two renames.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    let cb = CString::new(b.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: both are valid NUL-terminated paths that live across the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    let tmp = manifest::temp_beside(b);
    std::fs::rename(b, &tmp)?;
    std::fs::rename(a, b)?;
    std::fs::rename(&tmp, a)
}

/// `library.db` → `library.db.WHAT`.
fn sibling(db: &Path, what: &str) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".{what}"));
    db.with_file_name(name)
}

/// A backup file for reading, gzip-compressed or plain.
fn open_backup(file: &Path) -> Result<Box<dyn BufRead>, StoreError> {
    let cannot =
        |e: std::io::Error| StoreError::Backup(format!("cannot open {}: {e}", file.display()));
    let mut f = std::fs::File::open(file).map_err(cannot)?;
    let mut magic = [0u8; 2];
    let gz = f.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    drop(f);
    let f = std::fs::File::open(file).map_err(cannot)?;
    Ok(if gz {
        Box::new(std::io::BufReader::new(flate2::read::MultiGzDecoder::new(
            f,
        )))
    } else {
        Box::new(std::io::BufReader::new(f))
    })
}

fn read_header(input: &mut dyn BufRead) -> Result<Header, StoreError> {
    let mut text = String::new();
    let n = input
        .read_line(&mut text)
        .map_err(|e| StoreError::Backup(format!("cannot read the backup: {e}")))?;
    if n == 0 {
        return Err(StoreError::Backup("the backup is empty".into()));
    }
    let header = serde_json::from_str::<Header>(&text)
        .map_err(|_| StoreError::Backup("line 1: not a moodtape backup (no header)".into()))?;
    if header.schema_version > SCHEMA_VERSION {
        return Err(StoreError::Backup(format!(
            "the backup has schema {}, newer than this moodtape's {SCHEMA_VERSION}",
            header.schema_version
        )));
    }
    Ok(header)
}

fn parse_line(text: &str, number: usize) -> Result<(&'static str, String, Vec<u8>), StoreError> {
    let line: Line = serde_json::from_str(text)
        .map_err(|e| StoreError::Backup(format!("line {number}: {e}")))?;
    let Some(tree) = DATA_TREES.iter().find(|t| **t == line.tree) else {
        return Err(StoreError::Backup(format!(
            "line {number}: unknown tree {:?}",
            line.tree
        )));
    };
    let mut value = line.value;
    clean_value(&mut value);
    Ok((*tree, line.key, json(&value)?.into_bytes()))
}

/// A backup can come from anywhere: its text is cleaned as if it had been read from tags or the network (escape
/// sequences, controls and invisible marks removed; newlines kept for lyrics). Locations are kept byte for byte —
/// removing a character from a path could make it name another file — and are checked where they are used.
fn clean_value(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) if s.chars().any(crate::sanitize::is_unsafe_for_terminal) => {
            *s = crate::sanitize::clean_multiline(s);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(clean_value),
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key != "location" {
                    clean_value(v);
                }
            }
        }
        _ => {}
    }
}

/// Writes every record still readable from the database at `db` to `out` (backup format), working on a copy so
/// the database itself is never changed. Returns the records written and what could not be read.
pub fn salvage(db: &Path, out: &Path) -> Result<(usize, Vec<String>), StoreError> {
    let copy = TempCopy::of(db).map_err(|e| StoreError::Open {
        path: db.to_path_buf(),
        detail: format!("cannot copy it to read it: {e}"),
    })?;
    let store = Store::open_unchecked(&copy.path, false).map_err(|e| match e {
        StoreError::Corrupt { detail, .. } => StoreError::Backup(format!(
            "nothing can be read from {}: {detail}; restore a backup with `moodtape db restore --latest`",
            db.display()
        )),
        other => other,
    })?;
    let mut text = Vec::new();
    let schema = store
        .schema_version()
        .ok()
        .flatten()
        .unwrap_or(SCHEMA_VERSION);
    let header = Header {
        moodtape_backup: 1,
        schema_version: schema.min(SCHEMA_VERSION),
    };
    writeln!(text, "{}", json(&header)?).map_err(|e| StoreError::Backup(e.to_string()))?;
    let mut count = 0;
    let mut problems = Vec::new();
    for name in DATA_TREES {
        let tree = match store.sled().open_tree(name) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{}: {e}", manifest::tree_noun(name)));
                continue;
            }
        };
        let mut unreadable = 0;
        for item in tree.iter() {
            let (key, value) = match item {
                Ok(kv) => kv,
                Err(_) => {
                    problems.push(format!(
                        "{}: the rest could not be read",
                        manifest::tree_noun(name)
                    ));
                    break;
                }
            };
            let (Ok(key), Ok(value)) = (
                String::from_utf8(key.to_vec()),
                serde_json::from_slice::<serde_json::Value>(&value),
            ) else {
                unreadable += 1;
                continue;
            };
            let line = Line {
                tree: name.to_string(),
                key,
                value,
            };
            writeln!(text, "{}", json(&line)?).map_err(|e| StoreError::Backup(e.to_string()))?;
            count += 1;
        }
        if unreadable > 0 {
            problems.push(format!(
                "{}: {unreadable} unreadable records left out",
                manifest::tree_noun(name)
            ));
        }
    }
    let manifest = Manifest::read(db).unwrap_or_else(|what| {
        problems.push(what);
        None
    });
    if let Some(m) = manifest {
        let counts = DATA_TREES
            .iter()
            .map(|t| {
                (
                    t.to_string(),
                    store.sled().open_tree(t).map_or(0, |t| t.len() as u64),
                )
            })
            .collect();
        let generation = super::stored_generation(&store.db).unwrap_or(0);
        problems.extend(manifest::shortfalls(&m, generation, &counts));
    }
    drop(store);
    manifest::write_atomic(out, &text)
        .map_err(|e| StoreError::Backup(format!("cannot write {}: {e}", out.display())))?;
    Ok((count, problems))
}

/// Exports the database at `db` from a copy (see [`export_jsonl`]); a database that falls short of its manifest
/// is refused, since an export of it would look like a whole library.
pub fn export_copy(db: &Path, out: &mut dyn Write) -> Result<usize, StoreError> {
    let copy = TempCopy::of(db).map_err(|e| StoreError::Open {
        path: db.to_path_buf(),
        detail: format!("cannot copy it to read it: {e}"),
    })?;
    let store = Store::open_unchecked(&copy.path, false).map_err(|e| match e {
        StoreError::Corrupt { detail, .. } => StoreError::Corrupt {
            path: db.to_path_buf(),
            detail,
        },
        other => other,
    })?;
    let manifest = Manifest::read(db).map_err(|what| StoreError::Damaged {
        path: db.to_path_buf(),
        shortfalls: vec![what],
    })?;
    if let Some(m) = manifest {
        let counts = super::count_trees(&store.db)?;
        let generation = super::stored_generation(&store.db)?;
        let short = manifest::shortfalls(&m, generation, &counts);
        if !short.is_empty() {
            return Err(StoreError::Damaged {
                path: db.to_path_buf(),
                shortfalls: short,
            });
        }
    }
    export_jsonl(&store, out)
}

/// The folder of the rolling backups of the database at `db`, under `backups_root` (the data dir's `backups`):
/// one folder per database, named after it and its path.
pub fn backup_dir(backups_root: &Path, db: &Path) -> PathBuf {
    use sha2::{Digest, Sha256};
    let absolute = std::path::absolute(db).unwrap_or_else(|_| db.to_path_buf());
    let digest = Sha256::digest(crate::records::path_bytes(&absolute));
    let name = db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "library".into());
    backups_root.join(format!("{name}-{}", crate::records::hex(&digest[..4])))
}

/// Writes a compressed backup of `store` (all but the analyses) into `dir` — temp file, fsync, rename — and
/// keeps only the newest `keep` there. Returns the new file.
pub fn write_backup(store: &Store, dir: &Path, keep: usize) -> Result<PathBuf, StoreError> {
    let io = |e: std::io::Error| {
        StoreError::Backup(format!("cannot write a backup in {}: {e}", dir.display()))
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let path = dir.join(format!("backup-{}.jsonl.gz", timestamp()));
    crate::files::write_atomic(&path, |out| {
        let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        export_trees(store, &BACKUP_TREES, &mut gz)?;
        gz.finish().map_err(io)?;
        Ok::<(), StoreError>(())
    })?;
    let all = list_backups(dir);
    for old in all.iter().take(all.len().saturating_sub(keep.max(1))) {
        let _ = std::fs::remove_file(old);
    }
    Ok(path)
}

/// The rolling backups in `dir`, oldest first.
pub fn list_backups(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("backup-") && n.ends_with(".jsonl.gz"))
        })
        .collect();
    out.sort();
    out
}

/// The newest rolling backup in `dir`.
pub fn latest_backup(dir: &Path) -> Option<PathBuf> {
    list_backups(dir).pop()
}

/// `YYYYMMDD-HHMMSS-mmm` in UTC, so names sort by time.
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{:03}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        now.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backup(e.to_string()))
}
