//! Library counts shared by `library stats` and the TUI status bar.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cli::Context;
use crate::emotion::SongMood;
use crate::library::Song;
use crate::store::Store;

#[derive(Debug, Clone, Serialize)]
pub struct LibraryStats {
    pub songs: usize,
    pub with_lyrics: usize,
    pub instrumental: usize,
    pub analyzed: usize,
    pub by_quadrant: BTreeMap<String, usize>,
    pub database: String,
    pub model: String,
}

impl LibraryStats {
    pub fn compute(store: &Store, songs: &[Song], _ctx: &Context) -> anyhow::Result<LibraryStats> {
        let refs: Vec<&Song> = songs.iter().collect();
        let moods = moods_for(store, _ctx, &refs)?;
        let mut by_quadrant = BTreeMap::new();
        for m in moods.iter().flatten() {
            *by_quadrant
                .entry(m.reading.quadrant().code().to_string())
                .or_insert(0) += 1;
        }
        Ok(LibraryStats {
            songs: songs.len(),
            with_lyrics: songs.iter().filter(|s| s.has_lyrics()).count(),
            instrumental: songs.iter().filter(|s| s.instrumental).count(),
            analyzed: moods.iter().filter(|m| m.is_some()).count(),
            by_quadrant,
            database: store.path().display().to_string(),
            model: crate::emotion::model_key(),
        })
    }
}

/// The current model's analysis of each song, where there is one.
pub fn moods_for(
    store: &Store,
    _ctx: &Context,
    songs: &[&Song],
) -> anyhow::Result<Vec<Option<SongMood>>> {
    let key = crate::emotion::model_key();
    songs
        .iter()
        .map(|s| crate::emotion::stored_mood(store, &key, s).map_err(anyhow::Error::from))
        .collect()
}
