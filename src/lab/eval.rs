//! Scores of the shipped heads on dataset splits, as `moodtape eval` reports them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::data;
use super::metrics::pearson;
use super::train::{by_label, ekman_gold, ekman_scores, gold_flags, macro_f1};
use crate::emotion::heads::Card;
use crate::emotion::Engine;
use crate::records::{EKMAN, LABELS};

/// The datasets folder: `$MOODTAPE_DATASETS`, or `../shared/datasets` next to the working directory.
pub fn dataset_dir(given: Option<&Path>, name: &str) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let base = std::env::var_os("MOODTAPE_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/datasets"));
    let dir = base.join(name);
    anyhow::ensure!(
        dir.is_dir(),
        "the {name} dataset is not at {}; pass its folder with --data/--{name} DIR or set MOODTAPE_DATASETS",
        dir.display()
    );
    Ok(dir)
}

#[derive(Debug, Serialize)]
pub struct GoEval {
    pub split: String,
    pub examples: usize,
    pub macro_f1: f64,
    pub ekman_macro_f1: f64,
    pub per_label: BTreeMap<String, f64>,
    pub ekman_per_label: BTreeMap<String, f64>,
}

#[derive(Debug, Serialize)]
pub struct VaEval {
    pub split: String,
    pub examples: usize,
    pub pearson_valence: f64,
    pub pearson_arousal: f64,
}

/// Macro-F1 over the 28 labels and over the Ekman groups, at the card's thresholds.
pub fn goemotions(engine: &Engine, card: &Card, dir: &Path, split: &str) -> anyhow::Result<GoEval> {
    let examples = data::goemotions(dir, split)?;
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let moods = engine.read_texts(&texts)?;
    let probs: Vec<Vec<f32>> = moods.into_iter().map(|m| m.reading.emotions).collect();
    let (m, per) = macro_f1(
        &by_label(&probs, LABELS.len()),
        &gold_flags(&examples),
        &card.thresholds,
    );
    let (em, eper) = macro_f1(
        &ekman_scores(&probs),
        &ekman_gold(&examples),
        &card.ekman_thresholds,
    );
    Ok(GoEval {
        split: split.to_string(),
        examples: examples.len(),
        macro_f1: m,
        ekman_macro_f1: em,
        per_label: LABELS.iter().map(|l| l.to_string()).zip(per).collect(),
        ekman_per_label: EKMAN.iter().map(|l| l.to_string()).zip(eper).collect(),
    })
}

/// Pearson r between read and rated valence and arousal.
pub fn emobank(engine: &Engine, dir: &Path, split: &str) -> anyhow::Result<VaEval> {
    let examples = data::emobank(dir, split)?;
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let moods = engine.read_texts(&texts)?;
    let pv: Vec<f32> = moods.iter().map(|m| m.reading.valence).collect();
    let pa: Vec<f32> = moods.iter().map(|m| m.reading.arousal).collect();
    let gv: Vec<f32> = examples.iter().map(|e| e.valence).collect();
    let ga: Vec<f32> = examples.iter().map(|e| e.arousal).collect();
    Ok(VaEval {
        split: split.to_string(),
        examples: examples.len(),
        pearson_valence: pearson(&pv, &gv),
        pearson_arousal: pearson(&pa, &ga),
    })
}
