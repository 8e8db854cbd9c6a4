//! The playlist pane: the ranked songs with the reason for each, what they were made for, and the request whose
//! answer is awaited (answers to older requests are dropped).

use std::cell::Cell;

use crate::records::{Quadrant, Song, SongId};
use crate::service::Entry;

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

impl From<Entry> for PlaylistEntry {
    fn from(e: Entry) -> Self {
        let p = e.pick;
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

    /// A few words to name an exported file after.
    pub fn hint(&self) -> String {
        match self {
            PlaylistSource::Mood(t) => t.clone(),
            PlaylistSource::Like { title, .. } => format!("like {title}"),
            PlaylistSource::Journey { mood, to } => format!("{mood} to {}", to.code()),
            PlaylistSource::Near { .. } => "map".into(),
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
    pub(super) pending_source: Option<PlaylistSource>,
    pub error: Option<String>,
}

impl Playlist {
    pub fn selected_entry(&self) -> Option<&PlaylistEntry> {
        self.entries.get(self.selected)
    }

    /// Takes the answer to request `id`, unless a newer request is awaited. The selection stays on its song
    /// when the playlist was made for the same thing again.
    pub fn answer(&mut self, id: u64, entries: Vec<Entry>) -> bool {
        if self.pending != Some(id) {
            return false;
        }
        self.pending = None;
        let keep = self.selected_entry().map(|e| e.song.id.clone());
        let same_source = self.source == self.pending_source;
        self.source = self.pending_source.take();
        self.entries = entries.into_iter().map(PlaylistEntry::from).collect();
        self.edited = false;
        self.selected = if same_source {
            keep.and_then(|id| self.entries.iter().position(|e| e.song.id == id))
                .unwrap_or(0)
        } else {
            self.offset.set(0);
            0
        };
        true
    }

    pub fn remove_selected(&mut self) {
        if self.entries.is_empty() {
            return;
        }
        let i = self.selected.min(self.entries.len() - 1);
        self.entries.remove(i);
        self.selected = i.min(self.entries.len().saturating_sub(1));
        self.edited = true;
    }

    pub fn move_selected(&mut self, delta: i64) {
        let n = self.entries.len();
        let i = self.selected;
        let j = i as i64 + delta;
        if i >= n || j < 0 || j as usize >= n {
            return;
        }
        self.entries.swap(i, j as usize);
        self.selected = j as usize;
        self.edited = true;
    }

    /// Marks every entry of `song` as liked or disliked.
    pub fn mark(&mut self, song: &SongId, liked: bool) {
        for e in self.entries.iter_mut().filter(|e| &e.song.id == song) {
            e.feedback = Some(liked);
        }
    }
}
