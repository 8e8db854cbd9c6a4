//! `moodtape train`: trains moodtape's emotion heads with candle-nn and fine-tunes the encoder's top layers.
//!
//! The encoder's lower layers stay frozen, so their outputs are computed once and cached on disk; a second run
//! starts training at once. On top of them the upper layers (from [`TrainOptions::tune_from`], initialised from the
//! encoder) and two MLP heads are trained together, batch by batch over four tasks:
//! - GoEmotions: the 28-label emotion head (multi-label, class-balanced binary cross-entropy);
//! - EmoBank: the valence/arousal head (mean squared error);
//! - moodtape's short moods: the same head on one-to-four-word moods (mean squared error, weighted up and seen
//!   several times an epoch, since the set is small and what people type looks like nothing else);
//! - MusicMood: whole songs cut into chunks exactly as `analyze` cuts them; the song's valence is the
//!   token-weighted mean of its chunks' valence, as `analyze` aggregates it, and a logistic loss on it says happy
//!   (> 0) or sad (< 0). So training optimises the reading `analyze` makes, not a proxy for it.
//!
//! Per-label thresholds (and Ekman group thresholds) and the valence/arousal calibration are chosen on the dev
//! splits, and the epoch kept is the best on dev. Finally the written heads are loaded into a real engine and
//! scored on every dev and test split through the same code as `moodtape eval`, and the scores go into the card.
//! Everything is seeded, so a run is reproducible on the same machine.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{Linear, Module, Optimizer, VarBuilder, VarMap};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::data::{self, emobank, goemotions, GoExample, MoodExample, SongExample, VaExample};
use super::metrics::{best_threshold, label_f1, pearson, roc_auc};
use crate::emotion::encoder::{l2_normalize, mean_pool, pad_batch, MAX_TOKENS};
use crate::emotion::engine::{chunk_weight, song_chunks};
use crate::emotion::fetch::ModelFiles;
use crate::emotion::heads::{Card, DataUse, Heads, VaCalibration};
use crate::emotion::{Engine, EngineError};
use crate::records::{ekman_group, LyricsOrigin, LyricsRecord, Quadrant, EKMAN, LABELS};

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub goemotions: PathBuf,
    pub emobank: PathBuf,
    /// MusicMood's folder; its train split (800 songs) is trained on, its dev split scored.
    pub musicmood: Option<PathBuf>,
    /// The short moods file (default: the one compiled in); `use_moods` turns them off.
    pub moods_file: Option<PathBuf>,
    pub use_moods: bool,
    /// Output prefix: PREFIX.safetensors and PREFIX.json.
    pub out: PathBuf,
    pub cache_dir: PathBuf,
    pub epochs: usize,
    pub seed: u64,
    pub batch_size: usize,
    /// Training texts are cut to this many tokens (song chunks are not: they are read whole, as `analyze` does).
    pub max_tokens: usize,
    pub lr_layer: f64,
    pub lr_heads: f64,
    pub emotion_hidden: usize,
    pub va_hidden: usize,
    /// The first encoder layer fine-tuned: layers from here to the top are trained, the ones below are frozen.
    pub tune_from: usize,
    /// Loss weight of a short-mood batch, and how many times an epoch the short moods are seen.
    pub moods_weight: f32,
    pub moods_repeat: usize,
    /// Loss weight of the valence/arousal head on GoEmotions texts, whose targets are the mean point of their
    /// labels (`LABEL_VA`; neutral is the origin): many short emotional texts, like what people type.
    pub go_va_weight: f32,
    /// GoEmotions examples trained on per epoch (default: all). Epochs take consecutive slices of one seeded
    /// permutation, so every example is seen once before any is seen twice.
    pub go_per_epoch: Option<usize>,
    /// Loss weight of a batch of songs, and how many songs are in one.
    pub songs_weight: f32,
    pub songs_per_batch: usize,
    /// Each valence/arousal dataset is learned in its own frame: its targets in units of their own spread per
    /// axis, reached from the shared head through a learned scale and offset (the short moods, which say where
    /// the quadrants are, are the head's own frame). Off: every dataset's targets are read as they are, in units
    /// of `VA_SCALE`.
    pub va_per_dataset: bool,
    /// Use at most this many examples of each dataset split (for quick runs).
    pub limit: Option<usize>,
    /// Score the written heads through the engine on every split at the end (a few minutes).
    pub final_scores: bool,
}

impl TrainOptions {
    /// Epochs trained unless told otherwise (the shipped heads' run); the best on dev is kept.
    pub const DEFAULT_EPOCHS: usize = 5;
    /// The seed of every random choice in a run unless told otherwise.
    pub const DEFAULT_SEED: u64 = 7;

    pub fn new(
        goemotions: PathBuf,
        emobank: PathBuf,
        musicmood: Option<PathBuf>,
        out: PathBuf,
        cache_dir: PathBuf,
    ) -> TrainOptions {
        TrainOptions {
            goemotions,
            emobank,
            musicmood,
            moods_file: None,
            use_moods: true,
            out,
            cache_dir,
            epochs: Self::DEFAULT_EPOCHS,
            seed: Self::DEFAULT_SEED,
            batch_size: 64,
            max_tokens: 64,
            lr_layer: 1e-4,
            lr_heads: 2e-3,
            emotion_hidden: 512,
            va_hidden: 128,
            tune_from: 3,
            moods_weight: 2.0,
            moods_repeat: 4,
            go_per_epoch: None,
            go_va_weight: 0.1,
            songs_weight: 1.0,
            songs_per_batch: 8,
            va_per_dataset: true,
            limit: None,
            final_scores: true,
        }
    }
}

/// MiniLM-L6 has six layers; the top one is `LAYERS - 1`.
pub const LAYERS: usize = 6;
const HIDDEN: usize = 384;
const HEADS: usize = 12;
/// Valence/arousal are learned in units of this, so their loss is on the same scale as the emotion loss.
pub const VA_SCALE: f32 = 0.2;
/// Where the song loss's learned sharpness starts: a song at valence ±0.3 starts at a logit of ±3.
const SONG_SHARPNESS: f32 = 10.0;
/// The prior weights tried on dev for each axis (see `Card::va_prior_weight`).
const PRIOR_GRID: [f32; 5] = [0.0, 0.1, 0.2, 0.3, 0.4];

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
    #[error("{0}")]
    Eval(String),
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
    layers: Vec<TunedLayer>,
    emo1: Linear,
    emo2: Linear,
    va1: Linear,
    va2: Linear,
}

impl Model {
    /// Sentence embeddings (b, HIDDEN): the tuned layers, mean pooling, L2 normalisation.
    fn embed(&self, x: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        for layer in &self.layers {
            h = layer.forward(&h, mask)?;
        }
        l2_normalize(&mean_pool(&h, mask)?)
    }
    fn emotion(&self, e: &Tensor) -> candle_core::Result<Tensor> {
        self.emo2.forward(&self.emo1.forward(e)?.gelu_erf()?)
    }
    fn va(&self, e: &Tensor) -> candle_core::Result<Tensor> {
        self.va2.forward(&self.va1.forward(e)?.gelu_erf()?)
    }
}

/// Songs cut into chunks as `analyze` cuts them: the distinct chunk texts of the whole set, and for each song its
/// chunks (indices into `texts`) with their weights, a repeated chunk's weights summed (the same mean as reading
/// every repeat, as `analyze` does).
#[derive(Debug, Default)]
struct SongSet {
    texts: Vec<String>,
    songs: Vec<Vec<(usize, f32)>>,
    happy: Vec<bool>,
}

impl SongSet {
    fn new(tokenizer: &tokenizers::Tokenizer, examples: &[SongExample]) -> SongSet {
        let mut set = SongSet::default();
        let mut index = std::collections::HashMap::new();
        for ex in examples {
            let record = LyricsRecord::new(&ex.lyrics, LyricsOrigin::Import);
            let mut mine: Vec<(usize, f32)> = Vec::new();
            for chunk in song_chunks(tokenizer, &record) {
                let i = *index.entry(chunk.text.clone()).or_insert_with(|| {
                    set.texts.push(chunk.text.clone());
                    set.texts.len() - 1
                });
                match mine.iter_mut().find(|(j, _)| *j == i) {
                    Some(entry) => entry.1 += chunk_weight(&chunk),
                    None => mine.push((i, chunk_weight(&chunk))),
                }
            }
            set.songs.push(mine);
            set.happy.push(ex.happy);
        }
        set
    }

    /// Each song's valence: the weighted mean of its chunks' (0 for a song without words, as in `eval`).
    fn valences(&self, points: &[[f32; 2]]) -> Vec<f32> {
        self.songs
            .iter()
            .map(|chunks| {
                let total: f32 = chunks.iter().map(|(_, w)| w).sum();
                if total <= 0.0 {
                    return 0.0;
                }
                chunks.iter().map(|&(i, w)| w * points[i][0]).sum::<f32>() / total
            })
            .collect()
    }
}

/// Dev or test scores, as the eval commands compute them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SplitMetrics {
    pub macro_f1: f64,
    pub ekman_macro_f1: f64,
    /// EmoBank.
    pub pearson_valence: f64,
    pub pearson_arousal: f64,
    /// Short moods.
    pub moods_quadrant_accuracy: f64,
    pub moods_pearson_valence: f64,
    pub moods_pearson_arousal: f64,
    /// MusicMood songs (dev only: its test set is kept elsewhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub songs_accuracy: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub songs_roc_auc: Option<f64>,
}

impl SplitMetrics {
    /// What valence/arousal calibration and epochs are chosen by: each reading counts once.
    fn va_objective(&self) -> f64 {
        self.pearson_valence
            + self.pearson_arousal
            + self.moods_quadrant_accuracy
            + (self.moods_pearson_valence + self.moods_pearson_arousal) / 2.0
            + self.songs_accuracy.unwrap_or(0.0)
            + self.songs_roc_auc.unwrap_or(0.0)
    }

    fn objective(&self) -> f64 {
        self.macro_f1 + self.ekman_macro_f1 + self.va_objective()
    }

    pub fn line(&self) -> String {
        let mut s = format!(
            "GoEmotions macro-F1 {:.4}, Ekman {:.4}; EmoBank r V {:.4}, A {:.4}; moods quadrant {:.4}, r V {:.4}, A {:.4}",
            self.macro_f1,
            self.ekman_macro_f1,
            self.pearson_valence,
            self.pearson_arousal,
            self.moods_quadrant_accuracy,
            self.moods_pearson_valence,
            self.moods_pearson_arousal
        );
        if let (Some(acc), Some(auc)) = (self.songs_accuracy, self.songs_roc_auc) {
            s.push_str(&format!("; songs accuracy {acc:.4}, ROC AUC {auc:.4}"));
        }
        s
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub dev: SplitMetrics,
    pub test: SplitMetrics,
    /// Demo songs read in the quadrant they were written for, and how many there are.
    pub demo: (usize, usize),
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

/// Ekman group scores as readings have them ([`crate::records::ekman_scores`]), `scores[group][example]`.
pub fn ekman_scores(probs: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let mut out = vec![vec![0f32; probs.len()]; EKMAN.len()];
    for (i, p) in probs.iter().enumerate() {
        for (g, s) in crate::records::ekman_scores(p).into_iter().enumerate() {
            out[g][i] = s;
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

/// The data of one run, read and cut to `limit`.
struct Datasets {
    go: [Vec<GoExample>; 3],
    eb: [Vec<VaExample>; 3],
    moods: [Vec<MoodExample>; 3],
    songs: [Vec<SongExample>; 2],
}

fn read_datasets(opts: &TrainOptions) -> Result<Datasets, TrainError> {
    fn cut<T>(mut v: Vec<T>, limit: Option<usize>) -> Vec<T> {
        if let Some(n) = limit {
            v.truncate(n);
        }
        v
    }
    let lim = opts.limit;
    let go = [
        cut(goemotions(&opts.goemotions, "train")?, lim),
        cut(goemotions(&opts.goemotions, "dev")?, lim),
        cut(goemotions(&opts.goemotions, "test")?, lim),
    ];
    let eb = [
        cut(emobank(&opts.emobank, "train")?, lim),
        cut(emobank(&opts.emobank, "dev")?, lim),
        cut(emobank(&opts.emobank, "test")?, lim),
    ];
    let moods = if opts.use_moods {
        let file = opts.moods_file.as_deref();
        [
            cut(data::short_moods(file, "train")?, lim),
            cut(data::short_moods(file, "dev")?, lim),
            cut(data::short_moods(file, "test")?, lim),
        ]
    } else {
        Default::default()
    };
    let songs = match &opts.musicmood {
        Some(dir) => [
            cut(data::musicmood(dir, "train")?, lim),
            cut(data::musicmood(dir, "dev")?, lim),
        ],
        None => Default::default(),
    };
    Ok(Datasets {
        go,
        eb,
        moods,
        songs,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    Emotions,
    Emobank,
    Moods,
    Songs,
}

/// Trains the heads and writes them with their card. `log` gets one line per step of note.
pub fn train(
    files: &ModelFiles,
    opts: &TrainOptions,
    log: &mut dyn FnMut(&str),
) -> Result<TrainReport, TrainError> {
    let start = Instant::now();
    let device = Device::Cpu;
    if opts.tune_from > LAYERS {
        return Err(TrainError::Io(format!(
            "--tune-from must be at most {LAYERS}: MiniLM-L6's layers are 0-{}, and {LAYERS} trains the heads alone",
            LAYERS - 1
        )));
    }
    let d = read_datasets(opts)?;
    log(&format!(
        "data: GoEmotions {}/{}/{}, EmoBank {}/{}/{}, short moods {}/{}/{} (train/dev/test), MusicMood {}/{} songs (train/dev)",
        d.go[0].len(), d.go[1].len(), d.go[2].len(),
        d.eb[0].len(), d.eb[1].len(), d.eb[2].len(),
        d.moods[0].len(), d.moods[1].len(), d.moods[2].len(),
        d.songs[0].len(), d.songs[1].len(),
    ));
    let tokenizer = crate::emotion::encoder::load_tokenizer(&files.tokenizer())?;
    let song_sets = [
        SongSet::new(&tokenizer, &d.songs[0]),
        SongSet::new(&tokenizer, &d.songs[1]),
    ];
    fn texts<T>(v: &[T], text: fn(&T) -> &str) -> Vec<&str> {
        v.iter().map(text).collect()
    }
    let go_texts = |v| texts(v, |e: &GoExample| e.text.as_str());
    let va_texts = |v| texts(v, |e: &VaExample| e.text.as_str());
    // Short moods are trained on as they are read (see `mood_prompt`).
    let prompted = |v: &[MoodExample]| -> Vec<String> {
        v.iter()
            .map(|e| crate::emotion::mood_prompt(&e.text).into_owned())
            .collect()
    };
    let (moods_train, moods_dev) = (prompted(&d.moods[0]), prompted(&d.moods[1]));
    // Texts are cut to `max_tokens` for training and read whole (up to the encoder's limit) for scoring, as the
    // engine reads them; song chunks are always read whole.
    let sets: Vec<(&str, Vec<&str>, usize)> = vec![
        ("go_train", go_texts(&d.go[0]), opts.max_tokens),
        ("go_dev", go_texts(&d.go[1]), MAX_TOKENS),
        ("eb_train", va_texts(&d.eb[0]), opts.max_tokens),
        ("eb_dev", va_texts(&d.eb[1]), MAX_TOKENS),
        (
            "moods_train",
            texts(&moods_train, String::as_str),
            opts.max_tokens,
        ),
        ("moods_dev", texts(&moods_dev, String::as_str), MAX_TOKENS),
        (
            "songs_train",
            texts(&song_sets[0].texts, String::as_str),
            MAX_TOKENS,
        ),
        (
            "songs_dev",
            texts(&song_sets[1].texts, String::as_str),
            MAX_TOKENS,
        ),
    ];
    let features = frozen_features(files, &sets, opts, &device, log)?;
    let [f_go, f_go_dev, f_eb, f_eb_dev, f_moods, f_moods_dev, f_songs, f_songs_dev]: [Features;
        8] = features
        .try_into()
        .map_err(|_| TrainError::Io("feature sets mismatch".into()))?;

    // The model: the tuned layers start from the encoder's weights, the heads from a seeded initialisation.
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed);
    let varmap = VarMap::new();
    {
        // SAFETY: the weights file was verified against its sha256 and is not modified while moodtape runs.
        let mmap = unsafe { candle_core::safetensors::MmapedSafetensors::new(files.weights()) }?;
        let prefixes: Vec<String> = (opts.tune_from..LAYERS)
            .map(|l| format!("encoder.layer.{l}."))
            .collect();
        let mut data = varmap
            .data()
            .lock()
            .map_err(|_| TrainError::Io("var map poisoned".into()))?;
        for (name, _) in mmap.tensors() {
            if prefixes.iter().any(|p| name.starts_with(p)) {
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
        layers: (opts.tune_from..LAYERS)
            .map(|l| TunedLayer::new(vb.pp(format!("encoder.layer.{l}"))))
            .collect::<candle_core::Result<_>>()?,
        emo1: candle_nn::linear(HIDDEN, opts.emotion_hidden, vb.pp("emotion.fc1"))?,
        emo2: candle_nn::linear(opts.emotion_hidden, LABELS.len(), vb.pp("emotion.fc2"))?,
        va1: candle_nn::linear(HIDDEN, opts.va_hidden, vb.pp("va.fc1"))?,
        va2: candle_nn::linear(opts.va_hidden, 2, vb.pp("va.fc2"))?,
    };
    // How sharply the song loss reads a song's valence; learned, and not part of the heads (only the sign of a
    // song's valence is read).
    let sharpness = Var::from_tensor(&Tensor::new(&[SONG_SHARPNESS], &device)?)?;
    // The valence/arousal targets of each training set, one point per example.
    let go_points: Vec<[f32; 2]> = d.go[0].iter().map(label_point).collect();
    let eb_points: Vec<[f32; 2]> = d.eb[0].iter().map(|e| [e.valence, e.arousal]).collect();
    let moods_points: Vec<[f32; 2]> = d.moods[0].iter().map(|e| [e.valence, e.arousal]).collect();
    let batch_points = |points: &[[f32; 2]], idx: &[usize]| -> Vec<f32> {
        idx.iter().flat_map(|&i| points[i]).collect()
    };
    let frames = if opts.va_per_dataset {
        // The short moods are the reference when there are any; EmoBank otherwise.
        let reference_moods = !moods_points.is_empty();
        Some(VaFrames {
            go: VaFrame::new(&go_points, true, &device)?,
            eb: VaFrame::new(&eb_points, reference_moods, &device)?,
            moods: VaFrame::new(&moods_points, false, &device)?,
        })
    } else {
        None
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
    let mut head_params: Vec<Var> = head_vars.into_iter().map(|(_, v)| v).collect();
    head_params.push(sharpness.clone());
    if let Some(f) = &frames {
        for frame in [&f.go, &f.eb, &f.moods] {
            if let Some((a, b)) = &frame.affine {
                head_params.push(a.clone());
                head_params.push(b.clone());
            }
        }
    }
    let mut opt_heads = candle_nn::AdamW::new(head_params, params(opts.lr_heads))?;

    // Class-balanced positive weights: rare labels count more.
    let gold_train = gold_flags(&d.go[0]);
    let pos_weight: Vec<f32> = gold_train
        .iter()
        .map(|g| {
            let pos = g.iter().filter(|&&b| b).count().max(1) as f32;
            let neg = (g.len() as f32 - pos).max(1.0);
            (neg / pos).sqrt().clamp(1.0, 10.0)
        })
        .collect();
    let pos_weight_t = Tensor::from_vec(pos_weight, (1, LABELS.len()), &device)?;
    let mut targets = vec![0f32; d.go[0].len() * LABELS.len()];
    for (i, ex) in d.go[0].iter().enumerate() {
        for &l in &ex.labels {
            targets[i * LABELS.len() + l] = 1.0;
        }
    }
    let song_ids: Vec<usize> = (0..song_sets[0].songs.len())
        .filter(|&i| !song_sets[0].songs[i].is_empty())
        .collect();

    let go_per_epoch = opts.go_per_epoch.unwrap_or(f_go.len()).min(f_go.len());
    let mut go_permutation: Vec<usize> = (0..f_go.len()).collect();
    go_permutation.shuffle(&mut rng);
    let batches_per_epoch = go_per_epoch.div_ceil(opts.batch_size)
        + f_eb.len().div_ceil(opts.batch_size)
        + (f_moods.len() * opts.moods_repeat).div_ceil(opts.batch_size)
        + song_ids.len().div_ceil(opts.songs_per_batch.max(1));
    let total_steps = opts.epochs * batches_per_epoch;
    let warmup = (total_steps / 20).max(1);
    let mut step = 0usize;
    let mut best: Option<(f64, SplitMetrics)> = None;
    let dev_sets = DevSets {
        go: (&f_go_dev, &d.go[1]),
        eb: (&f_eb_dev, &d.eb[1]),
        moods: (&f_moods_dev, &d.moods[1]),
        songs: (&f_songs_dev, &song_sets[1]),
    };
    for epoch in 0..opts.epochs {
        let mut batches: Vec<(Task, Vec<usize>)> = Vec::new();
        let mut windowed = |task: Task, order: Vec<usize>, lens: &[usize], size: usize| {
            // Sorted within windows so batches have similar lengths but still vary from epoch to epoch.
            let mut order = order;
            for window in order.chunks_mut(size * 50) {
                window.sort_by_key(|&i| lens[i]);
                for b in window.chunks(size) {
                    batches.push((task, b.to_vec()));
                }
            }
        };
        let mut shuffled = |n: usize, times: usize| {
            let mut order: Vec<usize> = (0..times).flat_map(|_| 0..n).collect();
            order.shuffle(&mut rng);
            order
        };
        let go_order: Vec<usize> = (0..go_per_epoch)
            .map(|k| go_permutation[(epoch * go_per_epoch + k) % go_permutation.len().max(1)])
            .collect();
        let eb_order = shuffled(f_eb.len(), 1);
        let moods_order = shuffled(f_moods.len(), opts.moods_repeat);
        let mut songs_order = song_ids.clone();
        songs_order.shuffle(&mut rng);
        windowed(Task::Emotions, go_order, &f_go.lens, opts.batch_size);
        windowed(Task::Emobank, eb_order, &f_eb.lens, opts.batch_size);
        windowed(Task::Moods, moods_order, &f_moods.lens, opts.batch_size);
        for b in songs_order.chunks(opts.songs_per_batch.max(1)) {
            batches.push((Task::Songs, b.to_vec()));
        }
        batches.shuffle(&mut rng);
        let epoch_start = Instant::now();
        let mut losses = [(0f64, 0usize); 4];
        for (n, (task, idx)) in batches.iter().enumerate() {
            let lr_scale = if step < warmup {
                (step + 1) as f64 / warmup as f64
            } else {
                ((total_steps - step) as f64 / (total_steps - warmup).max(1) as f64).max(0.02)
            };
            opt_layer.set_learning_rate(opts.lr_layer * lr_scale);
            opt_heads.set_learning_rate(opts.lr_heads * lr_scale);
            let loss = match task {
                Task::Emotions => {
                    let emb = dropped(&model, &f_go, idx, &mut rng, &device)?;
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
                    let loss = weighted_bce(&logits, &y, &pos_weight_t)?;
                    if opts.go_va_weight > 0.0 {
                        let y = batch_points(&go_points, idx);
                        (loss
                            + (va_loss(
                                &model.va(&emb)?,
                                y,
                                frames.as_ref().map(|f| &f.go),
                                &device,
                            )? * f64::from(opts.go_va_weight))?)?
                    } else {
                        loss
                    }
                }
                Task::Emobank => {
                    let emb = dropped(&model, &f_eb, idx, &mut rng, &device)?;
                    let y = batch_points(&eb_points, idx);
                    va_loss(&model.va(&emb)?, y, frames.as_ref().map(|f| &f.eb), &device)?
                }
                Task::Moods => {
                    let emb = dropped(&model, &f_moods, idx, &mut rng, &device)?;
                    let y = batch_points(&moods_points, idx);
                    (va_loss(
                        &model.va(&emb)?,
                        y,
                        frames.as_ref().map(|f| &f.moods),
                        &device,
                    )? * f64::from(opts.moods_weight))?
                }
                Task::Songs => {
                    let loss = song_loss(
                        &model,
                        &f_songs,
                        &song_sets[0],
                        idx,
                        &sharpness,
                        &mut rng,
                        &device,
                    )?;
                    (loss * f64::from(opts.songs_weight))?
                }
            };
            let grads = loss.backward()?;
            opt_layer.step(&grads)?;
            opt_heads.step(&grads)?;
            let slot = &mut losses[*task as usize];
            slot.0 += f64::from(loss.to_scalar::<f32>()?);
            slot.1 += 1;
            step += 1;
            if (n + 1) % 200 == 0 || n + 1 == batches.len() {
                let rate = (n + 1) as f64 / epoch_start.elapsed().as_secs_f64().max(1e-6);
                let mean = |(s, k): (f64, usize)| s / k.max(1) as f64;
                log(&format!(
                    "epoch {}/{} batch {}/{}: loss emotions {:.4}, emobank {:.4}, moods {:.4}, songs {:.4}; {:.2} batches/s, eta {:.0} s",
                    epoch + 1,
                    opts.epochs,
                    n + 1,
                    batches.len(),
                    mean(losses[0]),
                    mean(losses[1]),
                    mean(losses[2]),
                    mean(losses[3]),
                    rate,
                    (batches.len() - n - 1) as f64 / rate.max(1e-6)
                ));
                losses = [(0f64, 0usize); 4];
            }
        }
        // Thresholds and the calibration are chosen on dev, and the best epoch is kept.
        let chosen = choose_on_dev(&model, &dev_sets, &device)?;
        log(&format!(
            "epoch {} dev: {} (prior weight {:?}, sharpness {:.2})",
            epoch + 1,
            chosen.dev.line(),
            chosen.calibration.prior_weight,
            sharpness
                .as_tensor()
                .to_vec1::<f32>()?
                .first()
                .copied()
                .unwrap_or(0.0),
        ));
        let score = chosen.dev.objective();
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            save(
                &varmap,
                opts,
                &chosen,
                epoch + 1,
                &d,
                start.elapsed().as_secs_f64(),
            )?;
            log(&format!("epoch {} saved", epoch + 1));
            best = Some((score, chosen.dev.clone()));
        }
    }
    let train_seconds = start.elapsed().as_secs_f64();
    if !opts.final_scores {
        log(&format!("trained in {train_seconds:.0} s"));
        return Ok(TrainReport {
            dev: best.map(|(_, m)| m).unwrap_or_default(),
            test: SplitMetrics::default(),
            demo: (0, 0),
            seconds: train_seconds,
            safetensors: opts.out.with_extension("safetensors").display().to_string(),
            card: opts.out.with_extension("json").display().to_string(),
        });
    }
    log(&format!(
        "trained in {train_seconds:.0} s; scoring what was written through the engine"
    ));
    let (dev, test, demo) = final_scores(files, opts, &d, log)?;
    // The card gets the scores of the engine that ships; the heads themselves are not touched, so the model key
    // (a hash of the heads and what changes readings) stays the one the scores are for.
    let path = opts.out.with_extension("json");
    let text = std::fs::read_to_string(&path).map_err(|e| io_err("read", &path, e))?;
    let mut card: Card = serde_json::from_str(&text).map_err(|e| TrainError::Io(e.to_string()))?;
    card.metrics = serde_json::json!({
        "note": "moodtape eval on each split with these heads, through the engine",
        "dev": dev,
        "test": test,
        "demo_in_intended_quadrant": demo.0,
        "demo_songs": demo.1,
    });
    if let Some(t) = card.training.as_object_mut() {
        t.insert(
            "train_seconds".into(),
            serde_json::json!(train_seconds.round()),
        );
        t.insert(
            "seconds_with_scoring".into(),
            serde_json::json!(start.elapsed().as_secs_f64().round()),
        );
        t.insert("machine".into(), serde_json::json!(machine()));
    }
    write_card(&card, &path)?;
    Ok(TrainReport {
        dev,
        test,
        demo,
        seconds: start.elapsed().as_secs_f64(),
        safetensors: opts.out.with_extension("safetensors").display().to_string(),
        card: path.display().to_string(),
    })
}

fn go_per_epoch_label(opts: &TrainOptions) -> serde_json::Value {
    opts.go_per_epoch
        .map_or(serde_json::json!("all"), |n| serde_json::json!(n))
}

/// A few words on where training ran, for the card.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "{cores} CPU cores ({}, candle CPU backend)",
        std::env::consts::ARCH
    )
}

/// Embeddings of a batch of one feature set, with dropout.
fn dropped(
    model: &Model,
    feats: &Features,
    idx: &[usize],
    rng: &mut rand::rngs::StdRng,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let (x, mask) = feats.batch(idx, device)?;
    let emb = model.embed(&x, &mask)?;
    let keep = dropout_mask(rng, idx.len(), 0.1, device)?;
    emb.broadcast_mul(&keep)
}

/// Where a GoEmotions text sits on the plane by its labels: the mean of their points (neutral at the origin).
fn label_point(ex: &GoExample) -> [f32; 2] {
    let n = ex.labels.len().max(1) as f32;
    let (v, a) = ex
        .labels
        .iter()
        .filter_map(|&l| crate::emotion::LABEL_VA.get(l))
        .fold((0f32, 0f32), |(v, a), p| (v + p.0, a + p.1));
    [v / n, a / n]
}

/// One valence/arousal dataset's frame (see `TrainOptions::va_per_dataset`): the spread of its targets per axis,
/// and for every dataset but the reference, the learned scale and offset from the head's output to its targets.
struct VaFrame {
    spread: Tensor,
    affine: Option<(Var, Var)>,
}

struct VaFrames {
    go: VaFrame,
    eb: VaFrame,
    moods: VaFrame,
}

impl VaFrame {
    fn new(targets: &[[f32; 2]], learned: bool, device: &Device) -> candle_core::Result<VaFrame> {
        let n = targets.len().max(1) as f32;
        let spread: Vec<f32> = (0..2)
            .map(|k| {
                let mean = targets.iter().map(|t| t[k]).sum::<f32>() / n;
                let var = targets.iter().map(|t| (t[k] - mean).powi(2)).sum::<f32>() / n;
                var.sqrt().max(0.05)
            })
            .collect();
        let spread = Tensor::from_vec(spread, (1, 2), device)?;
        let affine = if learned {
            // Starts as the identity in value units: head output · VA_SCALE / spread.
            let scale = (spread.ones_like()? * f64::from(VA_SCALE))?.div(&spread)?;
            Some((
                Var::from_tensor(&scale)?,
                Var::from_tensor(&spread.zeros_like()?)?,
            ))
        } else {
            None
        };
        Ok(VaFrame { spread, affine })
    }
}

/// Mean squared error of the valence/arousal head against targets in -1..1: in units of `VA_SCALE`, or with a
/// frame, in units of the dataset's own spread through its scale and offset.
fn va_loss(
    out: &Tensor,
    y: Vec<f32>,
    frame: Option<&VaFrame>,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let n = y.len() / 2;
    let y = Tensor::from_vec(y, (n, 2), device)?;
    match frame {
        None => (out - (y / f64::from(VA_SCALE))?)?.sqr()?.mean_all(),
        Some(frame) => {
            let pred = match &frame.affine {
                Some((a, b)) => out
                    .broadcast_mul(a.as_tensor())?
                    .broadcast_add(b.as_tensor())?,
                None => (out * f64::from(VA_SCALE))?.broadcast_div(&frame.spread)?,
            };
            (pred - y.broadcast_div(&frame.spread)?)?.sqr()?.mean_all()
        }
    }
}

/// The logistic loss of songs read happy or sad from their valence: each song's valence is the weighted mean of
/// its chunks' (as `analyze` aggregates it), and `sharpness · valence` is its logit.
fn song_loss(
    model: &Model,
    feats: &Features,
    set: &SongSet,
    songs: &[usize],
    sharpness: &Var,
    rng: &mut rand::rngs::StdRng,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let mut cols: Vec<usize> = Vec::new();
    for &s in songs {
        for &(i, _) in &set.songs[s] {
            if !cols.contains(&i) {
                cols.push(i);
            }
        }
    }
    let mut weights = vec![0f32; songs.len() * cols.len()];
    for (row, &s) in songs.iter().enumerate() {
        let total: f32 = set.songs[s].iter().map(|(_, w)| w).sum::<f32>().max(1e-9);
        for &(i, w) in &set.songs[s] {
            if let Some(col) = cols.iter().position(|&c| c == i) {
                weights[row * cols.len() + col] += w / total;
            }
        }
    }
    let weights = Tensor::from_vec(weights, (songs.len(), cols.len()), device)?;
    let emb = dropped(model, feats, &cols, rng, device)?;
    let valence = (model.va(&emb)?.narrow(1, 0, 1)? * f64::from(VA_SCALE))?;
    let song_valence = weights.matmul(&valence)?;
    let logits = song_valence.broadcast_mul(sharpness.as_tensor())?;
    let y: Vec<f32> = songs
        .iter()
        .map(|&s| if set.happy[s] { 1.0 } else { 0.0 })
        .collect();
    let y = Tensor::from_vec(y, (songs.len(), 1), device)?;
    weighted_bce(&logits, &y, &Tensor::ones((1, 1), DType::F32, device)?)
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

/// The dev splits' frozen features and examples.
struct DevSets<'a> {
    go: (&'a Features, &'a [GoExample]),
    eb: (&'a Features, &'a [VaExample]),
    moods: (&'a Features, &'a [MoodExample]),
    songs: (&'a Features, &'a SongSet),
}

/// What is chosen on dev after an epoch: the thresholds, the calibration, and the scores they give.
struct Chosen {
    thresholds: Vec<f32>,
    ekman_thresholds: Vec<f32>,
    calibration: VaCalibration,
    dev: SplitMetrics,
}

/// Emotion probabilities and valence/arousal (the head's output times `VA_SCALE`, before calibration), one per text.
type Predictions = (Vec<Vec<f32>>, Vec<[f32; 2]>);

fn predict(model: &Model, feats: &Features, device: &Device) -> candle_core::Result<Predictions> {
    let mut order: Vec<usize> = (0..feats.len()).collect();
    order.sort_by_key(|&i| feats.lens[i]);
    let mut probs = vec![Vec::new(); feats.len()];
    let mut va = vec![[0f32; 2]; feats.len()];
    for idx in order.chunks(64) {
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

/// Calibrated valence/arousal points, as the heads read them.
fn points(pred: &Predictions, calibration: &VaCalibration, thresholds: &[f32]) -> Vec<[f32; 2]> {
    pred.0
        .iter()
        .zip(&pred.1)
        .map(|(p, &raw)| calibration.apply(raw, p, thresholds))
        .collect()
}

/// Chooses thresholds on GoEmotions dev, then the calibration that reads valence/arousal best on the other dev
/// splits, and scores the result.
fn choose_on_dev(model: &Model, dev: &DevSets, device: &Device) -> candle_core::Result<Chosen> {
    let (go_probs, _) = predict(model, dev.go.0, device)?;
    let scores = by_label(&go_probs, LABELS.len());
    let gold = gold_flags(dev.go.1);
    let e_scores = ekman_scores(&go_probs);
    let e_gold = ekman_gold(dev.go.1);
    let round = |t: f32| (t * 100.0).round() / 100.0;
    let thresholds: Vec<f32> = scores
        .iter()
        .zip(&gold)
        .map(|(s, g)| round(best_threshold(s, g)))
        .collect();
    let ekman_thresholds: Vec<f32> = e_scores
        .iter()
        .zip(&e_gold)
        .map(|(s, g)| round(best_threshold(s, g)))
        .collect();
    let (go_f1, _) = macro_f1(&scores, &gold, &thresholds);
    let (ekman_f1, _) = macro_f1(&e_scores, &e_gold, &ekman_thresholds);
    let eb = predict(model, dev.eb.0, device)?;
    let moods = predict(model, dev.moods.0, device)?;
    let songs = predict(model, dev.songs.0, device)?;
    let mut best: Option<(f64, VaCalibration, SplitMetrics)> = None;
    for wv in PRIOR_GRID {
        for wa in PRIOR_GRID {
            let calibration = VaCalibration {
                neutral: [0.0, 0.0],
                prior_weight: [wv, wa],
            };
            let mut m = va_metrics(
                &eb,
                dev.eb.1,
                &moods,
                dev.moods.1,
                &songs,
                dev.songs.1,
                &calibration,
                &thresholds,
            );
            m.macro_f1 = go_f1;
            m.ekman_macro_f1 = ekman_f1;
            let score = m.va_objective();
            // Strictly better only: ties keep the smaller weights, the head alone first.
            if best.as_ref().is_none_or(|(s, _, _)| score > *s + 1e-9) {
                best = Some((score, calibration, m));
            }
        }
    }
    let (_, calibration, dev) = best.unwrap_or_default();
    Ok(Chosen {
        thresholds,
        ekman_thresholds,
        calibration,
        dev,
    })
}

/// Valence/arousal scores of one calibration on EmoBank, short moods and songs.
#[allow(clippy::too_many_arguments)]
fn va_metrics(
    eb: &Predictions,
    eb_gold: &[VaExample],
    moods: &Predictions,
    moods_gold: &[MoodExample],
    songs: &Predictions,
    song_set: &SongSet,
    calibration: &VaCalibration,
    thresholds: &[f32],
) -> SplitMetrics {
    let eb_points = points(eb, calibration, thresholds);
    let moods_points = points(moods, calibration, thresholds);
    let axis = |p: &[[f32; 2]], k: usize| p.iter().map(|x| x[k]).collect::<Vec<f32>>();
    let mut m = SplitMetrics {
        pearson_valence: pearson(
            &axis(&eb_points, 0),
            &eb_gold.iter().map(|e| e.valence).collect::<Vec<_>>(),
        ),
        pearson_arousal: pearson(
            &axis(&eb_points, 1),
            &eb_gold.iter().map(|e| e.arousal).collect::<Vec<_>>(),
        ),
        moods_quadrant_accuracy: moods_points
            .iter()
            .zip(moods_gold)
            .filter(|(p, g)| Quadrant::of(p[0], p[1]) == g.quadrant)
            .count() as f64
            / moods_gold.len().max(1) as f64,
        moods_pearson_valence: pearson(
            &axis(&moods_points, 0),
            &moods_gold.iter().map(|e| e.valence).collect::<Vec<_>>(),
        ),
        moods_pearson_arousal: pearson(
            &axis(&moods_points, 1),
            &moods_gold.iter().map(|e| e.arousal).collect::<Vec<_>>(),
        ),
        ..Default::default()
    };
    if !song_set.songs.is_empty() {
        let pts = points(songs, calibration, thresholds);
        let valence = song_set.valences(&pts);
        m.songs_accuracy = Some(super::eval::sign_accuracy(&valence, &song_set.happy));
        m.songs_roc_auc = Some(roc_auc(&valence, &song_set.happy));
    }
    m
}

/// Scores the written heads through a real engine, on every dev and test split and the demo library: the numbers
/// `moodtape eval` gives once they ship.
fn final_scores(
    files: &ModelFiles,
    opts: &TrainOptions,
    d: &Datasets,
    log: &mut dyn FnMut(&str),
) -> Result<(SplitMetrics, SplitMetrics, (usize, usize)), TrainError> {
    let st = opts.out.with_extension("safetensors");
    let bytes = std::fs::read(&st).map_err(|e| io_err("read", &st, e))?;
    let path = opts.out.with_extension("json");
    let text = std::fs::read_to_string(&path).map_err(|e| io_err("read", &path, e))?;
    let card: Card = serde_json::from_str(&text).map_err(|e| TrainError::Io(e.to_string()))?;
    let device = Device::Cpu;
    let (heads, overlay) = Heads::from_bytes(&bytes, &card, &device, HIDDEN)?;
    let mut encoder = crate::emotion::encoder::Encoder::load(
        files,
        &overlay,
        &device,
        DType::F32,
        crate::emotion::encoder::CpuPass::Packed { fast: false },
    )?;
    encoder.use_workers(
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8),
    );
    let engine = Engine::from_parts(encoder, heads, files.clone(), 32);
    let e = |err: anyhow::Error| TrainError::Eval(format!("{err:#}"));
    let mut out = [SplitMetrics::default(), SplitMetrics::default()];
    for (k, split) in ["dev", "test"].into_iter().enumerate() {
        let go = super::eval::score_goemotions(&engine, &card, &d.go[k + 1], split).map_err(e)?;
        let eb = super::eval::score_emobank(&engine, &d.eb[k + 1], split).map_err(e)?;
        let m = &mut out[k];
        m.macro_f1 = go.macro_f1;
        m.ekman_macro_f1 = go.ekman_macro_f1;
        m.pearson_valence = eb.pearson_valence;
        m.pearson_arousal = eb.pearson_arousal;
        if !d.moods[k + 1].is_empty() {
            let moods = super::eval::score_moods(&engine, &d.moods[k + 1], split).map_err(e)?;
            m.moods_quadrant_accuracy = moods.quadrant_accuracy;
            m.moods_pearson_valence = moods.pearson_valence;
            m.moods_pearson_arousal = moods.pearson_arousal;
        }
        if split == "dev" && !d.songs[1].is_empty() {
            let songs = super::eval::score_musicmood(&engine, &d.songs[1], split).map_err(e)?;
            m.songs_accuracy = Some(songs.accuracy);
            m.songs_roc_auc = Some(songs.roc_auc);
        }
        log(&format!("{split} (engine): {}", m.line()));
    }
    let demo = super::eval::demo(&engine, opts.limit).map_err(e)?;
    log(&format!(
        "demo (engine): {} of {} songs in their intended quadrant",
        demo.in_intended_quadrant, demo.examples
    ));
    let [dev, test] = out;
    Ok((dev, test, (demo.in_intended_quadrant, demo.examples)))
}

fn write_card(card: &Card, path: &Path) -> Result<(), TrainError> {
    let json = serde_json::to_string_pretty(card).map_err(|e| TrainError::Io(e.to_string()))?;
    std::fs::write(path, json + "\n").map_err(|e| io_err("write", path, e))
}

fn save(
    varmap: &VarMap,
    opts: &TrainOptions,
    chosen: &Chosen,
    epoch: usize,
    d: &Datasets,
    seconds: f64,
) -> Result<(), TrainError> {
    if let Some(parent) = opts.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| io_err("create", parent, e))?;
    }
    let st = opts.out.with_extension("safetensors");
    varmap.save(&st)?;
    let sizes = |t: usize, v: usize, s: usize| [t, v, s];
    let mut data = vec![
        DataUse {
            name: "GoEmotions (Demszky et al., 2020)".into(),
            license: "Apache-2.0".into(),
            train_dev_test: sizes(d.go[0].len(), d.go[1].len(), d.go[2].len()),
            used_for: "emotion head; thresholds chosen on dev".into(),
        },
        DataUse {
            name: "EmoBank (Buechel & Hahn, 2017)".into(),
            license: "CC BY-SA 4.0".into(),
            train_dev_test: sizes(d.eb[0].len(), d.eb[1].len(), d.eb[2].len()),
            used_for: "valence/arousal head, as (x - 3) / 2".into(),
        },
    ];
    if opts.use_moods {
        data.push(DataUse {
            name: "moodtape short moods (data/moods/short_moods.tsv)".into(),
            license: "written for moodtape, under the project's license".into(),
            train_dev_test: sizes(d.moods[0].len(), d.moods[1].len(), d.moods[2].len()),
            used_for: format!(
                "valence/arousal head (loss weight {}, seen {} times an epoch); dev for choices, test only scored",
                opts.moods_weight, opts.moods_repeat
            ),
        });
    }
    if opts.musicmood.is_some() {
        data.push(DataUse {
            name: "MusicMood (Raschka, 2014)".into(),
            license: "GPL-3.0; used for training and evaluation only, not redistributed".into(),
            train_dev_test: sizes(d.songs[0].len(), d.songs[1].len(), 0),
            used_for: format!(
                "song valence: logistic loss on the token-weighted mean of chunk valences (weight {}); split \
                 stratified by mood with seed {}; its test set is scored elsewhere",
                opts.songs_weight,
                data::MUSICMOOD_SEED
            ),
        });
    }
    let card = Card {
        format: 1,
        encoder: "sentence-transformers/all-MiniLM-L6-v2".into(),
        encoder_sha256: crate::emotion::ENCODER_SHA256.into(),
        labels: LABELS.iter().map(|s| s.to_string()).collect(),
        thresholds: chosen.thresholds.clone(),
        ekman: EKMAN.iter().map(|s| s.to_string()).collect(),
        ekman_thresholds: chosen.ekman_thresholds.clone(),
        va_scale: VA_SCALE,
        va_prior_weight: chosen.calibration.prior_weight,
        va_neutral: chosen.calibration.neutral,
        emotion_hidden: opts.emotion_hidden,
        va_hidden: opts.va_hidden,
        tuned_layers: (opts.tune_from..LAYERS).collect(),
        data: data
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()
            .map_err(|e| TrainError::Io(e.to_string()))?,
        training: serde_json::json!({
            "epochs_run": epoch,
            "epochs": opts.epochs,
            "seed": opts.seed,
            "batch_size": opts.batch_size,
            "songs_per_batch": opts.songs_per_batch,
            "goemotions_per_epoch": go_per_epoch_label(opts),
            "tune_from": opts.tune_from,
            "moods_weight": opts.moods_weight,
            "goemotions_va_weight": opts.go_va_weight,
            "moods_repeat": opts.moods_repeat,
            "songs_weight": opts.songs_weight,
            "va_per_dataset": opts.va_per_dataset,
            "max_tokens": opts.max_tokens,
            "lr_layer": opts.lr_layer,
            "lr_heads": opts.lr_heads,
            "limit": opts.limit,
            "loss": format!(
                "class-balanced BCE on the 28 labels (pos_weight = sqrt(neg/pos), 1..10) + MSE on valence/arousal \
                 (EmoBank, short moods, and GoEmotions texts at the mean LABEL_VA point of their labels){} + \
                 logistic loss on song valence (MusicMood)",
                if opts.va_per_dataset {
                    ", each dataset in its own frame: targets in units of their spread per axis, reached from the \
                     head through a learned scale and offset (the short moods' frame is the head's own)"
                } else {
                    ", all in units of va_scale"
                }
            ),
            "fine_tuned": format!(
                "encoder {} and both heads; layers below {} frozen",
                if opts.tune_from + 1 == LAYERS {
                    format!("layer {}", opts.tune_from)
                } else {
                    format!("layers {}-{}", opts.tune_from, LAYERS - 1)
                },
                opts.tune_from
            ),
            "chosen_on_dev": "the epoch, the thresholds, and va_prior_weight (grid 0-0.4 per axis)",
            "seconds_at_save": seconds.round(),
        }),
        metrics: serde_json::json!({ "dev_during_training": chosen.dev }),
    };
    write_card(&card, &opts.out.with_extension("json"))
}

/// The frozen layers' outputs for every set, from the cache when it holds them.
fn frozen_features(
    files: &ModelFiles,
    sets: &[(&str, Vec<&str>, usize)],
    opts: &TrainOptions,
    device: &Device,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<Features>, TrainError> {
    let mut h = Sha256::new();
    h.update(crate::emotion::ENCODER_SHA256.as_bytes());
    h.update(format!("layers<{}", opts.tune_from).as_bytes());
    for (name, texts, max) in sets {
        h.update(format!("{name} max{max}").as_bytes());
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
    config.num_hidden_layers = opts.tune_from;
    // SAFETY: the weights file was verified against its sha256 and is not modified while moodtape runs.
    let vb =
        unsafe { VarBuilder::from_mmaped_safetensors(&[files.weights()], DType::F32, device) }?;
    let model = candle_transformers::models::bert::BertModel::load(vb, &config)?;
    let tokenizer = crate::emotion::encoder::load_tokenizer(&files.tokenizer())?;
    let mut out = Vec::new();
    let total: usize = sets.iter().map(|(_, t, _)| t.len()).sum();
    let mut done = 0usize;
    let t0 = Instant::now();
    for (name, texts, max) in sets {
        let ids = crate::emotion::encoder::tokenize_with(&tokenizer, texts, *max)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_learned_frame_starts_as_the_reference_and_reads_targets_in_their_own_spread() {
        let device = Device::Cpu;
        // Head outputs in units of VA_SCALE: value points (0.2, -0.4) and (-0.6, 0.2).
        let out = Tensor::new(&[[1f32, -2.0], [-3.0, 1.0]], &device).unwrap();
        let y = vec![0.4f32, -0.2, -0.4, 0.4];
        let targets = [[0.4f32, -0.2], [-0.4, 0.4]];
        let loss = |frame: Option<&VaFrame>| {
            va_loss(&out, y.clone(), frame, &device)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        let reference = VaFrame::new(&targets, false, &device).unwrap();
        let learned = VaFrame::new(&targets, true, &device).unwrap();
        assert!(reference.affine.is_none() && learned.affine.is_some());
        // Spread: 0.4 on valence, 0.3 on arousal. Errors in value units (-0.2, -0.2), (-0.2, -0.2), read in those
        // units: (0.5² + 0.667² + 0.5² + 0.667²) / 4.
        let want = (0.25 + (0.2f32 / 0.3).powi(2)) / 2.0;
        assert!(
            (loss(Some(&reference)) - want).abs() < 1e-5,
            "{}",
            loss(Some(&reference))
        );
        assert!((loss(Some(&learned)) - want).abs() < 1e-5);
        // Without frames, errors are read in units of VA_SCALE: (1² + 1² + 1² + 1²) / 4.
        assert!((loss(None) - 1.0).abs() < 1e-5);
        // A frame's spread never falls below 0.05, so near-constant targets cannot blow the loss up.
        let flat = VaFrame::new(&[[0.1, 0.1], [0.1, 0.1]], true, &device).unwrap();
        let spread = flat.spread.to_vec2::<f32>().unwrap();
        assert_eq!(spread, vec![vec![0.05, 0.05]]);
    }
}
