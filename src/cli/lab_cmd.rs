//! `train`, `eval` and `bench`: the lab, off the user's path.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::print_json;
use crate::emotion::fetch::fetch;
use crate::emotion::heads::card;
use crate::emotion::Engine;
use crate::lab::bench::{self, bench_texts};
use crate::lab::eval::{self, dataset_dir};
use crate::lab::train::{train, TrainOptions};
use crate::service::Context;

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
    /// The whole analysis path (chunking, encoder, heads, database writes) on generated songs, beside the
    /// encoder alone on the same chunks
    Analyze {
        /// How many generated songs
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=2_000_000))]
        songs: u64,
        /// Seed of the generated lyrics
        #[arg(long, default_value_t = 1)]
        seed: u64,
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

pub fn run_bench(ctx: &Context, cmd: BenchCommand) -> anyhow::Result<i32> {
    let (texts, json, batch) = match cmd {
        BenchCommand::Embed { texts, json, batch } => (texts, json, batch),
        BenchCommand::Analyze { songs, seed, json } => {
            return run_bench_analyze(ctx, songs as usize, seed, json)
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

fn run_bench_analyze(ctx: &Context, songs: usize, seed: u64, json: bool) -> anyhow::Result<i32> {
    let engine = load_engine(ctx)?;
    // A database of its own, removed afterwards: the user's library is never touched.
    let dir = std::env::temp_dir().join(format!("moodtape-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = bench::analyze(&engine, songs, seed, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    let result = result?;
    if json {
        print_json(&result)?;
    } else {
        outln!(
            "analyze: {} songs, {} distinct chunks, {} tokens on {}\n  analysis       {:>8.1} songs/s  {:>9.0} tokens/s\n  encoder alone                    {:>9.0} tokens/s  (analysis keeps it {:.0}% busy)\n  peak RSS       {:.0} MB",
            result.songs,
            result.chunks,
            result.tokens,
            result.device,
            result.songs_per_s,
            result.tokens_per_s,
            result.encoder_alone.tokens_per_s,
            result.encoder_alone.share * 100.0,
            result.peak_rss_mb
        );
    }
    Ok(0)
}

fn run_bench_texts(
    kind: bench::TextKind,
    count: usize,
    seed: u64,
    out: Option<PathBuf>,
) -> anyhow::Result<i32> {
    let mut body = String::new();
    for text in bench::generate_texts(kind, count, seed) {
        body.push_str(&serde_json::to_string(
            &serde_json::json!({ "text": text }),
        )?);
        body.push('\n');
    }
    match out {
        Some(path) => {
            crate::files::write_bytes(&path, body.as_bytes())?;
            errln!("wrote {count} texts to {}", path.display());
        }
        None => out!("{body}"),
    }
    Ok(0)
}
