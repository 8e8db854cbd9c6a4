//! `lyrics fetch` and `lyrics show`.

use anyhow::bail;
use clap::Subcommand;
use serde::Serialize;

use super::view::round3;
use super::{call, print_json};
use crate::lyrics::fetch::{FetchFailure, FetchSummary};
use crate::lyrics::lrc;
use crate::sanitize::{clean_line, clean_lyrics};
use crate::server::Core;
use crate::service::{Answer, Call};

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

pub fn run_lyrics(core: &Core, cmd: LyricsCommand) -> anyhow::Result<i32> {
    match cmd {
        LyricsCommand::Fetch {
            missing,
            jobs,
            json,
        } => run_fetch(core, missing, jobs.map(|j| j as usize), json),
        LyricsCommand::Show { song, synced, json } => run_show(core, &song, synced, json),
    }
}

/// The documented JSON of a fetch.
#[derive(Serialize)]
struct FetchView<'a> {
    found: usize,
    synced: usize,
    instrumental: usize,
    not_found: usize,
    failed: usize,
    failures: &'a [FetchFailure],
    /// Why the run stopped asking the server (the circuit breaker), or null.
    stopped: Option<&'a str>,
}

fn run_fetch(core: &Core, missing: bool, jobs: Option<usize>, json: bool) -> anyhow::Result<i32> {
    let call_ = Call::LyricsFetch {
        missing_only: missing,
        jobs,
    };
    let summary = match call(core, call_, false)? {
        Answer::LyricsFetched(s) => s,
        other => return Err(other.unexpected("lyrics fetch").into()),
    };
    if json {
        print_json(&FetchView {
            found: summary.found,
            synced: summary.synced,
            instrumental: summary.instrumental,
            not_found: summary.not_found,
            failed: summary.failed,
            failures: &summary.failures,
            stopped: summary.stopped.as_deref(),
        })?;
    } else {
        print_summary(&summary);
    }
    Ok(0)
}

fn print_summary(s: &FetchSummary) {
    if s.total == 0 {
        outln!("no songs to look up");
        return;
    }
    outln!(
        "{} songs: found {} ({} synced), instrumental {}, not found {}, failed {}",
        s.total,
        s.found,
        s.synced,
        s.instrumental,
        s.not_found,
        s.failed
    );
    if s.already_stored > 0 {
        outln!("  {} were already stored", s.already_stored);
    }
    if s.recently_missed > 0 {
        outln!(
            "  {} not asked online again: not found there recently",
            s.recently_missed
        );
    }
    if s.offline {
        outln!("  offline: the network was not used");
    }
    if let Some(reason) = &s.stopped {
        outln!("  stopped asking: {}", clean_line(reason));
    }
    // A stopped run fails the same way for hundreds of songs: one line per reason then, not one per song.
    let mut by_reason: Vec<(&str, Vec<&FetchFailure>)> = Vec::new();
    for f in &s.failures {
        match by_reason.iter_mut().find(|(r, _)| *r == f.reason) {
            Some((_, list)) => list.push(f),
            None => by_reason.push((&f.reason, vec![f])),
        }
    }
    for (reason, list) in by_reason {
        if list.len() <= 3 {
            for f in list {
                outln!("  failed: {} ({}): {}", f.song, f.id, f.reason);
            }
        } else {
            outln!(
                "  failed: {} songs ({}, …): {}",
                list.len(),
                list[0].song,
                clean_line(reason)
            );
        }
    }
    if s.cancelled {
        outln!("  cancelled before the end");
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
    /// Whether the current model read a mood from these lyrics; see `SongView` for the fields below.
    analyzed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mood_skipped: Option<&'static str>,
}

fn run_show(core: &Core, query: &str, synced: bool, json: bool) -> anyhow::Result<i32> {
    let (song, record, note) = match call(
        core,
        Call::Lyrics {
            query: query.to_string(),
        },
        true,
    )? {
        Answer::Lyrics { song, record, note } => (song, record, note),
        other => return Err(other.unexpected("lyrics show").into()),
    };
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
            analyzed: note.as_ref().is_some_and(|n| n.mood_skipped.is_none()),
            confidence: note.as_ref().and_then(|n| n.confidence).map(round3),
            language: note
                .as_ref()
                .and_then(|n| n.language.as_deref())
                .map(clean_line),
            mood_skipped: note
                .as_ref()
                .and_then(|n| n.mood_skipped)
                .map(|s| s.as_str()),
        };
        print_json(&view)?;
        return Ok(0);
    }
    let Some(record) = record.filter(|r| r.has_words() || r.instrumental) else {
        if song.instrumental {
            errln!("{}", clean_line(&song.display_name()));
            outln!("(instrumental)");
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
    errln!(
        "{}  [lyrics: {}{kind}]",
        clean_line(&song.display_name()),
        record.origin.as_str()
    );
    if let Some(lang) = note
        .as_ref()
        .filter(|n| n.mood_skipped.is_some())
        .and_then(|n| n.language.as_deref())
    {
        errln!(
            "not analyzed: lyrics in {}, a language the model does not read",
            crate::emotion::language::name(lang)
        );
    }
    if record.instrumental {
        outln!("(instrumental)");
        return Ok(0);
    }
    match (synced, record.synced.as_deref()) {
        (true, Some(lrc_text)) => {
            let parsed = lrc::parse(lrc_text);
            for line in parsed.display_lines() {
                outln!("{}", clean_line(&line));
            }
        }
        (true, None) => {
            errln!("(no synced lyrics; the plain text follows)");
            outln!("{}", clean_lyrics(&record.text).0);
        }
        (false, _) => outln!("{}", clean_lyrics(&record.text).0),
    }
    Ok(0)
}
