//! The app's state and `update()`, the one place it changes. `update()` never blocks and touches no terminal, file
//! or thread: what it wants done elsewhere it leaves as an [`Effect`] for the runtime to hand to a worker, and
//! the answers come back as actions. Each pane keeps its own state (see the submodules); the input layer on top
//! ([`Layer`]) decides who gets a key, for routing and for `update()` alike.

mod library;
mod panes;
mod playing;
mod playlist;
mod welcome;

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent};

pub use library::{Library, SortKey, FILTER_SLICE};
pub use panes::{
    map_range, Detail, JobState, Jobs, LyricsPane, MapPane, ModelState, MoodPane, MoodState,
    MAP_RANGE_MIN, MAP_STEP,
};
pub use playing::{interpolate, Playing, PROGRESS_FRAME};
pub use playlist::{Playlist, PlaylistEntry, PlaylistSource};
pub use welcome::{ImportJob, ImportReply, Imports};

use super::action::{Action, Pane};
use super::editor::EditOp;
use super::keymap::{editing_action, Keymap};
use super::layer::{Layer, Overlay};
use crate::records::{
    LyricsRecord, MoodReading, MoodSummary, Quadrant, Song, SongId, SongMood, TextMood, LABELS,
};
use crate::service::{
    Delivery, Destination, Entry, Event, JobKind, JobStatus, Mode, ModelStatus, PlaylistRequest,
};

/// Libraries up to this size are filtered and sorted at once inside `update()`; larger ones a slice per frame.
const INSTANT_WORK: usize = 20_000;
/// Rows a mouse wheel notch scrolls.
const WHEEL_ROWS: i32 = 3;

/// What the runtime does for `update()`.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    ReadMood {
        id: u64,
        text: String,
    },
    Recommend {
        id: u64,
        request: PlaylistRequest,
    },
    Feedback {
        song: SongId,
        liked: bool,
        reading: MoodReading,
        text: String,
    },
    /// Write or queue songs (an export, MPD).
    Deliver {
        songs: Vec<SongId>,
        to: Delivery,
    },
    SendPlayer {
        template: String,
        songs: Vec<Song>,
    },
    /// Read the lyrics and analysis of a song for the lyrics pane.
    LoadDetail(SongId),
    /// Read the library again (songs came or went elsewhere).
    ReloadLibrary,
    /// Scan music folders (as typed: `~` and relative paths are the worker's to resolve), with progress.
    Scan {
        dirs: Vec<std::path::PathBuf>,
    },
    /// Import MPD's library.
    ScanMpd,
    /// Complete the folder name at the end of a typed path.
    CompletePath {
        text: String,
    },
    /// A player key for MPD.
    Player(crate::player::PlayerOp),
    /// Add the song MPD plays at this URI to the library.
    ImportFromMpd(String),
    /// Start the mood radio, or stop it (`None`).
    Radio(Option<crate::service::RadioRequest>),
}

/// An answer from a worker to one of this app's effects.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    MoodRead {
        id: u64,
        mood: TextMood,
    },
    MoodFailed {
        id: u64,
        reason: String,
    },
    Playlist {
        id: u64,
        entries: Vec<Entry>,
    },
    RecommendFailed {
        id: u64,
        reason: String,
    },
    Detail {
        id: SongId,
        lyrics: Option<LyricsRecord>,
        mood: Option<SongMood>,
    },
    /// The library as stored (at a reload).
    Library(Vec<Song>),
    /// Stored analyses of songs, by id (at startup and after a reload, in slices).
    Moods(Vec<(SongId, MoodSummary)>),
    /// Songs left unread for their language, with it (as [`Reply::Moods`]).
    Skipped(Vec<(SongId, String)>),
    /// Every stored analysis has been read.
    MoodsLoaded,
    /// A line for the status bar: what a finished action did.
    Notice(String),
    /// A line for the status bar: what went wrong. Never fatal.
    Failed(String),
    /// Folders, scans and imports (see `welcome`).
    Import(ImportReply),
}

/// What the app needs from the run's context, so tests can build one without a terminal or a database.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    pub keymap: Keymap,
    /// The database, as the status bar shows it.
    pub database: String,
    pub player_command: String,
    /// The database is the demo's (`--demo`).
    pub demo: bool,
}

pub struct App {
    pub songs: Vec<Song>,
    /// The analysis of each song (same index as `songs`), once known.
    pub moods: Vec<Option<MoodSummary>>,
    /// Songs left unread because their lyrics are in a language the model does not read, with that language.
    pub skipped: HashMap<SongId, String>,
    index: SongIndex,
    pub focus: Pane,
    /// The pane to return to when leaving the mood input.
    pub last_pane: Pane,
    pub overlay: Option<Overlay>,
    pub mood: MoodPane,
    pub library: Library,
    pub map: MapPane,
    pub playlist: Playlist,
    pub lyrics: LyricsPane,
    /// What MPD plays, and the radio.
    pub playing: Playing,
    pub jobs: Jobs,
    /// The folder prompt, and scans and imports started here.
    pub imports: Imports,
    pub options: AppOptions,
    pub quit: bool,
    /// Something changed since the last frame.
    pub dirty: bool,
    effects: Vec<Effect>,
    next_id: u64,
}

impl App {
    pub fn new(songs: Vec<Song>, options: AppOptions) -> App {
        let n = songs.len();
        let mut app = App {
            moods: vec![None; n],
            skipped: HashMap::new(),
            index: SongIndex::default(),
            songs,
            focus: Pane::Library,
            last_pane: Pane::Library,
            overlay: None,
            mood: MoodPane::default(),
            library: Library::new(n),
            map: MapPane::default(),
            playlist: Playlist::default(),
            lyrics: LyricsPane::default(),
            playing: Playing::default(),
            jobs: Jobs::default(),
            imports: Imports::default(),
            options,
            quit: false,
            dirty: true,
            effects: Vec::new(),
            next_id: 0,
        };
        app.settle();
        app
    }

    /// The effects `update()` left since the last call.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// The input layer on top: who gets the next key.
    pub fn layer(&self) -> Layer {
        match self.overlay {
            Some(Overlay::Help { .. }) => Layer::Help,
            Some(Overlay::JourneyPrompt) => Layer::JourneyPrompt,
            Some(Overlay::ScanPrompt) => Layer::ScanPrompt,
            None if self.library.searching => Layer::Filter,
            None if self.focus == Pane::Mood => Layer::MoodInput,
            None => Layer::Pane(self.focus),
        }
    }

    /// A text input has the keys.
    pub fn typing(&self) -> bool {
        self.layer().typing()
    }

    /// The help overlay's scroll, while it is open.
    pub fn help_scroll(&self) -> Option<usize> {
        match self.overlay {
            Some(Overlay::Help { scroll }) => Some(scroll),
            _ => None,
        }
    }

    /// The action a key press means on the layer on top.
    pub fn route_key(&self, ev: &KeyEvent) -> Option<Action> {
        match self.layer() {
            Layer::Filter | Layer::MoodInput => editing_action(ev),
            Layer::ScanPrompt => match ev.code {
                KeyCode::Tab if ev.modifiers.is_empty() => Some(Action::Edit(EditOp::Complete)),
                KeyCode::Tab | KeyCode::BackTab => None,
                _ => editing_action(ev),
            },
            Layer::JourneyPrompt if ev.modifiers.is_empty() => match ev.code {
                KeyCode::Char(c @ '1'..='4') => {
                    let i = usize::from(c as u8 - b'1');
                    Some(Action::JourneyTo(Quadrant::ALL[i]))
                }
                KeyCode::Esc => Some(Action::Back),
                _ => self.options.keymap.action_for(ev),
            },
            Layer::JourneyPrompt | Layer::Help | Layer::Pane(_) => {
                self.options.keymap.action_for(ev)
            }
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
            if let Some(e) = self.playlist.selected_entry() {
                return self.index.get(&self.songs, &e.song.id);
            }
        }
        self.library.selected_song()
    }

    pub fn song_index(&self, id: &SongId) -> Option<usize> {
        self.index.get(&self.songs, id)
    }

    /// There is work left for [`App::tick`].
    pub fn busy(&self) -> bool {
        self.library.busy()
    }

    /// Does a slice of the deferred work (filtering, sorting) of a large library; the runtime calls it once per
    /// turn.
    pub fn tick(&mut self) {
        self.tick_playing();
        if self.library.busy() {
            let mood = self.mood.point();
            self.library.tick(&self.songs, &self.moods, mood);
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
        match (self.layer(), action) {
            (_, Action::Reply(reply)) => self.on_reply(reply),
            (_, Action::Service(event)) => self.on_event(event),
            (Layer::Help, action) => self.on_help(action),
            (Layer::JourneyPrompt, Action::JourneyTo(to)) => self.journey(to),
            // The journey prompt takes one answer; any other key closes it, and Back or the journey key only
            // close it.
            (Layer::JourneyPrompt, action) => {
                self.overlay = None;
                if !matches!(action, Action::Back | Action::Journey) {
                    self.on_action(action);
                }
            }
            (Layer::Filter, Action::Edit(op)) => self.edit_filter(op),
            (Layer::MoodInput, Action::Edit(op)) => self.edit_mood(op),
            (Layer::ScanPrompt, Action::Edit(op)) => self.edit_scan_prompt(op),
            (Layer::ScanPrompt, action) => self.leave_scan_prompt(action),
            (_, action) => self.on_action(action),
        }
        if self.library.busy()
            && self.library.work_size() <= INSTANT_WORK
            && self.songs.len() <= INSTANT_WORK * 5
        {
            self.settle();
        }
        self.want_detail();
    }

    fn on_help(&mut self, action: Action) {
        let Some(Overlay::Help { scroll }) = self.overlay.as_mut() else {
            return;
        };
        match action {
            Action::Help | Action::Back => self.overlay = None,
            Action::Quit => self.quit = true,
            Action::Down => *scroll += 1,
            Action::Up => *scroll = scroll.saturating_sub(1),
            Action::Scroll { delta, .. } => {
                *scroll = (*scroll as i64 + i64::from(delta)).max(0) as usize
            }
            Action::Top => *scroll = 0,
            _ => {}
        }
    }

    fn on_action(&mut self, action: Action) {
        if self.on_player_action(&action) {
            return;
        }
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
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
            Action::Left => self.move_cursor(-self.map.step(), 0.0),
            Action::Right => self.move_cursor(self.map.step(), 0.0),
            Action::Search => {
                self.focus(Pane::Library);
                self.library.searching = true;
                // The matcher's copy of the names is made as the filter opens, not at the first key typed.
                self.library.prepare(&self.songs);
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
            Action::ScanFolder => self.open_scan_prompt(),
            Action::ImportMpd => self.import_mpd(),
            Action::OpenDemo => self.tell_demo(),
            Action::JourneyTo(to) => self.journey(to),
            Action::Like => self.feedback(true),
            Action::Dislike => self.feedback(false),
            Action::Remove => {
                if self.focus == Pane::Playlist {
                    self.playlist.remove_selected();
                }
            }
            Action::MoveUp => self.move_entry(-1),
            Action::MoveDown => self.move_entry(1),
            Action::Export => {
                if let Some(songs) = self.playlist_songs() {
                    let hint = self
                        .playlist
                        .source
                        .as_ref()
                        .map_or_else(|| "map".to_string(), PlaylistSource::hint);
                    let to = Delivery {
                        export: Some(hint),
                        ..Delivery::default()
                    };
                    self.effects.push(Effect::Deliver {
                        songs: songs.iter().map(|s| s.id.clone()).collect(),
                        to,
                    });
                }
            }
            Action::SendMpd => {
                if let Some(songs) = self.playlist_songs() {
                    let to = Delivery {
                        mpd: Some(true),
                        ..Delivery::default()
                    };
                    self.effects.push(Effect::Deliver {
                        songs: songs.iter().map(|s| s.id.clone()).collect(),
                        to,
                    });
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
            // Text edits only reach a text input (see `update`); elsewhere they mean nothing.
            Action::Edit(_) => {}
            // The player's keys are done by `on_player_action` (playing.rs) before this.
            Action::TogglePause
            | Action::NextSong
            | Action::PreviousSong
            | Action::SeekForward
            | Action::SeekBack
            | Action::VolumeUp
            | Action::VolumeDown
            | Action::JumpToPlaying
            | Action::Radio
            | Action::ImportPlaying => {}
            Action::Click { pane, row } => self.click(pane, row),
            Action::MapClick { valence, arousal } => {
                self.focus(Pane::Map);
                self.map.put_cursor(valence, arousal);
            }
            Action::Scroll { pane, delta } => {
                let prev = self.focus;
                if pane != Pane::Mood && pane != Pane::Map {
                    self.focus = pane;
                    self.step(i64::from(delta * WHEEL_ROWS));
                    self.focus = prev;
                }
            }
            Action::Reply(reply) => self.on_reply(reply),
            Action::Service(event) => self.on_event(event),
        }
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
        } else if self.library.filtered() {
            self.library.clear_filter(self.songs.len());
        }
    }

    fn edit_filter(&mut self, op: EditOp) {
        match op {
            EditOp::Submit => self.library.searching = false,
            EditOp::Cancel => {
                self.library.searching = false;
                self.library.clear_filter(self.songs.len());
            }
            op => {
                if self.library.query.apply(&op) {
                    self.library.start_filter(self.songs.len());
                }
            }
        }
    }

    fn edit_mood(&mut self, op: EditOp) {
        match op {
            EditOp::Submit => self.submit_mood(),
            EditOp::Cancel => self.focus = self.last_pane,
            op => {
                self.mood.input.apply(&op);
            }
        }
    }

    fn submit_mood(&mut self) {
        let text = crate::sanitize::clean_line(&self.mood.input.text());
        if text.is_empty() {
            return;
        }
        self.mood.input.remember(&text);
        let id = self.new_id();
        self.mood.state = MoodState::Reading { id };
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
                self.library.moved = true;
            }
            Pane::Playlist => {
                let n = self.playlist.entries.len();
                self.playlist.selected = clamp_step(self.playlist.selected, delta, n);
            }
            Pane::Lyrics => {
                self.playing.follow_lyrics = false;
                let n = self.lyrics.lines();
                self.lyrics.scroll = clamp_step(self.lyrics.scroll, delta, n);
            }
            Pane::Map => {
                let d = delta.clamp(-10, 10) as f32;
                self.move_cursor(0.0, -d * self.map.step());
            }
            Pane::Mood => {}
        }
    }

    fn move_cursor(&mut self, dv: f32, da: f32) {
        if self.focus == Pane::Map {
            self.map.move_cursor(dv, da);
        }
    }

    fn select(&mut self) {
        match self.focus {
            Pane::Map => {
                let (valence, arousal) = self.map.cursor;
                self.recommend(
                    PlaylistSource::Near { valence, arousal },
                    Mode::Near { valence, arousal },
                );
            }
            Pane::Library | Pane::Playlist => self.similar(),
            Pane::Mood | Pane::Lyrics => {}
        }
    }

    fn similar(&mut self) {
        let Some(i) = self.current_song() else { return };
        let song = &self.songs[i];
        if self.moods[i].is_none() {
            let why = if self.skipped.contains_key(&song.id) {
                "has lyrics in a language the model does not read"
            } else if song.has_lyrics() {
                "is not analyzed yet"
            } else {
                "has no lyrics to read"
            };
            let text = format!("\"{}\" {why}", song.title);
            self.message(true, &text);
            return;
        }
        let (seed, title) = (song.id.clone(), song.title.clone());
        let mode = Mode::Like {
            song: seed.to_string(),
        };
        self.recommend(PlaylistSource::Like { id: seed, title }, mode);
    }

    /// Opens the journey prompt, or says what is missing.
    fn ask_journey(&mut self) {
        if self.mood.current.is_some() {
            self.overlay = Some(Overlay::JourneyPrompt);
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
        self.overlay = None;
        let Some((text, from)) = self.mood.current.clone() else {
            self.ask_journey();
            return;
        };
        let mode = Mode::Journey {
            text: text.clone(),
            mood: Some(from),
            to: Destination::Quadrant(to),
        };
        self.recommend(PlaylistSource::Journey { mood: text, to }, mode);
    }

    /// Asks for a playlist: the same request the CLI makes, with the limits of the config.
    fn recommend(&mut self, source: PlaylistSource, mode: Mode) {
        let id = self.new_id();
        self.playlist.pending = Some(id);
        self.playlist.pending_source = Some(source);
        self.playlist.error = None;
        let request = PlaylistRequest {
            mode,
            limit: None,
            include_unanalyzed: false,
            prepare: false,
        };
        self.effects.push(Effect::Recommend { id, request });
    }

    /// After new analyses, an untouched playlist is ranked again so it grows with the library.
    fn refresh_playlist(&mut self) {
        if self.playlist.edited || self.playlist.pending.is_some() {
            return;
        }
        match self.playlist.source.clone() {
            Some(PlaylistSource::Mood(text)) => {
                if let Some((_, mood)) = self.mood.current.clone() {
                    let mode = Mode::Match {
                        text: text.clone(),
                        mood: Some(mood),
                    };
                    self.recommend(PlaylistSource::Mood(text), mode);
                }
            }
            Some(PlaylistSource::Journey { to, .. }) if self.mood.current.is_some() => {
                self.journey(to)
            }
            Some(PlaylistSource::Near { valence, arousal }) => self.recommend(
                PlaylistSource::Near { valence, arousal },
                Mode::Near { valence, arousal },
            ),
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
        let (reading, text) = match (&self.playlist.source, &self.mood.current) {
            (Some(PlaylistSource::Mood(_)), Some((text, m))) => (m.reading.clone(), text.clone()),
            (Some(PlaylistSource::Near { valence, arousal }), _) => {
                (point_reading(*valence, *arousal), String::new())
            }
            (Some(PlaylistSource::Like { id, .. }), _) => {
                let m = self.index.get(&self.songs, id).and_then(|i| self.moods[i]);
                match m {
                    Some(m) => (point_reading(m.valence, m.arousal), String::new()),
                    None => (point_reading(here.0, here.1), String::new()),
                }
            }
            _ => (point_reading(here.0, here.1), String::new()),
        };
        self.effects.push(Effect::Feedback {
            song,
            liked,
            reading,
            text,
        });
    }

    fn move_entry(&mut self, delta: i64) {
        if self.focus == Pane::Playlist {
            self.playlist.move_selected(delta);
        }
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
                    self.library.moved = true;
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
        if id != self.lyrics.wanted {
            self.lyrics.wanted = id.clone();
            self.lyrics.scroll = 0;
            match id {
                Some(id) => self.effects.push(Effect::LoadDetail(id)),
                None => self.lyrics.detail = None,
            }
        }
    }

    fn on_reply(&mut self, reply: Reply) {
        match reply {
            Reply::MoodRead { id, mood } => {
                if self.mood.state != (MoodState::Reading { id }) {
                    return;
                }
                self.mood.state = MoodState::Idle;
                let text = self
                    .mood
                    .input
                    .history()
                    .last()
                    .cloned()
                    .unwrap_or_default();
                self.mood.current = Some((text.clone(), mood.clone()));
                if self.library.sort == SortKey::Match {
                    self.library.resort = true;
                }
                let mode = Mode::Match {
                    text: text.clone(),
                    mood: Some(mood),
                };
                self.recommend(PlaylistSource::Mood(text), mode);
            }
            Reply::MoodFailed { id, reason } => {
                if self.mood.state == (MoodState::Reading { id }) {
                    self.mood.state = MoodState::Failed(reason);
                }
            }
            Reply::Playlist { id, entries } => {
                if !self.playlist.answer(id, entries) {
                    return;
                }
                if self.playlist.entries.is_empty() {
                    self.playlist.error = Some("no song fits".into());
                }
            }
            Reply::RecommendFailed { id, reason } => {
                if self.playlist.pending == Some(id) {
                    // The playlist is for this now, empty: analyses that come later fill it.
                    self.playlist.answer(id, Vec::new());
                    self.playlist.error = Some(if self.moods.iter().all(Option::is_none) {
                        "no song is analyzed yet; recommendations come as analysis goes".into()
                    } else {
                        crate::sanitize::clean_line(&reason)
                    });
                }
            }
            Reply::Detail { id, lyrics, mood } => {
                if self.lyrics.wanted.as_ref() == Some(&id) {
                    self.lyrics.detail = Some(Detail { id, lyrics, mood });
                }
            }
            Reply::Library(songs) => {
                self.library_reloaded();
                self.replace_songs(songs);
            }
            Reply::Moods(batch) => self.set_moods(batch),
            Reply::Skipped(batch) => self.set_skipped(batch),
            Reply::MoodsLoaded => self.jobs.loading_moods = false,
            Reply::Notice(text) => self.message(false, &text),
            Reply::Failed(text) => self.message(true, &text),
            Reply::Import(reply) => self.on_import_reply(reply),
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Model { status } => {
                self.jobs.model = match status {
                    ModelStatus::Loading => ModelState::Loading,
                    ModelStatus::Ready { device } => ModelState::Ready { device },
                    ModelStatus::Failed { reason } => {
                        let reason = crate::sanitize::clean_line(&reason);
                        if matches!(self.mood.state, MoodState::Reading { .. }) {
                            self.mood.state = MoodState::Failed(reason.clone());
                        }
                        ModelState::Failed(reason)
                    }
                }
            }
            Event::Job { kind, status } => {
                let state = match status {
                    JobStatus::Running {
                        done,
                        total,
                        rate,
                        eta_s,
                    } => JobState::Running {
                        done,
                        total,
                        rate,
                        eta_s,
                    },
                    JobStatus::Done { summary } => JobState::Done(summary),
                    JobStatus::Failed { reason } => {
                        JobState::Failed(crate::sanitize::clean_line(&reason))
                    }
                };
                match kind {
                    JobKind::Analysis => self.jobs.analysis = state,
                    JobKind::Lyrics => self.jobs.lyrics = state,
                    JobKind::Scan | JobKind::Import => {
                        if let JobState::Failed(reason) = state {
                            self.message(true, &reason);
                        }
                    }
                }
            }
            Event::Songs { songs } => {
                for song in songs {
                    if let Some(i) = self.index.get(&self.songs, &song.id) {
                        self.songs[i] = song;
                    }
                }
                self.library.names_changed();
                // The lyrics pane reads its song again: its lyrics may be new.
                self.lyrics.wanted = None;
            }
            Event::SongsRemoved { .. } | Event::LibraryChanged => {
                self.effects.push(Effect::ReloadLibrary);
            }
            Event::Moods { moods, skipped } => {
                self.set_moods(moods);
                self.set_skipped(skipped);
                self.refresh_playlist();
            }
            Event::Feedback { feedback } => {
                self.playlist.mark(&feedback.song_id, feedback.liked);
                let name = self
                    .song_index(&feedback.song_id)
                    .map(|i| self.songs[i].display_name())
                    .unwrap_or_else(|| feedback.song_id.to_string());
                let word = if feedback.liked { "liked" } else { "disliked" };
                let text = format!(
                    "{word} {name}; noted for {} moods",
                    Quadrant::of(feedback.valence, feedback.arousal).code()
                );
                self.message(false, &text);
            }
            Event::FeedbackCleared => {
                for e in &mut self.playlist.entries {
                    e.feedback = None;
                }
                self.message(false, "all likes and dislikes were forgotten");
            }
            Event::Queued { songs, at } => {
                let text = format!("MPD at {at} plays a playlist of {songs} songs");
                self.message(false, &text);
            }
            Event::Notice { text } => self.message(false, &text),
            Event::Damaged { text } => self.message(true, &text),
            Event::NowPlaying { now } => self.on_now_playing(now),
            Event::Radio { radio } => self.playing.radio = Some(radio),
        }
    }

    /// Songs were found to be in a language the model does not read: they lose any mood they had.
    fn set_skipped(&mut self, batch: Vec<(SongId, String)>) {
        if batch.is_empty() {
            return;
        }
        for (id, lang) in batch {
            if let Some(i) = self.index.get(&self.songs, &id) {
                self.moods[i] = None;
            }
            if self.lyrics.detail.as_ref().is_some_and(|d| d.id == id) {
                self.lyrics.wanted = None;
            }
            self.skipped.insert(id, lang);
        }
        self.map.fit(&self.moods);
    }

    /// Stored analyses came in: the list, the map and sorts by mood follow.
    fn set_moods(&mut self, batch: Vec<(SongId, MoodSummary)>) {
        for (id, summary) in batch {
            if let Some(i) = self.index.get(&self.songs, &id) {
                self.moods[i] = Some(summary);
            }
            self.skipped.remove(&id);
            // The lyrics pane reads the song again to shade it with the new analysis.
            let shown = self.lyrics.detail.as_ref().is_some_and(|d| d.id == id);
            if shown
                && self
                    .lyrics
                    .detail
                    .as_ref()
                    .is_some_and(|d| d.mood.as_ref().is_none_or(|m| !m.is_read()))
            {
                self.lyrics.wanted = None;
            }
        }
        self.map.fit(&self.moods);
        if matches!(
            self.library.sort,
            SortKey::Valence | SortKey::Arousal | SortKey::Match
        ) {
            self.library.resort = true;
        }
    }

    /// The library was read again: analyses and the selection stay with their songs.
    fn replace_songs(&mut self, songs: Vec<Song>) {
        let selected = self
            .library
            .selected_song()
            .map(|i| self.songs[i].id.clone());
        let old: HashMap<SongId, MoodSummary> = self
            .songs
            .iter()
            .zip(&self.moods)
            .filter_map(|(s, m)| m.map(|m| (s.id.clone(), m)))
            .collect();
        self.moods = songs.iter().map(|s| old.get(&s.id).copied()).collect();
        self.index = SongIndex::default();
        self.songs = songs;
        self.library.songs_changed(self.songs.len());
        self.settle_rows();
        if let Some(i) = selected.and_then(|id| self.index.get(&self.songs, &id)) {
            self.library.select_song(i);
        }
        self.map.fit(&self.moods);
    }

    fn settle_rows(&mut self) {
        let mood = self.mood.point();
        self.library.rebuild_rows(&self.songs, &self.moods, mood);
    }
}

/// Where each song is in `songs`, by id: made on first use, so a big library's first frame does not wait for it
/// (100,000 ids take ~20 ms), and hashed with foldhash (ids are digests; SipHash's defence against chosen keys is
/// not needed here).
#[derive(Debug, Clone, Default)]
struct SongIndex(std::cell::OnceCell<HashMap<SongId, usize, foldhash::fast::RandomState>>);

impl SongIndex {
    fn get(&self, songs: &[Song], id: &SongId) -> Option<usize> {
        self.0
            .get_or_init(|| {
                let mut index = HashMap::with_capacity_and_hasher(songs.len(), Default::default());
                index.extend(songs.iter().enumerate().map(|(i, s)| (s.id.clone(), i)));
                index
            })
            .get(id)
            .copied()
    }
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
