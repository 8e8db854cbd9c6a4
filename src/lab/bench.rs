//! Speed and memory: `moodtape bench embed` beside a plain reference loop in the same run.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use crate::emotion::Engine;

/// 500 generated lyric-length texts (about 300 tokens each), the same on every run.
pub fn bench_texts() -> Vec<String> {
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
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..500)
        .map(|_| {
            let n = 220;
            let mut t = String::new();
            for i in 0..n {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if i > 0 {
                    t.push(if i % 9 == 0 { '\n' } else { ' ' });
                }
                t.push_str(&words[(state % words.len() as u64) as usize]);
            }
            t
        })
        .collect()
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
    // Reference: the plain loop, batches in input order with no length sorting, one at a time with candle's own
    // threading (its matrix products use every core).
    let workers_env = std::env::var_os("RAYON_NUM_THREADS");
    if encoder.workers() > 1 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::env::set_var("RAYON_NUM_THREADS", cores.to_string());
    }
    let t = Instant::now();
    for chunk in ids.chunks(batch.max(1)) {
        let slices: Vec<&[u32]> = chunk.iter().map(Vec::as_slice).collect();
        encoder.forward_ids(&slices)?;
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
        texts: texts.len(),
        tokens,
        seconds: ours,
        reference: Reference {
            what: "plain candle loop: same encoder, batches of the same size in input order, one at a time",
            texts_per_s: texts.len() as f64 / reference,
            tokens_per_s: tokens as f64 / reference,
            speedup: reference / ours,
        },
    })
}
