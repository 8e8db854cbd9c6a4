//! The command line: parse, call the core, print. Each command is a [`Call`] on the core (this process's own
//! session, or the running moodtape that holds the database), so its output and exit code are the same either
//! way. Errors become one line on stderr (plus causes) and exit code 1; usage errors exit 2 (clap's own).

/// Prints a line on stdout through [`emit`]: every text the CLI prints is cleaned for the terminal on its way out.
macro_rules! outln {
    () => {
        $crate::cli::emit(false, "", true)
    };
    ($($arg:tt)*) => {
        $crate::cli::emit(false, &format!($($arg)*), true)
    };
}

/// Prints on stdout through [`emit`], without a newline.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::emit(false, &format!($($arg)*), false)
    };
}

/// Prints a line on stderr through [`emit`].
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::emit(true, &format!($($arg)*), true)
    };
}

mod db_cmd;
mod emotion_cmd;
mod lab_cmd;
mod library_cmd;
mod lyrics_cmd;
mod progress;
mod radio_cmd;
mod recommend_cmd;
mod serve_cmd;
pub mod view;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::server::Core;
use crate::service::{Answer, Call, Context, Flags};
use progress::Reporter;

/// How long a finishing command waits for calls other moodtapes sent it.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

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
    /// Encoder precision: f32, or fast (bf16 on a GPU; int8 or bf16 on a CPU with AVX512-VNNI, AVX512-BF16,
    /// AVX-VNNI or AVX2); config general.precision
    #[arg(long, global = true, value_enum, value_name = "PRECISION")]
    pub precision: Option<crate::emotion::Precision>,
    /// A folder with the encoder's config.json, tokenizer.json and model.safetensors (env MOODTAPE_MODEL_DIR)
    #[arg(long, global = true, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    /// The colour theme for the TUI
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
}

impl GlobalArgs {
    pub fn flags(&self) -> Flags {
        Flags {
            demo: self.demo,
            db: self.db.clone(),
            config: self.config.clone(),
            offline: self.offline,
            device: self.device.clone(),
            precision: self.precision,
            model_dir: self.model_dir.clone(),
            theme: self.theme.clone(),
        }
    }
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
    Train(lab_cmd::TrainArgs),
    /// Read the mood of a text: top emotions, valence, arousal, quadrant
    Mood(emotion_cmd::MoodArgs),
    /// Read the mood of every song with lyrics (resumable)
    Analyze(emotion_cmd::AnalyzeArgs),
    /// Score the heads on a dataset split
    Eval(lab_cmd::EvalArgs),
    /// Measure speed and memory
    #[command(subcommand)]
    Bench(lab_cmd::BenchCommand),
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
    /// Hold the database and serve other moodtapes without a TUI (for SSH and GPU boxes)
    Serve(serve_cmd::ServeArgs),
    /// Keep MPD's queue going with songs for a mood, or a journey from it (Ctrl-C stops)
    Radio(radio_cmd::RadioArgs),
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff); e.g. `moodtape man > ~/.local/share/man/man1/moodtape.1`
    Man,
}

/// Parses the arguments; on a usage error (or `--help`, `--version`) prints and gives the exit code. Usage errors
/// quote what was typed, so they are cleaned like any other output.
pub fn parse() -> Result<Cli, i32> {
    Cli::try_parse().map_err(|e| {
        let text = e.render().to_string();
        let text = text.strip_suffix('\n').unwrap_or(&text);
        emit(e.use_stderr(), text, true);
        if e.use_stderr() {
            2
        } else {
            0
        }
    })
}

/// Writes `text` on stdout (or stderr) with escape sequences, control characters other than newline and tab, and
/// invisible or bidi marks removed: names, lyrics, paths and error messages can come from anywhere. A closed pipe
/// (`moodtape library list | head`) ends the output quietly instead of panicking.
pub fn emit(stderr: bool, text: &str, newline: bool) {
    use std::io::Write;
    let mut clean = crate::sanitize::clean_multiline(text);
    if newline {
        clean.push('\n');
    }
    let _ = if stderr {
        std::io::stderr().lock().write_all(clean.as_bytes())
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(clean.as_bytes()).and_then(|()| out.flush())
    };
}

/// What the CLI needs from the other faces, handed in by `main` so no face depends on another.
pub struct Hooks {
    /// Checks the TUI's own settings (key bindings, theme) for `config check`.
    pub check_tui: fn(&Context) -> anyhow::Result<()>,
    /// Measures the TUI on the database the context names, for `bench ui`.
    pub bench_ui: fn(&Context) -> anyhow::Result<crate::lab::bench_ui::UiBench>,
}

/// Runs a subcommand; returns the process exit code.
pub fn run(global: &GlobalArgs, command: Command, hooks: &Hooks) -> i32 {
    // These need no config, so a broken one never stands in their way.
    match command {
        Command::Completions { shell } => return finish(completions(shell)),
        Command::Man => return finish(man()),
        _ => {}
    }
    finish(Context::new(&global.flags()).and_then(|ctx| {
        let _log = ctx.init_logging();
        dispatch(&ctx, command, hooks)
    }))
}

/// The exit code of a run, with its error reported on stderr.
pub fn finish(result: anyhow::Result<i32>) -> i32 {
    match result {
        Ok(code) => code,
        Err(e) => {
            report_error(&e);
            1
        }
    }
}

fn dispatch(ctx: &Context, command: Command, hooks: &Hooks) -> anyhow::Result<i32> {
    match command {
        // Commands that never touch the database run here.
        Command::Config(cmd) => db_cmd::run_config(ctx, cmd, &hooks.check_tui),
        Command::Models(cmd) => emotion_cmd::run_models(ctx, cmd),
        Command::Train(args) => lab_cmd::run_train(ctx, args),
        Command::Eval(args) => lab_cmd::run_eval(ctx, args),
        Command::Bench(cmd) => lab_cmd::run_bench(ctx, cmd, hooks),
        Command::Db(db_cmd::DbCommand::Path) => {
            outln!("{}", ctx.db_path.display());
            Ok(0)
        }
        Command::Db(db_cmd::DbCommand::Import {
            file,
            replace: true,
            json,
        }) => db_cmd::run_restore_swap(ctx, Some(&file), json),
        Command::Db(db_cmd::DbCommand::Import {
            file,
            replace: false,
            json,
        }) => db_cmd::run_restore(ctx, &file, false, json),
        Command::Db(db_cmd::DbCommand::Restore { file, json, .. }) => {
            db_cmd::run_restore_swap(ctx, file.as_deref(), json)
        }
        Command::Db(db_cmd::DbCommand::Salvage { file, json }) => {
            db_cmd::run_salvage(ctx, &file, json)
        }
        Command::Db(db_cmd::DbCommand::Check { json }) if !db_cmd::needs_core(ctx) => {
            db_cmd::run_check_copy(ctx, json)
        }
        Command::Db(db_cmd::DbCommand::Export { file, json }) if !db_cmd::needs_core(ctx) => {
            db_cmd::run_export_copy(ctx, &file, json)
        }
        Command::Serve(args) => serve_cmd::run(ctx, args),
        Command::Completions { shell } => completions(shell),
        Command::Man => man(),
        // The rest go to the core, wherever it is.
        command => {
            let core = Core::open(ctx)?;
            let result = run_on_core(ctx, &core, command);
            core.close(CLOSE_WAIT);
            result
        }
    }
}

fn run_on_core(ctx: &Context, core: &Core, command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Library(cmd) => library_cmd::run_library(core, cmd),
        Command::Scan(args) => library_cmd::run_scan(core, args),
        Command::Import(args) => library_cmd::run_import(core, args),
        Command::Db(cmd) => db_cmd::run_db(core, cmd),
        Command::Mood(args) => emotion_cmd::run_mood(core, args),
        Command::Analyze(args) => emotion_cmd::run_analyze(core, args),
        Command::Lyrics(cmd) => lyrics_cmd::run_lyrics(core, cmd),
        Command::Recommend(cmd) => recommend_cmd::run_recommend(ctx, core, cmd),
        Command::Feedback(cmd) => recommend_cmd::run_feedback(core, cmd),
        Command::Play(args) => recommend_cmd::run_play(ctx, core, args),
        Command::Radio(args) => radio_cmd::run(core, args),
        Command::Config(_)
        | Command::Models(_)
        | Command::Train(_)
        | Command::Eval(_)
        | Command::Bench(_)
        | Command::Serve(_)
        | Command::Completions { .. }
        | Command::Man => anyhow::bail!("this command does not run on the core"),
    }
}

fn completions(shell: clap_complete::Shell) -> anyhow::Result<i32> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "moodtape", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    Ok(0)
}

fn man() -> anyhow::Result<i32> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut page)?;
    out!("{}", String::from_utf8_lossy(&page));
    Ok(0)
}

/// Makes one call with progress drawn on stderr (bars on a terminal, nothing with `quiet`).
fn call(core: &Core, call: Call, quiet: bool) -> anyhow::Result<Answer> {
    let mut reporter = Reporter::new(quiet);
    let result = core.call(call, &mut |p| reporter.show(p), &AtomicBool::new(false));
    reporter.finish();
    result
}

/// A path as the user meant it from here: a server in another working directory must get it absolute.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// One line for the error, then one indented line per cause; never a backtrace.
pub fn report_error(e: &anyhow::Error) {
    let mut lines = e.chain().map(|c| c.to_string());
    errln!("moodtape: error: {}", lines.next().unwrap_or_default());
    for cause in lines {
        errln!("  caused by: {cause}");
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(value)?;
    outln!("{}", crate::sanitize::escape_json_for_terminal(&json));
    Ok(())
}
