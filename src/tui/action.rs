//! Everything that can change the app's state, as one enum. The variants a user can bind to a key carry no data
//! and read from TOML by their snake_case names (`[keys] like = ["+"]`); the rest come from the text editors, the
//! mouse, the worker threads and the core, and are skipped by serde.

use serde::{Deserialize, Serialize};

use super::editor::EditOp;
use super::state::Reply;
use crate::records::Quadrant;
use crate::service::Event;

/// The panes of the main screen, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pane {
    Mood,
    Library,
    Map,
    Playlist,
    Lyrics,
}

impl Pane {
    pub const ALL: [Pane; 5] = [
        Pane::Mood,
        Pane::Library,
        Pane::Map,
        Pane::Playlist,
        Pane::Lyrics,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Mood => "Mood",
            Pane::Library => "Library",
            Pane::Map => "Map",
            Pane::Playlist => "Playlist",
            Pane::Lyrics => "Lyrics",
        }
    }

    pub fn next(self) -> Pane {
        let i = Pane::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Pane::ALL[(i + 1) % Pane::ALL.len()]
    }

    pub fn prev(self) -> Pane {
        let i = Pane::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Pane::ALL[(i + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Leave moodtape (never sent while typing: the editor takes `q` as a letter).
    Quit,
    /// Put the cursor in the mood input.
    FocusMood,
    FocusLibrary,
    FocusMap,
    FocusPlaylist,
    FocusLyrics,
    /// The next pane in Tab order.
    FocusNext,
    FocusPrev,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Start typing a fuzzy filter for the library.
    Search,
    /// Show or hide the key help.
    Help,
    /// Leave the input or overlay; clears the library filter when nothing else is open.
    Back,
    /// Enter: read the mood, recommend near the map cursor, or recommend around the selected song.
    Select,
    /// Cycle the library sort: artist, title, valence, arousal, match.
    SortNext,
    /// Reverse the library sort.
    SortReverse,
    /// Songs like the selected one, into the playlist.
    Similar,
    Like,
    Dislike,
    /// Take the selected song out of the playlist.
    Remove,
    MoveUp,
    MoveDown,
    /// Write the playlist as an M3U8 file.
    Export,
    /// Queue the playlist in MPD and play it.
    SendMpd,
    /// Hand the playlist to the configured player command.
    SendPlayer,
    /// Ask where a mood journey should go (a quadrant), then fill the playlist with it.
    Journey,
    /// Ask for a music folder (the last one scanned, at first) and scan it in the background.
    ScanFolder,
    /// Import MPD's library (again) in the background.
    ImportMpd,
    /// Say how to open the demo library.
    OpenDemo,
    /// MPD: play, or pause and resume.
    TogglePause,
    /// MPD: the next song in the queue.
    NextSong,
    PreviousSong,
    /// MPD: 10 s forward.
    SeekForward,
    SeekBack,
    VolumeUp,
    VolumeDown,
    /// Select the playing song in the library, and follow it again (library and lyrics).
    JumpToPlaying,
    /// Start the mood radio with the mood read last, or stop it.
    Radio,
    /// Add the song MPD plays to the library when it is not there.
    ImportPlaying,

    /// A text editing operation for the focused input.
    #[serde(skip)]
    Edit(EditOp),
    /// A mouse click in a pane, at a row counted from the pane's first list row (none: outside the list).
    #[serde(skip)]
    Click {
        pane: Pane,
        row: Option<usize>,
    },
    /// A click on the map, already turned into valence and arousal.
    #[serde(skip)]
    MapClick {
        valence: f32,
        arousal: f32,
    },
    /// The mouse wheel over a pane: positive scrolls down.
    #[serde(skip)]
    Scroll {
        pane: Pane,
        delta: i32,
    },
    /// The quadrant a mood journey goes to, picked in the journey prompt.
    #[serde(skip)]
    JourneyTo(Quadrant),
    /// A worker's answer to one of the app's effects.
    #[serde(skip)]
    Reply(Reply),
    /// Something happened in the core (this process's session, or the moodtape this one is attached to).
    #[serde(skip)]
    Service(Event),
}

impl Action {
    /// The actions a keymap may name, with a line of help each (the help overlay lists them in this order).
    pub const BINDABLE: [(Action, &'static str); 45] = [
        (Action::FocusMood, "type a mood"),
        (Action::FocusNext, "next pane"),
        (Action::FocusPrev, "previous pane"),
        (Action::FocusLibrary, "library"),
        (Action::FocusMap, "quadrant map"),
        (Action::FocusPlaylist, "playlist"),
        (Action::FocusLyrics, "lyrics"),
        (Action::Up, "up / map cursor up"),
        (Action::Down, "down / map cursor down"),
        (Action::Left, "map cursor left"),
        (Action::Right, "map cursor right"),
        (Action::PageUp, "page up"),
        (Action::PageDown, "page down"),
        (Action::Top, "first"),
        (Action::Bottom, "last"),
        (Action::Select, "recommend from here"),
        (Action::Search, "filter the library"),
        (Action::SortNext, "cycle the sort"),
        (Action::SortReverse, "reverse the sort"),
        (Action::Similar, "songs like this one"),
        (Action::Journey, "mood journey to a quadrant"),
        (Action::Like, "like (playlist)"),
        (Action::Dislike, "dislike (playlist)"),
        (Action::Remove, "remove from playlist"),
        (Action::MoveUp, "move up in playlist"),
        (Action::MoveDown, "move down in playlist"),
        (Action::Export, "export playlist as M3U8"),
        (Action::SendMpd, "play playlist in MPD"),
        (Action::SendPlayer, "open playlist in player"),
        (Action::ScanFolder, "scan a music folder"),
        (Action::ImportMpd, "import MPD's library"),
        (Action::OpenDemo, "how to open the demo"),
        (Action::TogglePause, "MPD: play / pause"),
        (Action::NextSong, "MPD: next song"),
        (Action::PreviousSong, "MPD: previous song"),
        (Action::SeekForward, "MPD: seek 10 s forward"),
        (Action::SeekBack, "MPD: seek 10 s back"),
        (Action::VolumeUp, "MPD: volume +5"),
        (Action::VolumeDown, "MPD: volume -5"),
        (Action::JumpToPlaying, "jump to the playing song"),
        (Action::Radio, "mood radio on / off"),
        (Action::ImportPlaying, "add playing song to library"),
        (Action::Help, "this help"),
        (Action::Back, "leave input/help/filter"),
        (Action::Quit, "quit"),
    ];

    /// The name used in keymap files, such as `focus_mood`.
    pub fn name(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The bindable action with this keymap name.
    pub fn from_name(name: &str) -> Option<Action> {
        serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (action, _) in Action::BINDABLE {
            let name = action.name();
            assert!(!name.is_empty());
            assert_eq!(Action::from_name(&name), Some(action));
        }
        assert_eq!(Action::from_name("focus_mood"), Some(Action::FocusMood));
        assert_eq!(Action::from_name("edit"), None);
    }

    #[test]
    fn panes_cycle() {
        assert_eq!(Pane::Lyrics.next(), Pane::Mood);
        assert_eq!(Pane::Mood.prev(), Pane::Lyrics);
    }
}
