//! The operations of the core as data: a [`Call`] names one with its arguments, an [`Answer`] is its result and
//! [`Progress`] what it reports while it runs. The CLI and the TUI make calls on a session in their own process
//! or, through the server, on the session of a running moodtape; both serialize the same way.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::events::Event;
use super::playing::{NowPlaying, RadioRequest, RadioStatus};
use crate::emotion::analyze::{AnalyzeProgress, AnalyzeSummary, Which};
use crate::library::import::{Format, ImportSummary};
use crate::library::scan::{ScanProgress, ScanSummary};
use crate::lyrics::{FetchProgress, FetchSummary};
use crate::player::{ImportReport, PlayerOp, QueueReport};
use crate::recommend::Pick;
use crate::records::{
    Feedback, LyricsRecord, MoodNote, MoodReading, MoodSummary, Quadrant, Song, SongId, SongMood,
    TextMood,
};
use crate::store::CheckReport;

/// Where a journey goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    Quadrant(Quadrant),
    /// The mood of a text.
    Text(String),
}

impl Destination {
    /// `Q1`..`Q4` (or a quadrant's name) is a quadrant; anything else is read as a mood.
    pub fn parse(text: &str) -> Destination {
        match Quadrant::parse(text) {
            Some(q) => Destination::Quadrant(q),
            None => Destination::Text(text.to_string()),
        }
    }
}

/// What a playlist is made for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Mode {
    /// Songs that fit the mood of `text` (or of `mood`, when the caller has read it already).
    Match {
        text: String,
        #[serde(default)]
        mood: Option<TextMood>,
    },
    /// A journey from the mood of `text` (or `mood`) to `to`.
    Journey {
        text: String,
        #[serde(default)]
        mood: Option<TextMood>,
        to: Destination,
    },
    /// Songs nearest a point of the map.
    Near { valence: f32, arousal: f32 },
    /// Songs like one song (an id or an "artist - title" query).
    Like { song: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaylistRequest {
    pub mode: Mode,
    /// Songs in the playlist (default: config `recommend.limit`, or `journey_length` for journeys).
    #[serde(default)]
    pub limit: Option<usize>,
    /// List songs without an analysis after the playlist.
    #[serde(default)]
    pub include_unanalyzed: bool,
    /// Look up missing lyrics and analyze what is not analyzed first, reporting progress.
    #[serde(default)]
    pub prepare: bool,
}

/// One song of a playlist with its full reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub pick: Pick,
    pub reading: MoodReading,
    /// How far the song's reading can be trusted, and its language.
    #[serde(default)]
    pub note: MoodNote,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Playlist {
    pub entries: Vec<Entry>,
    /// Songs without an analysis, when asked for.
    pub unanalyzed: Vec<Song>,
    /// The language of each unanalyzed song left unread for it (by song id).
    #[serde(default)]
    pub skipped: BTreeMap<SongId, String>,
}

impl Playlist {
    /// Every song, the playlist's first, then the unanalyzed ones.
    pub fn songs(&self) -> Vec<Song> {
        self.entries
            .iter()
            .map(|e| e.pick.song.clone())
            .chain(self.unanalyzed.iter().cloned())
            .collect()
    }
}

/// A song with the current model's reading of it, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SongInfo {
    pub song: Song,
    pub reading: Option<MoodReading>,
    /// Its confidence and language, or why it has no reading.
    #[serde(default)]
    pub note: MoodNote,
}

/// Counts of the library, for `library stats` and status bars.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LibraryStats {
    pub songs: usize,
    pub with_lyrics: usize,
    pub instrumental: usize,
    pub analyzed: usize,
    /// Songs left unread because their lyrics are in a language the model does not read.
    #[serde(default)]
    pub skipped_language: usize,
    pub by_quadrant: BTreeMap<String, usize>,
    pub database: String,
    pub model: String,
}

/// What the lyrics pane shows of a song.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Detail {
    pub lyrics: Option<LyricsRecord>,
    pub mood: Option<SongMood>,
}

/// Which mood a like or dislike is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackFor {
    /// The song's own mood.
    Song,
    /// The mood of a text.
    Text(String),
    /// A mood already read (the TUI's playlist knows it), with the words it was read from.
    Reading { reading: MoodReading, text: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackGiven {
    pub song: Song,
    pub liked: bool,
    pub reading: MoodReading,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackEntry {
    pub feedback: Feedback,
    /// The song, while it is still in the library.
    pub song: Option<Song>,
}

/// Where a playlist goes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// An M3U8 file to write.
    #[serde(default)]
    pub out: Option<PathBuf>,
    /// Write an M3U8 file named after these words into the playlists folder.
    #[serde(default)]
    pub export: Option<String>,
    /// Send to MPD's queue: `Some(true)` replaces the queue, `Some(false)` appends.
    #[serde(default)]
    pub mpd: Option<bool>,
    /// Write the playlist file even when no song in it can be listed (none has a location).
    #[serde(default)]
    pub allow_empty: bool,
}

/// What a delivery did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delivered {
    /// The file written and how many songs it lists.
    pub written: Option<(PathBuf, usize)>,
    /// What the file says, in words: how many of the songs it lists and why the others are not there.
    #[serde(default)]
    pub written_note: String,
    pub queue: Option<QueueReport>,
    /// MPD's address, for messages.
    pub mpd_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportRequest {
    pub file: PathBuf,
    pub format: Format,
    /// Column mapping such as "artist=Performer,title=2".
    #[serde(default)]
    pub map: String,
    pub header: bool,
}

/// Who answers: the running instance, for clients and status lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub version: String,
    pub pid: u32,
    pub database: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum Call {
    Hello,
    /// Every song, or the best fuzzy matches of `query`.
    Songs {
        #[serde(default)]
        query: Option<String>,
        #[serde(default)]
        limit: Option<usize>,
    },
    Stats,
    /// Every song, in library order, without analyses.
    Library,
    /// The stored analyses of these songs, summed up.
    MoodSummaries {
        ids: Vec<SongId>,
    },
    Detail {
        id: SongId,
    },
    /// A song by id or "artist - title" query.
    Resolve {
        query: String,
    },
    ReadMood {
        text: String,
    },
    Recommend {
        request: PlaylistRequest,
    },
    Deliver {
        songs: Vec<SongId>,
        to: Delivery,
    },
    Feedback {
        song: String,
        liked: bool,
        mood: FeedbackFor,
    },
    FeedbackList,
    FeedbackClear,
    LyricsFetch {
        missing_only: bool,
        #[serde(default)]
        jobs: Option<usize>,
    },
    Lyrics {
        query: String,
    },
    Analyze {
        which: Which,
    },
    Scan {
        dirs: Vec<PathBuf>,
    },
    ScanMpd,
    Import {
        request: ImportRequest,
    },
    DbCheck,
    DbExport {
        path: PathBuf,
    },
    /// Every event of the session from now on, as progress, until the caller hangs up.
    Watch,
    /// A player key: play/pause, next, previous, seek, volume.
    Player {
        op: PlayerOp,
    },
    /// What MPD plays, as the session last saw it.
    NowPlaying,
    /// Adds a song MPD plays (by its URI) to the library.
    ImportFromMpd {
        uri: String,
    },
    /// Starts the mood radio in the session (which must follow MPD).
    RadioStart {
        request: RadioRequest,
    },
    RadioStop,
    RadioStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    Hello(Hello),
    Songs {
        songs: Vec<SongInfo>,
    },
    Stats(LibraryStats),
    Library {
        songs: Vec<Song>,
    },
    MoodSummaries {
        moods: Vec<(SongId, MoodSummary)>,
        /// Songs left unread for their language, with it.
        #[serde(default)]
        skipped: Vec<(SongId, String)>,
    },
    Detail(Detail),
    Song {
        song: Song,
    },
    Mood {
        mood: TextMood,
    },
    Playlist(Playlist),
    Delivered(Delivered),
    Feedback(FeedbackGiven),
    FeedbackList {
        entries: Vec<FeedbackEntry>,
    },
    Count {
        count: usize,
    },
    LyricsFetched(FetchSummary),
    Lyrics {
        song: Song,
        record: Option<LyricsRecord>,
        /// What the current model made of these lyrics: confidence and language, or why it read no mood.
        #[serde(default)]
        note: Option<MoodNote>,
    },
    Analyzed(AnalyzeSummary),
    Scanned(ScanSummary),
    MpdImported(ImportReport),
    Imported(ImportSummary),
    Checked(CheckReport),
    Exported {
        records: usize,
        path: PathBuf,
    },
    Done,
    NowPlaying {
        now: Option<NowPlaying>,
    },
    Radio {
        radio: RadioStatus,
    },
}

/// What a call reports while it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "progress", rename_all = "snake_case")]
pub enum Progress {
    /// A line for the user (a CLI prints it on stderr).
    Note {
        text: String,
    },
    Lyrics(FetchProgress),
    Analysis(AnalyzeProgress),
    Scan(ScanProgress),
    Import(crate::library::import::ImportProgress),
    /// Songs listed so far from MPD's database (`scan --mpd`).
    MpdListed {
        songs: usize,
    },
    /// An event of the session (for `Watch`).
    Event(Event),
}

/// An answer of the wrong kind: a client and a server that disagree.
#[derive(Debug, thiserror::Error)]
#[error("unexpected answer to {call}: {got}")]
pub struct UnexpectedAnswer {
    pub call: &'static str,
    pub got: String,
}

impl Answer {
    pub fn unexpected(self, call: &'static str) -> UnexpectedAnswer {
        let got = serde_json::to_value(&self)
            .ok()
            .and_then(|v| v.get("answer").and_then(|a| a.as_str()).map(str::to_string))
            .unwrap_or_default();
        UnexpectedAnswer { call, got }
    }
}
