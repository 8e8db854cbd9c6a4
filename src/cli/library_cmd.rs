//! `library`, `scan` and `import`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::view::SongView;
use super::{print_json, Context};
use crate::library::import::{import_file, ColumnMap, Format};
use crate::library::{format_duration, scan, search, Song};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum LibraryCommand {
    /// List every song
    List {
        #[arg(long)]
        json: bool,
    },
    /// Fuzzy search artist and title, best match first
    Search {
        query: String,
        #[arg(long)]
        json: bool,
        /// At most this many results
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Count songs, lyrics and analyses
    Stats {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Music folders to scan
    #[arg(required_unless_present = "mpd", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Import MPD's library (MPD_HOST/MPD_PORT or [mpd] in the config)
    #[arg(long)]
    pub mpd: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A .csv, .tsv or .jsonl file
    pub file: PathBuf,
    /// csv, tsv or jsonl (default: from the file's extension)
    #[arg(long)]
    pub format: Option<String>,
    /// Column mapping, e.g. "artist=Performer,title=Track,lyrics=5" (names or 1-based numbers)
    #[arg(long, value_name = "MAP")]
    pub map: Option<String>,
    /// The CSV has no header row (use --map with column numbers)
    #[arg(long)]
    pub no_header: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct SongList {
    songs: Vec<SongView>,
}

pub fn run_library(ctx: &Context, cmd: LibraryCommand) -> anyhow::Result<i32> {
    let store = ctx.open_store()?;
    let songs = store.all_songs()?;
    match cmd {
        LibraryCommand::List { json } => print_songs(ctx, &store, songs.iter().collect(), json)?,
        LibraryCommand::Search { query, json, limit } => {
            let hits = search::search(&songs, &query);
            let found: Vec<&Song> = hits.iter().take(limit).map(|m| &songs[m.index]).collect();
            print_songs(ctx, &store, found, json)?;
        }
        LibraryCommand::Stats { json } => {
            let stats = crate::app::stats::LibraryStats::compute(&store, &songs, ctx)?;
            if json {
                print_json(&stats)?;
            } else {
                println!("database      {}", store.path().display());
                println!("songs         {}", stats.songs);
                println!("with lyrics   {}", stats.with_lyrics);
                println!("instrumental  {}", stats.instrumental);
                println!("analyzed      {}", stats.analyzed);
                for (q, n) in &stats.by_quadrant {
                    println!("  {q}          {n}");
                }
            }
        }
    }
    Ok(0)
}

fn print_songs(ctx: &Context, store: &Store, songs: Vec<&Song>, json: bool) -> anyhow::Result<()> {
    let moods = crate::app::stats::moods_for(store, ctx, &songs)?;
    if json {
        let list = SongList {
            songs: songs
                .iter()
                .zip(&moods)
                .map(|(s, m)| SongView::new(s, m.as_ref()))
                .collect(),
        };
        return print_json(&list);
    }
    if songs.is_empty() {
        eprintln!("no songs");
    }
    for (song, mood) in songs.iter().zip(&moods) {
        let mood = match mood {
            Some(m) => format!(
                "{} {}",
                m.reading.quadrant(),
                m.reading.top_emotion().map(|l| l.label).unwrap_or_default()
            ),
            None if song.instrumental => "instrumental".to_string(),
            None if !song.has_lyrics() => "no lyrics".to_string(),
            None => "not analyzed".to_string(),
        };
        println!(
            "{}  {:>6}  {} - {}  [{}]",
            song.id,
            format_duration(song.duration_s),
            song.artist,
            song.title,
            mood
        );
    }
    Ok(())
}

pub fn run_scan(ctx: &Context, args: ScanArgs) -> anyhow::Result<i32> {
    if args.mpd {
        // The store is dropped at the end of this statement: the scan below opens it again, and only one may be open.
        super::recommend_cmd::run_scan_mpd(ctx, &ctx.open_store()?, args.json)?;
        if args.dirs.is_empty() {
            return Ok(0);
        }
    }
    let store = ctx.open_store()?;
    let mut last_report = std::time::Instant::now();
    let summary = scan::scan(&store, &args.dirs, &mut |p| {
        if !args.json && last_report.elapsed().as_millis() > 200 {
            eprintln!(
                "scanned {} files, {} songs committed",
                p.files_seen, p.committed
            );
            last_report = std::time::Instant::now();
        }
    })?;
    if args.json {
        print_json(&summary)?;
    } else {
        println!(
            "{} files: {} added, {} updated, {} unchanged, {} removed; {} with lyrics",
            summary.files_seen,
            summary.added,
            summary.updated,
            summary.unchanged,
            summary.removed,
            summary.with_lyrics
        );
        if !summary.problems.is_empty() {
            println!("{} problems:", summary.problems.len());
            for p in &summary.problems {
                println!("  {}: {}", p.path, p.reason);
            }
        }
    }
    Ok(0)
}

pub fn run_import(ctx: &Context, args: ImportArgs) -> anyhow::Result<i32> {
    let format = match &args.format {
        Some(f) => Format::parse(f)
            .with_context(|| format!("unknown format {f:?}; use csv, tsv or jsonl"))?,
        None => Format::from_path(&args.file).with_context(|| {
            format!(
                "cannot tell the format of {} from its name; pass --format csv|tsv|jsonl",
                args.file.display()
            )
        })?,
    };
    let map = ColumnMap::parse(args.map.as_deref().unwrap_or(""))?;
    let store = ctx.open_store()?;
    let mut last_report = std::time::Instant::now();
    let summary = import_file(
        &store,
        &args.file,
        format,
        &map,
        !args.no_header,
        &mut |committed| {
            if last_report.elapsed().as_millis() > 200 {
                eprintln!("{committed} songs committed");
                last_report = std::time::Instant::now();
            }
        },
    )?;
    if args.json {
        print_json(&summary)?;
    } else {
        println!(
            "{} rows: {} imported ({} with lyrics), {} failed",
            summary.rows,
            summary.imported,
            summary.with_lyrics,
            summary.failed.len()
        );
        for f in &summary.failed {
            println!("  line {}: {}", f.line, f.reason);
        }
    }
    Ok(if summary.imported == 0 && summary.rows > 0 {
        1
    } else {
        0
    })
}
