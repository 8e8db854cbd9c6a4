//! Scores of the shipped heads on dataset splits, as `moodtape eval` reports them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::data;
use super::metrics::{pearson, roc_auc};
use super::train::{by_label, ekman_gold, ekman_scores, gold_flags, macro_f1};
use crate::emotion::heads::Card;
use crate::emotion::Engine;
use crate::records::{LyricsOrigin, LyricsRecord, Quadrant};
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
    score_goemotions(engine, card, &data::goemotions(dir, split)?, split)
}

/// [`goemotions`] on examples already read.
pub fn score_goemotions(
    engine: &Engine,
    card: &Card,
    examples: &[data::GoExample],
    split: &str,
) -> anyhow::Result<GoEval> {
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let moods = engine.read_texts(&texts)?;
    let probs: Vec<Vec<f32>> = moods.into_iter().map(|m| m.reading.emotions).collect();
    let (m, per) = macro_f1(
        &by_label(&probs, LABELS.len()),
        &gold_flags(examples),
        &card.thresholds,
    );
    let (em, eper) = macro_f1(
        &ekman_scores(&probs),
        &ekman_gold(examples),
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
    score_emobank(engine, &data::emobank(dir, split)?, split)
}

/// [`emobank`] on examples already read.
pub fn score_emobank(
    engine: &Engine,
    examples: &[data::VaExample],
    split: &str,
) -> anyhow::Result<VaEval> {
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

#[derive(Debug, Serialize)]
pub struct SongEval {
    pub split: String,
    pub examples: usize,
    /// Songs whose valence has the sign of their label (happy: > 0).
    pub accuracy: f64,
    /// How well valence orders happy songs above sad ones.
    pub roc_auc: f64,
    /// Accuracy on the half of the songs read with the most confidence, and on the other half: a check that
    /// `confidence` means something.
    pub accuracy_confident_half: f64,
    pub accuracy_other_half: f64,
    /// Songs `analyze` would leave unread for their language; they count as read neutral (valence 0).
    pub skipped_language: usize,
}

/// MusicMood: each song's lyrics are analyzed exactly as `moodtape analyze` does (chunks, their readings, the
/// song's aggregate), and the song counts as read happy when its valence is above 0.
pub fn musicmood(engine: &Engine, dir: &Path, split: &str) -> anyhow::Result<SongEval> {
    score_musicmood(engine, &data::musicmood(dir, split)?, split)
}

/// [`musicmood`] on songs already read.
pub fn score_musicmood(
    engine: &Engine,
    songs: &[data::SongExample],
    split: &str,
) -> anyhow::Result<SongEval> {
    let records: Vec<LyricsRecord> = songs
        .iter()
        .map(|s| LyricsRecord::new(&s.lyrics, LyricsOrigin::Import))
        .collect();
    let (valence, confidence, skipped) = song_valences(engine, &records)?;
    let gold: Vec<bool> = songs.iter().map(|s| s.happy).collect();
    let mut by_confidence: Vec<usize> = (0..songs.len()).collect();
    by_confidence.sort_by(|&a, &b| confidence[b].total_cmp(&confidence[a]).then(a.cmp(&b)));
    let (sure, unsure) = by_confidence.split_at(songs.len() / 2);
    let half_accuracy = |idx: &[usize]| {
        let v: Vec<f32> = idx.iter().map(|&i| valence[i]).collect();
        let g: Vec<bool> = idx.iter().map(|&i| gold[i]).collect();
        sign_accuracy(&v, &g)
    };
    Ok(SongEval {
        split: split.to_string(),
        examples: songs.len(),
        accuracy: sign_accuracy(&valence, &gold),
        roc_auc: roc_auc(&valence, &gold),
        accuracy_confident_half: half_accuracy(sure),
        accuracy_other_half: half_accuracy(unsure),
        skipped_language: skipped,
    })
}

/// The valence and confidence of each song as `analyze` reads them, and how many were left unread for their
/// language; a song without words or left unread reads as neutral (0) with no confidence.
pub fn song_valences(
    engine: &Engine,
    records: &[LyricsRecord],
) -> anyhow::Result<(Vec<f32>, Vec<f32>, usize)> {
    let (mut valence, mut confidence, mut skipped) = (Vec::new(), Vec::new(), 0);
    // A few songs at a time, like the analysis job, so memory stays flat.
    for batch in records.chunks(crate::emotion::analyze::SONGS_PER_BATCH) {
        let refs: Vec<&LyricsRecord> = batch.iter().collect();
        for mood in engine.analyze_lyrics(&refs, "eval")? {
            skipped += usize::from(mood.as_ref().is_some_and(|m| !m.is_read()));
            let mood = mood.filter(|m| m.is_read());
            valence.push(mood.as_ref().map_or(0.0, |m| m.reading.valence));
            confidence.push(mood.as_ref().map_or(0.0, |m| m.confidence));
        }
    }
    Ok((valence, confidence, skipped))
}

/// The share of items whose score is on the side of 0 their label says (`true`: above 0).
pub fn sign_accuracy(scores: &[f32], gold: &[bool]) -> f64 {
    let right = scores
        .iter()
        .zip(gold)
        .filter(|(&s, &g)| (s > 0.0) == g)
        .count();
    right as f64 / scores.len().max(1) as f64
}

#[derive(Debug, Serialize)]
pub struct MoodsEval {
    pub split: String,
    pub examples: usize,
    /// Texts read in the quadrant they are rated in.
    pub quadrant_accuracy: f64,
    pub pearson_valence: f64,
    pub pearson_arousal: f64,
    /// Texts read in each quadrant, per rated quadrant: `confusion["Q3"]["Q4"]` Q3 texts read as Q4.
    pub confusion: BTreeMap<String, BTreeMap<String, usize>>,
}

/// moodtape's short moods (the compiled-in file, or `file`): each text is read as `moodtape mood` reads it.
pub fn moods(engine: &Engine, file: Option<&Path>, split: &str) -> anyhow::Result<MoodsEval> {
    score_moods(engine, &data::short_moods(file, split)?, split)
}

/// [`moods`] on examples already read.
pub fn score_moods(
    engine: &Engine,
    examples: &[data::MoodExample],
    split: &str,
) -> anyhow::Result<MoodsEval> {
    let prompts: Vec<_> = examples
        .iter()
        .map(|e| crate::emotion::mood_prompt(&e.text))
        .collect();
    let texts: Vec<&str> = prompts.iter().map(|p| p.as_ref()).collect();
    let readings = engine.read_texts(&texts)?;
    let mut confusion: BTreeMap<String, BTreeMap<String, usize>> = Quadrant::ALL
        .iter()
        .map(|q| {
            let row = Quadrant::ALL
                .iter()
                .map(|r| (r.code().to_string(), 0))
                .collect();
            (q.code().to_string(), row)
        })
        .collect();
    let mut right = 0;
    for (ex, m) in examples.iter().zip(&readings) {
        let read = m.reading.quadrant();
        right += usize::from(read == ex.quadrant);
        if let Some(n) = confusion
            .get_mut(ex.quadrant.code())
            .and_then(|row| row.get_mut(read.code()))
        {
            *n += 1;
        }
    }
    let pv: Vec<f32> = readings.iter().map(|m| m.reading.valence).collect();
    let pa: Vec<f32> = readings.iter().map(|m| m.reading.arousal).collect();
    let gv: Vec<f32> = examples.iter().map(|e| e.valence).collect();
    let ga: Vec<f32> = examples.iter().map(|e| e.arousal).collect();
    Ok(MoodsEval {
        split: split.to_string(),
        examples: examples.len(),
        quadrant_accuracy: right as f64 / examples.len().max(1) as f64,
        pearson_valence: pearson(&pv, &gv),
        pearson_arousal: pearson(&pa, &ga),
        confusion,
    })
}

#[derive(Debug, Serialize)]
pub struct DemoEval {
    /// Demo songs with words.
    pub examples: usize,
    pub in_intended_quadrant: usize,
    /// "Artist - Title: written for Q4, read as Q1", for each song read elsewhere.
    pub missed: Vec<String>,
}

/// The demo library (its first `limit` songs with words, or all): how many songs `analyze` reads in the quadrant
/// they were written for.
pub fn demo(engine: &Engine, limit: Option<usize>) -> anyhow::Result<DemoEval> {
    let songs: Vec<_> = crate::library::demo::demo_songs()
        .map_err(|e| anyhow::anyhow!("the built-in demo library is broken: {e}"))?
        .into_iter()
        .filter(|d| !d.instrumental)
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    let records: Vec<LyricsRecord> = songs.iter().map(|d| d.to_song().1).collect();
    let mut hits = 0;
    let mut missed = Vec::new();
    for (batch, songs) in records
        .chunks(crate::emotion::analyze::SONGS_PER_BATCH)
        .zip(songs.chunks(crate::emotion::analyze::SONGS_PER_BATCH))
    {
        let refs: Vec<&LyricsRecord> = batch.iter().collect();
        for (mood, d) in engine.analyze_lyrics(&refs, "eval")?.into_iter().zip(songs) {
            let read = mood.filter(|m| m.is_read()).map(|m| m.reading.quadrant());
            if read.map(Quadrant::code) == Some(d.intended.as_str()) {
                hits += 1;
            } else {
                missed.push(format!(
                    "{} - {}: written for {}, read as {}",
                    d.artist,
                    d.title,
                    d.intended,
                    read.map_or("nothing", Quadrant::code)
                ));
            }
        }
    }
    Ok(DemoEval {
        examples: songs.len(),
        in_intended_quadrant: hits,
        missed,
    })
}
