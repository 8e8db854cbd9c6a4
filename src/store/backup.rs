//! Full backup and restore as JSONL: a header line, then one line per record with its tree, key and value.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, DATA_TREES, SCHEMA_VERSION};

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
    let io = |e: std::io::Error| StoreError::Backup(format!("cannot write the backup: {e}"));
    let header = Header {
        moodtape_backup: 1,
        schema_version: SCHEMA_VERSION,
    };
    writeln!(out, "{}", json(&header)?).map_err(io)?;
    let mut count = 0;
    for name in DATA_TREES {
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
        let line: Line = serde_json::from_str(&text)
            .map_err(|e| StoreError::Backup(format!("line {number}: {e}")))?;
        let Some(tree) = DATA_TREES.iter().find(|t| **t == line.tree) else {
            return Err(StoreError::Backup(format!(
                "line {number}: unknown tree {:?}",
                line.tree
            )));
        };
        records.push((*tree, line.key, json(&line.value)?.into_bytes()));
    }
    if mode == ImportMode::Replace {
        for name in DATA_TREES {
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
    store.flush()?;
    Ok(summary)
}

fn json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backup(e.to_string()))
}
