//! What MPD plays, as the app follows it: the latest reading from the core's MPD watcher (interpolated between
//! readings, so the progress moves smoothly without asking MPD more often), the radio's state, and whether the
//! library and the lyrics pane follow the playing song.

use std::time::{Duration, Instant};

use super::{App, Effect, Pane};
use crate::player::{PlayState, PlayerOp, PlayerStatus};
use crate::records::SongId;
use crate::service::{NowPlaying, RadioRequest, RadioStatus};
use crate::tui::action::Action;

/// While a song plays the screen is redrawn at least this often, so the progress and the lyrics move.
pub const PROGRESS_FRAME: Duration = Duration::from_millis(200);
/// How far a seek key jumps, in seconds.
pub const SEEK_S: f64 = 10.0;
/// How much a volume key changes the volume, in percent.
pub const VOLUME_STEP: i32 = 5;

#[derive(Debug, Clone)]
pub struct Playing {
    /// The watcher's latest reading, and when it came.
    pub now: Option<NowPlaying>,
    pub received: Option<Instant>,
    pub radio: Option<RadioStatus>,
    /// The lyrics pane follows the playing song's line (until the user scrolls it).
    pub follow_lyrics: bool,
    /// When the last progress frame was asked for.
    last_frame: Option<Instant>,
}

impl Default for Playing {
    fn default() -> Self {
        Playing {
            now: None,
            received: None,
            radio: None,
            follow_lyrics: true,
            last_frame: None,
        }
    }
}

impl Playing {
    pub fn status(&self) -> Option<&PlayerStatus> {
        self.now.as_ref()?.status.as_ref()
    }

    /// The library's song that MPD plays.
    pub fn song(&self) -> Option<&SongId> {
        let now = self.now.as_ref()?;
        now.status.as_ref()?.song_id?;
        now.song.as_ref()
    }

    /// Why MPD cannot be reached.
    pub fn problem(&self) -> Option<&str> {
        self.now.as_ref()?.problem.as_deref()
    }

    /// There is something to show: a song, a stopped player, or a lost connection.
    pub fn visible(&self) -> bool {
        self.now.is_some()
    }

    /// The elapsed time at `at`: the last reading plus the time since, while playing, up to the song's end.
    pub fn elapsed_at(&self, at: Instant) -> Option<f64> {
        let status = self.status()?;
        status.song_id?;
        Some(interpolate(status, self.received, at))
    }
}

/// The elapsed time `at`, from a reading received at `received`.
pub fn interpolate(status: &PlayerStatus, received: Option<Instant>, at: Instant) -> f64 {
    let mut elapsed = status.elapsed_s;
    if status.state == PlayState::Play {
        if let Some(r) = received {
            elapsed += at.saturating_duration_since(r).as_secs_f64();
        }
    }
    match status.duration_s {
        Some(d) => elapsed.min(d),
        None => elapsed,
    }
}

impl App {
    pub(super) fn on_now_playing(&mut self, now: NowPlaying) {
        let song_changed = self.playing.song() != now.song.as_ref() || now.status.is_none();
        self.playing.now = Some(now);
        self.playing.received = Some(Instant::now());
        if song_changed {
            self.follow_playing(false);
        }
    }

    /// Selects the playing song in the library when the user has not moved the cursor there (or `force`).
    pub(super) fn follow_playing(&mut self, force: bool) {
        if self.library.moved && !force {
            return;
        }
        let Some(i) = self.playing.song().and_then(|id| self.song_index(id)) else {
            return;
        };
        if self.library.select_song(i) {
            self.library.moved = false;
            if matches!(self.focus, Pane::Playlist) && force {
                self.focus = Pane::Library;
            }
        }
    }

    /// The keys of the player, the jump to the playing song, the radio and the import of an unknown song.
    /// Returns false for other actions.
    pub(super) fn on_player_action(&mut self, action: &Action) -> bool {
        let op = match action {
            Action::TogglePause => PlayerOp::TogglePause,
            Action::NextSong => PlayerOp::Next,
            Action::PreviousSong => PlayerOp::Previous,
            Action::SeekForward => PlayerOp::SeekBy { seconds: SEEK_S },
            Action::SeekBack => PlayerOp::SeekBy { seconds: -SEEK_S },
            Action::VolumeUp => PlayerOp::VolumeBy {
                percent: VOLUME_STEP,
            },
            Action::VolumeDown => PlayerOp::VolumeBy {
                percent: -VOLUME_STEP,
            },
            Action::JumpToPlaying => {
                self.jump_to_playing();
                return true;
            }
            Action::Radio => {
                self.toggle_radio();
                return true;
            }
            Action::ImportPlaying => {
                self.import_playing();
                return true;
            }
            _ => return false,
        };
        if self.playing.status().is_none() {
            self.message(
                true,
                "MPD is not connected; set MPD_HOST/MPD_PORT or [mpd] in the config",
            );
            return true;
        }
        self.effects.push(Effect::Player(op));
        true
    }

    fn jump_to_playing(&mut self) {
        self.playing.follow_lyrics = true;
        if self.playing.song().is_none() {
            let text = match self.playing.status() {
                Some(s) if s.song_id.is_some() => {
                    "the playing song is not in the library (i imports it)"
                }
                Some(_) => "MPD plays nothing",
                None => "MPD is not connected",
            };
            self.message(true, text);
            return;
        }
        if self.library.filtered() {
            self.library.clear_filter(self.songs.len());
            self.settle();
        }
        self.focus(Pane::Library);
        self.library.moved = false;
        self.follow_playing(true);
    }

    fn toggle_radio(&mut self) {
        if matches!(self.playing.radio, Some(RadioStatus::On { .. })) {
            self.effects.push(Effect::Radio(None));
            return;
        }
        let Some((text, _)) = self.mood.current.clone() else {
            let km = &self.options.keymap;
            let text = format!(
                "the radio plays your mood: press {} and type how you feel, then {}",
                km.keys_label(&Action::FocusMood),
                km.keys_label(&Action::Radio)
            );
            self.message(true, &text);
            return;
        };
        self.effects.push(Effect::Radio(Some(RadioRequest {
            text,
            to: None,
            over: None,
            ahead: None,
        })));
    }

    fn import_playing(&mut self) {
        let Some(status) = self.playing.status() else {
            self.message(true, "MPD is not connected");
            return;
        };
        match (&status.uri, self.playing.song()) {
            (Some(_), Some(_)) => self.message(false, "the playing song is in the library"),
            (Some(uri), None) => {
                let uri = uri.clone();
                self.effects.push(Effect::ImportFromMpd(uri));
            }
            (None, _) => self.message(true, "MPD plays nothing"),
        }
    }

    /// Asks for a frame now and then while a song plays, so the progress and the lyrics move.
    pub(super) fn tick_playing(&mut self) {
        let playing = self
            .playing
            .status()
            .is_some_and(|s| s.state == PlayState::Play);
        if !playing {
            return;
        }
        let now = Instant::now();
        if self
            .playing
            .last_frame
            .is_none_or(|t| now.saturating_duration_since(t) >= PROGRESS_FRAME)
        {
            self.playing.last_frame = Some(now);
            self.dirty = true;
        }
    }
}
