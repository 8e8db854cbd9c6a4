//! `db` and `config`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;

use super::{absolute, call, print_json};
use crate::server::Core;
use crate::service::{Answer, Call, Context};
use crate::store::{self, ImportMode, Store};

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Read every record and report what was found
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Write a full backup as JSONL
    Export { file: PathBuf },
    /// Restore a backup written by `db export`
    Import {
        file: PathBuf,
        /// Empty the database first, so it equals the backup
        #[arg(long)]
        replace: bool,
    },
    /// Print the database path
    Path,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the config file path
    Path,
    /// Print the default configuration
    Default,
    /// Check the config file and print the configuration in effect
    Check,
}

pub fn run_db(core: &Core, cmd: DbCommand) -> anyhow::Result<i32> {
    match cmd {
        DbCommand::Check { json } => {
            let report = match call(core, Call::DbCheck, true)? {
                Answer::Checked(r) => r,
                other => return Err(other.unexpected("db check").into()),
            };
            if json {
                print_json(&report)?;
            } else {
                outln!("database {}", report.path);
                outln!("schema version {:?}", report.schema_version);
                for tree in &report.trees {
                    outln!(
                        "  {:<16} {:>7} records, {} unreadable",
                        tree.tree,
                        tree.records,
                        tree.unreadable.len()
                    );
                    for key in tree.unreadable.iter().take(20) {
                        outln!("      unreadable: {key}");
                    }
                }
                if report.orphan_lyrics > 0 {
                    outln!(
                        "  {} lyrics records whose song is gone",
                        report.orphan_lyrics
                    );
                }
                for p in &report.problems {
                    outln!("  problem: {p}");
                }
                outln!(
                    "{}",
                    if report.is_healthy() {
                        "ok"
                    } else {
                        "problems found"
                    }
                );
            }
            Ok(if report.is_healthy() { 0 } else { 1 })
        }
        DbCommand::Export { file } => {
            let path = absolute(&file);
            let records = match call(core, Call::DbExport { path }, true)? {
                Answer::Exported { records, .. } => records,
                other => return Err(other.unexpected("db export").into()),
            };
            errln!("exported {records} records to {}", file.display());
            Ok(0)
        }
        DbCommand::Import { .. } | DbCommand::Path => {
            anyhow::bail!("this db command does not run on the core")
        }
    }
}

/// `db import`: restores into the database directly; a running moodtape must be closed first.
pub fn run_restore(ctx: &Context, file: &Path, replace: bool) -> anyhow::Result<i32> {
    let store = Store::open(&ctx.db_path)?;
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mode = if replace {
        ImportMode::Replace
    } else {
        ImportMode::Merge
    };
    let summary = store::import_jsonl(&store, &mut std::io::BufReader::new(input), mode)
        .with_context(|| format!("cannot restore {}", file.display()))?;
    errln!(
        "restored {} records into {}",
        summary.records,
        store.path().display()
    );
    Ok(0)
}

/// `config`; `check_tui` checks the TUI's own settings (keys, theme) the way the TUI reads them.
pub fn run_config(
    ctx: &Context,
    cmd: ConfigCommand,
    check_tui: &dyn Fn(&Context) -> anyhow::Result<()>,
) -> anyhow::Result<i32> {
    match cmd {
        ConfigCommand::Path => outln!("{}", ctx.config_path.display()),
        ConfigCommand::Default => out!("{}", crate::config::DEFAULT_CONFIG_TOML),
        ConfigCommand::Check => {
            check_tui(ctx)?;
            errln!("{}: ok", ctx.config_path.display());
            out!("{}", toml::to_string_pretty(&ctx.config)?);
        }
    }
    Ok(0)
}
