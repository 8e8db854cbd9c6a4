//! `library`, `scan` and `import`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::view::SongView;
use super::{absolute, call, print_json};
use crate::emotion::language;
use crate::library::import::{ColumnMap, Format};
use crate::records::{format_duration, MoodSkip, LOW_CONFIDENCE};
use crate::server::Core;
use crate::service::{Answer, Call, ImportRequest, SongInfo};

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
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: u32,
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

pub fn run_library(core: &Core, cmd: LibraryCommand) -> anyhow::Result<i32> {
    match cmd {
        LibraryCommand::List { json } => {
            let songs = songs(core, None, None)?;
            print_songs(&songs, json)?;
        }
        LibraryCommand::Search { query, json, limit } => {
            let songs = songs(core, Some(query), Some(limit as usize))?;
            print_songs(&songs, json)?;
        }
        LibraryCommand::Stats { json } => {
            let stats = match call(core, Call::Stats, true)? {
                Answer::Stats(s) => s,
                other => return Err(other.unexpected("stats").into()),
            };
            if json {
                print_json(&stats)?;
            } else {
                outln!("database      {}", stats.database);
                outln!("songs         {}", stats.songs);
                outln!("with lyrics   {}", stats.with_lyrics);
                outln!("instrumental  {}", stats.instrumental);
                outln!("analyzed      {}", stats.analyzed);
                for (q, n) in &stats.by_quadrant {
                    outln!("  {q}          {n}");
                }
                if stats.skipped_language > 0 {
                    outln!(
                        "not analyzed  {} (lyrics in a language the model does not read)",
                        stats.skipped_language
                    );
                }
            }
        }
    }
    Ok(0)
}

fn songs(
    core: &Core,
    query: Option<String>,
    limit: Option<usize>,
) -> anyhow::Result<Vec<SongInfo>> {
    match call(core, Call::Songs { query, limit }, true)? {
        Answer::Songs { songs } => Ok(songs),
        other => Err(other.unexpected("songs").into()),
    }
}

fn print_songs(songs: &[SongInfo], json: bool) -> anyhow::Result<()> {
    if json {
        let list = SongList {
            songs: songs
                .iter()
                .map(|s| SongView::new(&s.song, s.reading.as_ref(), &s.note))
                .collect(),
        };
        return print_json(&list);
    }
    if songs.is_empty() {
        errln!("no songs");
    }
    for SongInfo {
        song,
        reading,
        note,
    } in songs
    {
        let mood = match reading {
            Some(r) => format!(
                "{} {}{}",
                r.quadrant(),
                r.top_emotion().map(|l| l.label).unwrap_or_default(),
                match note.confidence {
                    Some(c) if c < LOW_CONFIDENCE => " (unsure)",
                    _ => "",
                }
            ),
            None if song.instrumental => "instrumental".to_string(),
            None if !song.has_lyrics() => "no lyrics".to_string(),
            None => match (note.mood_skipped, &note.language) {
                (Some(MoodSkip::Language), Some(lang)) => {
                    format!("not analyzed: lyrics in {}", language::name(lang))
                }
                _ => "not analyzed".to_string(),
            },
        };
        outln!(
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

pub fn run_scan(core: &Core, args: ScanArgs) -> anyhow::Result<i32> {
    if args.mpd {
        let report = match call(core, Call::ScanMpd, args.json)? {
            Answer::MpdImported(r) => r,
            other => return Err(other.unexpected("scan --mpd").into()),
        };
        if args.json {
            print_json(&report)?;
        } else {
            outln!(
                "MPD at {}: {} songs ({} new, {} updated, {} removed, {} with lyrics from their files)",
                report.mpd,
                report.songs,
                report.added,
                report.updated,
                report.removed,
                report.lyrics_found
            );
        }
        if args.dirs.is_empty() {
            return Ok(0);
        }
    }
    let dirs = args.dirs.iter().map(|d| absolute(d)).collect();
    let summary = match call(core, Call::Scan { dirs }, args.json)? {
        Answer::Scanned(s) => s,
        other => return Err(other.unexpected("scan").into()),
    };
    if args.json {
        print_json(&summary)?;
    } else {
        outln!(
            "{} files: {} added, {} updated, {} unchanged, {} removed; {} with lyrics",
            summary.files_seen,
            summary.added,
            summary.updated,
            summary.unchanged,
            summary.removed,
            summary.with_lyrics
        );
        if summary.links_skipped > 0 {
            outln!(
                "{} links not followed (set scan.follow_symlinks = true to follow them)",
                summary.links_skipped
            );
        }
        if !summary.problems.is_empty() {
            outln!("{} problems:", summary.problems.len());
            for p in &summary.problems {
                outln!("  {}: {}", p.path, p.reason);
            }
        }
    }
    Ok(0)
}

pub fn run_import(core: &Core, args: ImportArgs) -> anyhow::Result<i32> {
    // A device or a FIFO is named as what it is before anything else is said about it.
    drop(crate::library::import::open_regular(&args.file)?);
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
    let map = args.map.clone().unwrap_or_default();
    // A bad mapping is a usage error, found before the database is touched.
    ColumnMap::parse(&map)?;
    let request = ImportRequest {
        file: absolute(&args.file),
        format,
        map,
        header: !args.no_header,
    };
    let summary = match call(core, Call::Import { request }, args.json)? {
        Answer::Imported(s) => s,
        other => return Err(other.unexpected("import").into()),
    };
    if args.json {
        print_json(&summary)?;
    } else {
        outln!(
            "{} rows: {} imported ({} with lyrics), {} failed",
            summary.rows,
            summary.imported,
            summary.with_lyrics,
            summary.failed_rows.max(summary.failed.len())
        );
        for note in &summary.notes {
            outln!("  note: {note}");
        }
        for f in &summary.failed {
            outln!("  line {}: {}", f.line, f.reason);
        }
        let unlisted = summary.failed_rows.saturating_sub(summary.failed.len());
        if unlisted > 0 {
            outln!("  … and {unlisted} more failed rows");
        }
    }
    Ok(if summary.imported == 0 && summary.rows > 0 {
        1
    } else {
        0
    })
}
