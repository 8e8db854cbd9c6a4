//! Fuzzy search over artist and title (and album, at a lower weight), best match first. Two matchers can do it:
//! nucleo's (the default) and fuzzy-matcher's skim algorithm, kept as the reference `bench ui` compares with.

use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;
use nucleo_matcher::pattern::{Atom, AtomKind, CaseMatching, Normalization};
use nucleo_matcher::{Config, Matcher, Utf32Str, Utf32String};

use crate::records::Song;

/// A match: the song's index in the searched slice, its score, and the matched character positions in its
/// artist and title (for highlighting).
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub index: usize,
    pub score: i64,
    pub artist_positions: Vec<usize>,
    pub title_positions: Vec<usize>,
}

/// Matches scoring below this share of the best match are dropped: they are letters scattered across unrelated
/// words, which only bury the real hits. The CLI's search and the TUI's filter both cut here.
pub const RELATIVE_CUTOFF: f64 = 0.4;

/// A query longer than this cannot match: fuzzy matching needs every query character in the song's artist and
/// title, which are at most [`crate::sanitize::MAX_FIELD_CHARS`] each. Refusing it early keeps a pasted page of
/// text from scoring a big library for minutes.
pub const MAX_QUERY_CHARS: usize = 2 * crate::sanitize::MAX_FIELD_CHARS + 1;

fn too_long(query: &str) -> bool {
    query.chars().nth(MAX_QUERY_CHARS).is_some()
}

/// Which fuzzy matcher scores songs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// fuzzy-matcher's skim algorithm (`SkimMatcherV2`), case-insensitive: the reference `bench ui` compares with.
    Skim,
    /// nucleo's matcher (fzf's algorithm), case-insensitive, accents folded: three to four times faster on a big
    /// library, with rankings as good (see the README's performance section).
    #[default]
    Nucleo,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Skim => "fuzzy-matcher",
            Engine::Nucleo => "nucleo-matcher",
        }
    }
}

/// Each song's names as nucleo reads them ("artist title", and the album), made once for a library so that a
/// keystroke only matches: no copying or checking of every name on every key.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    both: Vec<Utf32String>,
    album: Vec<Utf32String>,
}

impl Prepared {
    pub fn new(songs: &[Song]) -> Prepared {
        use rayon::prelude::*;
        Prepared {
            both: songs
                .par_iter()
                .map(|s| Utf32String::from(format!("{} {}", s.artist, s.title)))
                .collect(),
            album: songs
                .par_iter()
                .map(|s| Utf32String::from(s.album.as_str()))
                .collect(),
        }
    }
}

/// One query ready to score songs with one matcher; keeps its scratch memory between songs.
pub struct Scorer {
    query: String,
    kind: ScorerKind,
}

enum ScorerKind {
    Skim(Box<SkimMatcherV2>),
    Nucleo {
        atom: Atom,
        matcher: Box<Matcher>,
        text: String,
        chars: Vec<char>,
    },
}

impl Scorer {
    /// `None` for a query that matches nothing by itself (empty, or too long to match).
    pub fn new(engine: Engine, query: &str) -> Option<Scorer> {
        let query = query.trim();
        if query.is_empty() || too_long(query) {
            return None;
        }
        let kind = match engine {
            Engine::Skim => ScorerKind::Skim(Box::new(SkimMatcherV2::default().ignore_case())),
            // One atom for the whole query, spaces included, as skim reads it: "night rain" wants those words in
            // that order, not each anywhere.
            Engine::Nucleo => ScorerKind::Nucleo {
                atom: Atom::new(
                    query,
                    CaseMatching::Ignore,
                    Normalization::Smart,
                    AtomKind::Fuzzy,
                    false,
                ),
                matcher: Box::new(Matcher::new(Config::DEFAULT)),
                text: String::new(),
                chars: Vec::new(),
            },
        };
        Some(Scorer {
            query: query.to_string(),
            kind,
        })
    }

    /// [`Scorer::score`] of song `i` of the library `prepared` was made from.
    pub fn score_prepared(&mut self, song: &Song, prepared: &Prepared, i: usize) -> Option<i64> {
        match (&mut self.kind, prepared.both.get(i), prepared.album.get(i)) {
            (ScorerKind::Nucleo { atom, matcher, .. }, Some(both), Some(album)) => {
                let both = atom.score(both.slice(..), matcher);
                let album = if album.is_empty() {
                    None
                } else {
                    atom.score(album.slice(..), matcher)
                        .map(|s| i64::from(s) * 2 / 3)
                };
                both.map(i64::from).max(album)
            }
            _ => self.score(song),
        }
    }

    /// The song's score: the best of title, artist, both, and album at a lower weight.
    pub fn score(&mut self, song: &Song) -> Option<i64> {
        match &mut self.kind {
            ScorerKind::Skim(matcher) => {
                let query = self.query.as_str();
                let title = matcher.fuzzy_match(&song.title, query);
                let artist = matcher.fuzzy_match(&song.artist, query);
                let both = matcher.fuzzy_match(&format!("{} {}", song.artist, song.title), query);
                let album = matcher.fuzzy_match(&song.album, query).map(|s| s * 2 / 3);
                [title, artist, both, album].into_iter().flatten().max()
            }
            ScorerKind::Nucleo {
                atom,
                matcher,
                text,
                chars,
            } => {
                // nucleo scores a match by its own characters only (no penalty for where it starts), and the
                // title's first letter follows a space here as the artist's follows the start: "artist title"
                // scores at least as well as either alone, so one match stands for all three.
                text.clear();
                text.push_str(&song.artist);
                text.push(' ');
                text.push_str(&song.title);
                let both = atom.score(Utf32Str::new(text, chars), matcher);
                let album = if song.album.is_empty() {
                    None
                } else {
                    atom.score(Utf32Str::new(&song.album, chars), matcher)
                        .map(|s| i64::from(s) * 2 / 3)
                };
                both.map(i64::from).max(album)
            }
        }
    }

    /// Character positions of the query in `text` to highlight (empty when it does not match on its own).
    pub fn positions(&mut self, text: &str) -> Vec<usize> {
        match &mut self.kind {
            ScorerKind::Skim(matcher) => matcher
                .fuzzy_indices(text, &self.query)
                .map(|(_, p)| p)
                .unwrap_or_default(),
            ScorerKind::Nucleo {
                atom,
                matcher,
                chars,
                ..
            } => {
                let mut indices = Vec::new();
                match atom.indices(Utf32Str::new(text, chars), matcher, &mut indices) {
                    Some(_) => indices.into_iter().map(|i| i as usize).collect(),
                    None => Vec::new(),
                }
            }
        }
    }
}

/// The lowest score kept when the best is `best`.
pub fn cutoff(best: i64) -> i64 {
    (best as f64 * RELATIVE_CUTOFF) as i64
}

/// Character positions of `query` in `text` to highlight (empty when it does not match on its own).
pub fn positions(engine: Engine, text: &str, query: &str) -> Vec<usize> {
    Scorer::new(engine, query).map_or_else(Vec::new, |mut s| s.positions(text))
}

/// Searches `songs` for `query` in artist and title (and album, at a lower weight) with the default matcher. An
/// empty query matches every song in its given order.
pub fn search(songs: &[Song], query: &str) -> Vec<Match> {
    search_with(Engine::default(), songs, query)
}

/// [`search`] with the given matcher.
pub fn search_with(engine: Engine, songs: &[Song], query: &str) -> Vec<Match> {
    let query = query.trim();
    if query.is_empty() {
        return (0..songs.len())
            .map(|index| Match {
                index,
                score: 0,
                artist_positions: Vec::new(),
                title_positions: Vec::new(),
            })
            .collect();
    }
    let Some(mut scorer) = Scorer::new(engine, query) else {
        return Vec::new();
    };
    let mut matches: Vec<(usize, i64)> = songs
        .iter()
        .enumerate()
        .filter_map(|(index, song)| scorer.score(song).map(|s| (index, s)))
        .collect();
    let best = matches.iter().map(|m| m.1).max().unwrap_or(0);
    let floor = cutoff(best);
    matches.retain(|m| m.1 >= floor);
    matches.sort_by(|a, b| {
        b.1.cmp(&a.1).then_with(|| {
            let (sa, sb) = (&songs[a.0], &songs[b.0]);
            (sa.artist.to_lowercase(), sa.title.to_lowercase())
                .cmp(&(sb.artist.to_lowercase(), sb.title.to_lowercase()))
        })
    });
    matches
        .into_iter()
        .map(|(index, score)| Match {
            index,
            score,
            artist_positions: scorer.positions(&songs[index].artist),
            title_positions: scorer.positions(&songs[index].title),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Location;

    fn song(artist: &str, title: &str) -> Song {
        Song::new(artist, title, "", Location::None)
    }

    #[test]
    fn best_match_first_and_junk_dropped() {
        let songs = vec![
            song("Velvet Kites", "Sunday Bicycle"),
            song("Rain Parade Club", "Neon"),
            song("Someone", "After the Rain"),
            song("Ruins", "Radio Always In Night"),
            song("Other", "Rainlight"),
        ];
        let hits = search(&songs, "rain");
        let names: Vec<&str> = hits.iter().map(|m| songs[m.index].title.as_str()).collect();
        assert!(!names.contains(&"Sunday Bicycle"));
        assert!(
            names.contains(&"After the Rain")
                && names.contains(&"Rainlight")
                && names.contains(&"Neon")
        );
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        let rainlight = hits
            .iter()
            .find(|m| songs[m.index].title == "Rainlight")
            .unwrap();
        assert_eq!(rainlight.title_positions, vec![0, 1, 2, 3]);
    }

    #[test]
    fn prepared_names_score_as_the_songs_do() {
        let songs = vec![
            song("Sigur Rós", "Hoppípolla"),
            song("Rain Parade Club", "Neon"),
            Song::new("Other", "Rainlight", "Rainy Days", Location::None),
        ];
        let prepared = Prepared::new(&songs);
        for query in ["rain", "ros hop", "rainy", "zz"] {
            let mut scorer = Scorer::new(Engine::Nucleo, query).unwrap();
            for (i, s) in songs.iter().enumerate() {
                let plain = scorer.score(s);
                assert_eq!(scorer.score_prepared(s, &prepared, i), plain, "{query}");
            }
        }
    }

    #[test]
    fn empty_query_keeps_everything() {
        let songs = vec![song("A", "B"), song("C", "D")];
        assert_eq!(search(&songs, "  ").len(), 2);
    }
}
