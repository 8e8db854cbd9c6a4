//! What the user said about a song for a mood.

use serde::{Deserialize, Serialize};

use super::SongId;

/// A like or dislike, kept with the mood the song was recommended for so it only nudges similar moods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub song_id: SongId,
    pub liked: bool,
    pub valence: f32,
    pub arousal: f32,
    #[serde(default)]
    pub mood_text: String,
    pub at: u64,
}
