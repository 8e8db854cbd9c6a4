//! `recommend`, `feedback`, `play` and `scan --mpd`: the recommendation modes on the command line and the hand-off
//! of their playlists to a file, MPD or a player command.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::view::{round3, SongView};
use super::{print_json, Context};
use crate::emotion::analyze::{self, Which};
use crate::emotion::{model_key, Engine, EngineOptions, MoodReading, Quadrant, TextMood};
use crate::library::{format_duration, search, Song, SongId};
use crate::player::{self, MpdTarget};
use crate::recommend::{self as rec, Candidate, Pick, Target, Weights};
use crate::store::Store;

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
        #[arg(long, value_name = "Q1|Q2|Q3|Q4|TEXT")]
        to: String,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Songs nearest a point of the mood map (valence and arousal, each -1..1)
    #[command(allow_negative_numbers = true)]
    Near {
        valence: f32,
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

#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// At most this many songs (default: config recommend.limit, or recommend.journey_length for journeys)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    #[arg(long)]
    pub json: bool,
    /// Also write the playlist to an M3U8 file
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Send the playlist to MPD's queue and play it
    #[arg(long)]
    pub mpd: bool,
    /// With --mpd: replace the queue instead of appending to it
    #[arg(long, requires = "mpd")]
    pub replace: bool,
    /// Play the playlist with the config's player.command
    #[arg(long)]
    pub play: bool,
    /// List songs without an analysis after the recommendations
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

pub fn run_recommend(ctx: &Context, cmd: RecommendCommand) -> anyhow::Result<i32> {
    // Bad input is reported before any slow first-use work.
    if let RecommendCommand::Near {
        valence, arousal, ..
    } = &cmd
    {
        anyhow::ensure!(
            (-1.0..=1.0).contains(valence) && (-1.0..=1.0).contains(arousal),
            "valence and arousal go from -1 to 1 (got {valence} {arousal})"
        );
    }
    let store = ctx.open_store()?;
    let needs_text = matches!(
        cmd,
        RecommendCommand::Match { .. } | RecommendCommand::Journey { .. }
    );
    let engine = prepare(ctx, &store, needs_text)?;
    let cands = rec::load_candidates(&store)?;
    if cands.is_empty() {
        anyhow::bail!(
            "no song has a mood analysis yet; add songs with lyrics (`moodtape scan DIR`, `moodtape lyrics fetch`) and run `moodtape analyze`"
        );
    }
    let feedback = rec::load_feedback(&store)?;
    let weights = Weights::from_config(&ctx.config.recommend);
    let default_limit = ctx.config.recommend.limit;
    let (picks, out) = match cmd {
        RecommendCommand::Match { text, out } => {
            let mood = read_text(engine.as_ref(), &text)?;
            let limit = out.limit.unwrap_or(default_limit);
            (
                rec::rank_match(&cands, &mood, &weights, &feedback, limit),
                out,
            )
        }
        RecommendCommand::Journey { text, to, out } => {
            let mood = read_text(engine.as_ref(), &text)?;
            let target = match Quadrant::parse(&to) {
                Some(q) => Target::Quadrant(q),
                None => Target::Mood(read_text(engine.as_ref(), &to)?),
            };
            let steps = out.limit.unwrap_or(ctx.config.recommend.journey_length);
            anyhow::ensure!(
                steps >= 2,
                "a journey needs at least 2 songs (--limit 2 or more)"
            );
            (
                rec::journey(&cands, &mood, &target, steps, &weights, &feedback),
                out,
            )
        }
        RecommendCommand::Near {
            valence,
            arousal,
            out,
        } => {
            let limit = out.limit.unwrap_or(default_limit);
            (
                rec::near(&cands, valence, arousal, limit, &weights, &feedback),
                out,
            )
        }
        RecommendCommand::Like { song, out } => {
            let seed = resolve_song(&store, &song)?;
            anyhow::ensure!(
                cands.iter().any(|c| c.song.id == seed.id),
                "{} has no mood analysis (it needs lyrics); pick another song",
                seed.display_name()
            );
            let limit = out.limit.unwrap_or(default_limit);
            (rec::like(&cands, &seed.id, limit, &weights, &feedback), out)
        }
    };
    let extra = if out.include_unanalyzed {
        unanalyzed(&store, &cands)?
    } else {
        Vec::new()
    };
    print_picks(&picks, &extra, &cands, out.json)?;
    let songs: Vec<Song> = picks.iter().map(|p| p.song.clone()).chain(extra).collect();
    deliver(
        ctx,
        &songs,
        out.out.as_ref(),
        out.mpd,
        out.replace,
        out.play,
    )?;
    Ok(0)
}

pub fn run_feedback(ctx: &Context, cmd: FeedbackCommand) -> anyhow::Result<i32> {
    let store = ctx.open_store()?;
    match cmd {
        FeedbackCommand::Like(args) => give_feedback(ctx, &store, args, true)?,
        FeedbackCommand::Dislike(args) => give_feedback(ctx, &store, args, false)?,
        FeedbackCommand::List { json } => list_feedback(&store, json)?,
        FeedbackCommand::Clear => {
            let n = rec::clear_feedback(&store)?;
            eprintln!("forgot {n} likes and dislikes");
        }
    }
    Ok(0)
}

pub fn run_play(ctx: &Context, args: PlayArgs) -> anyhow::Result<i32> {
    let store = ctx.open_store()?;
    let songs = args
        .songs
        .iter()
        .map(|q| resolve_song(&store, q))
        .collect::<anyhow::Result<Vec<Song>>>()?;
    let play = !args.mpd && args.out.is_none();
    deliver(ctx, &songs, args.out.as_ref(), args.mpd, args.replace, play)?;
    Ok(0)
}

/// `scan --mpd`: MPD's database into the library.
pub fn run_scan_mpd(ctx: &Context, store: &Store, json: bool) -> anyhow::Result<()> {
    let target = MpdTarget::from_context(ctx);
    let report = player::import_library(&target, store)?;
    if json {
        print_json(&report)?;
    } else {
        println!(
            "MPD at {}: {} songs ({} new, {} updated, {} removed, {} with lyrics from their files)",
            report.mpd,
            report.songs,
            report.added,
            report.updated,
            report.removed,
            report.lyrics_found
        );
    }
    Ok(())
}

/// First use: lyrics still missing are looked up and songs not yet analyzed are read, with progress on stderr,
/// so the very first recommendation already sees the whole library. Returns the engine when it was loaded or
/// `need_engine` asks for it.
fn prepare(ctx: &Context, store: &Store, need_engine: bool) -> anyhow::Result<Option<Engine>> {
    // The demo ships its lyrics; offline there is nowhere else to look than the files, which scan already read.
    if !ctx.offline && !ctx.demo {
        let songs = store.all_songs()?;
        let missing = songs
            .iter()
            .filter(|s| !s.has_lyrics() && !s.instrumental)
            .count();
        if missing > 0 {
            eprintln!("looking up lyrics for {missing} songs first…");
            let cancel = AtomicBool::new(false);
            match crate::lyrics::fetch_missing(ctx, store, &mut |_p| {}, &cancel) {
                Ok(s) => eprintln!("lyrics: {} found, {} not found", s.found, s.not_found),
                // Recommendations from what is there beat none at all.
                Err(e) => eprintln!("moodtape: warning: lyrics lookup failed: {e:#}"),
            }
        }
    }
    let key = model_key();
    let (todo, _) = analyze::pending(store, &key, Which::Missing)?;
    if todo.is_empty() && !need_engine {
        return Ok(None);
    }
    let engine = Engine::load(&EngineOptions::from_context(ctx, true))?;
    if !todo.is_empty() {
        eprintln!(
            "reading the mood of {} songs first (only needed once)…",
            todo.len()
        );
        let bar = indicatif::ProgressBar::new(todo.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "analyzing {bar:30} {pos}/{len} songs  eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let cancel = AtomicBool::new(false);
        let result = analyze::run(
            store,
            &engine,
            &key,
            Which::Missing,
            &mut |p| bar.set_position(p.done as u64),
            &cancel,
        );
        bar.finish_and_clear();
        result?;
    }
    Ok(Some(engine))
}

fn read_text(engine: Option<&Engine>, text: &str) -> anyhow::Result<TextMood> {
    anyhow::ensure!(
        !text.trim().is_empty(),
        "the mood text is empty; say how you feel"
    );
    let engine = engine.context("the emotion model is not loaded")?;
    Ok(engine.read_text(text)?)
}

/// A song by id, or the best fuzzy match for an "artist - title" query.
pub fn resolve_song(store: &Store, query: &str) -> anyhow::Result<Song> {
    let query = query.trim();
    if let Some(song) = store.song(&SongId(query.to_string()))? {
        return Ok(song);
    }
    let songs = store.all_songs()?;
    // "Artist - Title": the dash is not in the text the search matches against.
    let words = query.replace(" - ", " ");
    let hit = search::search(&songs, &words)
        .into_iter()
        .next()
        .filter(|_| !words.trim().is_empty());
    match hit {
        Some(m) => Ok(songs[m.index].clone()),
        None => anyhow::bail!(
            "no song matches {query:?}; try `moodtape library search {query:?}` to find its id"
        ),
    }
}

fn unanalyzed(store: &Store, cands: &[Candidate]) -> anyhow::Result<Vec<Song>> {
    let have: std::collections::HashSet<&SongId> = cands.iter().map(|c| &c.song.id).collect();
    Ok(store
        .all_songs()?
        .into_iter()
        .filter(|s| !have.contains(&s.id))
        .collect())
}

fn print_picks(
    picks: &[Pick],
    extra: &[Song],
    cands: &[Candidate],
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let mood_of = |id: &SongId| cands.iter().find(|c| &c.song.id == id).map(|c| &c.mood);
        let mut songs: Vec<PickView> = picks
            .iter()
            .map(|p| PickView {
                song: SongView::new(&p.song, mood_of(&p.song.id)),
                score: Some(round3(p.score)),
                reason: p.reason.clone(),
            })
            .collect();
        songs.extend(extra.iter().map(|s| PickView {
            song: SongView::new(s, None),
            score: None,
            reason: unanalyzed_reason(s).into(),
        }));
        return print_json(&PickList { songs });
    }
    if picks.is_empty() {
        eprintln!("no songs to recommend");
    }
    for (i, p) in picks.iter().enumerate() {
        println!(
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
    for s in extra {
        println!("    {}  ({})", s.display_name(), unanalyzed_reason(s));
    }
    Ok(())
}

fn unanalyzed_reason(song: &Song) -> &'static str {
    if song.instrumental {
        "instrumental, no mood read"
    } else if !song.has_lyrics() {
        "no lyrics yet, no mood read"
    } else {
        "not analyzed yet"
    }
}

/// Writes, queues or plays `songs` as asked; messages go to stderr so `--json` output stays clean.
fn deliver(
    ctx: &Context,
    songs: &[Song],
    out: Option<&PathBuf>,
    mpd: bool,
    replace: bool,
    play: bool,
) -> anyhow::Result<()> {
    if let Some(path) = out {
        player::write_m3u8(path, songs)
            .with_context(|| format!("cannot write the playlist {}", path.display()))?;
        eprintln!("wrote {} songs to {}", songs.len(), path.display());
    }
    if mpd {
        let target = MpdTarget::from_context(ctx);
        let report = player::queue(&target, songs, replace, true)?;
        if !report.missing.is_empty() {
            let warning = player::PlayerError::NotInDatabase {
                songs: report.missing.clone(),
            };
            eprintln!("moodtape: warning: {warning}");
        }
        eprintln!(
            "{} {} songs on MPD at {}{}",
            if report.replaced {
                "queued (replacing the queue)"
            } else {
                "queued"
            },
            report.queued,
            target.addr(),
            if report.playing { ", playing" } else { "" }
        );
    }
    if play {
        player::run_command(&ctx.config.player.command, songs)?;
    }
    Ok(())
}

fn give_feedback(
    ctx: &Context,
    store: &Store,
    args: FeedbackArgs,
    liked: bool,
) -> anyhow::Result<()> {
    let song = resolve_song(store, &args.song)?;
    let (reading, text): (MoodReading, String) = match &args.mood {
        Some(text) => {
            let engine = Engine::load(&EngineOptions::from_context(ctx, true))?;
            (read_text(Some(&engine), text)?.reading, text.clone())
        }
        None => {
            let mood =
                crate::emotion::stored_mood(store, &model_key(), &song)?.with_context(|| {
                    format!(
                        "{} has no mood analysis; say which mood it was for with --mood TEXT",
                        song.display_name()
                    )
                })?;
            (mood.reading, String::new())
        }
    };
    rec::record_feedback(store, &song.id, liked, &reading, &text)?;
    eprintln!(
        "{} {} for {} moods ({:+.2}, {:+.2})",
        if liked { "liked" } else { "disliked" },
        song.display_name(),
        reading.quadrant().code(),
        reading.valence,
        reading.arousal
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

fn list_feedback(store: &Store, json: bool) -> anyhow::Result<()> {
    let mut views = Vec::new();
    for f in rec::load_feedback(store)? {
        let song = store.song(&f.song_id)?;
        views.push(FeedbackView {
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
        });
    }
    if json {
        #[derive(Serialize)]
        struct List {
            feedback: Vec<FeedbackView>,
        }
        return print_json(&List { feedback: views });
    }
    if views.is_empty() {
        eprintln!("no feedback yet");
    }
    for v in views {
        println!(
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
