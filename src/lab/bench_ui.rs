//! `moodtape bench ui`: a generated library of N songs (the same for a given N on every run), and the report the
//! TUI's own measurement fills in (first frame, memory, filter keystrokes).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::records::{
    ChunkMood, Location, LyricsOrigin, LyricsRecord, MoodReading, Song, SongMood, LABELS,
};
use crate::store::Store;

/// Bump when the generated library changes, so an old one in the temp dir is not reused.
const GENERATION: u32 = 1;
/// Width of a stored lyrics embedding (the shipped encoder's).
const EMBEDDING_DIM: usize = 384;
/// Songs written per transaction while generating.
const WRITE_BATCH: usize = 1000;
/// Written beside the database once it is complete; holds the song count.
const READY_FILE: &str = "bench-ready";

/// Where the generated library of `songs` songs lives under `base` (the temp dir unless given).
pub fn library_dir(base: Option<&Path>, songs: usize) -> PathBuf {
    base.map_or_else(
        || std::env::temp_dir().join("moodtape-bench-ui"),
        Path::to_path_buf,
    )
    .join(format!("{songs}-songs-v{GENERATION}"))
}

/// The database of a generated library.
pub fn database(dir: &Path) -> PathBuf {
    dir.join("db")
}

/// Whether a complete library of `songs` songs is in `dir`.
pub fn is_ready(dir: &Path, songs: usize) -> bool {
    std::fs::read_to_string(dir.join(READY_FILE)).is_ok_and(|s| s.trim() == songs.to_string())
}

/// A small deterministic generator (xorshift64*), so the library is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }
}

/// Names with accents and other scripts, as real libraries have them.
const WORLD_NAMES: &[&str] = &[
    "Beyoncé",
    "Sigur Rós",
    "Björk",
    "Mötley Crüe",
    "Café Tacuba",
    "王菲",
    "Кино",
    "Fairuz",
    "Zoé",
    "Mø",
    "Édith Piaf",
    "Los Ángeles Azules",
];
const GENRES: &[&str] = &[
    "Rock",
    "Pop",
    "Indie",
    "Electronic",
    "Folk",
    "Jazz",
    "Hip-Hop",
    "Soul",
    "Metal",
    "Ambient",
];

/// The words songs are named with: those of the demo library's lyrics and names.
fn vocabulary() -> Vec<String> {
    let mut words: Vec<String> = crate::library::demo::demo_songs()
        .unwrap_or_default()
        .iter()
        .flat_map(|s| {
            format!("{} {} {}", s.artist, s.title, s.lyrics)
                .split(|c: char| !c.is_alphabetic() && c != '\'')
                .filter(|w| w.chars().count() >= 2)
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .collect();
    words.sort();
    words.dedup();
    if words.is_empty() {
        words = ["night", "rain", "love", "blue", "city", "heart"]
            .map(String::from)
            .to_vec();
    }
    words
}

fn capitalized(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn phrase(rng: &mut Rng, words: &[String], min: usize, max: usize) -> String {
    let n = min + rng.below(max - min + 1);
    (0..n)
        .map(|_| capitalized(&words[rng.below(words.len())]))
        .collect::<Vec<_>>()
        .join(" ")
}

fn reading(rng: &mut Rng) -> MoodReading {
    let mut emotions: Vec<f32> = (0..LABELS.len()).map(|_| rng.unit().powi(3)).collect();
    let sum: f32 = emotions.iter().sum::<f32>().max(1e-6);
    emotions.iter_mut().for_each(|e| *e /= sum);
    MoodReading {
        emotions,
        valence: rng.unit() * 2.0 - 1.0,
        arousal: rng.unit() * 2.0 - 1.0,
    }
}

fn mood(rng: &mut Rng, model_key: &str, lyrics: &LyricsRecord) -> SongMood {
    let mut embedding: Vec<f32> = (0..EMBEDDING_DIM).map(|_| rng.unit() - 0.5).collect();
    let norm = embedding
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(1e-6);
    embedding.iter_mut().for_each(|x| *x /= norm);
    let lines = lyrics.text.lines().count().max(1);
    let chunks = (0..2)
        .map(|c| ChunkMood {
            first_line: c * lines / 2,
            last_line: ((c + 1) * lines / 2).saturating_sub(1),
            reading: reading(rng),
        })
        .collect();
    SongMood {
        model_key: model_key.to_string(),
        lyrics_hash: lyrics.hash(),
        reading: reading(rng),
        embedding,
        chunks,
        analyzed_at: 1_700_000_000,
        confidence: 0.2 + 0.8 * rng.unit(),
        language: None,
        mood_skipped: None,
    }
}

/// One generated song: albums of a few artists each, realistic name lengths, lyrics for about 40% of songs and
/// an analysis for most of those.
fn song(
    rng: &mut Rng,
    words: &[String],
    artists: &[String],
    i: usize,
) -> (Song, Option<LyricsRecord>) {
    // A few artists have most songs, as in real libraries.
    let a = rng.below(artists.len()).min(rng.below(artists.len()));
    let artist = &artists[a];
    let album = phrase(rng, words, 1, 4);
    let title = phrase(rng, words, 1, 6);
    let track = (i % 14 + 1) as u32;
    let path = format!("/music/{artist}/{album}/{track:02} {title} ({i}).flac");
    let mut song = Song::new(artist, &title, &album, Location::File(path.into()));
    song.track = Some(track);
    song.year = Some(1960 + rng.below(66) as i32);
    song.duration_s = Some(90.0 + rng.below(400) as f64);
    song.genre = GENRES[rng.below(GENRES.len())].to_string();
    song.source = "/music".to_string();
    let lyrics = rng.chance(0.4).then(|| {
        let lines = 12 + rng.below(30);
        let text = (0..lines)
            .map(|_| phrase(rng, words, 3, 9).to_lowercase())
            .collect::<Vec<_>>()
            .join("\n");
        song.lyrics_origin = Some(LyricsOrigin::Import);
        LyricsRecord::new(&text, LyricsOrigin::Import)
    });
    (song, lyrics)
}

/// Writes a library of `songs` songs into `dir` (replacing whatever was there); `progress` hears the songs done.
pub fn generate(dir: &Path, songs: usize, progress: &mut dyn FnMut(usize)) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let store = Store::open(&database(dir))?;
    let model_key = crate::emotion::model_key();
    let words = vocabulary();
    let mut rng = Rng(0x6d6f_6f64_7461_7065 ^ songs as u64);
    let n_artists = (songs / 12).max(8);
    let artists: Vec<String> = (0..n_artists)
        .map(|_| {
            if rng.chance(0.03) {
                WORLD_NAMES[rng.below(WORLD_NAMES.len())].to_string()
            } else if rng.chance(0.15) {
                format!("The {}", phrase(&mut rng, &words, 1, 2))
            } else {
                phrase(&mut rng, &words, 1, 3)
            }
        })
        .collect();
    let mut done = 0;
    while done < songs {
        let n = WRITE_BATCH.min(songs - done);
        let batch: Vec<(Song, Option<LyricsRecord>)> = (done..done + n)
            .map(|i| song(&mut rng, &words, &artists, i))
            .collect();
        let mut moods = sled::Batch::default();
        for (_, lyrics) in &batch {
            if let Some(lyrics) = lyrics.as_ref().filter(|_| rng.chance(0.9)) {
                let m = mood(&mut rng, &model_key, lyrics);
                moods.insert(
                    crate::records::mood_key(&model_key, &m.lyrics_hash).as_bytes(),
                    store.moods.encode(&m)?,
                );
            }
        }
        store.put_songs(&batch)?;
        store
            .moods
            .raw()
            .apply_batch(moods)
            .map_err(crate::store::StoreError::from)?;
        done += n;
        progress(done);
    }
    store.flush_counted()?;
    drop(store);
    std::fs::write(dir.join(READY_FILE), songs.to_string())
        .with_context(|| format!("cannot write {}", dir.join(READY_FILE).display()))?;
    Ok(())
}

/// Resident memory of this process now and at its peak, in MB (Linux; 0 where unknown).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Memory {
    pub rss_mb: f64,
    pub peak_rss_mb: f64,
}

impl Memory {
    pub fn now() -> Memory {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .map_or(0.0, |kb| kb / 1024.0)
        };
        Memory {
            rss_mb: field("VmRSS:"),
            peak_rss_mb: field("VmHWM:"),
        }
    }
}

/// Milliseconds of a set of samples.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    pub samples: usize,
    pub mean_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(samples_ms: &[f64]) -> Latency {
        if samples_ms.is_empty() {
            return Latency::default();
        }
        let mut sorted = samples_ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        let p95 = ((sorted.len() as f64 * 0.95).ceil() as usize).clamp(1, sorted.len()) - 1;
        Latency {
            samples: sorted.len(),
            mean_ms: sorted.iter().sum::<f64>() / sorted.len() as f64,
            p95_ms: sorted[p95],
            max_ms: sorted[sorted.len() - 1],
        }
    }
}

/// A part of the startup: its time and the memory after it.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub step: String,
    pub ms: f64,
    pub rss_mb: f64,
}

impl Step {
    pub fn new(step: &str, ms: f64, memory: Memory) -> Step {
        Step {
            step: step.to_string(),
            ms,
            rss_mb: memory.rss_mb,
        }
    }
}

/// One matcher's keystrokes, and what it found for each query.
#[derive(Debug, Clone, Serialize)]
pub struct FilterBench {
    pub matcher: String,
    pub keystroke: Latency,
    /// Songs shown after each whole query.
    pub found: Vec<usize>,
    /// The best five of each query, best first, as `library search` ranks them.
    pub top: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UiBench {
    pub songs: usize,
    pub analyzed: usize,
    pub terminal: String,
    /// Opening the database, reading the library, building the app and drawing the first frame.
    pub first_frame_ms: f64,
    /// Where the first frame's time goes, with the memory after each step.
    pub first_frame_steps: Vec<Step>,
    pub after_first_frame: Memory,
    /// Reading every stored analysis into the app, as the TUI does in the background after the first frame.
    pub moods_loaded_ms: f64,
    pub after_moods: Memory,
    pub queries: Vec<String>,
    pub filter: Vec<FilterBench>,
    /// Whether the library was generated by this run (else reused from `library`).
    pub generated: bool,
    pub library: String,
}
