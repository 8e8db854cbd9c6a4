//! `train`, `eval` and `bench`: the lab, off the user's path.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};

use super::{print_json, Hooks};
use crate::emotion::fetch::fetch;
use crate::emotion::heads::card;
use crate::emotion::Engine;
use crate::lab::bench::{self, bench_texts};
use crate::lab::bench_ui::{self, UiBench};
use crate::lab::eval::{self, dataset_dir};
use crate::lab::train::{train, TrainOptions};
use crate::service::{Context, Flags};

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The GoEmotions folder (train.tsv, dev.tsv, test.tsv)
    #[arg(long, value_name = "DIR")]
    pub goemotions: Option<PathBuf>,
    /// The EmoBank folder (emobank.csv)
    #[arg(long, value_name = "DIR")]
    pub emobank: Option<PathBuf>,
    /// The MusicMood folder (train_lyrics_1000.csv): song valence is trained on its train split
    #[arg(long, value_name = "DIR")]
    pub musicmood: Option<PathBuf>,
    /// Train without MusicMood
    #[arg(long, conflicts_with = "musicmood")]
    pub no_musicmood: bool,
    /// A short moods file like data/moods/short_moods.tsv (default: the one compiled in)
    #[arg(long, value_name = "FILE")]
    pub moods: Option<PathBuf>,
    /// Train without the short moods
    #[arg(long, conflicts_with = "moods")]
    pub no_moods: bool,
    /// Output prefix: writes PREFIX.safetensors and PREFIX.json
    #[arg(long, default_value = "models/heads")]
    pub out: PathBuf,
    /// Epochs to train; the one that scores best on the dev splits is kept
    #[arg(long, default_value_t = TrainOptions::DEFAULT_EPOCHS)]
    pub epochs: usize,
    #[arg(long, default_value_t = TrainOptions::DEFAULT_SEED)]
    pub seed: u64,
    /// The first encoder layer to fine-tune (0-5): it and the layers above it are trained; 6 trains the heads alone
    #[arg(long)]
    pub tune_from: Option<usize>,
    /// Learning rate of the fine-tuned encoder layers
    #[arg(long)]
    pub lr_layer: Option<f64>,
    /// Learning rate of the heads
    #[arg(long)]
    pub lr_heads: Option<f64>,
    /// Loss weight of the short moods, and how many times an epoch they are seen
    #[arg(long)]
    pub moods_weight: Option<f32>,
    #[arg(long)]
    pub moods_repeat: Option<usize>,
    /// GoEmotions examples per epoch (default: all; later epochs go on where the last one stopped)
    #[arg(long)]
    pub go_per_epoch: Option<usize>,
    /// Loss weight of valence/arousal on GoEmotions texts, placed at their labels' points (0: off)
    #[arg(long)]
    pub go_va_weight: Option<f32>,
    /// Loss weight of the MusicMood songs
    #[arg(long)]
    pub songs_weight: Option<f32>,
    /// Learn every valence/arousal dataset in one frame, in units of the heads' va_scale (by default each dataset
    /// has its own: its targets in units of their spread, reached from the shared head through a learned scale
    /// and offset, the short moods being the head's own frame)
    #[arg(long)]
    pub va_one_frame: bool,
    /// Train on at most N examples of each dataset split (a quick check of the pipeline)
    #[arg(long)]
    pub limit: Option<usize>,
    /// Skip scoring the written heads on every split at the end (the card then has dev scores only)
    #[arg(long)]
    pub no_final_scores: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EvalSet {
    /// GoEmotions: macro-F1 over the 28 labels and the Ekman groups
    Goemotions,
    /// EmoBank: Pearson r of valence and arousal
    Emobank,
    /// MusicMood song lyrics (happy/sad), read as `analyze` reads songs: accuracy and ROC AUC of valence
    Musicmood,
    /// moodtape's short moods, read as `mood` reads text: quadrant accuracy and Pearson r
    Moods,
    /// The demo library: songs read in the quadrant they were written for
    Demo,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    pub dataset: EvalSet,
    /// train, dev or test (default: test; dev for musicmood, whose test set is kept elsewhere)
    #[arg(long)]
    pub split: Option<String>,
    /// The dataset folder (default: ../shared/datasets/<name>, or $MOODTAPE_DATASETS/<name>); for moods, a TSV
    /// file like data/moods/short_moods.tsv (default: the one compiled in)
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
    /// The whole analysis path (chunking, encoder, heads, database writes) on generated songs, beside the
    /// encoder alone on the same chunks
    Analyze {
        /// How many generated songs
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=2_000_000))]
        songs: u64,
        /// Seed of the generated lyrics
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Songs per analysis batch (default: 128 on the CPU, 2048 on a GPU)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000))]
        songs_per_batch: Option<u64>,
        /// Also write the distinct chunks analysis reads as JSONL, so the peer script can embed the same texts
        #[arg(long, value_name = "FILE")]
        chunks_out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Writes generated bench inputs as JSONL (`{"text": ...}` per line), for `bench embed --texts` and the
    /// peer script in benches/peer
    Texts {
        /// stanza (50-120 tokens) or song (a whole lyric with repeated choruses)
        #[arg(long, value_enum, default_value = "stanza")]
        kind: bench::TextKind,
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        count: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write (default: standard output)
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// The TUI on a generated library: first frame, memory, and filter keystrokes with both fuzzy matchers
    Ui(BenchUiArgs),
}

#[derive(Debug, Args)]
pub struct BenchUiArgs {
    /// Songs in the generated library
    #[arg(long, default_value_t = 100_000)]
    pub songs: usize,
    #[arg(long)]
    pub json: bool,
    /// Where generated libraries are kept and reused (default: moodtape-bench-ui under the temp dir)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Only write the library; the bench runs this in a process of its own so the measurement starts clean
    #[arg(long, hide = true)]
    pub generate_only: bool,
}

fn load_engine(ctx: &Context) -> anyhow::Result<Engine> {
    Ok(Engine::load(&ctx.engine_options(true))?)
}

pub fn run_train(ctx: &Context, args: TrainArgs) -> anyhow::Result<i32> {
    let go = dataset_dir(args.goemotions.as_deref(), "goemotions")?;
    let eb = dataset_dir(args.emobank.as_deref(), "emobank")?;
    let mm = if args.no_musicmood {
        None
    } else {
        Some(dataset_dir(args.musicmood.as_deref(), "musicmood")?)
    };
    let opts = ctx.engine_options(true);
    let files = fetch(&opts.fetch)?;
    let mut topts = TrainOptions::new(
        go,
        eb,
        mm,
        args.out.clone(),
        ctx.paths.cache_dir.join("train"),
    );
    topts.epochs = args.epochs.max(1);
    topts.seed = args.seed;
    topts.limit = args.limit;
    topts.final_scores = !args.no_final_scores;
    topts.moods_file = args.moods.clone();
    topts.use_moods = !args.no_moods;
    topts.tune_from = args.tune_from.unwrap_or(topts.tune_from);
    topts.lr_layer = args.lr_layer.unwrap_or(topts.lr_layer);
    topts.lr_heads = args.lr_heads.unwrap_or(topts.lr_heads);
    topts.moods_weight = args.moods_weight.unwrap_or(topts.moods_weight);
    topts.moods_repeat = args.moods_repeat.unwrap_or(topts.moods_repeat);
    topts.songs_weight = args.songs_weight.unwrap_or(topts.songs_weight);
    topts.go_per_epoch = args.go_per_epoch;
    topts.go_va_weight = args.go_va_weight.unwrap_or(topts.go_va_weight);
    topts.va_per_dataset = !args.va_one_frame;
    let report = train(&files, &topts, &mut |line| errln!("train: {line}"))?;
    outln!(
        "wrote {} and {} in {:.0} s\n  dev:  {}\n  test: {}\n  demo: {} of {} songs in their intended quadrant",
        report.safetensors,
        report.card,
        report.seconds,
        report.dev.line(),
        report.test.line(),
        report.demo.0,
        report.demo.1
    );
    outln!("rebuild moodtape to ship the new heads (they are compiled in)");
    Ok(0)
}

pub fn run_eval(ctx: &Context, args: EvalArgs) -> anyhow::Result<i32> {
    let split = args.split.clone().unwrap_or_else(|| {
        match args.dataset {
            EvalSet::Musicmood => "dev",
            _ => "test",
        }
        .to_string()
    });
    // Datasets are found before the model loads, so a wrong path fails at once.
    let dir = match args.dataset {
        EvalSet::Goemotions => Some(dataset_dir(args.data.as_deref(), "goemotions")?),
        EvalSet::Emobank => Some(dataset_dir(args.data.as_deref(), "emobank")?),
        EvalSet::Musicmood => Some(dataset_dir(args.data.as_deref(), "musicmood")?),
        EvalSet::Moods | EvalSet::Demo => None,
    };
    let dir = dir.unwrap_or_default();
    let engine = load_engine(ctx)?;
    match args.dataset {
        EvalSet::Goemotions => {
            let out = eval::goemotions(&engine, &card()?, &dir, &split)?;
            if args.json {
                print_json(&out)?;
            } else {
                outln!("GoEmotions {} ({} texts)", out.split, out.examples);
                outln!("  macro-F1 (28 labels) {:.4}", out.macro_f1);
                outln!("  Ekman macro-F1       {:.4}", out.ekman_macro_f1);
                for (l, f) in &out.per_label {
                    outln!("    {l:<15} {f:.3}");
                }
            }
        }
        EvalSet::Emobank => {
            let out = eval::emobank(&engine, &dir, &split)?;
            if args.json {
                print_json(&out)?;
            } else {
                outln!("EmoBank {} ({} texts)", out.split, out.examples);
                outln!("  Pearson r valence {:.4}", out.pearson_valence);
                outln!("  Pearson r arousal {:.4}", out.pearson_arousal);
            }
        }
        EvalSet::Musicmood => {
            let out = eval::musicmood(&engine, &dir, &split)?;
            if args.json {
                print_json(&out)?;
            } else {
                outln!("MusicMood {} ({} songs)", out.split, out.examples);
                outln!("  accuracy (happy when valence > 0) {:.4}", out.accuracy);
                outln!("  ROC AUC of valence                {:.4}", out.roc_auc);
                outln!(
                    "  accuracy, most / least confident half {:.4} / {:.4}",
                    out.accuracy_confident_half,
                    out.accuracy_other_half
                );
                if out.skipped_language > 0 {
                    outln!(
                        "  {} songs left unread for their language (counted as valence 0)",
                        out.skipped_language
                    );
                }
            }
        }
        EvalSet::Moods => {
            let out = eval::moods(&engine, args.data.as_deref(), &split)?;
            if args.json {
                print_json(&out)?;
            } else {
                outln!("short moods {} ({} texts)", out.split, out.examples);
                outln!("  quadrant accuracy {:.4}", out.quadrant_accuracy);
                outln!("  Pearson r valence {:.4}", out.pearson_valence);
                outln!("  Pearson r arousal {:.4}", out.pearson_arousal);
                for (gold, row) in &out.confusion {
                    let cells: Vec<String> =
                        row.iter().map(|(q, n)| format!("{q} {n:>3}")).collect();
                    outln!("    {gold} read as  {}", cells.join("  "));
                }
            }
        }
        EvalSet::Demo => {
            let out = eval::demo(&engine, None)?;
            if args.json {
                print_json(&out)?;
            } else {
                outln!(
                    "demo library: {} of {} songs in the quadrant they were written for",
                    out.in_intended_quadrant,
                    out.examples
                );
                for miss in &out.missed {
                    outln!("    {miss}");
                }
            }
        }
    }
    Ok(0)
}

pub fn run_bench(ctx: &Context, cmd: BenchCommand, hooks: &Hooks) -> anyhow::Result<i32> {
    let (texts, json, batch) = match cmd {
        BenchCommand::Embed { texts, json, batch } => (texts, json, batch),
        BenchCommand::Ui(args) => return run_bench_ui(ctx, args, hooks),
        BenchCommand::Analyze {
            songs,
            seed,
            songs_per_batch,
            chunks_out,
            json,
        } => {
            return run_bench_analyze(
                ctx,
                songs as usize,
                seed,
                songs_per_batch.map(|n| n as usize),
                chunks_out,
                json,
            )
        }
        BenchCommand::Texts {
            kind,
            count,
            seed,
            out,
        } => return run_bench_texts(kind, count as usize, seed, out),
    };
    let texts: Vec<String> = match texts {
        None => bench_texts(),
        Some(path) => bench::read_texts(&path)?,
    };
    anyhow::ensure!(!texts.is_empty(), "no texts to bench");
    let engine = load_engine(ctx)?;
    let result = bench::embed(&engine, &texts, batch)?;
    if json {
        print_json(&result)?;
    } else {
        outln!(
            "embed: {} texts, {} tokens on {} in {}\n  moodtape   {:>7.1} texts/s  {:>9.0} tokens/s\n  reference  {:>7.1} texts/s  {:>9.0} tokens/s  (moodtape is {:.2}x)\n  peak RSS   {:.0} MB",
            result.texts,
            result.tokens,
            result.device,
            result.precision,
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

fn run_bench_analyze(
    ctx: &Context,
    songs: usize,
    seed: u64,
    songs_per_batch: Option<usize>,
    chunks_out: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<i32> {
    let engine = load_engine(ctx)?;
    if let Some(n) = songs_per_batch {
        crate::emotion::analyze::set_songs_per_batch(n);
    }
    // A database of its own, removed afterwards: the user's library is never touched.
    let dir = std::env::temp_dir().join(format!("moodtape-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = bench::analyze(&engine, songs, seed, &dir, chunks_out.as_deref());
    let _ = std::fs::remove_dir_all(&dir);
    let result = result?;
    if json {
        print_json(&result)?;
    } else {
        outln!(
            "analyze: {} songs, {} distinct chunks, {} tokens on {} in {}\n  analysis       {:>8.1} songs/s  {:>9.0} tokens/s\n  encoder alone                    {:>9.0} tokens/s  (analysis keeps it {:.0}% busy)\n  peak RSS       {:.0} MB",
            result.songs,
            result.chunks,
            result.tokens,
            result.device,
            result.precision,
            result.songs_per_s,
            result.tokens_per_s,
            result.encoder_alone.tokens_per_s,
            result.encoder_alone.share * 100.0,
            result.peak_rss_mb
        );
    }
    Ok(0)
}

fn run_bench_ui(ctx: &Context, args: BenchUiArgs, hooks: &Hooks) -> anyhow::Result<i32> {
    anyhow::ensure!(args.songs > 0, "--songs must be at least 1");
    let dir = bench_ui::library_dir(args.dir.as_deref(), args.songs);
    if args.generate_only {
        let step = (args.songs / 10).max(1);
        bench_ui::generate(&dir, args.songs, &mut |done| {
            if done % step == 0 || done == args.songs {
                errln!("bench ui: wrote {done} of {} songs", args.songs);
            }
        })?;
        return Ok(0);
    }
    let generated = !bench_ui::is_ready(&dir, args.songs);
    if generated {
        generate_apart(ctx, &args)?;
    }
    let flags = Flags {
        db: Some(bench_ui::database(&dir)),
        config: ctx.config_path.is_file().then(|| ctx.config_path.clone()),
        offline: true,
        theme: Some(ctx.theme.clone()),
        ..Flags::default()
    };
    let mut result = (hooks.bench_ui)(&Context::new(&flags)?)?;
    result.generated = generated;
    if args.json {
        print_json(&result)?;
    } else {
        print_ui_bench(&result);
    }
    Ok(0)
}

fn run_bench_texts(
    kind: bench::TextKind,
    count: usize,
    seed: u64,
    out: Option<PathBuf>,
) -> anyhow::Result<i32> {
    let texts = bench::generate_texts(kind, count, seed);
    match out {
        Some(path) => {
            bench::write_texts(&path, &texts)?;
            errln!("wrote {count} texts to {}", path.display());
        }
        None => out!("{}", bench::texts_jsonl(&texts)?),
    }
    Ok(0)
}

/// Writes the library in a process of its own, so none of its memory counts in the measurement.
fn generate_apart(ctx: &Context, args: &BenchUiArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the moodtape binary")?;
    let mut cmd = std::process::Command::new(exe);
    if ctx.config_path.is_file() {
        cmd.arg("--config").arg(&ctx.config_path);
    }
    cmd.args(["bench", "ui", "--generate-only", "--songs"])
        .arg(args.songs.to_string());
    if let Some(dir) = &args.dir {
        cmd.arg("--dir").arg(dir);
    }
    errln!("bench ui: generating a library of {} songs", args.songs);
    let status = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .context("cannot run the library generator")?;
    anyhow::ensure!(status.success(), "generating the library failed ({status})");
    Ok(())
}

fn print_ui_bench(r: &UiBench) {
    outln!(
        "ui: {} songs ({} analyzed), terminal {}{}",
        r.songs,
        r.analyzed,
        r.terminal,
        if r.generated {
            ", library generated"
        } else {
            ""
        }
    );
    outln!(
        "  first frame        {:>8.1} ms   RSS {:>6.1} MB (peak {:.1} MB)",
        r.first_frame_ms,
        r.after_first_frame.rss_mb,
        r.after_first_frame.peak_rss_mb
    );
    for step in &r.first_frame_steps {
        outln!(
            "    {:<34} {:>8.1} ms   RSS {:>6.1} MB",
            step.step,
            step.ms,
            step.rss_mb
        );
    }
    outln!(
        "  analyses read in   {:>8.1} ms   RSS {:>6.1} MB (peak {:.1} MB)",
        r.moods_loaded_ms,
        r.after_moods.rss_mb,
        r.after_moods.peak_rss_mb
    );
    outln!(
        "  filter keystrokes ({} queries, typed a key at a time, until the list and frame are done):",
        r.queries.len()
    );
    outln!(
        "    {:<16} {:>9} {:>9} {:>9}",
        "matcher",
        "mean ms",
        "p95 ms",
        "max ms"
    );
    for f in &r.filter {
        outln!(
            "    {:<16} {:>9.2} {:>9.2} {:>9.2}",
            f.matcher,
            f.keystroke.mean_ms,
            f.keystroke.p95_ms,
            f.keystroke.max_ms
        );
    }
    for (i, q) in r.queries.iter().enumerate() {
        let found: Vec<String> = r
            .filter
            .iter()
            .map(|f| format!("{} {}", f.matcher, f.found.get(i).copied().unwrap_or(0)))
            .collect();
        outln!("    {q:?}: found {}", found.join(", "));
    }
}
