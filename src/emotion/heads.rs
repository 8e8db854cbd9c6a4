//! moodtape's own emotion heads, trained by `moodtape train` and compiled into the binary: an MLP over the sentence
//! embedding for the 28 GoEmotions labels (sigmoid, per-label thresholds) and one for valence/arousal. The heads
//! file may also carry the encoder's fine-tuned top layer, which replaces the original when the encoder loads.

use std::collections::HashMap;
use std::sync::OnceLock;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, VarBuilder};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::EngineError;
use crate::records::LABELS;

/// The trained heads shipped with moodtape.
pub const HEADS_SAFETENSORS: &[u8] = include_bytes!("../../models/heads.safetensors");
/// The heads' card: labels, thresholds, data, metrics and the encoder they were trained on.
pub const HEADS_CARD: &str = include_str!("../../models/heads.json");

/// Tensor names under this prefix replace the encoder's own.
pub const ENCODER_PREFIX: &str = "encoder.";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Card {
    pub format: u32,
    pub encoder: String,
    pub encoder_sha256: String,
    pub labels: Vec<String>,
    /// Per-label decision thresholds chosen on the GoEmotions dev split.
    pub thresholds: Vec<f32>,
    /// The Ekman groups and their thresholds (on each group's strongest label), chosen on dev.
    pub ekman: Vec<String>,
    pub ekman_thresholds: Vec<f32>,
    /// The valence/arousal head's outputs are in units of this.
    pub va_scale: f32,
    /// How far valence/arousal move towards the points of the emotions read with confidence (see
    /// [`super::LABEL_VA`]); 0 uses the head alone.
    #[serde(default)]
    pub va_prior_weight: [f32; 2],
    /// Where the head puts emotionally neutral text (the mean over GoEmotions dev texts labelled neutral only);
    /// subtracted so that neutral sits at 0. A shift leaves Pearson's r unchanged.
    #[serde(default)]
    pub va_neutral: [f32; 2],
    pub emotion_hidden: usize,
    pub va_hidden: usize,
    /// Encoder layers fine-tuned (their weights are in the heads file).
    pub tuned_layers: Vec<usize>,
    /// The datasets used (see [`DataUse`]; older cards have a line of text each).
    pub data: Vec<serde_json::Value>,
    pub training: serde_json::Value,
    pub metrics: serde_json::Value,
}

/// A dataset the heads were trained or chosen on, as the card records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataUse {
    pub name: String,
    pub license: String,
    /// Examples in the train, dev and test splits used (0: none).
    pub train_dev_test: [usize; 3],
    pub used_for: String,
}

/// A short hash of the shipped heads: part of every analysis key, so new heads never serve stale moods.
pub fn heads_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut h = Sha256::new();
        h.update(HEADS_SAFETENSORS);
        // Only what changes readings counts: thresholds and scale, not the metrics written into the card.
        if let Ok(card) = serde_json::from_str::<Card>(HEADS_CARD) {
            h.update(
                format!(
                    "{:?}{:?}{}{:?}{:?}",
                    card.thresholds,
                    card.ekman_thresholds,
                    card.va_scale,
                    card.va_prior_weight,
                    card.va_neutral
                )
                .as_bytes(),
            );
        }
        crate::records::hex(&h.finalize()[..6])
    })
}

/// Reads the shipped card.
pub fn card() -> Result<Card, EngineError> {
    if HEADS_SAFETENSORS.is_empty() {
        return Err(EngineError::Load(
            "this build has no trained emotion heads; run `moodtape train` and rebuild".into(),
        ));
    }
    serde_json::from_str(HEADS_CARD)
        .map_err(|e| EngineError::Load(format!("models/heads.json is broken: {e}")))
}

pub struct Heads {
    emo1: Linear,
    emo2: Linear,
    va1: Linear,
    va2: Linear,
    pub thresholds: Vec<f32>,
    pub ekman_thresholds: Vec<f32>,
    pub va_scale: f32,
    pub va_prior_weight: [f32; 2],
    pub va_neutral: [f32; 2],
}

impl Heads {
    /// Builds the heads from a var builder holding `emotion.fc1`, `emotion.fc2`, `va.fc1`, `va.fc2`.
    pub fn new(vb: VarBuilder, card: &Card, dim: usize) -> candle_core::Result<Heads> {
        let n = LABELS.len();
        Ok(Heads {
            emo1: candle_nn::linear(dim, card.emotion_hidden, vb.pp("emotion.fc1"))?,
            emo2: candle_nn::linear(card.emotion_hidden, n, vb.pp("emotion.fc2"))?,
            va1: candle_nn::linear(dim, card.va_hidden, vb.pp("va.fc1"))?,
            va2: candle_nn::linear(card.va_hidden, 2, vb.pp("va.fc2"))?,
            thresholds: card.thresholds.clone(),
            ekman_thresholds: card.ekman_thresholds.clone(),
            va_scale: card.va_scale,
            va_prior_weight: card.va_prior_weight,
            va_neutral: card.va_neutral,
        })
    }

    /// The shipped heads, plus the encoder tensors they replace.
    pub fn shipped(
        device: &Device,
        dim: usize,
    ) -> Result<(Heads, Card, HashMap<String, Tensor>), EngineError> {
        let card = card()?;
        let (heads, overlay) = Heads::from_bytes(HEADS_SAFETENSORS, &card, device, dim)?;
        Ok((heads, card, overlay))
    }

    /// Heads from the bytes of a heads file and its card (`moodtape train` scores what it wrote this way), plus
    /// the encoder tensors they replace.
    pub fn from_bytes(
        safetensors: &[u8],
        card: &Card,
        device: &Device,
        dim: usize,
    ) -> Result<(Heads, HashMap<String, Tensor>), EngineError> {
        if card.labels.len() != LABELS.len() || card.thresholds.len() != LABELS.len() {
            return Err(EngineError::Load(
                "the heads' card does not list the 28 GoEmotions labels".into(),
            ));
        }
        let tensors = candle_core::safetensors::load_buffer(safetensors, device)?;
        let mut overlay = HashMap::new();
        let mut own = HashMap::new();
        for (name, t) in tensors {
            match name.strip_prefix(ENCODER_PREFIX) {
                Some(_) => overlay.insert(name, t),
                None => own.insert(name, t),
            };
        }
        let vb = VarBuilder::from_tensors(own, DType::F32, device);
        let heads = Heads::new(vb, card, dim)?;
        Ok((heads, overlay))
    }

    /// Emotion logits (batch, 28) and raw valence/arousal (batch, 2) for embeddings (batch, dim).
    pub fn forward(&self, emb: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let e = self.emo2.forward(&self.emo1.forward(emb)?.gelu_erf()?)?;
        let va = self.va2.forward(&self.va1.forward(emb)?.gelu_erf()?)?;
        Ok((e, va))
    }

    /// Probabilities (sigmoid) and valence/arousal clamped to -1..1, one row per embedding.
    pub fn read(&self, emb: &Tensor) -> candle_core::Result<Vec<(Vec<f32>, f32, f32)>> {
        let (logits, va) = self.forward(emb)?;
        let probs = candle_nn::ops::sigmoid(&logits)?.to_vec2::<f32>()?;
        let va = (va * f64::from(self.va_scale))?.to_vec2::<f32>()?;
        let calibration = VaCalibration {
            neutral: self.va_neutral,
            prior_weight: self.va_prior_weight,
        };
        Ok(probs
            .into_iter()
            .zip(va)
            .map(|(p, v)| {
                let raw = [
                    v.first().copied().unwrap_or(0.0),
                    v.get(1).copied().unwrap_or(0.0),
                ];
                let [valence, arousal] = calibration.apply(raw, &p, &self.thresholds);
                (p, valence, arousal)
            })
            .collect())
    }
}

/// What happens to the valence/arousal head's output (already multiplied by the card's `va_scale`) before it is
/// a reading; `moodtape train` chooses it on dev splits through this same code.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct VaCalibration {
    /// Subtracted first (see [`Card::va_neutral`]).
    pub neutral: [f32; 2],
    /// How far each axis then moves towards the point of the emotions read (see [`Card::va_prior_weight`]).
    pub prior_weight: [f32; 2],
}

impl VaCalibration {
    /// A reading's valence and arousal in -1..1 from the head's output `raw` and the emotion probabilities.
    pub fn apply(&self, raw: [f32; 2], probs: &[f32], thresholds: &[f32]) -> [f32; 2] {
        let mut valence = raw[0] - self.neutral[0];
        let mut arousal = raw[1] - self.neutral[1];
        if self.prior_weight != [0.0, 0.0] {
            if let Some((pv, pa)) = super::emotion_point(probs, thresholds) {
                let [wv, wa] = self.prior_weight;
                valence = (1.0 - wv) * valence + wv * pv;
                arousal = (1.0 - wa) * arousal + wa * pa;
            }
        }
        [valence.clamp(-1.0, 1.0), arousal.clamp(-1.0, 1.0)]
    }
}
