//! `db` and `config`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use super::{print_json, Context};
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

pub fn run_db(ctx: &Context, cmd: DbCommand) -> anyhow::Result<i32> {
    match cmd {
        DbCommand::Path => {
            println!("{}", ctx.db_path.display());
            Ok(0)
        }
        DbCommand::Check { json } => {
            let store = Store::open(&ctx.db_path)?;
            let report = store::check(&store);
            if json {
                print_json(&report)?;
            } else {
                println!("database {}", report.path);
                println!("schema version {:?}", report.schema_version);
                for tree in &report.trees {
                    println!(
                        "  {:<16} {:>7} records, {} unreadable",
                        tree.tree,
                        tree.records,
                        tree.unreadable.len()
                    );
                    for key in tree.unreadable.iter().take(20) {
                        println!("      unreadable: {key}");
                    }
                }
                if report.orphan_lyrics > 0 {
                    println!(
                        "  {} lyrics records whose song is gone",
                        report.orphan_lyrics
                    );
                }
                for p in &report.problems {
                    println!("  problem: {p}");
                }
                println!(
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
            let store = Store::open(&ctx.db_path)?;
            let tmp = file.with_extension("jsonl.partial");
            let out = std::fs::File::create(&tmp)
                .with_context(|| format!("cannot create {}", tmp.display()))?;
            let mut out = std::io::BufWriter::new(out);
            let n = store::export_jsonl(&store, &mut out)?;
            drop(out);
            std::fs::rename(&tmp, &file)
                .with_context(|| format!("cannot write {}", file.display()))?;
            eprintln!("exported {n} records to {}", file.display());
            Ok(0)
        }
        DbCommand::Import { file, replace } => {
            let store = Store::open(&ctx.db_path)?;
            let input = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let mode = if replace {
                ImportMode::Replace
            } else {
                ImportMode::Merge
            };
            let summary = store::import_jsonl(&store, &mut std::io::BufReader::new(input), mode)
                .with_context(|| format!("cannot restore {}", file.display()))?;
            eprintln!(
                "restored {} records into {}",
                summary.records,
                store.path().display()
            );
            Ok(0)
        }
    }
}

pub fn run_config(ctx: &Context, cmd: ConfigCommand) -> anyhow::Result<i32> {
    match cmd {
        ConfigCommand::Path => println!("{}", ctx.config_path.display()),
        ConfigCommand::Default => print!("{}", crate::config::DEFAULT_CONFIG_TOML),
        ConfigCommand::Check => {
            // The TUI's settings are checked the way the TUI reads them.
            crate::app::keymap::Keymap::with_overrides(&ctx.config.keys)
                .map_err(|e| anyhow::anyhow!("config file {}: {e}", ctx.config_path.display()))?;
            crate::ui::theme::Theme::load(&ctx.theme, &ctx.paths.config_dir, false)
                .map_err(anyhow::Error::msg)?;
            eprintln!("{}: ok", ctx.config_path.display());
            print!("{}", toml::to_string_pretty(&ctx.config)?);
        }
    }
    Ok(0)
}
