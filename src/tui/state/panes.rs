//! The smaller panes' states: the mood input, the quadrant map, the lyrics pane and the status of background
//! work.

use crate::records::{LyricsRecord, MoodSummary, SongId, SongMood, TextMood};
use crate::tui::editor::LineEditor;

/// Map cursor step per key press on the full plane; a map zoomed in to ±0.5 or less steps half as far.
pub const MAP_STEP: f32 = 0.1;
/// Share of the analyzed songs the map's range fits in full; the rest sit on its edge.
const MAP_FIT_SHARE: f32 = 0.95;
/// The map never zooms in further than ±this, so a handful of calm songs do not fill it.
pub const MAP_RANGE_MIN: f32 = 0.25;

#[derive(Debug, Clone, PartialEq)]
pub enum MoodState {
    Idle,
    Reading { id: u64 },
    Failed(String),
}

/// The mood input and the mood last read from it.
#[derive(Debug, Clone)]
pub struct MoodPane {
    pub input: LineEditor,
    pub state: MoodState,
    /// The user's mood as last read, with its text.
    pub current: Option<(String, TextMood)>,
}

impl Default for MoodPane {
    fn default() -> Self {
        MoodPane {
            input: LineEditor::default(),
            state: MoodState::Idle,
            current: None,
        }
    }
}

impl MoodPane {
    /// The point of the current mood on the map.
    pub fn point(&self) -> Option<(f32, f32)> {
        self.current
            .as_ref()
            .map(|(_, m)| (m.reading.valence, m.reading.arousal))
    }
}

/// The quadrant map: its cursor and how far it reaches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapPane {
    /// The cursor (valence, arousal), always within the range.
    pub cursor: (f32, f32),
    /// How far the map reaches from 0 on both axes, fitted to the analyzed songs (see [`map_range`]).
    pub range: f32,
}

impl Default for MapPane {
    fn default() -> Self {
        MapPane {
            cursor: (0.0, 0.0),
            range: 1.0,
        }
    }
}

impl MapPane {
    /// How far the cursor moves per key press: finer when the map is zoomed in.
    pub fn step(&self) -> f32 {
        if self.range > 0.5 {
            MAP_STEP
        } else {
            MAP_STEP / 2.0
        }
    }

    pub fn move_cursor(&mut self, dv: f32, da: f32) {
        let r = self.range;
        let round = |x: f32| ((x * 100.0).round() / 100.0).clamp(-r, r);
        self.cursor = (round(self.cursor.0 + dv), round(self.cursor.1 + da));
    }

    pub fn put_cursor(&mut self, valence: f32, arousal: f32) {
        let r = self.range;
        self.cursor = (valence.clamp(-r, r), arousal.clamp(-r, r));
    }

    /// Fits the range to the analyses, keeping the cursor inside.
    pub fn fit(&mut self, moods: &[Option<MoodSummary>]) {
        self.range = map_range(moods);
        let (v, a) = self.cursor;
        self.put_cursor(v, a);
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

/// The lyrics and analysis of the song the lyrics pane shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub id: SongId,
    pub lyrics: Option<LyricsRecord>,
    pub mood: Option<SongMood>,
}

/// The lyrics pane: the song shown, the one asked for, and how far it is scrolled.
#[derive(Debug, Clone, Default)]
pub struct LyricsPane {
    pub detail: Option<Detail>,
    pub scroll: usize,
    /// The song whose detail was asked for last; answers for others are dropped.
    pub(super) wanted: Option<SongId>,
}

impl LyricsPane {
    pub fn lines(&self) -> usize {
        self.detail
            .as_ref()
            .and_then(|d| d.lyrics.as_ref())
            .map_or(0, |l| l.text.lines().count())
    }
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
    /// Attached to another moodtape (its pid), which holds the database.
    pub attached_to: Option<u32>,
}

impl Default for Jobs {
    fn default() -> Self {
        Jobs {
            model: ModelState::Loading,
            analysis: JobState::Idle,
            lyrics: JobState::Idle,
            message: None,
            loading_moods: true,
            attached_to: None,
        }
    }
}
