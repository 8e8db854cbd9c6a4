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
    let opts = ctx.engine_options(true);
    let files = fetch(&opts.fetch)?;
    let mut topts = TrainOptions::new(go, eb, args.out.clone(), ctx.paths.cache_dir.join("train"));
    topts.epochs = args.epochs.max(1);
    topts.seed = args.seed;
    topts.limit = args.limit;
    let report = train(&files, &topts, &mut |line| errln!("train: {line}"))?;
    outln!(
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
    outln!("rebuild moodtape to ship the new heads (they are compiled in)");
    Ok(0)
}

pub fn run_eval(ctx: &Context, args: EvalArgs) -> anyhow::Result<i32> {
    let engine = load_engine(ctx)?;
    match args.dataset {
        EvalSet::Goemotions => {
            let dir = dataset_dir(args.data.as_deref(), "goemotions")?;
            let out = eval::goemotions(&engine, &card()?, &dir, &args.split)?;
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
            let dir = dataset_dir(args.data.as_deref(), "emobank")?;
            let out = eval::emobank(&engine, &dir, &args.split)?;
            if args.json {
                print_json(&out)?;
            } else {
                outln!("EmoBank {} ({} texts)", out.split, out.examples);
                outln!("  Pearson r valence {:.4}", out.pearson_valence);
                outln!("  Pearson r arousal {:.4}", out.pearson_arousal);
            }
        }
    }
    Ok(0)
}

pub fn run_bench(ctx: &Context, cmd: BenchCommand, hooks: &Hooks) -> anyhow::Result<i32> {
    let (texts, json, batch) = match cmd {
        BenchCommand::Embed { texts, json, batch } => (texts, json, batch),
        BenchCommand::Ui(args) => return run_bench_ui(ctx, args, hooks),
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
