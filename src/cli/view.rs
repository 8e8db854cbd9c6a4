//! The JSON shape of a song that scripts can rely on.

use serde::Serialize;

use crate::emotion::{LabelScore, SongMood};
use crate::library::Song;

#[derive(Debug, Clone, Serialize)]
pub struct SongView {
    pub id: String,
    pub artist: String,
    pub title: String,
    pub album: String,
    pub duration_s: Option<f64>,
    pub track: Option<u32>,
    pub year: Option<i32>,
    pub genre: String,
    pub location: String,
    pub has_lyrics: bool,
    pub lyrics_source: Option<&'static str>,
    pub instrumental: bool,
    pub analyzed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valence: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arousal: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quadrant: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emotions: Option<Vec<LabelScore>>,
}

impl SongView {
    pub fn new(song: &Song, mood: Option<&SongMood>) -> SongView {
        SongView {
            id: song.id.to_string(),
            artist: song.artist.clone(),
            title: song.title.clone(),
            album: song.album.clone(),
            duration_s: song.duration_s.map(|d| (d * 1000.0).round() / 1000.0),
            track: song.track,
            year: song.year,
            genre: song.genre.clone(),
            location: song.location.display(),
            has_lyrics: song.has_lyrics(),
            lyrics_source: song.lyrics_origin.map(|o| o.as_str()),
            instrumental: song.instrumental,
            analyzed: mood.is_some(),
            valence: mood.map(|m| round3(m.reading.valence)),
            arousal: mood.map(|m| round3(m.reading.arousal)),
            quadrant: mood.map(|m| m.reading.quadrant().code()),
            emotions: mood.map(|m| {
                m.reading
                    .top(3)
                    .into_iter()
                    .map(|l| LabelScore {
                        score: round3(l.score),
                        ..l
                    })
                    .collect()
            }),
        }
    }
}

pub fn round3(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
}
