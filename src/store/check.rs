//! `moodtape db check`: reads every record and compares what it finds with the manifest, reporting what it
//! finds. [`inspect`] works on a copy, so checking a damaged database never changes it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::manifest::{self, Manifest, TempCopy};
use super::{Store, StoreError, DATA_TREES, SCHEMA_VERSION};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TreeReport {
    pub tree: String,
    pub records: usize,
    pub unreadable: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub path: String,
    pub schema_version: Option<u32>,
    pub trees: Vec<TreeReport>,
    /// Lyrics whose song is gone.
    pub orphan_lyrics: usize,
    pub problems: Vec<String>,
    /// Where the database falls short of its manifest ("50 songs expected, 0 found"); empty when it does not.
    #[serde(default)]
    pub damage: Vec<String>,
    /// What to do about damage, when there is any.
    #[serde(default)]
    pub way_back: Option<String>,
}

impl CheckReport {
    pub fn is_healthy(&self) -> bool {
        self.problems.is_empty()
            && self.damage.is_empty()
            && self.trees.iter().all(|t| t.unreadable.is_empty())
    }
}

/// Checks the database at `path` on a copy: the original's files are never written, whatever state they are in.
pub fn inspect(path: &Path) -> CheckReport {
    let mut report = CheckReport {
        path: path.display().to_string(),
        ..Default::default()
    };
    let damaged = |mut report: CheckReport, what: String| {
        report.damage.push(what);
        report.way_back = Some(super::ways_back(path));
        report
    };
    if !path.exists() {
        report.problems.push("there is no database here".into());
        return report;
    }
    let copy = match TempCopy::of(path) {
        Ok(c) => c,
        Err(e) => {
            report
                .problems
                .push(format!("cannot copy it to check it: {e}"));
            return report;
        }
    };
    let store = match Store::open_unchecked(&copy.path, false) {
        Ok(s) => s,
        Err(StoreError::Corrupt { detail, .. }) => {
            return damaged(report, format!("it cannot be opened: {detail}"))
        }
        Err(e) => {
            report.problems.push(e.to_string());
            return report;
        }
    };
    let mut found = check(&store);
    found.path = report.path;
    let manifest = match Manifest::read(path) {
        Ok(m) => m,
        Err(what) => {
            found.damage.push(what);
            found.way_back = Some(super::ways_back(path));
            None
        }
    };
    if let Some(m) = manifest {
        let counts = found
            .trees
            .iter()
            .map(|t| (t.tree.clone(), t.records as u64))
            .collect();
        let generation = super::stored_generation(&store.db).unwrap_or(0);
        found.damage = manifest::shortfalls(&m, generation, &counts);
        if !found.damage.is_empty() {
            found.way_back = Some(super::ways_back(path));
        }
    }
    found
}

/// Reads every record of every tree; nothing is changed.
pub fn check(store: &Store) -> CheckReport {
    let mut report = CheckReport {
        path: store.path().display().to_string(),
        ..Default::default()
    };
    match store.schema_version() {
        Ok(v) => {
            report.schema_version = v;
            if v.is_some_and(|v| v > SCHEMA_VERSION) || v.is_none() {
                report.problems.push(format!(
                    "schema version is {v:?}, expected {SCHEMA_VERSION}"
                ));
            }
        }
        Err(e) => report.problems.push(e.to_string()),
    }
    for name in DATA_TREES {
        let mut tree_report = TreeReport {
            tree: name.to_string(),
            ..Default::default()
        };
        let tree = match store.sled().open_tree(name) {
            Ok(t) => t,
            Err(e) => {
                report.problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        for item in tree.iter() {
            match item {
                Ok((key, value)) => {
                    tree_report.records += 1;
                    if decode_as(name, &value).is_err() {
                        tree_report
                            .unreadable
                            .push(String::from_utf8_lossy(&key).into_owned());
                    }
                }
                Err(e) => {
                    report.problems.push(format!("{name}: {e}"));
                    break;
                }
            }
        }
        report.trees.push(tree_report);
    }
    for item in store.lyrics.raw().iter().keys() {
        match item {
            Ok(key) => {
                if !store.songs.raw().contains_key(&key).unwrap_or(true) {
                    report.orphan_lyrics += 1;
                }
            }
            Err(e) => report.problems.push(format!("lyrics: {e}")),
        }
    }
    report
}

fn decode_as(tree: &str, bytes: &[u8]) -> Result<(), serde_json::Error> {
    use super::*;
    match tree {
        TREE_SONGS => serde_json::from_slice::<crate::records::Song>(bytes).map(drop),
        TREE_LYRICS => serde_json::from_slice::<crate::records::LyricsRecord>(bytes).map(drop),
        TREE_MOODS => serde_json::from_slice::<crate::records::SongMood>(bytes).map(drop),
        TREE_FEEDBACK => serde_json::from_slice::<crate::records::Feedback>(bytes).map(drop),
        TREE_LYRICS_MISS => serde_json::from_slice::<crate::records::LyricsMiss>(bytes).map(drop),
        _ => serde_json::from_slice::<serde_json::Value>(bytes).map(drop),
    }
}
