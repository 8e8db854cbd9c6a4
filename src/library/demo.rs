//! The built-in demo library: songs with lyrics written for moodtape, compiled into the binary so `--demo`
//! works with no setup. Loading is idempotent: songs and lyrics are only written when missing or changed, so
//! analysis stored for the demo survives from one run to the next.

use serde::Deserialize;

use crate::records::LyricsRecord;
use crate::records::{Location, LyricsOrigin, Song};
use crate::store::{Store, StoreError};

const PARTS: [(&str, &str); 2] = [
    (
        "data/demo/songs_a.toml",
        include_str!("../../data/demo/songs_a.toml"),
    ),
    (
        "data/demo/songs_b.toml",
        include_str!("../../data/demo/songs_b.toml"),
    ),
];

/// The source name demo songs carry.
pub const DEMO_SOURCE: &str = "demo";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSong {
    pub artist: String,
    pub title: String,
    pub album: String,
    pub year: i32,
    pub genre: String,
    pub track: u32,
    pub duration_s: f64,
    /// The quadrant the song was written for; used to check the model, never shown as its mood.
    pub intended: String,
    pub lyrics: String,
    #[serde(default)]
    pub instrumental: bool,
}

#[derive(Deserialize)]
struct Part {
    song: Vec<DemoSong>,
}

/// Every demo song with its lyrics.
pub fn demo_songs() -> Result<Vec<DemoSong>, String> {
    let mut all = Vec::new();
    for (name, text) in PARTS {
        let part: Part = toml::from_str(text).map_err(|e| format!("{name}: {e}"))?;
        all.extend(part.song);
    }
    Ok(all)
}

impl DemoSong {
    pub fn to_song(&self) -> (Song, LyricsRecord) {
        let mut song = Song::new(&self.artist, &self.title, &self.album, Location::None);
        song.duration_s = Some(self.duration_s);
        song.year = Some(self.year);
        song.track = Some(self.track);
        song.genre = crate::sanitize::clean_line(&self.genre);
        song.source = DEMO_SOURCE.to_string();
        let lyrics = if self.instrumental {
            LyricsRecord::instrumental(LyricsOrigin::Demo)
        } else {
            LyricsRecord::new(&self.lyrics, LyricsOrigin::Demo)
        };
        song.instrumental = lyrics.instrumental;
        song.lyrics_origin = lyrics.has_words().then_some(LyricsOrigin::Demo);
        (song, lyrics)
    }
}

/// Puts the demo songs into `store`, writing only what is missing or different. Returns how many were written.
pub fn load_demo(store: &Store) -> Result<usize, StoreError> {
    let songs = demo_songs()
        .map_err(|e| StoreError::Backup(format!("the built-in demo library is broken: {e}")))?;
    let mut pending = Vec::new();
    for demo in &songs {
        let (song, lyrics) = demo.to_song();
        let stored_song = store.song(&song.id)?;
        let stored_lyrics = store.lyrics.get(song.id.as_str())?;
        let same_lyrics = stored_lyrics
            .as_ref()
            .is_some_and(|l| l.text == lyrics.text && l.instrumental == lyrics.instrumental);
        if stored_song.as_ref() != Some(&song) || !same_lyrics {
            pending.push((song, (!same_lyrics).then_some(lyrics)));
        }
    }
    if !pending.is_empty() {
        store.put_songs(&pending)?;
        store.flush()?;
    }
    Ok(pending.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Quadrant;

    #[test]
    fn demo_library_is_complete_and_varied() {
        let songs = demo_songs().unwrap();
        assert!(songs.len() >= 120, "{} demo songs", songs.len());
        for q in Quadrant::ALL {
            let n = songs
                .iter()
                .filter(|s| s.intended.starts_with(q.code()))
                .count();
            assert!(n >= 15, "only {n} songs intended for {q}");
        }
        assert_eq!(songs.iter().filter(|s| s.instrumental).count(), 1);
        let artists: std::collections::HashSet<_> = songs.iter().map(|s| &s.artist).collect();
        assert!(artists.len() >= 20);
        let mut ids = std::collections::HashSet::new();
        for s in &songs {
            let (song, lyrics) = s.to_song();
            assert!(
                ids.insert(song.id.clone()),
                "duplicate song {} - {}",
                s.artist,
                s.title
            );
            let lines = lyrics.text.lines().filter(|l| !l.trim().is_empty()).count();
            if !s.instrumental {
                assert!((2..=30).contains(&lines), "{} has {lines} lines", s.title);
            }
        }
    }
}
