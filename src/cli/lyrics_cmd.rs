//! `lyrics fetch` and `lyrics show`.

use std::sync::atomic::AtomicBool;

use anyhow::bail;
use clap::Subcommand;
use serde::Serialize;

use super::{print_json, Context};
use crate::library::{search, Song, SongId};
use crate::lyrics::fetch::{fetch, FetchOptions, FetchSettings, FetchSummary};
use crate::lyrics::lrc;
use crate::sanitize::{clean_line, clean_lyrics};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum LyricsCommand {
    /// Look up lyrics: sidecar files and tags first, then the cache, then LRCLIB (as config lyrics.sources says)
    Fetch {
        /// Only songs without lyrics (songs known to be instrumental are skipped too)
        #[arg(long)]
        missing: bool,
        /// Songs looked up at once (default: config lyrics.max_concurrency)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=32))]
        jobs: Option<u64>,
        /// Print {"found", "synced", "instrumental", "not_found", "failed", "failures"} as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print a song's stored lyrics
    Show {
        /// A song id, or an "artist - title" query (the best fuzzy match is shown)
        song: String,
        /// Print the time-stamped lines when the song has synced lyrics
        #[arg(long)]
        synced: bool,
        #[arg(long)]
        json: bool,
    },
}

pub fn run_lyrics(ctx: &Context, cmd: LyricsCommand) -> anyhow::Result<i32> {
    match cmd {
        LyricsCommand::Fetch {
            missing,
            jobs,
            json,
        } => run_fetch(ctx, missing, jobs.map(|j| j as usize), json),
        LyricsCommand::Show { song, synced, json } => run_show(ctx, &song, synced, json),
    }
}

fn run_fetch(ctx: &Context, missing: bool, jobs: Option<usize>, json: bool) -> anyhow::Result<i32> {
    let store = ctx.open_store()?;
    let settings = FetchSettings::from_context(ctx);
    let options = FetchOptions {
        missing_only: missing,
        jobs,
    };
    // indicatif draws on stderr only when it is a terminal, so scripts reading --json see nothing of it.
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} lyrics [{bar:30}] {pos}/{len} {wide_msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let cancel = AtomicBool::new(false);
    let summary = fetch(
        &settings,
        &store,
        &options,
        &mut |p| {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
            bar.set_message(clean_line(&p.current));
        },
        &cancel,
    );
    bar.finish_and_clear();
    let summary = summary?;
    if json {
        print_json(&summary)?;
    } else {
        print_summary(&summary);
    }
    Ok(0)
}

fn print_summary(s: &FetchSummary) {
    if s.total == 0 {
        println!("no songs to look up");
        return;
    }
    println!(
        "{} songs: found {} ({} synced), instrumental {}, not found {}, failed {}",
        s.total, s.found, s.synced, s.instrumental, s.not_found, s.failed
    );
    if s.already_stored > 0 {
        println!("  {} were already stored", s.already_stored);
    }
    if s.recently_missed > 0 {
        println!(
            "  {} not asked online again: not found there recently",
            s.recently_missed
        );
    }
    if s.offline {
        println!("  offline: the network was not used");
    }
    for f in &s.failures {
        println!("  failed: {} ({}): {}", f.song, f.id, f.reason);
    }
    if s.cancelled {
        println!("  cancelled before the end");
    }
}

#[derive(Serialize)]
struct ShowJson {
    id: String,
    artist: String,
    title: String,
    source: Option<&'static str>,
    instrumental: bool,
    truncated: bool,
    text: String,
    synced: Option<String>,
}

fn run_show(ctx: &Context, query: &str, synced: bool, json: bool) -> anyhow::Result<i32> {
    let store = ctx.open_store()?;
    let song = find_song(&store, query)?;
    let record = store.lyrics.get(song.id.as_str())?;
    if json {
        let view = ShowJson {
            id: song.id.to_string(),
            artist: song.artist.clone(),
            title: song.title.clone(),
            source: record.as_ref().map(|r| r.origin.as_str()),
            instrumental: song.instrumental || record.as_ref().is_some_and(|r| r.instrumental),
            truncated: record.as_ref().is_some_and(|r| r.truncated),
            text: record
                .as_ref()
                .map(|r| clean_lyrics(&r.text).0)
                .unwrap_or_default(),
            synced: record
                .as_ref()
                .and_then(|r| r.synced.as_deref())
                .map(|s| clean_lyrics(s).0),
        };
        print_json(&view)?;
        return Ok(0);
    }
    let Some(record) = record.filter(|r| r.has_words() || r.instrumental) else {
        if song.instrumental {
            eprintln!("{}", clean_line(&song.display_name()));
            println!("(instrumental)");
            return Ok(0);
        }
        bail!(
            "no lyrics stored for {} ({}); `moodtape lyrics fetch` looks them up",
            clean_line(&song.display_name()),
            song.id
        );
    };
    let kind = if record.synced.is_some() {
        ", synced"
    } else {
        ""
    };
    eprintln!(
        "{}  [lyrics: {}{kind}]",
        clean_line(&song.display_name()),
        record.origin.as_str()
    );
    if record.instrumental {
        println!("(instrumental)");
        return Ok(0);
    }
    match (synced, record.synced.as_deref()) {
        (true, Some(lrc_text)) => {
            let parsed = lrc::parse(lrc_text);
            for line in parsed.display_lines() {
                println!("{}", clean_line(&line));
            }
        }
        (true, None) => {
            eprintln!("(no synced lyrics; the plain text follows)");
            println!("{}", clean_lyrics(&record.text).0);
        }
        (false, _) => println!("{}", clean_lyrics(&record.text).0),
    }
    Ok(0)
}

/// A song by id, or the best fuzzy match for "artist - title".
fn find_song(store: &Store, query: &str) -> anyhow::Result<Song> {
    let query = query.trim();
    if query.len() == 16 && query.bytes().all(|b| b.is_ascii_hexdigit()) {
        if let Some(song) = store.song(&SongId(query.to_ascii_lowercase()))? {
            return Ok(song);
        }
    }
    let songs = store.all_songs()?;
    let words = query.replace(" - ", " ");
    match search::search(&songs, &words).first() {
        Some(hit) if !query.is_empty() => Ok(songs[hit.index].clone()),
        _ => bail!("no song matches {:?}", clean_line(query)),
    }
}
