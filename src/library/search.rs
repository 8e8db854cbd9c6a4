//! Fuzzy search over artist and title with fuzzy-matcher's skim algorithm, best match first.

use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;

use super::Song;

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
/// words, which only bury the real hits.
const RELATIVE_CUTOFF: f64 = 0.4;

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
    let matcher = SkimMatcherV2::default().ignore_case();
    let mut matches: Vec<Match> = songs
        .iter()
        .enumerate()
        .filter_map(|(index, song)| score_song(&matcher, song, query).map(|m| Match { index, ..m }))
        .collect();
    let best = matches.iter().map(|m| m.score).max().unwrap_or(0);
    let floor = (best as f64 * RELATIVE_CUTOFF) as i64;
    matches.retain(|m| m.score >= floor);
    matches.sort_by(|a, b| {
        b.score.cmp(&a.score).then_with(|| {
            let (sa, sb) = (&songs[a.index], &songs[b.index]);
            (sa.artist.to_lowercase(), sa.title.to_lowercase())
                .cmp(&(sb.artist.to_lowercase(), sb.title.to_lowercase()))
        })
    });
    matches
}

fn score_song(matcher: &SkimMatcherV2, song: &Song, query: &str) -> Option<Match> {
    let title = matcher.fuzzy_indices(&song.title, query);
    let artist = matcher.fuzzy_indices(&song.artist, query);
    let both = matcher.fuzzy_match(&format!("{} {}", song.artist, song.title), query);
    let album = matcher.fuzzy_match(&song.album, query).map(|s| s * 2 / 3);
    let score = [
        title.as_ref().map(|t| t.0),
        artist.as_ref().map(|a| a.0),
        both,
        album,
    ]
    .into_iter()
    .flatten()
    .max()?;
    Some(Match {
        index: 0,
        score,
        artist_positions: artist.map(|a| a.1).unwrap_or_default(),
        title_positions: title.map(|t| t.1).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::Location;

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
