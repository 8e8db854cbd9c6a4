//! Fuzzy search over artist and title with fuzzy-matcher's skim algorithm, best match first.

use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;

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

/// The matcher every search uses: skim's algorithm, case-insensitive.
pub fn matcher() -> SkimMatcherV2 {
    SkimMatcherV2::default().ignore_case()
}

/// The song's score for `query`: the best of title, artist, both, and album at a lower weight.
pub fn score(matcher: &SkimMatcherV2, song: &Song, query: &str) -> Option<i64> {
    if too_long(query) {
        return None;
    }
    let title = matcher.fuzzy_match(&song.title, query);
    let artist = matcher.fuzzy_match(&song.artist, query);
    let both = matcher.fuzzy_match(&format!("{} {}", song.artist, song.title), query);
    let album = matcher.fuzzy_match(&song.album, query).map(|s| s * 2 / 3);
    [title, artist, both, album].into_iter().flatten().max()
}

/// The lowest score kept when the best is `best`.
pub fn cutoff(best: i64) -> i64 {
    (best as f64 * RELATIVE_CUTOFF) as i64
}

/// Character positions of `query` in `text` to highlight (empty when it does not match on its own).
pub fn positions(text: &str, query: &str) -> Vec<usize> {
    if query.trim().is_empty() || too_long(query) {
        return Vec::new();
    }
    matcher()
        .fuzzy_indices(text, query.trim())
        .map(|(_, p)| p)
        .unwrap_or_default()
}

/// Searches `songs` for `query` in artist and title (and album, at a lower weight). An empty query matches every
/// song in its given order.
pub fn search(songs: &[Song], query: &str) -> Vec<Match> {
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
    if too_long(query) {
        return Vec::new();
    }
    let matcher = matcher();
    let mut matches: Vec<(usize, i64)> = songs
        .iter()
        .enumerate()
        .filter_map(|(index, song)| score(&matcher, song, query).map(|s| (index, s)))
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
            artist_positions: positions(&songs[index].artist, query),
            title_positions: positions(&songs[index].title, query),
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
    fn empty_query_keeps_everything() {
        let songs = vec![song("A", "B"), song("C", "D")];
        assert_eq!(search(&songs, "  ").len(), 2);
    }
}
