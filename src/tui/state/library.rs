//! The library pane: which songs are shown in which order, the fuzzy filter (a slice at a time on large
//! libraries, so typing never waits), and the selection.

use std::cell::Cell;

use crate::library::search;
use crate::records::{MoodSummary, Song};
use crate::tui::editor::LineEditor;

/// Songs matched per slice of an incremental filter.
pub const FILTER_SLICE: usize = 20_000;
/// Songs one matcher scores at a time within a slice (the slice is split across the cores).
const FILTER_CHUNK: usize = 2048;

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

    pub fn next(self) -> SortKey {
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
    /// The user moved the selection since the library was shown.
    pub moved: bool,
    job: Option<FilterJob>,
    done: Option<FilterDone>,
    pub(super) resort: bool,
    /// Every song in artist (then title) order, and in title order: sorted once, so the rows of a filter are a
    /// pass over the order instead of another sort of strings.
    artist_order: Option<Vec<u32>>,
    title_order: Option<Vec<u32>>,
    /// The songs' names ready for the matcher, made as the first filter opens.
    prepared: Option<std::sync::Arc<search::Prepared>>,
    /// The fuzzy matcher the filter uses.
    pub engine: search::Engine,
}

impl Library {
    pub fn new(n: usize) -> Library {
        Library {
            rows: (0..n as u32).collect(),
            selected: 0,
            offset: Cell::new(0),
            sort: SortKey::Artist,
            reverse: false,
            query: LineEditor::default(),
            searching: false,
            moved: false,
            job: None,
            done: None,
            resort: true,
            artist_order: None,
            title_order: None,
            prepared: None,
            engine: search::Engine::default(),
        }
    }

    /// The filter text in effect, if any.
    pub fn filter(&self) -> Option<&str> {
        self.done.as_ref().map(|d| d.query.as_str())
    }

    /// A filter is in effect or being typed.
    pub fn filtered(&self) -> bool {
        self.done.is_some() || !self.query.is_empty()
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

    /// Deferred work is left (a filter slice, or a sort).
    pub fn busy(&self) -> bool {
        self.job.is_some() || self.resort
    }

    /// How many songs the deferred work covers.
    pub fn work_size(&self) -> usize {
        self.job.as_ref().map_or(self.rows.len(), |j| j.todo.len())
    }

    /// The songs changed (a reload of `songs` songs): sort keys are rebuilt, a filter runs again.
    pub fn songs_changed(&mut self, songs: usize) {
        self.names_changed();
        self.done = None;
        self.job = None;
        self.resort = true;
        self.start_filter(songs);
    }

    /// Songs were renamed in place: orders and matcher names are made again when next needed.
    pub fn names_changed(&mut self) {
        self.artist_order = None;
        self.title_order = None;
        self.prepared = None;
    }

    /// The songs' names ready for the matcher (made now if they are not yet); `None` for a matcher that needs
    /// none.
    pub fn prepare(&mut self, songs: &[Song]) -> Option<std::sync::Arc<search::Prepared>> {
        match self.engine {
            search::Engine::Nucleo => Some(
                self.prepared
                    .get_or_insert_with(|| std::sync::Arc::new(search::Prepared::new(songs)))
                    .clone(),
            ),
            search::Engine::Skim => None,
        }
    }

    /// Starts matching the query as it is now, narrowing the last result when the query only grew.
    pub fn start_filter(&mut self, songs: usize) {
        let query = self.query.text().trim().to_string();
        if query.is_empty() {
            self.job = None;
            self.done = None;
            self.resort = true;
            return;
        }
        let todo: Vec<u32> = match &self.done {
            Some(d) if query.to_lowercase().starts_with(&d.query.to_lowercase()) => {
                d.hits.iter().map(|(i, _)| *i).collect()
            }
            _ => (0..songs as u32).collect(),
        };
        self.job = Some(FilterJob {
            query,
            todo,
            pos: 0,
            hits: Vec::new(),
        });
    }

    /// Clears the filter.
    pub fn clear_filter(&mut self, songs: usize) {
        self.query.clear();
        self.start_filter(songs);
    }

    /// Does one slice of deferred work: a filter slice, else the sort.
    pub fn tick(
        &mut self,
        songs: &[Song],
        moods: &[Option<MoodSummary>],
        mood: Option<(f32, f32)>,
    ) {
        if self.job.is_some() {
            self.step_filter(songs, moods, mood, FILTER_SLICE);
        } else if self.resort {
            self.rebuild_rows(songs, moods, mood);
        }
    }

    fn step_filter(
        &mut self,
        songs: &[Song],
        moods: &[Option<MoodSummary>],
        mood: Option<(f32, f32)>,
        budget: usize,
    ) {
        let prepared = self.prepare(songs);
        let Some(job) = self.job.as_mut() else {
            return;
        };
        let end = (job.pos + budget).min(job.todo.len());
        // Scored on every core, a chunk per task with a scorer of its own (none for a query that matches nothing by
        // itself); hits keep the order of `todo`.
        use rayon::prelude::*;
        let (engine, query) = (self.engine, job.query.as_str());
        let parts: Vec<Vec<(u32, i64)>> = job.todo[job.pos..end]
            .par_chunks(FILTER_CHUNK)
            .map(|chunk| {
                let Some(mut scorer) = search::Scorer::new(engine, query) else {
                    return Vec::new();
                };
                chunk
                    .iter()
                    .filter_map(|&i| {
                        let song = songs.get(i as usize)?;
                        let score = match &prepared {
                            Some(p) => scorer.score_prepared(song, p, i as usize),
                            None => scorer.score(song),
                        };
                        score.map(|s| (i, s))
                    })
                    .collect()
            })
            .collect();
        job.hits.extend(parts.into_iter().flatten());
        job.pos = end;
        if job.pos >= job.todo.len() {
            if let Some(job) = self.job.take() {
                self.done = Some(FilterDone {
                    query: job.query,
                    hits: job.hits,
                });
                self.selected = 0;
                self.offset.set(0);
                self.rebuild_rows(songs, moods, mood);
            }
        }
    }

    /// Filters and sorts the rows; the selected song stays selected when it is still shown.
    pub fn rebuild_rows(
        &mut self,
        songs: &[Song],
        moods: &[Option<MoodSummary>],
        mood: Option<(f32, f32)>,
    ) {
        let keep = self.selected_song();
        self.resort = false;
        let n = songs.len();
        // The filter's hits above the cutoff, in song order; `None` without a filter.
        let hits: Option<Vec<(u32, i64)>> = self.done.as_ref().map(|done| {
            let best = done.hits.iter().map(|h| h.1).max().unwrap_or(0);
            let floor = search::cutoff(best);
            done.hits
                .iter()
                .copied()
                .filter(|h| h.1 >= floor && (h.0 as usize) < n)
                .collect()
        });
        let mut rows: Vec<u32> = match (self.sort, hits) {
            (SortKey::Artist | SortKey::Title, hits) => {
                let order = if self.sort == SortKey::Artist {
                    self.artist_order.get_or_insert_with(|| {
                        name_order(songs, |s| (s.artist.as_str(), s.title.as_str()))
                    })
                } else {
                    self.title_order.get_or_insert_with(|| {
                        name_order(songs, |s| (s.title.as_str(), s.artist.as_str()))
                    })
                };
                match hits {
                    None => order.clone(),
                    Some(hits) => {
                        let mut shown = vec![false; n];
                        for (i, _) in hits {
                            shown[i as usize] = true;
                        }
                        order
                            .iter()
                            .copied()
                            .filter(|i| shown[*i as usize])
                            .collect()
                    }
                }
            }
            (SortKey::Match, Some(mut hits)) => {
                hits.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                hits.into_iter().map(|h| h.0).collect()
            }
            (SortKey::Valence | SortKey::Arousal, hits) => {
                let mut rows: Vec<u32> = hits.map_or_else(
                    || (0..n as u32).collect(),
                    |h| h.into_iter().map(|h| h.0).collect(),
                );
                let by_valence = self.sort == SortKey::Valence;
                let val = |i: u32| {
                    moods.get(i as usize).copied().flatten().map(|m| {
                        if by_valence {
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
                rows
            }
            (SortKey::Match, None) => {
                let mut rows: Vec<u32> = (0..n as u32).collect();
                if let Some((v, a)) = mood {
                    let dist = |i: u32| {
                        moods
                            .get(i as usize)
                            .copied()
                            .flatten()
                            .map(|m| (m.valence - v).hypot(m.arousal - a))
                    };
                    rows.sort_by(|x, y| match (dist(*x), dist(*y)) {
                        (Some(p), Some(q)) => p.total_cmp(&q),
                        (Some(_), None) => std::cmp::Ordering::Less,
                        (None, Some(_)) => std::cmp::Ordering::Greater,
                        (None, None) => x.cmp(y),
                    });
                }
                rows
            }
        };
        if self.reverse {
            rows.reverse();
        }
        self.selected = keep
            .and_then(|k| rows.iter().position(|r| *r as usize == k))
            .unwrap_or(0);
        self.rows = rows;
    }

    /// Selects the row showing song `index`, if it is shown.
    pub fn select_song(&mut self, index: usize) -> bool {
        match self.rows.iter().position(|r| *r as usize == index) {
            Some(i) => {
                self.selected = i;
                true
            }
            None => false,
        }
    }
}

/// Song indices sorted by two names, case-insensitively (ties keep song order).
fn name_order(songs: &[Song], names: impl Fn(&Song) -> (&str, &str) + Sync) -> Vec<u32> {
    use crate::records::order::{order_by, Field};
    order_by(songs, |s| {
        let (a, b) = names(s);
        [Field::Text(a), Field::Text(b)]
    })
}
