//! The JSON shape of a song that scripts can rely on.

use serde::Serialize;

use crate::records::Song;
use crate::records::{LabelScore, MoodNote, MoodReading, LABELS};

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
    /// How far the reading can be trusted, 0..1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// The language of the lyrics (ISO 639-1), when it could be told.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Why the song has lyrics but no mood: "language" when they are in one the model does not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mood_skipped: Option<&'static str>,
}

impl SongView {
    /// The song with its reading (if any) and what is known of its analysis.
    pub fn new(song: &Song, mood: Option<&MoodReading>, note: &MoodNote) -> SongView {
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
            valence: mood.map(|m| round3(m.valence)),
            arousal: mood.map(|m| round3(m.arousal)),
            quadrant: mood.map(|m| m.quadrant().code()),
            emotions: mood.map(|m| {
                m.top(3)
                    .into_iter()
                    .map(|l| LabelScore {
                        score: round3(l.score),
                        ..l
                    })
                    .collect()
            }),
            confidence: note.confidence.filter(|_| mood.is_some()).map(round3),
            language: note.language.as_deref().map(crate::sanitize::clean_line),
            mood_skipped: note.mood_skipped.map(|s| s.as_str()),
        }
    }
}

pub fn round3(x: f32) -> f32 {
    (x * 1000.0).round() / 1000.0
}

/// The JSON of a mood reading.
#[derive(Debug, Serialize)]
pub struct MoodView {
    pub valence: f32,
    pub arousal: f32,
    pub quadrant: &'static str,
    pub quadrant_name: &'static str,
    pub emotions: Vec<LabelScore>,
}

impl MoodView {
    pub fn new(r: &MoodReading) -> MoodView {
        let q = r.quadrant();
        MoodView {
            valence: round3(r.valence),
            arousal: round3(r.arousal),
            quadrant: q.code(),
            quadrant_name: q.name(),
            emotions: r
                .top(LABELS.len())
                .into_iter()
                .map(|l| LabelScore {
                    label: l.label,
                    score: round3(l.score),
                })
                .collect(),
        }
    }
}
