//! `recommend`, `feedback` and `play`: the recommendation modes on the command line and the hand-off of their
//! playlists to a file, MPD or a player command.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::view::{round3, SongView};
use super::{absolute, call, print_json};
use crate::player;
use crate::records::{format_duration, MoodNote, MoodSkip, Quadrant, Song};
use crate::server::Core;
use crate::service::{
    Answer, Call, Context, Delivered, Delivery, Destination, FeedbackEntry, FeedbackFor, Mode,
    Playlist, PlaylistRequest,
};

#[derive(Debug, Subcommand)]
pub enum RecommendCommand {
    /// Songs that fit a mood you describe
    Match {
        /// How you feel, in your own words
        text: String,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// A playlist from your mood to another, step by step (--limit sets its length)
    Journey {
        /// How you feel now
        text: String,
        /// Where to go: Q1 (joyful), Q2 (tense), Q3 (sad), Q4 (calm), or a mood in words
        #[arg(long, value_name = "Q1|Q2|Q3|Q4|TEXT", value_parser = parse_to)]
        to: String,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Songs nearest a point of the mood map (valence and arousal, each -1..1)
    #[command(allow_negative_numbers = true)]
    Near {
        #[arg(value_parser = parse_axis)]
        valence: f32,
        #[arg(value_parser = parse_axis)]
        arousal: f32,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Songs like one song, in lyrics and in mood
    Like {
        /// A song id, or an "artist - title" query
        song: String,
        #[command(flatten)]
        out: OutputArgs,
    },
}

/// `--limit`: 1 to [`crate::config::MAX_LIMIT`] (journeys are cut at [`crate::config::MAX_JOURNEY`]).
fn parse_limit(text: &str) -> Result<usize, String> {
    let max = crate::config::MAX_LIMIT;
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("use a whole number from 1 to {max}")),
    }
}

/// `--to`: a quadrant code, or a mood in words; something that looks like a code but is none is a mistake.
fn parse_to(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("say where to go: Q1, Q2, Q3, Q4 or a mood in words".into());
    }
    let looks_like_code = t.len() >= 2
        && t.as_bytes()[0].eq_ignore_ascii_case(&b'q')
        && t[1..].chars().all(|c| c.is_ascii_digit());
    if looks_like_code && crate::records::Quadrant::parse(t).is_none() {
        return Err(
            "there are four quadrants: Q1 (joyful), Q2 (tense), Q3 (sad), Q4 (calm)".into(),
        );
    }
    Ok(t.to_string())
}

/// A valence or arousal: a number from -1 to 1.
fn parse_axis(text: &str) -> Result<f32, String> {
    match text.trim().parse::<f32>() {
        Ok(v) if (-1.0..=1.0).contains(&v) => Ok(v),
        _ => Err("use a number from -1 to 1".into()),
    }
}

#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// At most this many songs (default: config recommend.limit, or recommend.journey_length for journeys)
    #[arg(long, value_name = "N", value_parser = parse_limit)]
    pub limit: Option<usize>,
    #[arg(long)]
    pub json: bool,
    /// Also write the playlist to an M3U8 file
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// With --out: write the file even when none of the songs has an audio file to list
    #[arg(long, requires = "out")]
    pub allow_empty: bool,
    /// Send the playlist to MPD's queue and play it
    #[arg(long)]
    pub mpd: bool,
    /// With --mpd: replace the queue instead of appending to it
    #[arg(long, requires = "mpd")]
    pub replace: bool,
    /// Play the playlist with the config's player.command
    #[arg(long)]
    pub play: bool,
    /// List songs without a mood after the recommendations (no lyrics, not analyzed yet, or lyrics in a language
    /// the model does not read); they are never in the playlist itself
    #[arg(long)]
    pub include_unanalyzed: bool,
}

#[derive(Debug, Subcommand)]
pub enum FeedbackCommand {
    /// Like a song for a mood: it rises for similar moods
    Like(FeedbackArgs),
    /// Dislike a song for a mood: it sinks for similar moods (it is never hidden)
    Dislike(FeedbackArgs),
    /// Every like and dislike
    List {
        #[arg(long)]
        json: bool,
    },
    /// Forget all feedback
    Clear,
}

#[derive(Debug, Args)]
pub struct FeedbackArgs {
    /// A song id, or an "artist - title" query
    pub song: String,
    /// The mood the song was for (default: the song's own mood)
    #[arg(long, value_name = "TEXT")]
    pub mood: Option<String>,
    /// Print what was kept as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PlayArgs {
    /// Song ids or "artist - title" queries, in playlist order
    #[arg(required = true, value_name = "SONG")]
    pub songs: Vec<String>,
    /// Send them to MPD's queue and play (default: the config's player.command)
    #[arg(long)]
    pub mpd: bool,
    /// With --mpd: replace the queue instead of appending to it
    #[arg(long, requires = "mpd")]
    pub replace: bool,
    /// Write them to an M3U8 file instead of playing
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// With --out: write the file even when none of the songs has an audio file to list
    #[arg(long, requires = "out")]
    pub allow_empty: bool,
    /// Print what was done as JSON
    #[arg(long)]
    pub json: bool,
}

/// A song of a recommendation as JSON: the song object plus where it sits, its score and why.
#[derive(Serialize)]
struct PickView {
    #[serde(flatten)]
    song: SongView,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f32>,
    reason: String,
}

#[derive(Serialize)]
struct PickList {
    songs: Vec<PickView>,
}

pub fn run_recommend(ctx: &Context, core: &Core, cmd: RecommendCommand) -> anyhow::Result<i32> {
    let (mode, out) = match cmd {
        RecommendCommand::Match { text, out } => (Mode::Match { text, mood: None }, out),
        RecommendCommand::Journey { text, to, out } => (
            Mode::Journey {
                text,
                mood: None,
                to: Destination::parse(&to),
            },
            out,
        ),
        RecommendCommand::Near {
            valence,
            arousal,
            out,
        } => (Mode::Near { valence, arousal }, out),
        RecommendCommand::Like { song, out } => (Mode::Like { song }, out),
    };
    let request = PlaylistRequest {
        mode,
        limit: out.limit,
        include_unanalyzed: out.include_unanalyzed,
        prepare: true,
    };
    let playlist = match call(core, Call::Recommend { request }, out.json)? {
        Answer::Playlist(p) => p,
        other => return Err(other.unexpected("recommend").into()),
    };
    print_playlist(&playlist, out.json)?;
    deliver(
        ctx,
        core,
        &playlist.songs(),
        Delivery {
            out: out.out.as_deref().map(absolute),
            export: None,
            mpd: out.mpd.then_some(out.replace),
            allow_empty: out.allow_empty,
        },
        out.play,
    )?;
    Ok(0)
}

pub fn run_feedback(core: &Core, cmd: FeedbackCommand) -> anyhow::Result<i32> {
    match cmd {
        FeedbackCommand::Like(args) => give_feedback(core, args, true)?,
        FeedbackCommand::Dislike(args) => give_feedback(core, args, false)?,
        FeedbackCommand::List { json } => list_feedback(core, json)?,
        FeedbackCommand::Clear => {
            let n = match call(core, Call::FeedbackClear, true)? {
                Answer::Count { count } => count,
                other => return Err(other.unexpected("feedback clear").into()),
            };
            errln!("forgot {n} likes and dislikes");
        }
    }
    Ok(0)
}

pub fn run_play(ctx: &Context, core: &Core, args: PlayArgs) -> anyhow::Result<i32> {
    let songs = args
        .songs
        .iter()
        .map(|q| resolve(core, q))
        .collect::<anyhow::Result<Vec<Song>>>()?;
    let play = !args.mpd && args.out.is_none();
    let done = deliver(
        ctx,
        core,
        &songs,
        Delivery {
            out: args.out.as_deref().map(absolute),
            export: None,
            mpd: args.mpd.then_some(args.replace),
            allow_empty: args.allow_empty,
        },
        play,
    )?;
    if args.json {
        print_json(&DeliveredView::new(done.as_ref(), play))?;
    }
    Ok(0)
}

fn resolve(core: &Core, query: &str) -> anyhow::Result<Song> {
    match call(
        core,
        Call::Resolve {
            query: query.to_string(),
        },
        true,
    )? {
        Answer::Song { song } => Ok(song),
        other => Err(other.unexpected("resolve").into()),
    }
}

fn print_playlist(playlist: &Playlist, json: bool) -> anyhow::Result<()> {
    if json {
        let mut songs: Vec<PickView> = playlist
            .entries
            .iter()
            .map(|e| PickView {
                song: SongView::new(&e.pick.song, Some(&e.reading), &e.note),
                score: Some(round3(e.pick.score)),
                reason: e.pick.reason.clone(),
            })
            .collect();
        songs.extend(playlist.unanalyzed.iter().map(|s| {
            let language = playlist.skipped.get(&s.id);
            let note = MoodNote {
                language: language.cloned(),
                mood_skipped: language.map(|_| MoodSkip::Language),
                ..MoodNote::default()
            };
            PickView {
                song: SongView::new(s, None, &note),
                score: None,
                reason: unanalyzed_reason(s, language),
            }
        }));
        return print_json(&PickList { songs });
    }
    if playlist.entries.is_empty() {
        errln!("no songs to recommend");
    }
    for (i, e) in playlist.entries.iter().enumerate() {
        let p = &e.pick;
        outln!(
            "{:>2}. {}  {:>6}  [{} {:+.2} {:+.2}]  {:.3}  {}",
            i + 1,
            p.song.display_name(),
            format_duration(p.song.duration_s),
            p.quadrant,
            p.valence,
            p.arousal,
            p.score,
            p.reason
        );
    }
    for s in &playlist.unanalyzed {
        outln!(
            "    {}  ({})",
            s.display_name(),
            unanalyzed_reason(s, playlist.skipped.get(&s.id))
        );
    }
    Ok(())
}

fn unanalyzed_reason(song: &Song, language: Option<&String>) -> String {
    if song.instrumental {
        "instrumental, no mood read".into()
    } else if !song.has_lyrics() {
        "no lyrics yet, no mood read".into()
    } else if let Some(lang) = language {
        format!(
            "lyrics in {}, a language the model does not read: no mood read",
            crate::emotion::language::name(lang)
        )
    } else {
        "not analyzed yet".into()
    }
}

/// Writes or queues `songs` through the core as `to` says, and plays them with the player command here when
/// `play` is set (it runs in this terminal); messages go to stderr so `--json` output stays clean.
fn deliver(
    ctx: &Context,
    core: &Core,
    songs: &[Song],
    to: Delivery,
    play: bool,
) -> anyhow::Result<Option<Delivered>> {
    let mut delivered = None;
    if to.out.is_some() || to.mpd.is_some() {
        let ids = songs.iter().map(|s| s.id.clone()).collect();
        let done = match call(core, Call::Deliver { songs: ids, to }, true)? {
            Answer::Delivered(d) => d,
            other => return Err(other.unexpected("deliver").into()),
        };
        if done.written.is_some() {
            errln!("{}", done.written_note);
        }
        if let Some(report) = &done.queue {
            if !report.missing.is_empty() {
                let warning = player::PlayerError::NotInDatabase {
                    songs: report.missing.clone(),
                };
                errln!("moodtape: warning: {warning}");
            }
            errln!(
                "{} {} songs on MPD at {}{}",
                if report.replaced {
                    "queued (replacing the queue)"
                } else {
                    "queued"
                },
                report.queued,
                done.mpd_at,
                if report.playing { ", playing" } else { "" }
            );
        }
        delivered = Some(done);
    }
    if play {
        player::run_command(&ctx.config.player.command, songs)?;
    }
    Ok(delivered)
}

/// `play --json`: the file written, the MPD queue, whether the player command ran.
#[derive(Serialize)]
struct DeliveredView {
    written: Option<WrittenView>,
    queued: Option<player::QueueReport>,
    played: bool,
}

#[derive(Serialize)]
struct WrittenView {
    path: String,
    songs: usize,
    note: String,
}

impl DeliveredView {
    fn new(done: Option<&Delivered>, played: bool) -> DeliveredView {
        DeliveredView {
            written: done.and_then(|d| {
                d.written.as_ref().map(|(path, songs)| WrittenView {
                    path: path.display().to_string(),
                    songs: *songs,
                    note: d.written_note.clone(),
                })
            }),
            queued: done.and_then(|d| d.queue.clone()),
            played,
        }
    }
}

fn give_feedback(core: &Core, args: FeedbackArgs, liked: bool) -> anyhow::Result<()> {
    let mood = match args.mood {
        Some(text) => FeedbackFor::Text(text),
        None => FeedbackFor::Song,
    };
    let call_ = Call::Feedback {
        song: args.song,
        liked,
        mood,
    };
    let given = match call(core, call_, true)? {
        Answer::Feedback(g) => g,
        other => return Err(other.unexpected("feedback").into()),
    };
    let r = &given.reading;
    if args.json {
        #[derive(Serialize)]
        struct Given {
            song: SongView,
            liked: bool,
            valence: f32,
            arousal: f32,
            quadrant: &'static str,
        }
        return print_json(&Given {
            song: SongView::new(&given.song, None, &MoodNote::default()),
            liked,
            valence: round3(r.valence),
            arousal: round3(r.arousal),
            quadrant: r.quadrant().code(),
        });
    }
    errln!(
        "{} {} for {} moods ({:+.2}, {:+.2})",
        if liked { "liked" } else { "disliked" },
        given.song.display_name(),
        r.quadrant().code(),
        r.valence,
        r.arousal
    );
    Ok(())
}

#[derive(Serialize)]
struct FeedbackView {
    song_id: String,
    artist: String,
    title: String,
    liked: bool,
    valence: f32,
    arousal: f32,
    quadrant: &'static str,
    mood_text: String,
    at: u64,
}

fn list_feedback(core: &Core, json: bool) -> anyhow::Result<()> {
    let entries = match call(core, Call::FeedbackList, true)? {
        Answer::FeedbackList { entries } => entries,
        other => return Err(other.unexpected("feedback list").into()),
    };
    let views: Vec<FeedbackView> = entries
        .into_iter()
        .map(|FeedbackEntry { feedback: f, song }| FeedbackView {
            song_id: f.song_id.to_string(),
            artist: song.as_ref().map(|s| s.artist.clone()).unwrap_or_default(),
            title: song
                .as_ref()
                .map(|s| s.title.clone())
                .unwrap_or_else(|| "(no longer in the library)".into()),
            liked: f.liked,
            valence: round3(f.valence),
            arousal: round3(f.arousal),
            quadrant: Quadrant::of(f.valence, f.arousal).code(),
            mood_text: f.mood_text,
            at: f.at,
        })
        .collect();
    if json {
        #[derive(Serialize)]
        struct List {
            feedback: Vec<FeedbackView>,
        }
        return print_json(&List { feedback: views });
    }
    if views.is_empty() {
        errln!("no feedback yet");
    }
    for v in views {
        outln!(
            "{}  {:<8}  {} - {}  for {} ({:+.2}, {:+.2}){}",
            v.song_id,
            if v.liked { "liked" } else { "disliked" },
            v.artist,
            v.title,
            v.quadrant,
            v.valence,
            v.arousal,
            if v.mood_text.is_empty() {
                String::new()
            } else {
                format!("  \"{}\"", v.mood_text)
            }
        );
    }
    Ok(())
}
