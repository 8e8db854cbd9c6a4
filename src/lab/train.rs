//! `moodtape train`: trains moodtape's emotion heads with candle-nn and fine-tunes the encoder's top layer.
//!
//! The lower encoder layers stay frozen, so their outputs are computed once and cached on disk; a second run
//! starts training at once. On top of them the top layer (initialised from the encoder) and two MLP heads are
//! trained together: a 28-label emotion head (multi-label, class-balanced binary cross-entropy) on GoEmotions and
//! a valence/arousal head (mean squared error) on EmoBank. Per-label thresholds (and Ekman group thresholds) are
//! chosen on the dev splits. Everything is seeded, so a run is reproducible on the same machine.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{Linear, Module, Optimizer, VarBuilder, VarMap};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::data::{emobank, goemotions, GoExample, VaExample};
use super::metrics::{best_threshold, label_f1, pearson};
use crate::emotion::encoder::{l2_normalize, mean_pool, pad_batch};
use crate::emotion::fetch::ModelFiles;
use crate::emotion::heads::Card;
use crate::emotion::EngineError;
use crate::records::{ekman_group, EKMAN, LABELS};

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub goemotions: PathBuf,
    pub emobank: PathBuf,
    /// Output prefix: PREFIX.safetensors and PREFIX.json.
    pub out: PathBuf,
    pub cache_dir: PathBuf,
    pub epochs: usize,
    pub seed: u64,
    pub batch_size: usize,
    pub max_tokens: usize,
    pub lr_layer: f64,
    pub lr_heads: f64,
    pub emotion_hidden: usize,
    pub va_hidden: usize,
    /// Use at most this many training examples of each dataset (for quick runs).
    pub limit: Option<usize>,
}

impl TrainOptions {
    pub fn new(
        goemotions: PathBuf,
        emobank: PathBuf,
        out: PathBuf,
        cache_dir: PathBuf,
    ) -> TrainOptions {
        TrainOptions {
            goemotions,
            emobank,
            out,
            cache_dir,
            epochs: 3,
            seed: 7,
            batch_size: 64,
            max_tokens: 64,
            lr_layer: 1e-4,
            lr_heads: 2e-3,
            emotion_hidden: 512,
            va_hidden: 128,
            limit: None,
        }
    }
}

/// The encoder layer that is fine-tuned (the last of six).
pub const TUNED_LAYER: usize = 5;
const HIDDEN: usize = 384;
const HEADS: usize = 12;
/// Valence/arousal are learned in units of this, so their loss is on the same scale as the emotion loss.
pub const VA_SCALE: f32 = 0.2;
/// How far readings lean towards the emotions' own valence/arousal points (chosen on EmoBank dev and the demo
/// library; see `Card::va_prior_weight`).
pub const VA_PRIOR_WEIGHT: [f32; 2] = [0.0, 0.25];

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] super::data::DataError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error("{0}")]
    Io(String),
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> TrainError {
    TrainError::Io(format!("cannot {what} {}: {e}", path.display()))
}

/// Frozen-layer outputs of a set of texts: `lens[i]` tokens of `HIDDEN` floats starting at `offsets[i]`.
struct Features {
    offsets: Vec<usize>,
    lens: Vec<usize>,
    data: Vec<f32>,
}

impl Features {
    fn len(&self) -> usize {
        self.lens.len()
    }

    /// A padded batch: hidden states (b, L, HIDDEN) and the attention mask (b, L).
    fn batch(&self, idx: &[usize], device: &Device) -> candle_core::Result<(Tensor, Tensor)> {
        let len = idx.iter().map(|&i| self.lens[i]).max().unwrap_or(1).max(1);
        let mut x = vec![0f32; idx.len() * len * HIDDEN];
        let mut mask = vec![0u32; idx.len() * len];
        for (row, &i) in idx.iter().enumerate() {
            let n = self.lens[i];
            let src = &self.data[self.offsets[i]..self.offsets[i] + n * HIDDEN];
            x[row * len * HIDDEN..row * len * HIDDEN + n * HIDDEN].copy_from_slice(src);
            mask[row * len..row * len + n]
                .iter_mut()
                .for_each(|m| *m = 1);
        }
        Ok((
            Tensor::from_vec(x, (idx.len(), len, HIDDEN), device)?,
            Tensor::from_vec(mask, (idx.len(), len), device)?,
        ))
    }
}

/// The trainable copy of one BERT layer, written with differentiable ops (same math as candle-transformers').
struct TunedLayer {
    query: Linear,
    key: Linear,
    value: Linear,
    attn_out: Linear,
    ln1: (Tensor, Tensor),
    inter: Linear,
    out: Linear,
    ln2: (Tensor, Tensor),
}

fn layer_norm(x: &Tensor, (w, b): &(Tensor, Tensor)) -> candle_core::Result<Tensor> {
    candle_nn::ops::layer_norm_slow(x, w, b, 1e-12)
}

impl TunedLayer {
    fn new(vb: VarBuilder) -> candle_core::Result<TunedLayer> {
        let ln = |p: &str| -> candle_core::Result<(Tensor, Tensor)> {
            Ok((
                vb.get(HIDDEN, &format!("{p}.weight"))?,
                vb.get(HIDDEN, &format!("{p}.bias"))?,
            ))
        };
        Ok(TunedLayer {
            query: candle_nn::linear(HIDDEN, HIDDEN, vb.pp("attention.self.query"))?,
            key: candle_nn::linear(HIDDEN, HIDDEN, vb.pp("attention.self.key"))?,
            value: candle_nn::linear(HIDDEN, HIDDEN, vb.pp("attention.self.value"))?,
            attn_out: candle_nn::linear(HIDDEN, HIDDEN, vb.pp("attention.output.dense"))?,
            ln1: ln("attention.output.LayerNorm")?,
            inter: candle_nn::linear(HIDDEN, 4 * HIDDEN, vb.pp("intermediate.dense"))?,
            out: candle_nn::linear(4 * HIDDEN, HIDDEN, vb.pp("output.dense"))?,
            ln2: ln("output.LayerNorm")?,
        })
    }

    fn forward(&self, x: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (b, l, _) = x.dims3()?;
        // Linear layers run on (b·l, hidden): a 3-D input would broadcast the weights per row and make the
        // backward pass sum a copy of every weight gradient per example.
        let x2 = x.reshape((b * l, HIDDEN))?;
        let split = |t: Tensor| -> candle_core::Result<Tensor> {
            t.reshape((b, l, HEADS, HIDDEN / HEADS))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.query.forward(&x2)?)?;
        let k = split(self.key.forward(&x2)?)?;
        let v = split(self.value.forward(&x2)?)?;
        // Padded positions get a large negative score, as in candle-transformers' BERT.
        let bias = ((mask.to_dtype(DType::F32)? - 1.0)? * 1e9)?.reshape((b, 1, 1, l))?;
        let scores =
            (q.matmul(&k.t()?)? / ((HIDDEN / HEADS) as f64).sqrt())?.broadcast_add(&bias)?;
        let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let ctx = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b * l, HIDDEN))?;
        let attn = layer_norm(&(self.attn_out.forward(&ctx)? + &x2)?, &self.ln1)?;
        let h = self.inter.forward(&attn)?.gelu_erf()?;
        layer_norm(&(self.out.forward(&h)? + &attn)?, &self.ln2)?.reshape((b, l, HIDDEN))
    }
}

struct Model {
    layer: TunedLayer,
    emo1: Linear,
    emo2: Linear,
    va1: Linear,
    va2: Linear,
}

impl Model {
    /// Sentence embeddings (b, HIDDEN): the tuned layer, mean pooling, L2 normalisation.
    fn embed(&self, x: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        l2_normalize(&mean_pool(&self.layer.forward(x, mask)?, mask)?)
    }
    fn emotion(&self, e: &Tensor) -> candle_core::Result<Tensor> {
        self.emo2.forward(&self.emo1.forward(e)?.gelu_erf()?)
    }
    fn va(&self, e: &Tensor) -> candle_core::Result<Tensor> {
        self.va2.forward(&self.va1.forward(e)?.gelu_erf()?)
    }
}

/// Dev or test metrics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SplitMetrics {
    pub macro_f1: f64,
    pub ekman_macro_f1: f64,
    pub pearson_valence: f64,
    pub pearson_arousal: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub dev: SplitMetrics,
    pub test: SplitMetrics,
    pub seconds: f64,
    pub safetensors: String,
    pub card: String,
}

/// Gold label flags of GoEmotions examples, label-major: `gold[label][example]`.
pub fn gold_flags(examples: &[GoExample]) -> Vec<Vec<bool>> {
    let mut gold = vec![vec![false; examples.len()]; LABELS.len()];
    for (i, ex) in examples.iter().enumerate() {
        for &l in &ex.labels {
            gold[l][i] = true;
        }
    }
    gold
}

/// Ekman group flags from label flags: a group is present when any of its labels is.
pub fn ekman_gold(examples: &[GoExample]) -> Vec<Vec<bool>> {
    let mut gold = vec![vec![false; examples.len()]; EKMAN.len()];
    for (i, ex) in examples.iter().enumerate() {
        for &l in &ex.labels {
            gold[ekman_group(l)][i] = true;
        }
    }
    gold
}

/// Ekman group scores: each group's strongest label, `scores[group][example]`.
pub fn ekman_scores(probs: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let mut out = vec![vec![0f32; probs.len()]; EKMAN.len()];
    for (i, p) in probs.iter().enumerate() {
        for (l, &s) in p.iter().enumerate().take(LABELS.len()) {
            let g = ekman_group(l);
            out[g][i] = out[g][i].max(s);
        }
    }
    out
}

/// Transposes example-major probabilities to label-major.
pub fn by_label(probs: &[Vec<f32>], n: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|l| probs.iter().map(|p| p[l]).collect())
        .collect()
}

/// Macro-F1 and per-label F1 at the given thresholds.
pub fn macro_f1(scores: &[Vec<f32>], gold: &[Vec<bool>], thresholds: &[f32]) -> (f64, Vec<f64>) {
    let per: Vec<f64> = scores
        .iter()
        .zip(gold)
        .zip(thresholds)
        .map(|((s, g), &t)| label_f1(s, g, t))
        .collect();
    (per.iter().sum::<f64>() / per.len().max(1) as f64, per)
}

/// Trains the heads and writes them with their card. `log` gets one line per step of note.
pub fn train(
    files: &ModelFiles,
    opts: &TrainOptions,
    log: &mut dyn FnMut(&str),
) -> Result<TrainReport, TrainError> {
    let start = Instant::now();
    let device = Device::Cpu;
    let mut go_train = goemotions(&opts.goemotions, "train")?;
    let mut go_dev = goemotions(&opts.goemotions, "dev")?;
    let mut go_test = goemotions(&opts.goemotions, "test")?;
    let mut eb_train = emobank(&opts.emobank, "train")?;
    let mut eb_dev = emobank(&opts.emobank, "dev")?;
    let mut eb_test = emobank(&opts.emobank, "test")?;
    if let Some(n) = opts.limit {
        go_train.truncate(n);
        eb_train.truncate(n);
        go_dev.truncate(n);
        go_test.truncate(n);
        eb_dev.truncate(n);
        eb_test.truncate(n);
    }
    log(&format!(
        "data: GoEmotions {} train / {} dev / {} test, EmoBank {} train / {} dev / {} test",
        go_train.len(),
        go_dev.len(),
        go_test.len(),
        eb_train.len(),
        eb_dev.len(),
        eb_test.len()
    ));

    let sets: Vec<(&str, Vec<&str>)> = vec![
        (
            "go_train",
            go_train.iter().map(|e| e.text.as_str()).collect(),
        ),
        ("go_dev", go_dev.iter().map(|e| e.text.as_str()).collect()),
        ("go_test", go_test.iter().map(|e| e.text.as_str()).collect()),
        (
            "eb_train",
            eb_train.iter().map(|e| e.text.as_str()).collect(),
        ),
        ("eb_dev", eb_dev.iter().map(|e| e.text.as_str()).collect()),
        ("eb_test", eb_test.iter().map(|e| e.text.as_str()).collect()),
    ];
    let features = frozen_features(files, &sets, opts, &device, log)?;
    let [f_go_train, f_go_dev, f_go_test, f_eb_train, f_eb_dev, f_eb_test]: [Features; 6] =
        features
            .try_into()
            .map_err(|_| TrainError::Io("feature sets mismatch".into()))?;

    // The model: the top layer starts from the encoder's weights, the heads from a seeded initialisation.
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed);
    let varmap = VarMap::new();
    {
        // SAFETY: the weights file was verified against its sha256 and is not modified while moodtape runs.
        let mmap = unsafe { candle_core::safetensors::MmapedSafetensors::new(files.weights()) }?;
        let prefix = format!("encoder.layer.{TUNED_LAYER}.");
        let mut data = varmap
            .data()
            .lock()
            .map_err(|_| TrainError::Io("var map poisoned".into()))?;
        for (name, _) in mmap.tensors() {
            if name.starts_with(&prefix) {
                let t = mmap.load(&name, &device)?.to_dtype(DType::F32)?;
                data.insert(name, Var::from_tensor(&t)?);
            }
        }
        let mut init = |name: &str, shape: (usize, usize)| -> candle_core::Result<()> {
            let bound = 1.0 / (shape.1 as f32).sqrt();
            let w: Vec<f32> = (0..shape.0 * shape.1)
                .map(|_| rng.random_range(-bound..bound))
                .collect();
            data.insert(
                format!("{name}.weight"),
                Var::from_tensor(&Tensor::from_vec(w, shape, &device)?)?,
            );
            data.insert(
                format!("{name}.bias"),
                Var::zeros(shape.0, DType::F32, &device)?,
            );
            Ok(())
        };
        init("emotion.fc1", (opts.emotion_hidden, HIDDEN))?;
        init("emotion.fc2", (LABELS.len(), opts.emotion_hidden))?;
        init("va.fc1", (opts.va_hidden, HIDDEN))?;
        init("va.fc2", (2, opts.va_hidden))?;
    }
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let model = Model {
        layer: TunedLayer::new(vb.pp(format!("encoder.layer.{TUNED_LAYER}")))?,
        emo1: candle_nn::linear(HIDDEN, opts.emotion_hidden, vb.pp("emotion.fc1"))?,
        emo2: candle_nn::linear(opts.emotion_hidden, LABELS.len(), vb.pp("emotion.fc2"))?,
        va1: candle_nn::linear(HIDDEN, opts.va_hidden, vb.pp("va.fc1"))?,
        va2: candle_nn::linear(opts.va_hidden, 2, vb.pp("va.fc2"))?,
    };
    type Named = Vec<(String, Var)>;
    let (layer_vars, head_vars): (Named, Named) = {
        let data = varmap
            .data()
            .lock()
            .map_err(|_| TrainError::Io("var map poisoned".into()))?;
        let mut all: Vec<(String, Var)> =
            data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.into_iter()
            .partition(|(k, _)| k.starts_with("encoder."))
    };
    let params = |lr: f64| candle_nn::ParamsAdamW {
        lr,
        weight_decay: 0.01,
        ..Default::default()
    };
    let mut opt_layer = candle_nn::AdamW::new(
        layer_vars.into_iter().map(|(_, v)| v).collect(),
        params(opts.lr_layer),
    )?;
    let mut opt_heads = candle_nn::AdamW::new(
        head_vars.into_iter().map(|(_, v)| v).collect(),
        params(opts.lr_heads),
    )?;

    // Class-balanced positive weights: rare labels count more.
    let gold_train = gold_flags(&go_train);
    let pos_weight: Vec<f32> = gold_train
        .iter()
        .map(|g| {
            let pos = g.iter().filter(|&&b| b).count().max(1) as f32;
            let neg = (g.len() as f32 - pos).max(1.0);
            (neg / pos).sqrt().clamp(1.0, 10.0)
        })
        .collect();
    let pos_weight_t = Tensor::from_vec(pos_weight, (1, LABELS.len()), &device)?;
    let mut targets = vec![0f32; go_train.len() * LABELS.len()];
    for (i, ex) in go_train.iter().enumerate() {
        for &l in &ex.labels {
            targets[i * LABELS.len() + l] = 1.0;
        }
    }

    let total_steps = opts.epochs
        * (f_go_train.len().div_ceil(opts.batch_size) + f_eb_train.len().div_ceil(opts.batch_size));
    let warmup = (total_steps / 20).max(1);
    let mut step = 0usize;
    let mut best: Option<(f64, SplitMetrics)> = None;
    let mut best_test: Option<SplitMetrics> = None;
    for epoch in 0..opts.epochs {
        let mut batches: Vec<(bool, Vec<usize>)> = Vec::new();
        for (is_go, n) in [(true, f_go_train.len()), (false, f_eb_train.len())] {
            let lens = if is_go {
                &f_go_train.lens
            } else {
                &f_eb_train.lens
            };
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut rng);
            // Sort within windows so batches have similar lengths but still vary from epoch to epoch.
            for window in order.chunks_mut(opts.batch_size * 50) {
                window.sort_by_key(|&i| lens[i]);
                for b in window.chunks(opts.batch_size) {
                    batches.push((is_go, b.to_vec()));
                }
            }
        }
        batches.shuffle(&mut rng);
        let epoch_start = Instant::now();
        let mut loss_sum = (0f64, 0usize, 0f64, 0usize);
        for (n, (is_go, idx)) in batches.iter().enumerate() {
            let lr_scale = if step < warmup {
                (step + 1) as f64 / warmup as f64
            } else {
                ((total_steps - step) as f64 / (total_steps - warmup).max(1) as f64).max(0.02)
            };
            opt_layer.set_learning_rate(opts.lr_layer * lr_scale);
            opt_heads.set_learning_rate(opts.lr_heads * lr_scale);
            let feats = if *is_go { &f_go_train } else { &f_eb_train };
            let (x, mask) = feats.batch(idx, &device)?;
            let emb = model.embed(&x, &mask)?;
            let keep = dropout_mask(&mut rng, idx.len(), 0.1, &device)?;
            let emb = emb.broadcast_mul(&keep)?;
            let loss = if *is_go {
                let logits = model.emotion(&emb)?;
                let y: Vec<f32> = idx
                    .iter()
                    .flat_map(|&i| {
                        targets[i * LABELS.len()..(i + 1) * LABELS.len()]
                            .iter()
                            .copied()
                    })
                    .collect();
                let y = Tensor::from_vec(y, (idx.len(), LABELS.len()), &device)?;
                weighted_bce(&logits, &y, &pos_weight_t)?
            } else {
                let pred = model.va(&emb)?;
                let y: Vec<f32> = idx
                    .iter()
                    .flat_map(|&i| {
                        [
                            eb_train[i].valence / VA_SCALE,
                            eb_train[i].arousal / VA_SCALE,
                        ]
                    })
                    .collect();
                let y = Tensor::from_vec(y, (idx.len(), 2), &device)?;
                (pred - y)?.sqr()?.mean_all()?
            };
            let grads = loss.backward()?;
            opt_layer.step(&grads)?;
            opt_heads.step(&grads)?;
            let value = f64::from(loss.to_scalar::<f32>()?);
            if *is_go {
                loss_sum.0 += value;
                loss_sum.1 += 1;
            } else {
                loss_sum.2 += value;
                loss_sum.3 += 1;
            }
            step += 1;
            if (n + 1) % 200 == 0 || n + 1 == batches.len() {
                let rate = (n + 1) as f64 / epoch_start.elapsed().as_secs_f64().max(1e-6);
                log(&format!(
                    "epoch {}/{} batch {}/{}: emotion loss {:.4}, va loss {:.4}, {:.1} batches/s, eta {:.0} s",
                    epoch + 1,
                    opts.epochs,
                    n + 1,
                    batches.len(),
                    loss_sum.0 / loss_sum.1.max(1) as f64,
                    loss_sum.2 / loss_sum.3.max(1) as f64,
                    rate,
                    (batches.len() - n - 1) as f64 / rate.max(1e-6)
                ));
                loss_sum = (0.0, 0, 0.0, 0);
            }
        }
        // Choose thresholds on dev and keep the best epoch.
        let (dev, thresholds, ekman_thresholds) = evaluate(
            &model, &f_go_dev, &go_dev, &f_eb_dev, &eb_dev, None, &device,
        )?;
        log(&format!(
            "epoch {} dev: macro-F1 {:.4}, Ekman macro-F1 {:.4}, Pearson V {:.4}, A {:.4}",
            epoch + 1,
            dev.macro_f1,
            dev.ekman_macro_f1,
            dev.pearson_valence,
            dev.pearson_arousal
        ));
        let score = dev.macro_f1 + dev.ekman_macro_f1 + dev.pearson_valence + dev.pearson_arousal;
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            let (test, _, _) = evaluate(
                &model,
                &f_go_test,
                &go_test,
                &f_eb_test,
                &eb_test,
                Some((&thresholds, &ekman_thresholds)),
                &device,
            )?;
            log(&format!(
                "epoch {} test: macro-F1 {:.4}, Ekman macro-F1 {:.4}, Pearson V {:.4}, A {:.4} (saved)",
                epoch + 1,
                test.macro_f1,
                test.ekman_macro_f1,
                test.pearson_valence,
                test.pearson_arousal
            ));
            let va_neutral = neutral_point(&model, &f_go_dev, &go_dev, &device)?;
            save(
                &varmap,
                opts,
                &thresholds,
                &ekman_thresholds,
                &dev,
                &test,
                epoch + 1,
                &go_train,
                &eb_train,
                va_neutral,
            )?;
            best = Some((score, dev.clone()));
            best_test = Some(test);
        }
    }
    let dev = best.map(|(_, d)| d).unwrap_or_default();
    let test = best_test.unwrap_or_default();
    Ok(TrainReport {
        dev,
        test,
        seconds: start.elapsed().as_secs_f64(),
        safetensors: opts.out.with_extension("safetensors").display().to_string(),
        card: opts.out.with_extension("json").display().to_string(),
    })
}

/// Inverted dropout on whole embedding rows' features: (b, HIDDEN) of 0 or 1/(1-p).
fn dropout_mask(
    rng: &mut rand::rngs::StdRng,
    b: usize,
    p: f32,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let keep = 1.0 / (1.0 - p);
    let v: Vec<f32> = (0..b * HIDDEN)
        .map(|_| if rng.random::<f32>() < p { 0.0 } else { keep })
        .collect();
    Tensor::from_vec(v, (b, HIDDEN), device)
}

/// Binary cross-entropy with logits, positives weighted per label: mean of
/// `w·y·softplus(-x) + (1-y)·softplus(x)`.
fn weighted_bce(logits: &Tensor, y: &Tensor, pos_weight: &Tensor) -> candle_core::Result<Tensor> {
    let softplus = |x: &Tensor| -> candle_core::Result<Tensor> {
        // log(1 + e^x) = max(x, 0) + log(1 + e^-|x|), stable for large |x|.
        x.relu()? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?
    };
    let pos = y
        .broadcast_mul(pos_weight)?
        .mul(&softplus(&logits.neg()?)?)?;
    let neg = (y.ones_like()? - y)?.mul(&softplus(logits)?)?;
    (pos + neg)?.mean_all()
}

/// Probabilities and valence/arousal of a feature set, in order.
/// Emotion probabilities and valence/arousal, one per text.
type Predictions = (Vec<Vec<f32>>, Vec<[f32; 2]>);

fn predict(model: &Model, feats: &Features, device: &Device) -> candle_core::Result<Predictions> {
    let mut order: Vec<usize> = (0..feats.len()).collect();
    order.sort_by_key(|&i| feats.lens[i]);
    let mut probs = vec![Vec::new(); feats.len()];
    let mut va = vec![[0f32; 2]; feats.len()];
    for idx in order.chunks(128) {
        let (x, mask) = feats.batch(idx, device)?;
        let emb = model.embed(&x, &mask)?;
        let p = candle_nn::ops::sigmoid(&model.emotion(&emb)?)?.to_vec2::<f32>()?;
        let v = (model.va(&emb)? * f64::from(VA_SCALE))?.to_vec2::<f32>()?;
        for (k, &i) in idx.iter().enumerate() {
            probs[i] = p[k].clone();
            va[i] = [v[k][0], v[k][1]];
        }
    }
    Ok((probs, va))
}

/// Where the valence/arousal head puts GoEmotions dev texts labelled neutral and nothing else.
fn neutral_point(
    model: &Model,
    feats: &Features,
    go: &[GoExample],
    device: &Device,
) -> candle_core::Result<[f32; 2]> {
    let (_, va) = predict(model, feats, device)?;
    let neutral = LABELS.len() - 1;
    let picked: Vec<[f32; 2]> = va
        .iter()
        .zip(go)
        .filter(|(_, g)| g.labels == [neutral])
        .map(|(v, _)| *v)
        .collect();
    let n = picked.len().max(1) as f32;
    let round = |x: f32| (x * 1000.0).round() / 1000.0;
    Ok([
        round(picked.iter().map(|v| v[0]).sum::<f32>() / n),
        round(picked.iter().map(|v| v[1]).sum::<f32>() / n),
    ])
}

type Eval = (SplitMetrics, Vec<f32>, Vec<f32>);

/// Metrics on a split; thresholds are chosen on it when none are given.
fn evaluate(
    model: &Model,
    go_feats: &Features,
    go: &[GoExample],
    eb_feats: &Features,
    eb: &[VaExample],
    thresholds: Option<(&[f32], &[f32])>,
    device: &Device,
) -> candle_core::Result<Eval> {
    let (probs, _) = predict(model, go_feats, device)?;
    let scores = by_label(&probs, LABELS.len());
    let gold = gold_flags(go);
    let e_scores = ekman_scores(&probs);
    let e_gold = ekman_gold(go);
    let (t, et) = match thresholds {
        Some((t, et)) => (t.to_vec(), et.to_vec()),
        None => (
            scores
                .iter()
                .zip(&gold)
                .map(|(s, g)| best_threshold(s, g))
                .collect(),
            e_scores
                .iter()
                .zip(&e_gold)
                .map(|(s, g)| best_threshold(s, g))
                .collect(),
        ),
    };
    let (m, _) = macro_f1(&scores, &gold, &t);
    let (em, _) = macro_f1(&e_scores, &e_gold, &et);
    let (_, va) = predict(model, eb_feats, device)?;
    let pv: Vec<f32> = va.iter().map(|v| v[0]).collect();
    let pa: Vec<f32> = va.iter().map(|v| v[1]).collect();
    let gv: Vec<f32> = eb.iter().map(|e| e.valence).collect();
    let ga: Vec<f32> = eb.iter().map(|e| e.arousal).collect();
    Ok((
        SplitMetrics {
            macro_f1: m,
            ekman_macro_f1: em,
            pearson_valence: pearson(&pv, &gv),
            pearson_arousal: pearson(&pa, &ga),
        },
        t,
        et,
    ))
}

#[allow(clippy::too_many_arguments)]
fn save(
    varmap: &VarMap,
    opts: &TrainOptions,
    thresholds: &[f32],
    ekman_thresholds: &[f32],
    dev: &SplitMetrics,
    test: &SplitMetrics,
    epoch: usize,
    go_train: &[GoExample],
    eb_train: &[VaExample],
    va_neutral: [f32; 2],
) -> Result<(), TrainError> {
    if let Some(parent) = opts.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| io_err("create", parent, e))?;
    }
    let st = opts.out.with_extension("safetensors");
    varmap.save(&st)?;
    let card = Card {
        format: 1,
        encoder: "sentence-transformers/all-MiniLM-L6-v2".into(),
        encoder_sha256: crate::emotion::ENCODER_SHA256.into(),
        labels: LABELS.iter().map(|s| s.to_string()).collect(),
        thresholds: thresholds.iter().map(|t| (t * 100.0).round() / 100.0).collect(),
        ekman: EKMAN.iter().map(|s| s.to_string()).collect(),
        ekman_thresholds: ekman_thresholds.iter().map(|t| (t * 100.0).round() / 100.0).collect(),
        va_scale: VA_SCALE,
        va_prior_weight: VA_PRIOR_WEIGHT,
        va_neutral,
        emotion_hidden: opts.emotion_hidden,
        va_hidden: opts.va_hidden,
        tuned_layers: vec![TUNED_LAYER],
        data: vec![
            format!("GoEmotions (Demszky et al., 2020), train split ({} texts), thresholds on dev", go_train.len()),
            format!("EmoBank (Buechel & Hahn, 2017), train split ({} texts), valence/arousal as (x - 3) / 2", eb_train.len()),
        ],
        training: serde_json::json!({
            "epochs_run": epoch,
            "epochs": opts.epochs,
            "seed": opts.seed,
            "batch_size": opts.batch_size,
            "max_tokens": opts.max_tokens,
            "lr_layer": opts.lr_layer,
            "lr_heads": opts.lr_heads,
            "loss": "class-balanced BCE (pos_weight = sqrt(neg/pos), 1..10) + MSE on valence/arousal",
            "fine_tuned": format!("encoder layer {TUNED_LAYER} and both heads; layers 0-{} frozen", TUNED_LAYER - 1),
        }),
        metrics: serde_json::json!({ "dev": dev, "test": test }),
    };
    let json = serde_json::to_string_pretty(&card).map_err(|e| TrainError::Io(e.to_string()))?;
    let path = opts.out.with_extension("json");
    std::fs::write(&path, json + "\n").map_err(|e| io_err("write", &path, e))?;
    Ok(())
}

/// The frozen layers' outputs for every set, from the cache when it holds them.
fn frozen_features(
    files: &ModelFiles,
    sets: &[(&str, Vec<&str>)],
    opts: &TrainOptions,
    device: &Device,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<Features>, TrainError> {
    let mut h = Sha256::new();
    h.update(crate::emotion::ENCODER_SHA256.as_bytes());
    h.update(format!("layers<{TUNED_LAYER} max{}", opts.max_tokens).as_bytes());
    for (name, texts) in sets {
        h.update(name.as_bytes());
        for t in texts {
            h.update(t.as_bytes());
            h.update([0]);
        }
    }
    let key = crate::records::hex(&h.finalize()[..8]);
    let path = opts.cache_dir.join(format!("train-features-{key}.bin"));
    if let Ok(f) = std::fs::File::open(&path) {
        log(&format!(
            "frozen-layer outputs from the cache {}",
            path.display()
        ));
        match read_features(&mut BufReader::new(f), sets.len()) {
            Ok(feats) => return Ok(feats),
            Err(e) => log(&format!("the cache is unreadable ({e}); computing again")),
        }
    }
    let config_text =
        std::fs::read_to_string(files.config()).map_err(|e| io_err("read", &files.config(), e))?;
    let mut config: candle_transformers::models::bert::Config = serde_json::from_str(&config_text)
        .map_err(|e| TrainError::Io(format!("bad config.json: {e}")))?;
    config.num_hidden_layers = TUNED_LAYER;
    // SAFETY: the weights file was verified against its sha256 and is not modified while moodtape runs.
    let vb =
        unsafe { VarBuilder::from_mmaped_safetensors(&[files.weights()], DType::F32, device) }?;
    let model = candle_transformers::models::bert::BertModel::load(vb, &config)?;
    let tokenizer = crate::emotion::encoder::load_tokenizer(&files.tokenizer())?;
    let mut out = Vec::new();
    let total: usize = sets.iter().map(|(_, t)| t.len()).sum();
    let mut done = 0usize;
    let t0 = Instant::now();
    for (name, texts) in sets {
        let ids = crate::emotion::encoder::tokenize_with(&tokenizer, texts, opts.max_tokens)?;
        let mut per: Vec<Vec<f32>> = vec![Vec::new(); ids.len()];
        for batch in crate::emotion::encoder::length_batches(&ids, 64) {
            let slices: Vec<&[u32]> = batch.iter().map(|&i| ids[i].as_slice()).collect();
            let (tok, mask) = pad_batch(&slices, device)?;
            let hidden = model.forward(&tok, &tok.zeros_like()?, Some(&mask))?;
            for (row, &i) in batch.iter().enumerate() {
                let n = ids[i].len();
                per[i] = hidden
                    .get(row)?
                    .narrow(0, 0, n)?
                    .flatten_all()?
                    .to_vec1::<f32>()?;
            }
            done += batch.len();
            if done % 2048 < batch.len() {
                let rate = done as f64 / t0.elapsed().as_secs_f64().max(1e-6);
                log(&format!(
                    "frozen layers: {done}/{total} texts ({name}), {rate:.0} texts/s, eta {:.0} s",
                    (total - done) as f64 / rate.max(1e-6)
                ));
            }
        }
        let mut f = Features {
            offsets: Vec::with_capacity(per.len()),
            lens: Vec::with_capacity(per.len()),
            data: Vec::new(),
        };
        for v in per {
            f.offsets.push(f.data.len());
            f.lens.push(v.len() / HIDDEN);
            f.data.extend_from_slice(&v);
        }
        out.push(f);
    }
    std::fs::create_dir_all(&opts.cache_dir).map_err(|e| io_err("create", &opts.cache_dir, e))?;
    let tmp = path.with_extension("part");
    let file = std::fs::File::create(&tmp).map_err(|e| io_err("write", &tmp, e))?;
    let mut w = BufWriter::new(file);
    write_features(&mut w, &out).map_err(|e| io_err("write", &tmp, e))?;
    w.flush().map_err(|e| io_err("write", &tmp, e))?;
    drop(w);
    std::fs::rename(&tmp, &path).map_err(|e| io_err("write", &path, e))?;
    log(&format!(
        "cached the frozen-layer outputs in {}",
        path.display()
    ));
    Ok(out)
}

fn write_features(w: &mut dyn Write, sets: &[Features]) -> std::io::Result<()> {
    w.write_all(&(sets.len() as u64).to_le_bytes())?;
    for f in sets {
        w.write_all(&(f.lens.len() as u64).to_le_bytes())?;
        for &l in &f.lens {
            w.write_all(&(l as u32).to_le_bytes())?;
        }
        let mut buf = Vec::with_capacity(f.data.len() * 4);
        for x in &f.data {
            buf.extend_from_slice(&x.to_le_bytes());
        }
        w.write_all(&buf)?;
    }
    Ok(())
}

fn read_features(r: &mut dyn Read, expected: usize) -> std::io::Result<Vec<Features>> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let mut u64b = [0u8; 8];
    r.read_exact(&mut u64b)?;
    if u64::from_le_bytes(u64b) as usize != expected {
        return Err(bad("wrong number of sets"));
    }
    let mut out = Vec::new();
    for _ in 0..expected {
        r.read_exact(&mut u64b)?;
        let n = u64::from_le_bytes(u64b) as usize;
        let mut lens = Vec::with_capacity(n);
        let mut u32b = [0u8; 4];
        for _ in 0..n {
            r.read_exact(&mut u32b)?;
            lens.push(u32::from_le_bytes(u32b) as usize);
        }
        let total: usize = lens.iter().sum::<usize>() * HIDDEN;
        let mut bytes = vec![0u8; total * 4];
        r.read_exact(&mut bytes)?;
        let data: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let mut offsets = Vec::with_capacity(n);
        let mut at = 0;
        for &l in &lens {
            offsets.push(at);
            at += l * HIDDEN;
        }
        out.push(Features {
            offsets,
            lens,
            data,
        });
    }
    Ok(out)
}
