//! The public datasets the heads are trained and evaluated on: GoEmotions (28 labels, multi-label) and EmoBank
//! (valence/arousal on a 1-5 scale). Read from the folders given on the command line; never shipped.

use std::path::Path;

use crate::records::LABELS;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: line {line}: {reason}")]
    Bad {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("unknown split {0:?}; use train, dev or test")]
    Split(String),
}

/// A GoEmotions example: the text and its label ids.
#[derive(Debug, Clone)]
pub struct GoExample {
    pub text: String,
    pub labels: Vec<usize>,
}

/// An EmoBank example: the text and valence/arousal mapped to -1..1 around the neutral 3.0.
#[derive(Debug, Clone)]
pub struct VaExample {
    pub text: String,
    pub valence: f32,
    pub arousal: f32,
}

fn check_split(split: &str) -> Result<(), DataError> {
    match split {
        "train" | "dev" | "test" => Ok(()),
        other => Err(DataError::Split(other.to_string())),
    }
}

/// Reads `DIR/{split}.tsv` (text, comma-separated label ids, id).
pub fn goemotions(dir: &Path, split: &str) -> Result<Vec<GoExample>, DataError> {
    check_split(split)?;
    let path = dir.join(format!("{split}.tsv"));
    let text = std::fs::read_to_string(&path).map_err(|source| DataError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: &str| DataError::Bad {
            path: path.display().to_string(),
            line: i + 1,
            reason: reason.to_string(),
        };
        let mut cols = line.split('\t');
        let text = cols.next().ok_or_else(|| bad("no text"))?;
        let labels = cols.next().ok_or_else(|| bad("no labels"))?;
        let labels: Vec<usize> = labels
            .split(',')
            .map(|l| l.trim().parse::<usize>().ok().filter(|&n| n < LABELS.len()))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("labels are not ids 0-27"))?;
        out.push(GoExample {
            text: text.to_string(),
            labels,
        });
    }
    Ok(out)
}

/// Reads `DIR/emobank.csv` (id, split, V, A, D, text) and keeps one split.
pub fn emobank(dir: &Path, split: &str) -> Result<Vec<VaExample>, DataError> {
    check_split(split)?;
    let path = dir.join("emobank.csv");
    let file = std::fs::File::open(&path).map_err(|source| DataError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let bad = |reason: String| DataError::Bad {
            path: path.display().to_string(),
            line: i + 2,
            reason,
        };
        let row = row.map_err(|e| bad(e.to_string()))?;
        if row.get(1) != Some(split) {
            continue;
        }
        let num = |k: usize| -> Result<f32, DataError> {
            row.get(k)
                .and_then(|v| v.trim().parse::<f32>().ok())
                .ok_or_else(|| bad(format!("column {} is not a number", k + 1)))
        };
        let text = row.get(5).unwrap_or_default().trim();
        if text.is_empty() {
            continue;
        }
        out.push(VaExample {
            text: text.to_string(),
            valence: (num(2)? - 3.0) / 2.0,
            arousal: (num(3)? - 3.0) / 2.0,
        });
    }
    Ok(out)
}
