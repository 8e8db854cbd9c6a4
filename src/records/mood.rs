//! The vocabulary of moods: the 28 emotion labels and their Ekman groups, quadrants, and the readings stored for
//! texts and songs.

use serde::{Deserialize, Serialize};

/// The 28 GoEmotions labels, in the dataset's id order.
pub const LABELS: [&str; 28] = [
    "admiration",
    "amusement",
    "anger",
    "annoyance",
    "approval",
    "caring",
    "confusion",
    "curiosity",
    "desire",
    "disappointment",
    "disapproval",
    "disgust",
    "embarrassment",
    "excitement",
    "fear",
    "gratitude",
    "grief",
    "joy",
    "love",
    "nervousness",
    "optimism",
    "pride",
    "realization",
    "relief",
    "remorse",
    "sadness",
    "surprise",
    "neutral",
];

/// The Ekman groups, in the dataset's `ekman_labels.txt` order.
pub const EKMAN: [&str; 7] = [
    "anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise",
];

/// The Ekman group of each of the 28 labels (the GoEmotions paper's mapping), as an index into [`EKMAN`].
pub fn ekman_group(label: usize) -> usize {
    match LABELS.get(label).copied().unwrap_or("neutral") {
        "anger" | "annoyance" | "disapproval" => 0,
        "disgust" => 1,
        "fear" | "nervousness" => 2,
        "sadness" | "disappointment" | "embarrassment" | "grief" | "remorse" => 5,
        "surprise" | "realization" | "confusion" | "curiosity" => 6,
        "neutral" => 4,
        _ => 3,
    }
}

/// Ekman group scores from the 28 label probabilities (see [`MoodReading::ekman`]).
pub fn ekman_scores(emotions: &[f32]) -> [f32; 7] {
    let mut absent = [1f32; 7];
    for (i, p) in emotions.iter().enumerate().take(LABELS.len()) {
        absent[ekman_group(i)] *= 1.0 - p.clamp(0.0, 1.0);
    }
    absent.map(|q| 1.0 - q)
}

/// The four quadrants of the valence/arousal plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Quadrant {
    Q1,
    Q2,
    Q3,
    Q4,
}

impl Quadrant {
    pub const ALL: [Quadrant; 4] = [Quadrant::Q1, Quadrant::Q2, Quadrant::Q3, Quadrant::Q4];

    /// Q1 V+A+, Q2 V-A+, Q3 V-A-, Q4 V+A-. Zero counts as positive.
    pub fn of(valence: f32, arousal: f32) -> Quadrant {
        match (valence >= 0.0, arousal >= 0.0) {
            (true, true) => Quadrant::Q1,
            (false, true) => Quadrant::Q2,
            (false, false) => Quadrant::Q3,
            (true, false) => Quadrant::Q4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Quadrant::Q1 => "joyful/energetic",
            Quadrant::Q2 => "angry/tense",
            Quadrant::Q3 => "sad/bitter",
            Quadrant::Q4 => "calm/tender",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Quadrant::Q1 => "Q1",
            Quadrant::Q2 => "Q2",
            Quadrant::Q3 => "Q3",
            Quadrant::Q4 => "Q4",
        }
    }

    /// A representative point of the quadrant, used as a journey's target.
    pub fn center(self) -> (f32, f32) {
        match self {
            Quadrant::Q1 => (0.5, 0.5),
            Quadrant::Q2 => (-0.5, 0.5),
            Quadrant::Q3 => (-0.5, -0.5),
            Quadrant::Q4 => (0.5, -0.5),
        }
    }

    pub fn parse(text: &str) -> Option<Quadrant> {
        match text.trim().to_ascii_uppercase().as_str() {
            "Q1" | "1" | "JOYFUL" | "ENERGETIC" | "HAPPY" => Some(Quadrant::Q1),
            "Q2" | "2" | "ANGRY" | "TENSE" => Some(Quadrant::Q2),
            "Q3" | "3" | "SAD" | "BITTER" => Some(Quadrant::Q3),
            "Q4" | "4" | "CALM" | "TENDER" => Some(Quadrant::Q4),
            _ => None,
        }
    }
}

impl std::fmt::Display for Quadrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// What the model reads from one text: a probability for each of the 28 labels, and a valence/arousal point in
/// -1..1 (0 is neutral).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoodReading {
    pub emotions: Vec<f32>,
    pub valence: f32,
    pub arousal: f32,
}

/// What the engine reads from one text: the mood and the sentence embedding (for lyric similarity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextMood {
    pub reading: MoodReading,
    pub embedding: Vec<f32>,
}

/// A label with its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelScore {
    pub label: String,
    pub score: f32,
}

impl MoodReading {
    pub fn quadrant(&self) -> Quadrant {
        Quadrant::of(self.valence, self.arousal)
    }

    /// The `k` strongest labels, strongest first (ties by label order, so the result is deterministic).
    pub fn top(&self, k: usize) -> Vec<LabelScore> {
        let mut idx: Vec<usize> = (0..self.emotions.len().min(LABELS.len())).collect();
        idx.sort_by(|&a, &b| {
            self.emotions[b]
                .total_cmp(&self.emotions[a])
                .then(a.cmp(&b))
        });
        idx.into_iter()
            .take(k)
            .map(|i| LabelScore {
                label: LABELS[i].to_string(),
                score: self.emotions[i],
            })
            .collect()
    }

    /// The strongest label that is not `neutral`, when one stands out; songs are rarely neutral as a whole.
    pub fn top_emotion(&self) -> Option<LabelScore> {
        self.top(2).into_iter().find(|l| l.label != "neutral")
    }

    /// Scores of the Ekman groups: the chance that any of a group's labels is present, taking the labels as
    /// independent (noisy-or). A group of twelve labels (joy) read at 0.3 each is more likely than one label at
    /// 0.3; on GoEmotions dev this scores the groups better than their strongest member alone.
    pub fn ekman(&self) -> [f32; 7] {
        ekman_scores(&self.emotions)
    }
}

/// A song read with less confidence than this is marked (dimmed in the library and on the map): its chunks pull
/// apart or nothing in it stands out. A chosen line, not a measured one; `moodtape eval musicmood` shows how
/// accuracy follows confidence.
pub const LOW_CONFIDENCE: f32 = 0.3;

/// What lists and the map need from a song's analysis: its point, quadrant, strongest emotion and confidence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MoodSummary {
    pub valence: f32,
    pub arousal: f32,
    pub quadrant: Quadrant,
    /// The strongest label other than neutral, as an index into [`LABELS`], and its score.
    top_label: Option<u8>,
    top_score: f32,
    /// The song's [`SongMood::confidence`]; 1 for a reading with none (a typed mood).
    #[serde(default = "full_confidence")]
    pub confidence: f32,
}

fn full_confidence() -> f32 {
    1.0
}

impl MoodSummary {
    /// The summary of a song's analysis, with its confidence.
    pub fn of_song(mood: &SongMood) -> MoodSummary {
        MoodSummary {
            confidence: mood.confidence,
            ..MoodSummary::of(&mood.reading)
        }
    }

    /// True when the reading is too unsure to be shown as plainly as the others.
    pub fn is_unsure(&self) -> bool {
        self.confidence < LOW_CONFIDENCE
    }

    pub fn of(reading: &MoodReading) -> MoodSummary {
        let top = reading.top_emotion().and_then(|l| {
            LABELS
                .iter()
                .position(|name| *name == l.label)
                .map(|i| (i, l.score))
        });
        MoodSummary {
            valence: reading.valence,
            arousal: reading.arousal,
            quadrant: reading.quadrant(),
            top_label: top.map(|(i, _)| i as u8),
            top_score: top.map_or(0.0, |(_, s)| s),
            confidence: 1.0,
        }
    }

    /// The strongest label other than neutral, and its score.
    pub fn top(&self) -> Option<(&'static str, f32)> {
        self.top_label
            .and_then(|i| LABELS.get(usize::from(i)))
            .map(|name| (*name, self.top_score))
    }
}

/// The reading of one chunk of a song's lyrics, kept to show which lines carry which mood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkMood {
    /// First and last line (0-based, inclusive) of the chunk in the stored lyrics.
    pub first_line: usize,
    pub last_line: usize,
    pub reading: MoodReading,
}

/// A song's analysis, keyed in the store by model key and lyrics hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SongMood {
    pub model_key: String,
    pub lyrics_hash: String,
    pub reading: MoodReading,
    /// Mean sentence embedding of the lyrics (L2-normalised), for lyric similarity.
    pub embedding: Vec<f32>,
    pub chunks: Vec<ChunkMood>,
    pub analyzed_at: u64,
    /// How far the reading can be trusted, 0..1: high when the chunks agree and the mood is clear, low when
    /// verses pull in different directions or nothing stands out. Analyses stored before it existed read 0.
    #[serde(default)]
    pub confidence: f32,
    /// The language the lyrics were found to be in (ISO 639-1, e.g. "es"), when the text was long enough to tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Set when the song was not read at all: then `reading`, `embedding` and `chunks` are empty and mean nothing.
    /// Stored like an analysis so the job does not try the song again until its lyrics or the model change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mood_skipped: Option<MoodSkip>,
}

/// Why a song with lyrics has no mood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoodSkip {
    /// The lyrics are (mostly) in a language the model does not read.
    Language,
}

impl MoodSkip {
    pub fn as_str(self) -> &'static str {
        match self {
            MoodSkip::Language => "language",
        }
    }
}

impl SongMood {
    /// The record of a song left unread because its lyrics are in `language`.
    pub fn skipped_for_language(
        model_key: &str,
        lyrics_hash: &str,
        language: String,
        now: u64,
    ) -> SongMood {
        SongMood {
            model_key: model_key.to_string(),
            lyrics_hash: lyrics_hash.to_string(),
            reading: MoodReading {
                emotions: Vec::new(),
                valence: 0.0,
                arousal: 0.0,
            },
            embedding: Vec::new(),
            chunks: Vec::new(),
            analyzed_at: now,
            confidence: 0.0,
            language: Some(language),
            mood_skipped: Some(MoodSkip::Language),
        }
    }

    /// True when the song has a reading (it was not skipped).
    pub fn is_read(&self) -> bool {
        self.mood_skipped.is_none()
    }
}

/// What a list says of a song's analysis beside its reading: how far to trust it, its language, or why it was
/// not read. Light enough to send for every song of a library.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MoodNote {
    #[serde(default)]
    pub confidence: Option<f32>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub mood_skipped: Option<MoodSkip>,
}

impl MoodNote {
    pub fn of(mood: &SongMood) -> MoodNote {
        MoodNote {
            confidence: mood.is_read().then_some(mood.confidence),
            language: mood.language.clone(),
            mood_skipped: mood.mood_skipped,
        }
    }
}

/// The key of a song's analysis in the moods tree.
pub fn mood_key(model_key: &str, lyrics_hash: &str) -> String {
    format!("{model_key}/{lyrics_hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadrants_follow_the_signs() {
        assert_eq!(Quadrant::of(0.3, 0.2), Quadrant::Q1);
        assert_eq!(Quadrant::of(-0.3, 0.2), Quadrant::Q2);
        assert_eq!(Quadrant::of(-0.3, -0.2), Quadrant::Q3);
        assert_eq!(Quadrant::of(0.3, -0.2), Quadrant::Q4);
        assert_eq!(Quadrant::parse("q3"), Some(Quadrant::Q3));
    }

    #[test]
    fn ekman_mapping_matches_the_paper() {
        let group =
            |name: &str| EKMAN[ekman_group(LABELS.iter().position(|l| *l == name).unwrap())];
        assert_eq!(group("annoyance"), "anger");
        assert_eq!(group("nervousness"), "fear");
        assert_eq!(group("gratitude"), "joy");
        assert_eq!(group("remorse"), "sadness");
        assert_eq!(group("curiosity"), "surprise");
        assert_eq!(group("neutral"), "neutral");
        assert_eq!(group("disgust"), "disgust");
    }

    #[test]
    fn analyses_stored_before_confidence_still_read() {
        let old = r#"{"model_key":"k","lyrics_hash":"h","reading":{"emotions":[0.1],"valence":0.2,"arousal":-0.1},
                     "embedding":[1.0],"chunks":[],"analyzed_at":5}"#;
        let mood: SongMood = serde_json::from_str(old).unwrap();
        assert_eq!(mood.confidence, 0.0);
        assert_eq!(mood.analyzed_at, 5);
        assert!(mood.is_read() && mood.language.is_none());
    }

    #[test]
    fn a_skip_keeps_its_language_and_says_why() {
        let skip = SongMood::skipped_for_language("k", "h", "es".into(), 7);
        let json = serde_json::to_value(&skip).unwrap();
        assert_eq!(json["language"], "es");
        assert_eq!(json["mood_skipped"], "language");
        let back: SongMood = serde_json::from_value(json).unwrap();
        assert!(!back.is_read());
        let note = MoodNote::of(&back);
        assert_eq!(note.confidence, None);
        assert_eq!(note.mood_skipped, Some(MoodSkip::Language));
    }

    #[test]
    fn summaries_carry_confidence() {
        let mut mood = SongMood::skipped_for_language("k", "h", "en".into(), 7);
        mood.mood_skipped = None;
        mood.confidence = 0.1;
        assert!(MoodSummary::of_song(&mood).is_unsure());
        mood.confidence = 0.9;
        assert!(!MoodSummary::of_song(&mood).is_unsure());
        assert!(!MoodSummary::of(&mood.reading).is_unsure());
    }

    #[test]
    fn ekman_groups_combine_their_labels() {
        let mut emotions = vec![0.0; 28];
        emotions[17] = 0.5; // joy
        emotions[1] = 0.5; // amusement
        emotions[2] = 0.4; // anger
        let e = MoodReading {
            emotions,
            valence: 0.0,
            arousal: 0.0,
        }
        .ekman();
        assert!((e[3] - 0.75).abs() < 1e-6, "joy group {}", e[3]);
        assert!((e[0] - 0.4).abs() < 1e-6, "anger group {}", e[0]);
        assert_eq!(e[5], 0.0);
    }

    #[test]
    fn top_is_sorted_and_deterministic() {
        let mut emotions = vec![0.0; 28];
        emotions[17] = 0.9;
        emotions[1] = 0.5;
        emotions[27] = 0.95;
        let r = MoodReading {
            emotions,
            valence: 0.5,
            arousal: 0.5,
        };
        let top = r.top(3);
        assert_eq!(top[0].label, "neutral");
        assert_eq!(top[1].label, "joy");
        assert_eq!(r.top_emotion().unwrap().label, "joy");
    }
}
