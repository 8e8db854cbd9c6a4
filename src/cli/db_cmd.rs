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
    /// Read every record and compare with what was saved; never changes the database
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Write a full backup as JSONL
    Export {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Write every record still readable from a damaged database as JSONL (the database is not changed)
    Salvage {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Replace the database with a backup: the newest automatic one, or FILE (from `db export` or `db salvage`)
    Restore {
        #[arg(required_unless_present = "latest", conflicts_with = "latest")]
        file: Option<PathBuf>,
        /// The newest automatic backup of this database
        #[arg(long)]
        latest: bool,
        #[arg(long)]
        json: bool,
    },
    /// Add the records of a backup written by `db export` to the database
    Import {
        file: PathBuf,
        /// Replace the database, so it equals the backup (same as `db restore FILE`)
        #[arg(long)]
        replace: bool,
        #[arg(long)]
        json: bool,
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
    Check {
        #[arg(long)]
        json: bool,
    },
}

pub fn run_db(core: &Core, cmd: DbCommand) -> anyhow::Result<i32> {
    match cmd {
        DbCommand::Check { json } => {
            let report = match call(core, Call::DbCheck, true)? {
                Answer::Checked(r) => r,
                other => return Err(other.unexpected("db check").into()),
            };
            print_check(&report, json)
        }
        DbCommand::Export { file, json } => {
            let path = absolute(&file);
            let records = match call(core, Call::DbExport { path }, true)? {
                Answer::Exported { records, .. } => records,
                other => return Err(other.unexpected("db export").into()),
            };
            exported(&file, records, json)
        }
        DbCommand::Import { .. }
        | DbCommand::Path
        | DbCommand::Salvage { .. }
        | DbCommand::Restore { .. } => {
            anyhow::bail!("this db command does not run on the core")
        }
    }
}

/// Whether a db command must go through the core: the demo database is built when it opens, a missing database
/// has nothing to damage, and one held by a running moodtape is read through it. Otherwise the database is read
/// on a copy, so a damaged one is never changed.
pub fn needs_core(ctx: &Context) -> bool {
    ctx.demo || !ctx.db_path.exists() || store::is_held(&ctx.db_path)
}

/// `db check` on a copy of the database.
pub fn run_check_copy(ctx: &Context, json: bool) -> anyhow::Result<i32> {
    let report = store::inspect(&ctx.db_path);
    print_check(&report, json)
}

/// `db export` from a copy of the database.
pub fn run_export_copy(ctx: &Context, file: &Path, json: bool) -> anyhow::Result<i32> {
    let out_path = absolute(file);
    let mut buffer = Vec::new();
    let records = store::export_copy(&ctx.db_path, &mut buffer)?;
    store::write_atomic(&out_path, &buffer)
        .with_context(|| format!("cannot write {}", file.display()))?;
    exported(file, records, json)
}

/// What `db export|salvage|restore|import --json` print.
#[derive(serde::Serialize, Default)]
struct DbDone {
    file: String,
    records: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    lost: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replaced: Option<String>,
}

fn exported(file: &Path, records: usize, json: bool) -> anyhow::Result<i32> {
    errln!("exported {records} records to {}", file.display());
    if json {
        print_json(&DbDone {
            file: absolute(file).display().to_string(),
            records,
            ..DbDone::default()
        })?;
    }
    Ok(0)
}

/// `db salvage`: every readable record of the database (read on a copy) into FILE.
pub fn run_salvage(ctx: &Context, file: &Path, json: bool) -> anyhow::Result<i32> {
    let (records, problems) = store::salvage(&ctx.db_path, &absolute(file))?;
    errln!(
        "salvaged {records} records from {} into {}",
        ctx.db_path.display(),
        file.display()
    );
    for p in &problems {
        errln!("  lost: {p}");
    }
    errln!(
        "  the database was not changed; `moodtape db restore {}` replaces it with what was saved, \
         or `moodtape db restore --latest` with the newest automatic backup",
        file.display()
    );
    if json {
        print_json(&DbDone {
            file: absolute(file).display().to_string(),
            records,
            lost: Some(problems),
            ..DbDone::default()
        })?;
    }
    Ok(0)
}

/// `db restore` and `db import --replace`: a fresh database from the backup, swapped in when complete.
pub fn run_restore_swap(ctx: &Context, file: Option<&Path>, json: bool) -> anyhow::Result<i32> {
    let dir = ctx.backup_dir();
    let file = match file {
        Some(f) => f.to_path_buf(),
        None => store::latest_backup(&dir).with_context(|| {
            format!(
                "there is no automatic backup of {} in {} (backups are written after a command or TUI session \
                 that changed songs, lyrics or feedback); restore a file with `moodtape db restore FILE`",
                ctx.db_path.display(),
                dir.display()
            )
        })?,
    };
    if let Some(parent) = ctx.db_path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let restored = store::restore(&ctx.db_path, &file)
        .with_context(|| format!("cannot restore {}", file.display()))?;
    errln!(
        "restored {} records from {} into {}",
        restored.records,
        file.display(),
        ctx.db_path.display()
    );
    if let Some(old) = &restored.replaced {
        errln!(
            "  the database it replaced is kept at {} (delete it when you no longer need it)",
            old.display()
        );
    }
    if json {
        print_json(&DbDone {
            file: absolute(&file).display().to_string(),
            records: restored.records,
            replaced: restored.replaced.map(|p| p.display().to_string()),
            ..DbDone::default()
        })?;
    }
    Ok(0)
}

fn print_check(report: &store::CheckReport, json: bool) -> anyhow::Result<i32> {
    {
        {
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
                if !report.damage.is_empty() {
                    outln!("damaged: {}", report.damage.join(", "));
                    outln!("  the database was not changed.");
                    if let Some(way) = &report.way_back {
                        outln!("{way}");
                    }
                } else if report.is_healthy() {
                    outln!("ok");
                } else {
                    outln!("problems found");
                }
            }
            Ok(if report.is_healthy() { 0 } else { 1 })
        }
    }
}

/// `db import`: restores into the database directly; a running moodtape must be closed first.
pub fn run_restore(ctx: &Context, file: &Path, replace: bool, json: bool) -> anyhow::Result<i32> {
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
    if let Some((dir, keep)) = ctx.settings().backups {
        if let Err(e) = store::write_backup(&store, &dir, keep) {
            errln!("moodtape: warning: {e}");
        }
    }
    if json {
        print_json(&DbDone {
            file: absolute(file).display().to_string(),
            records: summary.records,
            ..DbDone::default()
        })?;
    }
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
        ConfigCommand::Check { json } => {
            check_tui(ctx)?;
            errln!("{}: ok", ctx.config_path.display());
            if json {
                #[derive(serde::Serialize)]
                struct Checked<'a> {
                    path: String,
                    ok: bool,
                    config: &'a crate::config::Config,
                }
                print_json(&Checked {
                    path: ctx.config_path.display().to_string(),
                    ok: true,
                    config: &ctx.config,
                })?;
            } else {
                out!("{}", toml::to_string_pretty(&ctx.config)?);
            }
        }
    }
    Ok(0)
}
