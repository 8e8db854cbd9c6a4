//! Speed and memory: `moodtape bench embed` beside a plain reference loop in the same run, `bench analyze` beside
//! the encoder alone on the same chunks, and the generated inputs both read (`bench texts`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use crate::emotion::Engine;

/// 500 generated lyric-length texts (about 300 tokens each), the same on every run.
pub fn bench_texts() -> Vec<String> {
    let words = vocabulary();
    let mut draw = Draw(0x2545_f491_4f6c_dd1d);
    (0..500)
        .map(|_| {
            let mut t = String::new();
            for i in 0..220 {
                if i > 0 {
                    t.push(if i % 9 == 0 { '\n' } else { ' ' });
                }
                t.push_str(&words[(draw.next() % words.len() as u64) as usize]);
            }
            t
        })
        .collect()
}

/// The words generated texts are made of: the demo library's lyrics, word by word.
fn vocabulary() -> Vec<String> {
    let mut words: Vec<String> = crate::library::demo::demo_songs()
        .unwrap_or_default()
        .iter()
        .flat_map(|s| {
            s.lyrics
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    if words.is_empty() {
        words.push("la".into());
    }
    words
}

/// The kinds of generated bench text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TextKind {
    /// One stanza: four to eight lines, about 50 to 120 tokens.
    Stanza,
    /// A whole song: verses, a chorus sung three or four times, a bridge; about 300 to 600 tokens.
    Song,
}

/// A small seeded generator (xorshift), so generated inputs are the same on every machine.
struct Draw(u64);

impl Draw {
    fn new(seed: u64) -> Draw {
        Draw(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A number in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

fn line(words: &[String], draw: &mut Draw) -> String {
    let n = draw.range(5, 9);
    (0..n)
        .map(|_| words[draw.range(0, words.len() - 1)].as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn stanza(words: &[String], draw: &mut Draw, lines: (usize, usize)) -> String {
    let n = draw.range(lines.0, lines.1);
    (0..n)
        .map(|_| line(words, draw))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `count` generated texts of `kind` from `seed`: the same on every machine and run.
pub fn generate_texts(kind: TextKind, count: usize, seed: u64) -> Vec<String> {
    let words = vocabulary();
    let mut draw = Draw::new(seed);
    (0..count)
        .map(|_| match kind {
            TextKind::Stanza => stanza(&words, &mut draw, (4, 8)),
            TextKind::Song => {
                let chorus = stanza(&words, &mut draw, (4, 4));
                let mut parts = vec![stanza(&words, &mut draw, (6, 8)), chorus.clone()];
                parts.push(stanza(&words, &mut draw, (6, 8)));
                parts.push(chorus.clone());
                if draw.range(0, 1) == 1 {
                    parts.push(stanza(&words, &mut draw, (2, 4)));
                }
                parts.push(chorus.clone());
                if draw.range(0, 1) == 1 {
                    parts.push(chorus);
                }
                parts.join("\n\n")
            }
        })
        .collect()
}

/// Texts as JSONL, `{"text": ...}` per line: what [`read_texts`] and the peer script read.
pub fn texts_jsonl(texts: &[String]) -> anyhow::Result<String> {
    let mut body = String::new();
    for text in texts {
        body.push_str(&serde_json::to_string(
            &serde_json::json!({ "text": text }),
        )?);
        body.push('\n');
    }
    Ok(body)
}

/// Writes [`texts_jsonl`] to `path`.
pub fn write_texts(path: &Path, texts: &[String]) -> anyhow::Result<()> {
    crate::files::write_bytes(path, texts_jsonl(texts)?.as_bytes())?;
    Ok(())
}

/// The `text` field of each line of a JSONL file.
pub fn read_texts(path: &Path) -> anyhow::Result<Vec<String>> {
    let body =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            let v: serde_json::Value = serde_json::from_str(l)
                .with_context(|| format!("{}: line {} is not JSON", path.display(), i + 1))?;
            v.get("text")
                .and_then(|t| t.as_str())
                .map(str::to_string)
                .with_context(|| format!("{}: line {} has no \"text\"", path.display(), i + 1))
        })
        .collect()
}

/// Peak resident memory of this process in MB (Linux), 0 where unknown.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[derive(Debug, Serialize)]
pub struct EmbedBench {
    pub texts_per_s: f64,
    pub tokens_per_s: f64,
    pub peak_rss_mb: f64,
    pub device: String,
    /// The number type the encoder's dense layers ran in: `f32`, `bf16` or `int8`.
    pub precision: &'static str,
    pub texts: usize,
    pub tokens: usize,
    pub seconds: f64,
    pub reference: Reference,
}

#[derive(Debug, Serialize)]
pub struct Reference {
    pub what: &'static str,
    pub texts_per_s: f64,
    pub tokens_per_s: f64,
    pub speedup: f64,
}

/// Embeds `texts` the way moodtape does, then with the plain reference loop, on the same engine.
pub fn embed(engine: &Engine, texts: &[String], batch: usize) -> anyhow::Result<EmbedBench> {
    anyhow::ensure!(!texts.is_empty(), "no texts to bench");
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let encoder = engine.encoder();
    let ids = encoder.tokenize(&refs)?;
    let tokens: usize = ids.iter().map(Vec::len).sum();
    // Warm up once so both runs see the same caches.
    encoder.embed_ids(&ids[..ids.len().min(batch)], batch)?;
    let t = Instant::now();
    encoder.embed_ids(&ids, batch)?;
    let ours = t.elapsed().max(Duration::from_micros(1)).as_secs_f64();
    // Reference: the plain loop over candle's BERT (the network moodtape ran before its packed CPU pass, and the
    // one it runs on a GPU), batches in input order with no length sorting, one at a time with candle's own
    // threading (its matrix products use every core).
    let twin;
    let plain = if encoder.net_name() == "candle" {
        encoder
    } else {
        let (_, _, overlay) =
            crate::emotion::heads::Heads::shipped(encoder.device(), encoder.hidden_size)?;
        twin = crate::emotion::encoder::Encoder::load(
            &engine.files,
            &overlay,
            encoder.device(),
            candle_core::DType::F32,
            crate::emotion::encoder::CpuPass::Candle,
        )?;
        &twin
    };
    let workers_env = std::env::var_os("RAYON_NUM_THREADS");
    if encoder.workers() > 1 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::env::set_var("RAYON_NUM_THREADS", cores.to_string());
    }
    plain.forward_ids(
        &ids[..ids.len().min(batch)]
            .iter()
            .map(Vec::as_slice)
            .collect::<Vec<_>>(),
    )?;
    let t = Instant::now();
    for chunk in ids.chunks(batch.max(1)) {
        let slices: Vec<&[u32]> = chunk.iter().map(Vec::as_slice).collect();
        plain.forward_ids(&slices)?;
    }
    let reference = t.elapsed().max(Duration::from_micros(1)).as_secs_f64();
    if let Some(v) = workers_env {
        std::env::set_var("RAYON_NUM_THREADS", v);
    }
    Ok(EmbedBench {
        texts_per_s: texts.len() as f64 / ours,
        tokens_per_s: tokens as f64 / ours,
        peak_rss_mb: peak_rss_mb(),
        device: engine.device_label.clone(),
        precision: encoder.precision(),
        texts: texts.len(),
        tokens,
        seconds: ours,
        reference: Reference {
            what: "plain candle loop: candle's BERT on the same weights, batches of the same size in input order, \
                   one at a time",
            texts_per_s: texts.len() as f64 / reference,
            tokens_per_s: tokens as f64 / reference,
            speedup: reference / ours,
        },
    })
}

/// `moodtape bench analyze`: the whole analysis path against the encoder alone on the same chunks.
#[derive(Debug, Serialize)]
pub struct AnalyzeBench {
    pub songs: usize,
    /// Distinct chunks read (a chorus sung three times is read once) and their tokens.
    pub chunks: usize,
    pub tokens: usize,
    pub seconds: f64,
    pub songs_per_s: f64,
    pub tokens_per_s: f64,
    pub peak_rss_mb: f64,
    pub device: String,
    /// The number type the encoder's dense layers ran in: `f32`, `bf16` or `int8`.
    pub precision: &'static str,
    pub encoder_alone: EncoderAlone,
}

/// The encoder by itself on the chunks `analyze` read: no chunking, tokenizing, heads or writes.
#[derive(Debug, Serialize)]
pub struct EncoderAlone {
    pub seconds: f64,
    pub tokens_per_s: f64,
    /// The analysis path's tokens/s over the encoder's: how busy analysis keeps the encoder (1 = fully).
    pub share: f64,
}

/// Generates `songs` lyric-length songs (seeded), stores them in a fresh database under `dir`, times the
/// encoder alone on their chunks and then the analysis job over all of them, as `moodtape analyze` runs it.
pub fn analyze(
    engine: &Engine,
    songs: usize,
    seed: u64,
    dir: &Path,
    chunks_out: Option<&Path>,
) -> anyhow::Result<AnalyzeBench> {
    use crate::emotion::analyze::{self, Which};
    use crate::records::{Location, LyricsOrigin, LyricsRecord, Song};

    anyhow::ensure!(songs > 0, "no songs to bench");
    let texts = generate_texts(TextKind::Song, songs, seed);
    let store = crate::store::Store::open(&dir.join("bench.db"))?;
    let items: Vec<(Song, Option<LyricsRecord>)> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut song = Song::new(
                &format!("Bench Artist {}", i % 101),
                &format!("Bench Song {i}"),
                "Bench Album",
                Location::None,
            );
            song.lyrics_origin = Some(LyricsOrigin::Import);
            (song, Some(LyricsRecord::new(text, LyricsOrigin::Import)))
        })
        .collect();
    for part in items.chunks(1000) {
        store.put_songs(part)?;
    }
    store.flush()?;

    // The distinct chunks analysis reads, cut the same way.
    let encoder = engine.encoder();
    let mut seen = std::collections::HashSet::new();
    let mut chunks = Vec::new();
    for (_, lyrics) in &items {
        let Some(lyrics) = lyrics else { continue };
        for chunk in crate::emotion::engine::song_chunks(encoder.tokenizer(), lyrics) {
            if seen.insert(chunk.text.clone()) {
                chunks.push(chunk.text);
            }
        }
    }
    if let Some(path) = chunks_out {
        write_texts(path, &chunks)?;
    }
    let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
    let ids = encoder.tokenize(&refs)?;
    let tokens: usize = ids.iter().map(Vec::len).sum();
    let batch = engine.batch_size;
    encoder.embed_ids(&ids[..ids.len().min(batch)], batch)?;
    let t = Instant::now();
    encoder.embed_ids(&ids, batch)?;
    let alone = t.elapsed().max(Duration::from_micros(1)).as_secs_f64();

    let cancel = std::sync::atomic::AtomicBool::new(false);
    let key = crate::emotion::model_key();
    let t = Instant::now();
    let summary = analyze::run(&store, engine, &key, Which::All, &mut |_| {}, &cancel)?;
    let seconds = t.elapsed().max(Duration::from_micros(1)).as_secs_f64();
    anyhow::ensure!(
        summary.analyzed == songs,
        "the analysis read {} of {songs} songs",
        summary.analyzed
    );
    let tokens_per_s = tokens as f64 / seconds;
    let alone_tokens_per_s = tokens as f64 / alone;
    Ok(AnalyzeBench {
        songs,
        chunks: chunks.len(),
        tokens,
        seconds,
        songs_per_s: songs as f64 / seconds,
        tokens_per_s,
        peak_rss_mb: peak_rss_mb(),
        device: engine.device_label.clone(),
        precision: engine.encoder().precision(),
        encoder_alone: EncoderAlone {
            seconds: alone,
            tokens_per_s: alone_tokens_per_s,
            share: tokens_per_s / alone_tokens_per_s,
        },
    })
}
