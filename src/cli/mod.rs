//! The command line: `moodtape` alone opens the TUI, subcommands script the same core. Errors become one line
//! on stderr (plus causes) and exit code 1; usage errors exit 2 (clap's own).

mod context;
mod db_cmd;
pub mod emotion_cmd;
mod library_cmd;
mod lyrics_cmd;
mod recommend_cmd;
pub mod view;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use context::Context;

#[derive(Debug, Parser)]
#[command(name = "moodtape", version, about = "Music that fits your mood, read from the lyrics", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Use the built-in demo library and its own database (your library is never touched)
    #[arg(long, global = true)]
    pub demo: bool,
    /// The database to use (default: the data dir's library.db; env MOODTAPE_DB)
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// The config file (default: the config dir's config.toml; env MOODTAPE_CONFIG)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Never touch the network
    #[arg(long, global = true)]
    pub offline: bool,
    /// Compute device: auto, cpu, cuda, cuda:N or metal
    #[arg(long, global = true, value_name = "DEVICE")]
    pub device: Option<String>,
    /// A folder with the encoder's config.json, tokenizer.json and model.safetensors (env MOODTAPE_MODEL_DIR)
    #[arg(long, global = true, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    /// The colour theme for the TUI
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, search and count the songs in the library
    #[command(subcommand)]
    Library(library_cmd::LibraryCommand),
    /// Scan music folders into the library (incremental)
    Scan(library_cmd::ScanArgs),
    /// Import songs from a CSV, TSV or JSONL file
    Import(library_cmd::ImportArgs),
    /// Check, back up and restore the database
    #[command(subcommand)]
    Db(db_cmd::DbCommand),
    /// Show the configuration
    #[command(subcommand)]
    Config(db_cmd::ConfigCommand),
    /// Obtain and inspect the encoder model
    #[command(subcommand)]
    Models(emotion_cmd::ModelsCommand),
    /// Train moodtape's emotion heads on GoEmotions and EmoBank
    Train(emotion_cmd::TrainArgs),
    /// Read the mood of a text: top emotions, valence, arousal, quadrant
    Mood(emotion_cmd::MoodArgs),
    /// Read the mood of every song with lyrics (resumable)
    Analyze(emotion_cmd::AnalyzeArgs),
    /// Score the heads on a dataset split
    Eval(emotion_cmd::EvalArgs),
    /// Measure speed and memory
    #[command(subcommand)]
    Bench(emotion_cmd::BenchCommand),
    /// Fetch lyrics (local files first, then LRCLIB) and show them
    #[command(subcommand)]
    Lyrics(lyrics_cmd::LyricsCommand),
    /// Songs for a mood: match, journey, near a point, or like a song
    #[command(subcommand)]
    Recommend(recommend_cmd::RecommendCommand),
    /// Like or dislike songs for a mood; list or forget what you said
    #[command(subcommand)]
    Feedback(recommend_cmd::FeedbackCommand),
    /// Play songs through MPD or the player command, or write them to an M3U8 file
    Play(recommend_cmd::PlayArgs),
}

/// Parses arguments and runs; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            report_error(&e);
            1
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let ctx = Context::new(&cli.global)?;
    let _log = ctx.init_logging();
    match cli.command {
        None => crate::app::run_tui(&ctx),
        Some(Command::Library(cmd)) => library_cmd::run_library(&ctx, cmd),
        Some(Command::Scan(args)) => library_cmd::run_scan(&ctx, args),
        Some(Command::Import(args)) => library_cmd::run_import(&ctx, args),
        Some(Command::Db(cmd)) => db_cmd::run_db(&ctx, cmd),
        Some(Command::Config(cmd)) => db_cmd::run_config(&ctx, cmd),
        Some(Command::Models(cmd)) => emotion_cmd::run_models(&ctx, cmd),
        Some(Command::Train(args)) => emotion_cmd::run_train(&ctx, args),
        Some(Command::Mood(args)) => emotion_cmd::run_mood(&ctx, args),
        Some(Command::Analyze(args)) => emotion_cmd::run_analyze(&ctx, args),
        Some(Command::Eval(args)) => emotion_cmd::run_eval(&ctx, args),
        Some(Command::Bench(cmd)) => emotion_cmd::run_bench(&ctx, cmd),
        Some(Command::Lyrics(cmd)) => lyrics_cmd::run_lyrics(&ctx, cmd),
        Some(Command::Recommend(cmd)) => recommend_cmd::run_recommend(&ctx, cmd),
        Some(Command::Feedback(cmd)) => recommend_cmd::run_feedback(&ctx, cmd),
        Some(Command::Play(args)) => recommend_cmd::run_play(&ctx, args),
    }
}

/// One line for the error, then one indented line per cause; never a backtrace.
pub fn report_error(e: &anyhow::Error) {
    let mut lines = e.chain().map(|c| c.to_string());
    eprintln!("moodtape: error: {}", lines.next().unwrap_or_default());
    for cause in lines {
        eprintln!("  caused by: {cause}");
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
