//! The engine: the encoder and the heads together, reading the mood of texts and of songs' lyrics.

use candle_core::Tensor;

use super::chunk::{chunk_lyrics, Chunk, CHUNK_TOKENS};
use super::device::{choose_device, DeviceName};
use super::encoder::Encoder;
use super::fetch::{fetch, FetchOptions, ModelFiles};
use super::heads::Heads;
use super::language;
use super::EngineError;
use crate::records::LyricsRecord;
use crate::records::{ChunkMood, MoodReading, SongMood, TextMood};

/// How to find the model and where to run it.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub fetch: FetchOptions,
    pub device: DeviceName,
    pub precision: super::Precision,
    pub batch_size: usize,
}

/// On a GPU, texts per encoder batch at least, and songs per analysis batch. On an H200, batches of 1024 texts
/// embedded 3% (f32) to 6% (bf16) faster than batches of 256, with less memory, and analysis batches of 2048
/// songs ran 24-30% faster than batches of 512 (`bench analyze --songs-per-batch`).
pub const GPU_BATCH: usize = 1024;
pub const GPU_SONGS_PER_BATCH: usize = 2048;

pub struct Engine {
    encoder: Encoder,
    heads: Heads,
    pub files: ModelFiles,
    pub device_label: String,
    /// Why the model runs on the CPU although a GPU was asked for (see [`choose_device`]).
    pub device_fallback: Option<String>,
    pub batch_size: usize,
    /// Texts sent through the encoder since the engine was built (what a bench or a test counts).
    texts_encoded: std::sync::atomic::AtomicUsize,
}

impl Engine {
    /// Finds (fetching if needed and allowed) the encoder, and loads it with the shipped heads.
    pub fn load(opts: &EngineOptions) -> Result<Engine, EngineError> {
        let files = fetch(&opts.fetch)?;
        let choice = choose_device(opts.device);
        if let Some(why) = &choice.fallback {
            tracing::warn!(%why, "the model runs on the CPU");
            if opts.fetch.verbose {
                eprintln!("moodtape: {}", crate::sanitize::clean_line(why));
            }
        }
        let (device, device_label) = (choice.device, choice.label);
        let (heads, _card, overlay) = Heads::shipped(&device, 384)?;
        let dtype = encoder_dtype(opts.precision, &device);
        let cpu = super::encoder::CpuPass::Packed {
            fast: opts.precision == super::Precision::Fast,
        };
        let mut encoder = Encoder::load(&files, &overlay, &device, dtype, cpu)?;
        // A GPU is only kept busy by big batches: an analysis batch holds many songs and their chunks.
        if !device.is_cpu() {
            super::analyze::set_songs_per_batch(GPU_SONGS_PER_BATCH);
        }
        encoder.use_workers(
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(8),
        );
        Ok(Engine {
            encoder,
            heads,
            files,
            device_label,
            device_fallback: choice.fallback,
            batch_size: if device.is_cpu() {
                opts.batch_size.max(1)
            } else {
                opts.batch_size.max(GPU_BATCH)
            },
            texts_encoded: Default::default(),
        })
    }

    /// An engine from parts (tests use a tiny random encoder).
    pub fn from_parts(
        encoder: Encoder,
        heads: Heads,
        files: ModelFiles,
        batch_size: usize,
    ) -> Engine {
        Engine {
            encoder,
            heads,
            files,
            device_label: "cpu".into(),
            device_fallback: None,
            batch_size,
            texts_encoded: Default::default(),
        }
    }

    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// The encoder, taking the engine apart.
    pub fn into_encoder(self) -> Encoder {
        self.encoder
    }

    pub fn heads(&self) -> &Heads {
        &self.heads
    }

    /// The mood and embedding of each text, in input order.
    pub fn read_texts(&self, texts: &[&str]) -> Result<Vec<TextMood>, EngineError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.texts_encoded
            .fetch_add(texts.len(), std::sync::atomic::Ordering::Relaxed);
        let embeddings = self.encoder.embed(texts, self.batch_size)?;
        self.read_embeddings(embeddings)
    }

    /// How many texts the encoder has read since the engine was built.
    pub fn texts_encoded(&self) -> usize {
        self.texts_encoded
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Applies the heads to embeddings.
    pub fn read_embeddings(&self, embeddings: Vec<Vec<f32>>) -> Result<Vec<TextMood>, EngineError> {
        let mut out = Vec::with_capacity(embeddings.len());
        // On a GPU each slice is a copy there and back: few, large ones.
        let slice = if self.encoder.device().is_cpu() {
            256
        } else {
            8192
        };
        for batch in embeddings.chunks(slice) {
            let dim = batch[0].len();
            let flat: Vec<f32> = batch.iter().flatten().copied().collect();
            let t = Tensor::from_vec(flat, (batch.len(), dim), self.encoder.device())?;
            for ((emotions, valence, arousal), emb) in self.heads.read(&t)?.into_iter().zip(batch) {
                out.push(TextMood {
                    reading: MoodReading {
                        emotions,
                        valence,
                        arousal,
                    },
                    embedding: emb.clone(),
                });
            }
        }
        Ok(out)
    }

    pub fn read_text(&self, text: &str) -> Result<TextMood, EngineError> {
        self.read_texts(&[text])?
            .pop()
            .ok_or_else(|| EngineError::Tokenize("no result".into()))
    }

    /// Analyzes the lyrics of several songs at once (their chunks are batched together). Records without words
    /// give `None`.
    pub fn analyze_lyrics(
        &self,
        records: &[&LyricsRecord],
        model_key: &str,
    ) -> Result<Vec<Option<SongMood>>, EngineError> {
        let prepared = self.prepare_lyrics(records)?;
        self.read_prepared(prepared, records, model_key)
    }

    /// The first half of [`Engine::analyze_lyrics`], which needs no encoder: chunking, language and tokenizing, on
    /// every core with songs split between threads. Only the chunks in English are kept, and each distinct chunk
    /// once (repeated choruses are read once).
    pub fn prepare_lyrics(&self, records: &[&LyricsRecord]) -> Result<PreparedLyrics, EngineError> {
        let songs = prepare_songs(self.encoder.tokenizer(), records)?;
        let mut unique: Vec<Vec<u32>> = Vec::new();
        let mut index = std::collections::HashMap::new();
        let slots = songs
            .iter()
            .map(|song| {
                song.read
                    .iter()
                    .zip(&song.ids)
                    .map(|(chunk, ids)| {
                        *index.entry(chunk.text.as_str()).or_insert_with(|| {
                            unique.push(ids.clone());
                            unique.len() - 1
                        })
                    })
                    .collect()
            })
            .collect();
        Ok(PreparedLyrics {
            songs,
            slots,
            unique,
        })
    }

    /// The second half of [`Engine::analyze_lyrics`]: the encoder reads the distinct chunks, and each song's mood
    /// is made of its chunks' (songs with too few chunks in English get a record that says so instead).
    pub fn read_prepared(
        &self,
        prepared: PreparedLyrics,
        records: &[&LyricsRecord],
        model_key: &str,
    ) -> Result<Vec<Option<SongMood>>, EngineError> {
        let PreparedLyrics {
            songs: per_song,
            slots,
            unique,
        } = prepared;
        let moods = if unique.is_empty() {
            Vec::new()
        } else {
            self.texts_encoded
                .fetch_add(unique.len(), std::sync::atomic::Ordering::Relaxed);
            self.read_embeddings(self.encoder.embed_ids(&unique, self.batch_size)?)?
        };
        let now = crate::records::now_s();
        Ok(records
            .iter()
            .zip(per_song.iter().zip(&slots))
            .map(|(record, (song, slots))| {
                if !song.has_words {
                    return None;
                }
                if song.read.is_empty() {
                    let language = song.verdict.language.clone().unwrap_or_default();
                    return Some(SongMood::skipped_for_language(
                        model_key,
                        &record.hash(),
                        language,
                        now,
                    ));
                }
                let parts: Vec<(&Chunk, &TextMood)> = song
                    .read
                    .iter()
                    .zip(slots)
                    .map(|(c, &i)| (c, &moods[i]))
                    .collect();
                let mut mood = aggregate(&parts, model_key, &record.hash(), now);
                // What was left unread lowers the trust in what was read.
                mood.confidence *= song.verdict.english_share;
                mood.language = song.verdict.language.clone();
                Some(mood)
            })
            .collect())
    }
}

/// The number type the encoder's dense layers run in for `precision` on `device`, and the kernel that runs them:
/// what `models info` shows.
pub fn computes_in(
    precision: super::Precision,
    device: &candle_core::Device,
) -> (&'static str, &'static str) {
    match precision {
        super::Precision::Fast if device.is_cpu() => {
            let path = super::packed::FastPath::detect();
            (path.precision(), path.kernel())
        }
        _ if device.is_cpu() => ("f32", "gemm"),
        _ => (encoder_dtype(precision, device).as_str(), "candle"),
    }
}

/// The float type candle's encoder computes in: bf16 for `fast` on a GPU, f32 otherwise (on the CPU, `fast` is
/// the packed pass's reduced-precision dense layers: see [`super::packed::FastPath`]).
pub fn encoder_dtype(
    precision: super::Precision,
    device: &candle_core::Device,
) -> candle_core::DType {
    match precision {
        super::Precision::Fast if !device.is_cpu() => candle_core::DType::BF16,
        _ => candle_core::DType::F32,
    }
}

/// Songs made ready for the encoder by [`Engine::prepare_lyrics`].
pub struct PreparedLyrics {
    songs: Vec<Prepared>,
    /// For each song, where each chunk it reads is in `unique`.
    slots: Vec<Vec<usize>>,
    /// The token ids of each distinct chunk.
    unique: Vec<Vec<u32>>,
}

/// A song made ready for the encoder: whether it has words, which language its chunks are in, and the chunks to
/// read with their token ids.
struct Prepared {
    has_words: bool,
    verdict: language::Verdict,
    read: Vec<Chunk>,
    ids: Vec<Vec<u32>>,
}

/// Each record [`Prepared`], records shared out between threads (one per core, at most one per four records).
fn prepare_songs(
    tokenizer: &tokenizers::Tokenizer,
    records: &[&LyricsRecord],
) -> Result<Vec<Prepared>, EngineError> {
    let wrap = special_wrap(tokenizer);
    let one = |record: &&LyricsRecord| -> Result<Prepared, EngineError> {
        let (chunks, ids) = chunks_with_ids(tokenizer, &wrap, record)?;
        let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
        let verdict = language::judge(&texts);
        let has_words = !chunks.is_empty();
        let (read, ids): (Vec<Chunk>, Vec<Vec<u32>>) = if !has_words || verdict.skip() {
            (Vec::new(), Vec::new())
        } else {
            chunks
                .into_iter()
                .zip(ids)
                .zip(&verdict.read)
                .filter(|(_, read)| **read)
                .map(|(c, _)| c)
                .unzip()
        };
        Ok(Prepared {
            has_words,
            verdict,
            read,
            ids,
        })
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(records.len() / 4).max(1);
    if threads == 1 {
        return records.iter().map(one).collect();
    }
    let per_thread = records.len().div_ceil(threads);
    let parts: Vec<Result<Vec<Prepared>, EngineError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = records
            .chunks(per_thread)
            .map(|part| scope.spawn(move || part.iter().map(one).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(EngineError::Tokenize("a tokenizer thread failed".into()))
                })
            })
            .collect()
    });
    let mut out = Vec::with_capacity(records.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

/// The chunks a song's lyrics are read in (none for a record without words).
pub fn song_chunks(tokenizer: &tokenizers::Tokenizer, record: &LyricsRecord) -> Vec<Chunk> {
    chunks_counting(tokenizer, record, &mut Default::default())
}

/// [`song_chunks`], keeping each line's token ids (without special tokens) in `lines`: the chunking counts a
/// line's tokens by tokenizing it once. A line the tokenizer refuses counts as a token per three bytes.
fn chunks_counting(
    tokenizer: &tokenizers::Tokenizer,
    record: &LyricsRecord,
    lines: &mut std::collections::HashMap<String, Vec<u32>>,
) -> Vec<Chunk> {
    if !record.has_words() {
        return Vec::new();
    }
    let mut count = |s: &str| match lines.get(s) {
        Some(ids) => ids.len(),
        None => match tokenizer.encode(s, false) {
            Ok(e) => {
                let n = e.get_ids().len();
                lines.insert(s.to_string(), e.get_ids().to_vec());
                n
            }
            Err(_) => s.len() / 3,
        },
    };
    chunk_lyrics(&record.text, CHUNK_TOKENS, &mut count)
}

/// The chunks a song's lyrics are read in, each with its token ids for the encoder. Each line is tokenized once:
/// its ids count its tokens for the chunking, then make up its chunk's ids ([CLS], the lines' ids in order,
/// [SEP], cut to [`super::encoder::MAX_TOKENS`]). For BERT's WordPiece that is exactly the chunk tokenized whole,
/// since words never span a line break, at half the cost. A tokenizer that does not wrap texts in one token each
/// side gets its chunks tokenized whole.
pub fn song_chunks_with_ids(
    tokenizer: &tokenizers::Tokenizer,
    record: &LyricsRecord,
) -> Result<(Vec<Chunk>, Vec<Vec<u32>>), EngineError> {
    chunks_with_ids(tokenizer, &special_wrap(tokenizer), record)
}

/// The ids the tokenizer puts around every text ([CLS] and [SEP] for BERT): what it gives an empty text.
fn special_wrap(tokenizer: &tokenizers::Tokenizer) -> Vec<u32> {
    tokenizer
        .encode("", true)
        .map(|e| e.get_ids().to_vec())
        .unwrap_or_default()
}

/// [`song_chunks_with_ids`] with the tokenizer's [`special_wrap`] given.
fn chunks_with_ids(
    tokenizer: &tokenizers::Tokenizer,
    wrap: &[u32],
    record: &LyricsRecord,
) -> Result<(Vec<Chunk>, Vec<Vec<u32>>), EngineError> {
    let mut lines = Default::default();
    let chunks = chunks_counting(tokenizer, record, &mut lines);
    let mut ids = Vec::with_capacity(chunks.len());
    for chunk in &chunks {
        let joined = match wrap {
            [first, last] => chunk
                .text
                .split('\n')
                .map(|line| lines.get(line))
                .collect::<Option<Vec<_>>>()
                .map(|parts| {
                    let mut all = Vec::with_capacity(chunk.tokens + 2);
                    all.push(*first);
                    parts.into_iter().for_each(|p| all.extend_from_slice(p));
                    all.push(*last);
                    super::encoder::cut(all, super::encoder::MAX_TOKENS)
                }),
            _ => None,
        };
        ids.push(match joined {
            Some(joined) => joined,
            None => super::encoder::tokenize_here(
                tokenizer,
                &[chunk.text.as_str()],
                super::encoder::MAX_TOKENS,
            )?
            .remove(0),
        });
    }
    Ok((chunks, ids))
}

/// A song's mood from its chunks: probabilities and valence/arousal averaged with each chunk weighted by its tokens,
/// the embedding averaged and normalised, and how far the reading can be trusted ([`song_confidence`]).
pub fn aggregate(
    parts: &[(&Chunk, &TextMood)],
    model_key: &str,
    lyrics_hash: &str,
    now: u64,
) -> SongMood {
    let n = parts.first().map_or(0, |(_, m)| m.reading.emotions.len());
    let dim = parts.first().map_or(0, |(_, m)| m.embedding.len());
    let mut emotions = vec![0f32; n];
    let mut embedding = vec![0f32; dim];
    let (mut valence, mut arousal, mut total) = (0f32, 0f32, 0f32);
    for (chunk, mood) in parts {
        let w = chunk_weight(chunk);
        total += w;
        for (acc, p) in emotions.iter_mut().zip(&mood.reading.emotions) {
            *acc += w * p;
        }
        for (acc, x) in embedding.iter_mut().zip(&mood.embedding) {
            *acc += w * x;
        }
        valence += w * mood.reading.valence;
        arousal += w * mood.reading.arousal;
    }
    let total = total.max(1e-9);
    emotions.iter_mut().for_each(|p| *p /= total);
    let norm = embedding
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(1e-12);
    embedding.iter_mut().for_each(|x| *x /= norm);
    let reading = MoodReading {
        emotions,
        valence: valence / total,
        arousal: arousal / total,
    };
    let weighted: Vec<(f32, &MoodReading)> = parts
        .iter()
        .map(|(c, m)| (chunk_weight(c), &m.reading))
        .collect();
    SongMood {
        model_key: model_key.to_string(),
        lyrics_hash: lyrics_hash.to_string(),
        confidence: song_confidence(&weighted, &reading),
        reading,
        embedding,
        chunks: parts
            .iter()
            .map(|(c, m)| ChunkMood {
                first_line: c.first_line,
                last_line: c.last_line,
                reading: m.reading.clone(),
            })
            .collect(),
        analyzed_at: now,
        language: None,
        mood_skipped: None,
    }
}

/// A chunk counts in its song by its tokens (training weighs chunks the same way).
pub fn chunk_weight(chunk: &Chunk) -> f32 {
    chunk.tokens.max(1) as f32
}

/// How far apart the chunks of a song may sit (root mean square distance from the song's point on the plane)
/// before they are taken to disagree completely: the distance from a quadrant's centre to the origin.
const SPREAD_LIMIT: f32 = 0.7;
/// A song's point this far from neutral counts as a clear signal.
const CLEAR_DISTANCE: f32 = 0.35;

/// How far a song's reading can be trusted, 0..1: the agreement of its chunks times the strength of its signal.
/// Agreement is 1 minus the chunks' weighted root-mean-square distance from the song's point (relative to
/// [`SPREAD_LIMIT`]): verses that pull to opposite corners of the plane average out to a point none of them is
/// near. Strength is the mean of two readings of the same thing: the point's distance from neutral (relative to
/// [`CLEAR_DISTANCE`]) and how strongly the chunks read an emotion (the weighted mean of each chunk's strongest
/// label other than neutral; chunks may name neighbouring emotions, joy here and excitement there).
pub fn song_confidence(chunks: &[(f32, &MoodReading)], song: &MoodReading) -> f32 {
    let total: f32 = chunks.iter().map(|(w, _)| w).sum();
    if chunks.is_empty() || total <= 0.0 {
        return 0.0;
    }
    let spread = (chunks
        .iter()
        .map(|(w, r)| w * ((r.valence - song.valence).powi(2) + (r.arousal - song.arousal).powi(2)))
        .sum::<f32>()
        / total)
        .sqrt();
    let agreement = 1.0 - (spread / SPREAD_LIMIT).min(1.0);
    let distance = (song.valence.hypot(song.arousal) / CLEAR_DISTANCE).min(1.0);
    let peak = chunks
        .iter()
        .map(|(w, r)| w * r.top_emotion().map_or(0.0, |l| l.score))
        .sum::<f32>()
        / total;
    let peak = peak.clamp(0.0, 1.0);
    (agreement * (distance + peak) / 2.0).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::LABELS;

    fn reading(valence: f32, arousal: f32, label: &str, p: f32) -> MoodReading {
        let mut emotions = vec![0.02; LABELS.len()];
        if let Some(i) = LABELS.iter().position(|l| *l == label) {
            emotions[i] = p;
        }
        MoodReading {
            emotions,
            valence,
            arousal,
        }
    }

    fn song(chunks: &[MoodReading]) -> SongMood {
        let parts: Vec<(Chunk, TextMood)> = chunks
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    Chunk {
                        text: format!("chunk {i}"),
                        first_line: i * 4,
                        last_line: i * 4 + 3,
                        tokens: 40,
                    },
                    TextMood {
                        reading: r.clone(),
                        embedding: vec![1.0, 0.0],
                    },
                )
            })
            .collect();
        let refs: Vec<(&Chunk, &TextMood)> = parts.iter().map(|(c, m)| (c, m)).collect();
        aggregate(&refs, "key", "hash", 0)
    }

    #[test]
    fn consistent_strong_chunks_are_trusted() {
        let s = song(&[
            reading(0.7, 0.5, "joy", 0.9),
            reading(0.65, 0.55, "joy", 0.85),
            reading(0.75, 0.45, "excitement", 0.8),
        ]);
        assert!(s.confidence > 0.8, "{}", s.confidence);
        assert!((s.reading.valence - 0.7).abs() < 1e-5);
    }

    #[test]
    fn contradictory_chunks_are_not() {
        let s = song(&[
            reading(0.8, 0.6, "joy", 0.9),
            reading(-0.8, -0.6, "sadness", 0.9),
            reading(0.8, 0.6, "joy", 0.9),
            reading(-0.8, -0.6, "sadness", 0.9),
        ]);
        assert!(s.confidence < 0.1, "{}", s.confidence);
    }

    #[test]
    fn weak_agreeing_chunks_sit_in_between() {
        let weak = song(&[
            reading(0.05, -0.05, "neutral", 0.9),
            reading(0.06, -0.04, "neutral", 0.9),
        ]);
        let strong = song(&[
            reading(-0.6, 0.5, "anger", 0.8),
            reading(-0.55, 0.6, "annoyance", 0.7),
        ]);
        let mixed = song(&[
            reading(-0.6, 0.5, "anger", 0.8),
            reading(0.1, -0.3, "caring", 0.4),
        ]);
        assert!(weak.confidence < 0.3, "{}", weak.confidence);
        assert!(
            strong.confidence > mixed.confidence,
            "{} {}",
            strong.confidence,
            mixed.confidence
        );
        assert!(mixed.confidence > weak.confidence.min(0.3) - 0.3);
        for s in [&weak, &strong, &mixed] {
            assert!((0.0..=1.0).contains(&s.confidence));
        }
    }
}
