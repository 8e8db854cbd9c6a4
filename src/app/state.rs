//! The app's state and `update()`, the one place it changes. `update()` never blocks and touches no terminal, file
//! or thread: what it wants done elsewhere it leaves as an [`Effect`] for the main loop to hand to a worker.

use std::cell::Cell;
use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent};
use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;

use super::action::{Action, Pane};
use super::editor::{EditOp, LineEditor};
use super::keymap::{editing_action, Keymap};
use super::worker::{Event, RecommendRequest};
use crate::emotion::{MoodReading, Quadrant, SongMood, TextMood, LABELS};
use crate::library::{Song, SongId};
use crate::lyrics::LyricsRecord;
use crate::recommend::Pick;

/// Libraries up to this size are filtered and sorted at once inside `update()`; larger ones a slice per frame.
const INSTANT_WORK: usize = 20_000;
/// Songs matched per slice of an incremental filter.
pub const FILTER_SLICE: usize = 20_000;
/// Map cursor step per key press on the full plane; a map zoomed in to ±0.5 or less steps half as far.
pub const MAP_STEP: f32 = 0.1;
/// Share of the analyzed songs the map's range fits in full; the rest sit on its edge.
const MAP_FIT_SHARE: f32 = 0.95;
/// The map never zooms in further than ±this, so a handful of calm songs do not fill it.
pub const MAP_RANGE_MIN: f32 = 0.25;
/// Rows a mouse wheel notch scrolls.
const WHEEL_ROWS: i32 = 3;
/// Share of the best fuzzy score a match needs to be shown (as `library search` does).
const RELATIVE_CUTOFF: f64 = 0.4;

/// What the library list and the map need from a song's analysis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MoodSummary {
    pub valence: f32,
    pub arousal: f32,
    pub quadrant: Quadrant,
    /// The strongest label other than neutral, and its score.
    pub top: Option<(&'static str, f32)>,
}

impl MoodSummary {
    pub fn of(reading: &MoodReading) -> MoodSummary {
        let top = reading.top_emotion().and_then(|l| {
            LABELS
                .iter()
                .find(|name| **name == l.label)
                .map(|name| (*name, l.score))
        });
        MoodSummary {
            valence: reading.valence,
            arousal: reading.arousal,
            quadrant: reading.quadrant(),
            top,
        }
    }
}

/// What the main loop does for `update()`.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    ReadMood {
        id: u64,
        text: String,
    },
    Recommend(RecommendRequest),
    /// Write the songs as an M3U8 file; `hint` is a few words for its name.
    Export {
        songs: Vec<Song>,
        hint: String,
    },
    SendMpd(Vec<Song>),
    SendPlayer {
        template: String,
        songs: Vec<Song>,
    },
    /// Read the lyrics and analysis of a song for the lyrics pane.
    LoadDetail(SongId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Artist,
    Title,
    Valence,
    Arousal,
    /// Fuzzy score while filtering, else closeness to your mood.
    Match,
}

impl SortKey {
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Artist => "artist",
            SortKey::Title => "title",
            SortKey::Valence => "valence",
            SortKey::Arousal => "arousal",
            SortKey::Match => "match",
        }
    }

    fn next(self) -> SortKey {
        match self {
            SortKey::Artist => SortKey::Title,
            SortKey::Title => SortKey::Valence,
            SortKey::Valence => SortKey::Arousal,
            SortKey::Arousal => SortKey::Match,
            SortKey::Match => SortKey::Artist,
        }
    }
}

/// A filter being matched a slice at a time.
#[derive(Debug, Clone)]
struct FilterJob {
    query: String,
    todo: Vec<u32>,
    pos: usize,
    hits: Vec<(u32, i64)>,
}

/// The completed filter: its query and every song it matched with its score, before the cutoff (a longer query
/// only ever matches a subset of these, so typing on narrows instead of starting over).
#[derive(Debug, Clone)]
struct FilterDone {
    query: String,
    hits: Vec<(u32, i64)>,
}

#[derive(Debug, Clone)]
pub struct Library {
    /// Song indices in display order (filtered and sorted).
    pub rows: Vec<u32>,
    /// Index into `rows`.
    pub selected: usize,
    /// First visible row; the drawing code keeps it so the selection stays in view.
    pub offset: Cell<usize>,
    pub sort: SortKey,
    pub reverse: bool,
    pub query: LineEditor,
    /// The filter input has the keys.
    pub searching: bool,
    job: Option<FilterJob>,
    done: Option<FilterDone>,
    /// Fuzzy score of each shown row's song, while a filter is on.
    scores: HashMap<u32, i64>,
    resort: bool,
    artist_keys: Option<Vec<String>>,
    title_keys: Option<Vec<String>>,
}

impl Library {
    fn new(n: usize) -> Library {
        Library {
            rows: (0..n as u32).collect(),
            selected: 0,
            offset: Cell::new(0),
            sort: SortKey::Artist,
            reverse: false,
            query: LineEditor::default(),
            searching: false,
            job: None,
            done: None,
            scores: HashMap::new(),
            resort: true,
            artist_keys: None,
            title_keys: None,
        }
    }

    /// The filter text in effect, if any.
    pub fn filter(&self) -> Option<&str> {
        self.done.as_ref().map(|d| d.query.as_str())
    }

    /// How far an incremental filter has got, 0..1, while one runs.
    pub fn filtering(&self) -> Option<f32> {
        self.job
            .as_ref()
            .map(|j| j.pos as f32 / j.todo.len().max(1) as f32)
    }

    pub fn selected_song(&self) -> Option<usize> {
        self.rows.get(self.selected).map(|i| *i as usize)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlaylistEntry {
    pub song: Song,
    pub valence: f32,
    pub arousal: f32,
    pub quadrant: Quadrant,
    pub score: f32,
    pub reason: String,
    /// Liked (true) or disliked (false) here.
    pub feedback: Option<bool>,
}

impl From<Pick> for PlaylistEntry {
    fn from(p: Pick) -> Self {
        PlaylistEntry {
            song: p.song,
            valence: p.valence,
            arousal: p.arousal,
            quadrant: p.quadrant,
            score: p.score,
            reason: crate::sanitize::clean_line(&p.reason),
            feedback: None,
        }
    }
}

/// What the playlist was made for.
#[derive(Debug, Clone, PartialEq)]
pub enum PlaylistSource {
    Mood(String),
    Near {
        valence: f32,
        arousal: f32,
    },
    Like {
        id: SongId,
        title: String,
    },
    /// A journey from the mood read from `mood` to the centre of a quadrant.
    Journey {
        mood: String,
        to: Quadrant,
    },
}

impl PlaylistSource {
    pub fn describe(&self) -> String {
        match self {
            PlaylistSource::Mood(text) => format!("for \"{text}\""),
            PlaylistSource::Near { valence, arousal } => {
                format!("near V{valence:+.2} A{arousal:+.2}")
            }
            PlaylistSource::Like { title, .. } => format!("like \"{title}\""),
            PlaylistSource::Journey { mood, to } => {
                format!("journey: {mood} → {} {}", to.code(), to.name())
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Playlist {
    pub entries: Vec<PlaylistEntry>,
    pub selected: usize,
    pub offset: Cell<usize>,
    pub source: Option<PlaylistSource>,
    /// The user reordered or removed songs: new analyses no longer refresh it.
    pub edited: bool,
    /// The request whose answer is awaited; answers to older ones are dropped.
    pub pending: Option<u64>,
    /// The source of the pending request.
    pending_source: Option<PlaylistSource>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ModelState {
    Loading,
    Ready { device: String },
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Idle,
    Running {
        done: usize,
        total: usize,
        rate: f64,
        eta_s: Option<f64>,
    },
    Done(String),
    Failed(String),
}

/// The state of the background work, for the status bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Jobs {
    pub model: ModelState,
    pub analysis: JobState,
    pub lyrics: JobState,
    /// The latest notice, and whether it is an error.
    pub message: Option<(bool, String)>,
    /// Stored analyses are still being read.
    pub loading_moods: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MoodState {
    Idle,
    Reading { id: u64 },
    Failed(String),
}

/// The lyrics and analysis of the song the lyrics pane shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub id: SongId,
    pub lyrics: Option<LyricsRecord>,
    pub mood: Option<SongMood>,
}

/// What the app needs from the run's context, so tests can build one without a terminal or a database.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub keymap: Keymap,
    /// The database, as the status bar shows it.
    pub database: String,
    pub limit: usize,
    /// Songs in a mood journey (config `recommend.journey_length`).
    pub journey_length: usize,
    pub player_command: String,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            keymap: Keymap::default(),
            database: String::new(),
            limit: crate::config::Recommend::default().limit,
            journey_length: crate::config::Recommend::default().journey_length,
            player_command: String::new(),
        }
    }
}

pub struct App {
    pub songs: Vec<Song>,
    /// The analysis of each song (same index as `songs`), once known.
    pub moods: Vec<Option<MoodSummary>>,
    index: HashMap<SongId, usize>,
    pub focus: Pane,
    /// The pane to return to when leaving the mood input.
    pub last_pane: Pane,
    pub help: bool,
    pub help_scroll: usize,
    pub mood_input: LineEditor,
    pub mood_state: MoodState,
    /// The user's mood as last read, with its text.
    pub mood: Option<(String, TextMood)>,
    pub library: Library,
    /// The map cursor (valence, arousal), always within the map's range.
    pub cursor: (f32, f32),
    /// How far the map reaches from 0 on both axes, fitted to the analyzed songs (see [`map_range`]).
    pub map_range: f32,
    /// The journey prompt is open: 1-4 pick the quadrant the journey goes to.
    pub journey_prompt: bool,
    pub playlist: Playlist,
    pub detail: Option<Detail>,
    pub lyrics_scroll: usize,
    pub jobs: Jobs,
    pub options: AppOptions,
    pub quit: bool,
    /// Something changed since the last frame.
    pub dirty: bool,
    effects: Vec<Effect>,
    next_id: u64,
    detail_wanted: Option<SongId>,
}

impl App {
    pub fn new(songs: Vec<Song>, options: AppOptions) -> App {
        let index = songs
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        let n = songs.len();
        let mut app = App {
            moods: vec![None; n],
            songs,
            index,
            focus: Pane::Library,
            last_pane: Pane::Library,
            help: false,
            help_scroll: 0,
            mood_input: LineEditor::default(),
            mood_state: MoodState::Idle,
            mood: None,
            library: Library::new(n),
            cursor: (0.0, 0.0),
            map_range: 1.0,
            journey_prompt: false,
            playlist: Playlist::default(),
            detail: None,
            lyrics_scroll: 0,
            jobs: Jobs {
                model: ModelState::Loading,
                analysis: JobState::Idle,
                lyrics: JobState::Idle,
                message: None,
                loading_moods: true,
            },
            options,
            quit: false,
            dirty: true,
            effects: Vec::new(),
            next_id: 0,
            detail_wanted: None,
        };
        app.settle();
        app
    }

    /// The effects `update()` left since the last call.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// A text input has the keys.
    pub fn typing(&self) -> bool {
        !self.help && (self.focus == Pane::Mood || self.library.searching)
    }

    /// The action a key press means here: the focused input gets it first, then the journey prompt, then the
    /// keymap.
    pub fn route_key(&self, ev: &KeyEvent) -> Option<Action> {
        if self.typing() {
            editing_action(ev)
        } else if self.journey_prompt && !self.help && ev.modifiers.is_empty() {
            match ev.code {
                KeyCode::Char(c @ '1'..='4') => {
                    let i = usize::from(c as u8 - b'1');
                    Some(Action::JourneyTo(Quadrant::ALL[i]))
                }
                KeyCode::Esc => Some(Action::Back),
                _ => self.options.keymap.action_for(ev),
            }
        } else {
            self.options.keymap.action_for(ev)
        }
    }

    /// Routes a key press and applies it.
    pub fn handle_key(&mut self, ev: &KeyEvent) {
        if let Some(action) = self.route_key(ev) {
            self.update(action);
        }
    }

    /// The song the map highlights and the lyrics pane shows: the playlist's when it has the focus, else the
    /// library's.
    pub fn current_song(&self) -> Option<usize> {
        let pane = match self.focus {
            Pane::Mood | Pane::Lyrics => self.last_pane,
            other => other,
        };
        if pane == Pane::Playlist {
            if let Some(e) = self.playlist.entries.get(self.playlist.selected) {
                return self.index.get(&e.song.id).copied();
            }
        }
        self.library.selected_song()
    }

    pub fn song_index(&self, id: &SongId) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// There is work left for [`App::tick`].
    pub fn busy(&self) -> bool {
        self.library.job.is_some() || self.library.resort
    }

    /// Does a slice of the deferred work (filtering, sorting) of a large library; the main loop calls it once per
    /// turn.
    pub fn tick(&mut self) {
        if self.library.job.is_some() {
            self.step_filter(FILTER_SLICE);
            self.dirty = true;
        } else if self.library.resort {
            self.rebuild_rows();
            self.dirty = true;
        }
    }

    /// Finishes all deferred work at once (tests, and small libraries).
    pub fn settle(&mut self) {
        while self.busy() {
            self.tick();
        }
    }

    pub fn update(&mut self, action: Action) {
        self.dirty = true;
        if self.help && !matches!(action, Action::Worker(_)) {
            match action {
                Action::Help | Action::Back => self.help = false,
                Action::Quit => self.quit = true,
                Action::Down => self.help_scroll += 1,
                Action::Up => self.help_scroll = self.help_scroll.saturating_sub(1),
                Action::Scroll { delta, .. } => {
                    self.help_scroll = (self.help_scroll as i64 + i64::from(delta)).max(0) as usize
                }
                Action::Top => self.help_scroll = 0,
                _ => {}
            }
            return;
        }
        // The journey prompt takes one answer; any other key closes it, and Back or the journey key only close it.
        if self.journey_prompt && !matches!(action, Action::Worker(_) | Action::JourneyTo(_)) {
            self.journey_prompt = false;
            if matches!(action, Action::Back | Action::Journey) {
                return;
            }
        }
        match action {
            Action::Quit => self.quit = true,
            Action::Help => {
                self.help = true;
                self.help_scroll = 0;
            }
            Action::Back => self.back(),
            Action::FocusMood => self.focus(Pane::Mood),
            Action::FocusLibrary => self.focus(Pane::Library),
            Action::FocusMap => self.focus(Pane::Map),
            Action::FocusPlaylist => self.focus(Pane::Playlist),
            Action::FocusLyrics => self.focus(Pane::Lyrics),
            Action::FocusNext => self.focus(self.focus.next()),
            Action::FocusPrev => self.focus(self.focus.prev()),
            Action::Up => self.step(-1),
            Action::Down => self.step(1),
            Action::PageUp => self.step(-10),
            Action::PageDown => self.step(10),
            Action::Top => self.step(i64::MIN / 2),
            Action::Bottom => self.step(i64::MAX / 2),
            Action::Left => self.move_cursor(-self.map_step(), 0.0),
            Action::Right => self.move_cursor(self.map_step(), 0.0),
            Action::Search => {
                self.focus(Pane::Library);
                self.library.searching = true;
            }
            Action::Select => self.select(),
            Action::SortNext => {
                self.library.sort = self.library.sort.next();
                self.library.resort = true;
            }
            Action::SortReverse => {
                self.library.reverse = !self.library.reverse;
                self.library.resort = true;
            }
            Action::Similar => self.similar(),
            Action::Journey => self.ask_journey(),
            Action::JourneyTo(to) => self.journey(to),
            Action::Like => self.feedback(true),
            Action::Dislike => self.feedback(false),
            Action::Remove => self.remove_entry(),
            Action::MoveUp => self.move_entry(-1),
            Action::MoveDown => self.move_entry(1),
            Action::Export => {
                if let Some(songs) = self.playlist_songs() {
                    let hint = match &self.playlist.source {
                        Some(PlaylistSource::Mood(t)) => t.clone(),
                        Some(PlaylistSource::Like { title, .. }) => format!("like {title}"),
                        Some(PlaylistSource::Journey { mood, to }) => {
                            format!("{mood} to {}", to.code())
                        }
                        _ => "map".into(),
                    };
                    self.effects.push(Effect::Export { songs, hint });
                }
            }
            Action::SendMpd => {
                if let Some(songs) = self.playlist_songs() {
                    self.effects.push(Effect::SendMpd(songs));
                }
            }
            Action::SendPlayer => {
                if let Some(songs) = self.playlist_songs() {
                    if self.options.player_command.trim().is_empty() {
                        self.message(
                            true,
                            "no player command; set player.command in the config, e.g. \"mpv --playlist={m3u}\"",
                        );
                    } else {
                        let template = self.options.player_command.clone();
                        self.effects.push(Effect::SendPlayer { template, songs });
                    }
                }
            }
            Action::Edit(op) => self.edit(op),
            Action::Click { pane, row } => self.click(pane, row),
            Action::MapClick { valence, arousal } => {
                self.focus(Pane::Map);
                let r = self.map_range;
                self.cursor = (valence.clamp(-r, r), arousal.clamp(-r, r));
            }
            Action::Scroll { pane, delta } => {
                let prev = self.focus;
                if pane != Pane::Mood && pane != Pane::Map {
                    self.focus = pane;
                    self.step(i64::from(delta * WHEEL_ROWS));
                    self.focus = prev;
                }
            }
            Action::Worker(event) => self.on_event(event),
        }
        if self.library.job.is_some() || self.library.resort {
            let size = self
                .library
                .job
                .as_ref()
                .map_or(self.library.rows.len(), |j| j.todo.len());
            if size <= INSTANT_WORK && self.songs.len() <= INSTANT_WORK * 5 {
                self.settle();
            }
        }
        self.want_detail();
    }

    fn message(&mut self, error: bool, text: &str) {
        self.jobs.message = Some((error, crate::sanitize::clean_line(text)));
    }

    fn focus(&mut self, pane: Pane) {
        if matches!(self.focus, Pane::Library | Pane::Map | Pane::Playlist) {
            self.last_pane = self.focus;
        }
        self.library.searching = false;
        self.focus = pane;
    }

    fn back(&mut self) {
        if self.library.searching {
            self.library.searching = false;
        } else if self.focus == Pane::Mood {
            self.focus = self.last_pane;
        } else if self.library.done.is_some() || !self.library.query.is_empty() {
            self.library.query.clear();
            self.start_filter();
        }
    }

    fn edit(&mut self, op: EditOp) {
        if self.library.searching {
            match op {
                EditOp::Submit => self.library.searching = false,
                EditOp::Cancel => {
                    self.library.searching = false;
                    self.library.query.clear();
                    self.start_filter();
                }
                op => {
                    if self.library.query.apply(&op) {
                        self.start_filter();
                    }
                }
            }
        } else if self.focus == Pane::Mood {
            match op {
                EditOp::Submit => self.submit_mood(),
                EditOp::Cancel => self.focus = self.last_pane,
                op => {
                    self.mood_input.apply(&op);
                }
            }
        }
    }

    fn submit_mood(&mut self) {
        let text = crate::sanitize::clean_line(&self.mood_input.text());
        if text.is_empty() {
            return;
        }
        self.mood_input.remember(&text);
        let id = self.new_id();
        self.mood_state = MoodState::Reading { id };
        self.effects.push(Effect::ReadMood { id, text });
        // The answer lands in the playlist; the keys go there too, so `?` and `q` work at once.
        self.focus = Pane::Playlist;
        self.last_pane = Pane::Playlist;
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn step(&mut self, delta: i64) {
        match self.focus {
            Pane::Library => {
                let n = self.library.rows.len();
                self.library.selected = clamp_step(self.library.selected, delta, n);
            }
            Pane::Playlist => {
                let n = self.playlist.entries.len();
                self.playlist.selected = clamp_step(self.playlist.selected, delta, n);
            }
            Pane::Lyrics => {
                let n = self
                    .detail
                    .as_ref()
                    .and_then(|d| d.lyrics.as_ref())
                    .map_or(0, |l| l.text.lines().count());
                self.lyrics_scroll = clamp_step(self.lyrics_scroll, delta, n);
            }
            Pane::Map => {
                let d = delta.clamp(-10, 10) as f32;
                self.move_cursor(0.0, -d * self.map_step());
            }
            Pane::Mood => {}
        }
    }

    fn move_cursor(&mut self, dv: f32, da: f32) {
        if self.focus != Pane::Map {
            return;
        }
        let r = self.map_range;
        let round = |x: f32| ((x * 100.0).round() / 100.0).clamp(-r, r);
        self.cursor = (round(self.cursor.0 + dv), round(self.cursor.1 + da));
    }

    fn select(&mut self) {
        match self.focus {
            Pane::Map => {
                let (valence, arousal) = self.cursor;
                self.recommend(PlaylistSource::Near { valence, arousal }, |id, limit| {
                    RecommendRequest::Near {
                        id,
                        valence,
                        arousal,
                        limit,
                    }
                });
            }
            Pane::Library | Pane::Playlist => self.similar(),
            Pane::Mood | Pane::Lyrics => {}
        }
    }

    fn similar(&mut self) {
        let Some(i) = self.current_song() else { return };
        let song = &self.songs[i];
        if self.moods[i].is_none() {
            let why = if song.has_lyrics() {
                "is not analyzed yet"
            } else {
                "has no lyrics to read"
            };
            let text = format!("\"{}\" {why}", song.title);
            self.message(true, &text);
            return;
        }
        let (seed, title) = (song.id.clone(), song.title.clone());
        self.recommend(
            PlaylistSource::Like {
                id: seed.clone(),
                title,
            },
            |id, limit| RecommendRequest::Like { id, seed, limit },
        );
    }

    /// How far the map cursor moves per key press: finer when the map is zoomed in.
    pub fn map_step(&self) -> f32 {
        if self.map_range > 0.5 {
            MAP_STEP
        } else {
            MAP_STEP / 2.0
        }
    }

    /// Opens the journey prompt, or says what is missing.
    fn ask_journey(&mut self) {
        if self.mood.is_some() {
            self.journey_prompt = true;
        } else {
            let km = &self.options.keymap;
            let text = format!(
                "a journey starts from your mood: press {} and type how you feel, then {} to pick where it goes",
                km.keys_label(&Action::FocusMood),
                km.keys_label(&Action::Journey)
            );
            self.message(true, &text);
        }
    }

    /// Asks for a journey from the current mood to the centre of `to`.
    fn journey(&mut self, to: Quadrant) {
        self.journey_prompt = false;
        let Some((text, from)) = self.mood.clone() else {
            self.ask_journey();
            return;
        };
        let steps = self.options.journey_length;
        self.recommend(PlaylistSource::Journey { mood: text, to }, |id, _| {
            RecommendRequest::Journey {
                id,
                from,
                to,
                steps,
            }
        });
    }

    fn recommend(
        &mut self,
        source: PlaylistSource,
        req: impl FnOnce(u64, usize) -> RecommendRequest,
    ) {
        let id = self.new_id();
        self.playlist.pending = Some(id);
        self.playlist.pending_source = Some(source);
        self.playlist.error = None;
        self.effects
            .push(Effect::Recommend(req(id, self.options.limit)));
    }

    /// After new analyses, an untouched playlist is ranked again so it grows with the library.
    fn refresh_playlist(&mut self) {
        if self.playlist.edited || self.playlist.pending.is_some() {
            return;
        }
        match self.playlist.source.clone() {
            Some(PlaylistSource::Mood(text)) => {
                if let Some((_, mood)) = self.mood.clone() {
                    self.recommend(PlaylistSource::Mood(text), |id, limit| {
                        RecommendRequest::Match { id, mood, limit }
                    });
                }
            }
            Some(PlaylistSource::Journey { to, .. }) if self.mood.is_some() => self.journey(to),
            Some(PlaylistSource::Near { valence, arousal }) => {
                self.recommend(PlaylistSource::Near { valence, arousal }, |id, limit| {
                    RecommendRequest::Near {
                        id,
                        valence,
                        arousal,
                        limit,
                    }
                })
            }
            _ => {}
        }
    }

    fn feedback(&mut self, liked: bool) {
        if self.focus != Pane::Playlist {
            self.message(
                true,
                "like and dislike work on the playlist (press 3 or Tab to get there)",
            );
            return;
        }
        let Some(entry) = self.playlist.entries.get_mut(self.playlist.selected) else {
            return;
        };
        entry.feedback = Some(liked);
        let song = entry.song.id.clone();
        let here = (entry.valence, entry.arousal);
        // Feedback counts for moods like the one the playlist was made for.
        let (mood, text) = match (&self.playlist.source, &self.mood) {
            (Some(PlaylistSource::Mood(_)), Some((text, m))) => (m.reading.clone(), text.clone()),
            (Some(PlaylistSource::Near { valence, arousal }), _) => {
                (point_reading(*valence, *arousal), String::new())
            }
            (Some(PlaylistSource::Like { id, .. }), _) => {
                let m = self.index.get(id).and_then(|i| self.moods[*i]);
                match m {
                    Some(m) => (point_reading(m.valence, m.arousal), String::new()),
                    None => (point_reading(here.0, here.1), String::new()),
                }
            }
            _ => (point_reading(here.0, here.1), String::new()),
        };
        self.effects
            .push(Effect::Recommend(RecommendRequest::Feedback {
                song,
                liked,
                mood,
                text,
            }));
    }

    fn remove_entry(&mut self) {
        if self.focus != Pane::Playlist || self.playlist.entries.is_empty() {
            return;
        }
        let i = self.playlist.selected.min(self.playlist.entries.len() - 1);
        self.playlist.entries.remove(i);
        self.playlist.selected = i.min(self.playlist.entries.len().saturating_sub(1));
        self.playlist.edited = true;
    }

    fn move_entry(&mut self, delta: i64) {
        if self.focus != Pane::Playlist {
            return;
        }
        let n = self.playlist.entries.len();
        let i = self.playlist.selected;
        let j = i as i64 + delta;
        if i >= n || j < 0 || j as usize >= n {
            return;
        }
        self.playlist.entries.swap(i, j as usize);
        self.playlist.selected = j as usize;
        self.playlist.edited = true;
    }

    fn playlist_songs(&mut self) -> Option<Vec<Song>> {
        if self.playlist.entries.is_empty() {
            self.message(
                true,
                "the playlist is empty: type a mood (m) or pick a point on the map",
            );
            return None;
        }
        Some(
            self.playlist
                .entries
                .iter()
                .map(|e| e.song.clone())
                .collect(),
        )
    }

    fn click(&mut self, pane: Pane, row: Option<usize>) {
        self.focus(pane);
        let Some(row) = row else { return };
        match pane {
            Pane::Library => {
                let i = self.library.offset.get().saturating_add(row);
                if i < self.library.rows.len() {
                    self.library.selected = i;
                }
            }
            Pane::Playlist => {
                let i = self.playlist.offset.get().saturating_add(row);
                if i < self.playlist.entries.len() {
                    self.playlist.selected = i;
                }
            }
            _ => {}
        }
    }

    fn want_detail(&mut self) {
        let id = self.current_song().map(|i| self.songs[i].id.clone());
        if id != self.detail_wanted {
            self.detail_wanted = id.clone();
            self.lyrics_scroll = 0;
            match id {
                Some(id) => self.effects.push(Effect::LoadDetail(id)),
                None => self.detail = None,
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::ModelReady { device } => self.jobs.model = ModelState::Ready { device },
            Event::ModelFailed(reason) => {
                self.jobs.model = ModelState::Failed(reason.clone());
                if matches!(self.mood_state, MoodState::Reading { .. }) {
                    self.mood_state = MoodState::Failed(reason);
                }
            }
            Event::MoodRead { id, mood } => {
                if self.mood_state != (MoodState::Reading { id }) {
                    return;
                }
                self.mood_state = MoodState::Idle;
                let text = self
                    .mood_input
                    .history()
                    .last()
                    .cloned()
                    .unwrap_or_default();
                self.mood = Some((text.clone(), mood.clone()));
                if self.library.sort == SortKey::Match {
                    self.library.resort = true;
                }
                self.recommend(PlaylistSource::Mood(text), |id, limit| {
                    RecommendRequest::Match { id, mood, limit }
                });
            }
            Event::MoodFailed { id, reason } => {
                if self.mood_state == (MoodState::Reading { id }) {
                    self.mood_state = MoodState::Failed(reason);
                }
            }
            Event::Moods(batch) => {
                for (id, summary) in batch {
                    if let Some(i) = self.index.get(&id) {
                        self.moods[*i] = Some(summary);
                    }
                    // The lyrics pane reads the song again to shade it with the new analysis.
                    let shown = self.detail.as_ref().is_some_and(|d| d.id == id);
                    if shown && self.detail.as_ref().is_some_and(|d| d.mood.is_none()) {
                        self.detail_wanted = None;
                    }
                }
                self.map_range = map_range(&self.moods);
                let r = self.map_range;
                self.cursor = (self.cursor.0.clamp(-r, r), self.cursor.1.clamp(-r, r));
                if matches!(
                    self.library.sort,
                    SortKey::Valence | SortKey::Arousal | SortKey::Match
                ) {
                    self.library.resort = true;
                }
            }
            Event::MoodsLoaded => self.jobs.loading_moods = false,
            Event::AnalysisProgress {
                done,
                total,
                rate,
                eta_s,
            } => {
                self.jobs.analysis = JobState::Running {
                    done,
                    total,
                    rate,
                    eta_s,
                };
                if done > 0 {
                    self.refresh_playlist();
                }
            }
            Event::AnalysisDone {
                analyzed,
                interrupted,
            } => {
                self.jobs.analysis = JobState::Done(if interrupted {
                    format!("stopped after {analyzed}")
                } else if analyzed == 0 {
                    "all analyzed".into()
                } else {
                    format!("{analyzed} analyzed")
                });
                if analyzed > 0 {
                    self.refresh_playlist();
                }
            }
            Event::AnalysisFailed(reason) => self.jobs.analysis = JobState::Failed(reason),
            Event::LyricsProgress {
                done,
                total,
                rate,
                eta_s,
                ..
            } => {
                self.jobs.lyrics = JobState::Running {
                    done,
                    total,
                    rate,
                    eta_s,
                }
            }
            Event::LyricsDone {
                found,
                not_found,
                failed,
                songs,
            } => {
                self.jobs.lyrics = JobState::Done(format!(
                    "{found} found, {not_found} not found{}",
                    if failed > 0 {
                        format!(", {failed} failed")
                    } else {
                        String::new()
                    }
                ));
                for song in songs {
                    if let Some(i) = self.index.get(&song.id).copied() {
                        self.songs[i] = song;
                    }
                }
                self.detail_wanted = None;
            }
            Event::LyricsFailed(reason) => self.jobs.lyrics = JobState::Failed(reason),
            Event::Picks { id, picks } => {
                if self.playlist.pending != Some(id) {
                    return;
                }
                self.playlist.pending = None;
                let keep = self
                    .playlist
                    .entries
                    .get(self.playlist.selected)
                    .map(|e| e.song.id.clone());
                let same_source = self.playlist.source == self.playlist.pending_source;
                self.playlist.source = self.playlist.pending_source.take();
                self.playlist.entries = picks.into_iter().map(PlaylistEntry::from).collect();
                self.playlist.edited = false;
                self.playlist.selected = if same_source {
                    keep.and_then(|id| self.playlist.entries.iter().position(|e| e.song.id == id))
                        .unwrap_or(0)
                } else {
                    self.playlist.offset.set(0);
                    0
                };
                if self.playlist.entries.is_empty() {
                    self.playlist.error = Some(if self.moods.iter().all(Option::is_none) {
                        "no song is analyzed yet; recommendations come as analysis goes".into()
                    } else {
                        "no song fits".into()
                    });
                }
            }
            Event::RecommendFailed { id, reason } => {
                if self.playlist.pending == Some(id) {
                    self.playlist.pending = None;
                    self.playlist.error = Some(reason);
                }
            }
            Event::Detail { id, lyrics, mood } => {
                if self.detail_wanted.as_ref() == Some(&id) {
                    self.detail = Some(Detail { id, lyrics, mood });
                }
            }
            Event::Notice(text) => self.message(false, &text),
            Event::JobError(text) => self.message(true, &text),
        }
    }

    fn start_filter(&mut self) {
        let lib = &mut self.library;
        let query = lib.query.text().trim().to_string();
        if query.is_empty() {
            lib.job = None;
            lib.done = None;
            lib.scores.clear();
            lib.resort = true;
            return;
        }
        let todo: Vec<u32> = match &lib.done {
            Some(d) if query.to_lowercase().starts_with(&d.query.to_lowercase()) => {
                d.hits.iter().map(|(i, _)| *i).collect()
            }
            _ => (0..self.songs.len() as u32).collect(),
        };
        lib.job = Some(FilterJob {
            query,
            todo,
            pos: 0,
            hits: Vec::new(),
        });
    }

    fn step_filter(&mut self, budget: usize) {
        let Some(job) = self.library.job.as_mut() else {
            return;
        };
        let matcher = SkimMatcherV2::default().ignore_case();
        let end = (job.pos + budget).min(job.todo.len());
        for &i in &job.todo[job.pos..end] {
            if let Some(score) = score_song(&matcher, &self.songs[i as usize], &job.query) {
                job.hits.push((i, score));
            }
        }
        job.pos = end;
        if job.pos >= job.todo.len() {
            if let Some(job) = self.library.job.take() {
                self.library.done = Some(FilterDone {
                    query: job.query,
                    hits: job.hits,
                });
                self.library.selected = 0;
                self.library.offset.set(0);
                self.rebuild_rows();
            }
        }
    }

    /// Filters and sorts the library rows; the selected song stays selected when it is still shown.
    fn rebuild_rows(&mut self) {
        let keep = self.library.selected_song();
        let lib = &mut self.library;
        lib.resort = false;
        lib.scores.clear();
        let mut rows: Vec<u32> = match &lib.done {
            Some(done) => {
                let best = done.hits.iter().map(|h| h.1).max().unwrap_or(0);
                let floor = (best as f64 * RELATIVE_CUTOFF) as i64;
                let kept: Vec<(u32, i64)> =
                    done.hits.iter().copied().filter(|h| h.1 >= floor).collect();
                lib.scores = kept.iter().copied().collect();
                kept.into_iter().map(|h| h.0).collect()
            }
            None => (0..self.songs.len() as u32).collect(),
        };
        let songs = &self.songs;
        let moods = &self.moods;
        match lib.sort {
            SortKey::Artist => {
                let keys = lib.artist_keys.get_or_insert_with(|| {
                    songs
                        .iter()
                        .map(|s| format!("{}\u{0}{}", s.artist, s.title).to_lowercase())
                        .collect()
                });
                rows.sort_by(|a, b| keys[*a as usize].cmp(&keys[*b as usize]));
            }
            SortKey::Title => {
                let keys = lib.title_keys.get_or_insert_with(|| {
                    songs
                        .iter()
                        .map(|s| format!("{}\u{0}{}", s.title, s.artist).to_lowercase())
                        .collect()
                });
                rows.sort_by(|a, b| keys[*a as usize].cmp(&keys[*b as usize]));
            }
            SortKey::Valence | SortKey::Arousal => {
                let val = |i: u32| {
                    moods[i as usize].map(|m| {
                        if lib.sort == SortKey::Valence {
                            m.valence
                        } else {
                            m.arousal
                        }
                    })
                };
                // Highest first; songs with no analysis last.
                rows.sort_by(|a, b| match (val(*a), val(*b)) {
                    (Some(x), Some(y)) => y.total_cmp(&x),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => a.cmp(b),
                });
            }
            SortKey::Match => {
                if !lib.scores.is_empty() {
                    let scores = &lib.scores;
                    rows.sort_by(|a, b| scores.get(b).cmp(&scores.get(a)).then(a.cmp(b)));
                } else if let Some((_, mood)) = &self.mood {
                    let (v, a) = (mood.reading.valence, mood.reading.arousal);
                    let dist =
                        |i: u32| moods[i as usize].map(|m| (m.valence - v).hypot(m.arousal - a));
                    rows.sort_by(|x, y| match (dist(*x), dist(*y)) {
                        (Some(p), Some(q)) => p.total_cmp(&q),
                        (Some(_), None) => std::cmp::Ordering::Less,
                        (None, Some(_)) => std::cmp::Ordering::Greater,
                        (None, None) => x.cmp(y),
                    });
                }
            }
        }
        if lib.reverse {
            rows.reverse();
        }
        lib.selected = keep
            .and_then(|k| rows.iter().position(|r| *r as usize == k))
            .unwrap_or(0);
        lib.rows = rows;
    }
}

/// How far the map reaches from 0 on both axes: enough for 95% of the analyzed songs on both axes, rounded up to
/// 0.05, between ±0.25 and ±1 (the whole plane, also while nothing is analyzed). Real valence and arousal mostly lie
/// within ±0.4, so a fixed ±1 map crowds every song into its centre.
pub fn map_range(moods: &[Option<MoodSummary>]) -> f32 {
    let mut reach: Vec<f32> = moods
        .iter()
        .flatten()
        .map(|m| m.valence.abs().max(m.arousal.abs()))
        .filter(|x| x.is_finite())
        .collect();
    if reach.is_empty() {
        return 1.0;
    }
    let k = ((reach.len() as f32 * MAP_FIT_SHARE).ceil() as usize).clamp(1, reach.len()) - 1;
    let (_, at, _) = reach.select_nth_unstable_by(k, f32::total_cmp);
    // Rounded first so a value a hair above a step (0.4000001) does not take the next one.
    let at = (*at * 1000.0).round() / 1000.0;
    ((at * 20.0).ceil() / 20.0).clamp(MAP_RANGE_MIN, 1.0)
}

/// A reading with only a place on the map, for feedback on map and song-seeded playlists.
fn point_reading(valence: f32, arousal: f32) -> MoodReading {
    MoodReading {
        emotions: vec![0.0; LABELS.len()],
        valence,
        arousal,
    }
}

fn clamp_step(pos: usize, delta: i64, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    (pos as i64).saturating_add(delta).clamp(0, len as i64 - 1) as usize
}

/// The song's fuzzy score for `query`: the best of title, artist, both, and album at a lower weight (as
/// `library search` scores).
pub fn score_song(matcher: &SkimMatcherV2, song: &Song, query: &str) -> Option<i64> {
    let title = matcher.fuzzy_match(&song.title, query);
    let artist = matcher.fuzzy_match(&song.artist, query);
    let both = matcher.fuzzy_match(&format!("{} {}", song.artist, song.title), query);
    let album = matcher.fuzzy_match(&song.album, query).map(|s| s * 2 / 3);
    [title, artist, both, album].into_iter().flatten().max()
}

/// Character positions of `query` in `text` to highlight (empty when it does not match on its own).
pub fn match_positions(text: &str, query: &str) -> Vec<usize> {
    if query.trim().is_empty() {
        return Vec::new();
    }
    SkimMatcherV2::default()
        .ignore_case()
        .fuzzy_indices(text, query.trim())
        .map(|(_, p)| p)
        .unwrap_or_default()
}
