//! The shared vocabulary every layer speaks: songs, lyrics records, mood readings, quadrants and feedback. Plain
//! data with serde, and the few pure functions that define it (ids, hashes, quadrant of a point); no IO.

mod feedback;
mod lyrics;
mod mood;
pub mod order;
mod song;

pub use feedback::Feedback;
pub use lyrics::{lrc_line_text, lyrics_hash, LyricsMiss, LyricsRecord};
pub use mood::{
    ekman_group, ekman_scores, mood_key, ChunkMood, LabelScore, MoodNote, MoodReading, MoodSkip,
    MoodSummary, Quadrant, SongMood, TextMood, EKMAN, LABELS, LOW_CONFIDENCE,
};
pub use song::{
    format_duration, hex, identity_name, normalize_name, path_bytes, FileStamp, Location,
    LyricsOrigin, Song, SongId,
};

/// Seconds since the Unix epoch.
pub fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
