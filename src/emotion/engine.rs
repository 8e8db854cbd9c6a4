//! The engine: the encoder and the heads together, reading the mood of texts and of songs' lyrics.

use candle_core::Tensor;

use super::chunk::{chunk_lyrics, CHUNK_TOKENS};
use super::device::{select_device, DeviceName};
use super::encoder::Encoder;
use super::fetch::{fetch, FetchOptions, ModelFiles};
use super::heads::Heads;
use super::EngineError;
use crate::records::LyricsRecord;
use crate::records::{ChunkMood, MoodReading, SongMood, TextMood};

/// How to find the model and where to run it.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub fetch: FetchOptions,
    pub device: DeviceName,
    pub batch_size: usize,
}

pub struct Engine {
    encoder: Encoder,
    heads: Heads,
    pub files: ModelFiles,
    pub device_label: String,
    pub batch_size: usize,
    /// Texts sent through the encoder since the engine was built (what a bench or a test counts).
    texts_encoded: std::sync::atomic::AtomicUsize,
}

impl Engine {
    /// Finds (fetching if needed and allowed) the encoder, and loads it with the shipped heads.
    pub fn load(opts: &EngineOptions) -> Result<Engine, EngineError> {
        let files = fetch(&opts.fetch)?;
        let (device, device_label) = select_device(opts.device)?;
        let (heads, _card, overlay) = Heads::shipped(&device, 384)?;
        let mut encoder = Encoder::load(&files, &overlay, &device)?;
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
            batch_size: opts.batch_size.max(1),
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
        for batch in embeddings.chunks(256) {
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
        let tokenizer = self.encoder.tokenizer();
        let mut count = |s: &str| {
            tokenizer
                .encode(s, false)
                .map(|e| e.get_ids().len())
                .unwrap_or(s.len() / 3)
        };
        let per_song: Vec<Vec<super::chunk::Chunk>> = records
            .iter()
            .map(|r| {
                if r.has_words() {
                    chunk_lyrics(&r.text, CHUNK_TOKENS, &mut count)
                } else {
                    Vec::new()
                }
            })
            .collect();
        // Repeated choruses are read once.
        let mut unique: Vec<&str> = Vec::new();
        let mut index = std::collections::HashMap::new();
        for chunk in per_song.iter().flatten() {
            index.entry(chunk.text.as_str()).or_insert_with(|| {
                unique.push(chunk.text.as_str());
                unique.len() - 1
            });
        }
        let moods = self.read_texts(&unique)?;
        let now = crate::records::now_s();
        Ok(records
            .iter()
            .zip(&per_song)
            .map(|(record, chunks)| {
                if chunks.is_empty() {
                    return None;
                }
                let parts: Vec<(&super::chunk::Chunk, &TextMood)> = chunks
                    .iter()
                    .filter_map(|c| index.get(c.text.as_str()).map(|&i| (c, &moods[i])))
                    .collect();
                Some(aggregate(&parts, model_key, &record.hash(), now))
            })
            .collect())
    }
}

/// A song's mood from its chunks: probabilities and valence/arousal averaged with each chunk weighted by its tokens,
/// the embedding averaged and normalised.
pub fn aggregate(
    parts: &[(&super::chunk::Chunk, &TextMood)],
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
        let w = chunk.tokens.max(1) as f32;
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
    SongMood {
        model_key: model_key.to_string(),
        lyrics_hash: lyrics_hash.to_string(),
        reading: MoodReading {
            emotions,
            valence: valence / total,
            arousal: arousal / total,
        },
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
    }
}
