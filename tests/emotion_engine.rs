//! The emotion engine's machinery on a tiny randomly initialised BERT built here (fast, no model files):
//! pooling and batching, chunked song analysis, the analysis job's interrupt and resume, and cache keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::bert::{BertModel, Config};
use moodtape::emotion::analyze::{self, Which};
use moodtape::emotion::bert::Bert;
use moodtape::emotion::encoder::Encoder;
use moodtape::emotion::fetch::ModelFiles;
use moodtape::emotion::heads::{Card, Heads};
use moodtape::emotion::{model_key, stored_mood, Engine};
use moodtape::records::mood_key;
use moodtape::records::LyricsRecord;
use moodtape::records::{Location, LyricsOrigin, Song};
use moodtape::store::Store;

const WORDS: &str =
    "i feel happy sad angry calm the rain sun night day love you me we dance cry shout rest \
                     quiet loud empty full heart fire water sky home road oh yeah la";

fn tokenizer() -> tokenizers::Tokenizer {
    let mut vocab = serde_json::Map::new();
    for (i, t) in ["[PAD]", "[UNK]", "[CLS]", "[SEP]"].iter().enumerate() {
        vocab.insert(t.to_string(), i.into());
    }
    for (i, w) in WORDS.split_whitespace().enumerate() {
        vocab.insert(w.to_string(), (i + 4).into());
    }
    let cls = serde_json::json!({"SpecialToken": {"id": "[CLS]", "type_id": 0}});
    let sep = serde_json::json!({"SpecialToken": {"id": "[SEP]", "type_id": 0}});
    let json = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [cls, {"Sequence": {"id": "A", "type_id": 0}}, sep],
            "pair": [cls, {"Sequence": {"id": "A", "type_id": 0}}, sep, {"Sequence": {"id": "B", "type_id": 1}}, sep],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}
            }
        },
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
    });
    tokenizers::Tokenizer::from_str(&json.to_string()).unwrap()
}

const DIM: usize = 32;

fn tiny_engine() -> Engine {
    tiny_engine_and_weights().0
}

/// The tiny engine and the weights its encoder was built from.
fn tiny_engine_and_weights() -> (Engine, VarMap, Config) {
    let dev = Device::Cpu;
    let config: Config = serde_json::from_value(serde_json::json!({
        "vocab_size": WORDS.split_whitespace().count() + 4,
        "hidden_size": DIM,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0
    }))
    .unwrap();
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
    let model = Bert::load(vb.clone(), &config).unwrap();
    let encoder = Encoder::from_parts(model, tokenizer(), dev, DIM);
    let card = Card {
        format: 1,
        encoder: "tiny".into(),
        encoder_sha256: String::new(),
        labels: moodtape::records::LABELS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        thresholds: vec![0.5; 28],
        ekman: moodtape::records::EKMAN
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ekman_thresholds: vec![0.5; 7],
        va_scale: 1.0,
        va_prior_weight: [0.0, 0.0],
        va_neutral: [0.0, 0.0],
        emotion_hidden: 16,
        va_hidden: 8,
        tuned_layers: vec![],
        data: vec![],
        training: serde_json::Value::Null,
        metrics: serde_json::Value::Null,
    };
    let heads = Heads::new(vb.pp("heads"), &card, DIM).unwrap();
    let files = ModelFiles {
        dir: std::env::temp_dir(),
        source: "test".into(),
    };
    (Engine::from_parts(encoder, heads, files, 4), varmap, config)
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4)
}

#[test]
fn embeddings_are_unit_length_and_independent_of_batching_and_padding() {
    let engine = tiny_engine();
    let texts = [
        "i feel happy",
        "the rain at night and the quiet empty road home oh yeah",
        "sad",
        "we dance",
    ];
    let together = engine.encoder().embed(&texts, 4).unwrap();
    assert_eq!(together.len(), 4);
    for (i, t) in texts.iter().enumerate() {
        let alone = engine.encoder().embed(&[t], 1).unwrap();
        assert!(
            close(&alone[0], &together[i]),
            "text {i} differs when batched with longer texts"
        );
        let norm: f32 = together[i].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    // Batches of two give the same vectors, in input order.
    let pairs = engine.encoder().embed(&texts, 2).unwrap();
    for (a, b) in pairs.iter().zip(&together) {
        assert!(close(a, b));
    }
    // Different texts give different vectors.
    assert!(!close(&together[0], &together[2]));
}

/// `--precision fast` runs the encoder in bf16 on a GPU. The same weights in bf16 (here on the CPU, which computes
/// the same way with less speed) must give embeddings within the stated tolerance of f32: cosine similarity at
/// least 0.995, so a song's neighbours and mood stay where they were.
#[test]
fn a_bf16_encoder_agrees_with_f32_within_tolerance() {
    let (engine, varmap, config) = tiny_engine_and_weights();
    let weights: std::collections::HashMap<String, candle_core::Tensor> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(name, var)| (name.clone(), var.as_tensor().clone()))
        .collect();
    let vb = VarBuilder::from_tensors(weights, DType::BF16, &Device::Cpu);
    let model = Bert::load(vb, &config).unwrap();
    let fast = Encoder::from_parts(model, tokenizer(), Device::Cpu, DIM);
    let texts: Vec<String> = (0..24)
        .map(|i| {
            WORDS
                .split_whitespace()
                .cycle()
                .skip(i * 3)
                .take(4 + i % 9)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let exact = engine.encoder().embed(&refs, 8).unwrap();
    let reduced = fast.embed(&refs, 8).unwrap();
    let mut worst = 1f32;
    for (a, b) in exact.iter().zip(&reduced) {
        let cosine: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        worst = worst.min(cosine);
    }
    assert!(
        reduced.iter().flatten().all(|x| x.is_finite()),
        "bf16 gave a reading that is not a number"
    );
    assert!(worst >= 0.995, "bf16 strays from f32: cosine {worst}");
    // Not the same computation, though: a test that bf16 ran at all.
    assert!(exact.iter().zip(&reduced).any(|(a, b)| !close(a, b)));
}

/// moodtape's BERT builds its own attention mask (one bf16 can hold), and in f32 it must compute exactly what
/// candle-transformers' `BertModel` computes from the same weights, padding and all.
#[test]
fn the_encoders_bert_matches_candle_transformers_in_f32() {
    let (_, varmap, config) = tiny_engine_and_weights();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let ours = Bert::load(vb.clone(), &config).unwrap();
    let theirs = BertModel::load(vb, &config).unwrap();
    let (ids, mask) = moodtape::emotion::encoder::pad_batch(
        &[&[2, 7, 9, 12, 3], &[2, 5, 3], &[2, 30, 31, 3]],
        &Device::Cpu,
    )
    .unwrap();
    let a = ours.forward(&ids, &mask).unwrap();
    let b = theirs
        .forward(&ids, &ids.zeros_like().unwrap(), Some(&mask))
        .unwrap();
    assert_eq!(a.dims(), b.dims());
    let worst = (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(worst < 1e-5, "hidden states differ by {worst}");
}

/// On the CPU in f32 the encoder runs its own packed pass (no padding, fused steps). From the same weights it must
/// give candle's embeddings, texts of many lengths batched together, and the same whichever batch a text is in.
#[test]
fn the_packed_cpu_pass_gives_candles_embeddings() {
    let (engine, varmap, config) = tiny_engine_and_weights();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let packed = moodtape::emotion::packed::PackedBert::load(vb, &config, false).unwrap();
    let packed = Encoder::from_packed(packed, tokenizer(), DIM);
    assert_eq!(packed.net_name(), "packed");
    assert_eq!(engine.encoder().net_name(), "candle");
    let texts: Vec<String> = (0..40)
        .map(|i| {
            WORDS
                .split_whitespace()
                .cycle()
                .skip(i * 5)
                .take(1 + (i * 7) % 60)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let theirs = engine.encoder().embed(&refs, 8).unwrap();
    for batch in [1, 5, 64] {
        let ours = packed.embed(&refs, batch).unwrap();
        let worst = ours
            .iter()
            .flatten()
            .zip(theirs.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "batch {batch}: differs by {worst}");
    }
    // An id outside the vocabulary is an error, not a read out of bounds.
    assert!(packed.forward_rows(&[&[2, 9999, 3]]).is_err());
}

/// `--precision fast` on a CPU runs the packed pass's dense layers in bf16 (AVX512-BF16) or int8 (AVX512-VNNI or
/// AVX2), whichever this CPU has (here only the layers whose shapes fit a kernel's tiles). Every path this CPU can
/// run must stay within the stated tolerance of f32's embeddings: cosine similarity at least 0.995 for bf16 and
/// 0.99 for int8. (That each int8 kernel sums exactly the integers of the plain product is `int8`'s unit test.)
#[test]
fn every_reduced_precision_path_agrees_with_f32_within_tolerance() {
    use moodtape::emotion::int8::Kernel;
    use moodtape::emotion::packed::{FastPath, PackedBert};
    let (_, varmap, config) = tiny_engine_and_weights();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let exact = PackedBert::load(vb.clone(), &config, false).unwrap();
    assert_eq!(exact.precision(), "f32");
    let ids: Vec<Vec<u32>> = (0..30)
        .map(|i| {
            let mut t = vec![2];
            t.extend((0..(3 + i % 17)).map(|j| 4 + ((i * 5 + j * 3) % 31) as u32));
            t.push(3);
            t
        })
        .collect();
    let refs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
    let a = exact.embed(&refs).unwrap();
    for (path, supported, floor) in [
        (FastPath::Bf16, moodtape::emotion::bf16::detected(), 0.995),
        (FastPath::Int8(Kernel::Vnni), Kernel::Vnni.supported(), 0.99),
        (
            FastPath::Int8(Kernel::AvxVnni),
            Kernel::AvxVnni.supported(),
            0.99,
        ),
        (FastPath::Int8(Kernel::Avx2), Kernel::Avx2.supported(), 0.99),
    ] {
        if !supported {
            eprintln!("this CPU cannot run {path:?}: not checked");
            continue;
        }
        let fast = PackedBert::load_with(vb.clone(), &config, path).unwrap();
        assert_eq!(fast.path(), path);
        let b = fast.embed(&refs).unwrap();
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>())
            .fold(1f32, f32::min);
        assert!(b.iter().flatten().all(|v| v.is_finite()));
        assert!(worst >= floor, "{path:?} strays from f32: cosine {worst}");
        assert!(a != b, "the {path:?} layers did not run");
    }
    // Without a reduced-precision path `fast` is the f32 pass.
    let fast = PackedBert::load(vb, &config, true).unwrap();
    assert_eq!(fast.path(), FastPath::detect());
}

/// The analysis job reads a batch while the one before is written. A batch that cannot be read stops the job with
/// its error; what was read before it is stored, and nothing hangs.
#[test]
fn a_failed_batch_stops_the_pipelined_job_and_keeps_what_was_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let n = analyze::SONGS_PER_BATCH * 3;
    songs(&store, n);
    let engine = tiny_engine();
    let key = "tiny+heads-test";
    let mut calls = 0;
    let mut reported = 0;
    let result = analyze::run_with(
        &store,
        key,
        Which::Missing,
        &mut |records| {
            calls += 1;
            if calls == 2 {
                return Err(analyze::AnalyzeError::Model("the model fell over".into()));
            }
            Ok(engine.analyze_lyrics(records, key)?)
        },
        &mut |_, stored| reported += stored.len(),
        &AtomicBool::new(false),
    );
    let err = result.unwrap_err();
    assert!(err.to_string().contains("fell over"), "{err}");
    assert_eq!(reported, analyze::SONGS_PER_BATCH);
    let again = run_missing(&store, &engine, key);
    assert_eq!(again.already, analyze::SONGS_PER_BATCH);
    assert_eq!(again.analyzed, n - 1 - analyze::SONGS_PER_BATCH);
}

#[test]
fn two_workers_give_the_same_vectors_in_the_same_order() {
    let mut engine_parts = tiny_engine();
    let texts: Vec<String> = (0..37)
        .map(|i| "oh yeah la ".repeat(1 + i % 7) + &i.to_string())
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let one = engine_parts.encoder().embed(&refs, 4).unwrap();
    let mut encoder = std::mem::replace(&mut engine_parts, tiny_engine()).into_encoder();
    encoder.use_workers(2);
    assert_eq!(encoder.workers(), 2);
    let two = encoder.embed(&refs, 4).unwrap();
    assert_eq!(one.len(), two.len());
    for (a, b) in one.iter().zip(&two) {
        assert!(close(a, b));
    }
}

#[test]
fn mood_readings_have_every_label_and_bounded_valence_arousal() {
    let engine = tiny_engine();
    let moods = engine.read_texts(&["i feel happy", "loud fire"]).unwrap();
    for m in &moods {
        assert_eq!(m.reading.emotions.len(), 28);
        assert!(m.reading.emotions.iter().all(|p| (0.0..=1.0).contains(p)));
        assert!((-1.0..=1.0).contains(&m.reading.valence));
        assert!((-1.0..=1.0).contains(&m.reading.arousal));
        assert_eq!(m.embedding.len(), DIM);
    }
    assert!(engine.read_texts(&[]).unwrap().is_empty());
}

#[test]
fn songs_are_read_by_chunks_with_repeated_choruses_read_once() {
    let engine = tiny_engine();
    let chorus =
        "oh yeah we dance in the rain\nlove you love you all night\nthe sun the sky the fire";
    let lyrics = format!("i feel empty on the road home\nthe night is quiet and the sky is full\n\n{chorus}\n\nsad heart cry water in the night\nrest now rest now quiet home on the road\n\n{chorus}");
    let record = LyricsRecord::new(&lyrics, LyricsOrigin::Manual);
    let instrumental = LyricsRecord::instrumental(LyricsOrigin::Manual);
    let before = engine.texts_encoded();
    let out = engine
        .analyze_lyrics(&[&record, &instrumental], "k")
        .unwrap();
    // Four chunks, three different: the encoder reads three texts.
    assert_eq!(engine.texts_encoded() - before, 3);
    assert!(out[1].is_none(), "no words, no guess");
    let mood = out[0].as_ref().unwrap();
    assert_eq!(mood.chunks.len(), 4, "{:?}", mood.chunks);
    assert_eq!(
        mood.chunks[1].reading, mood.chunks[3].reading,
        "the chorus reads the same both times"
    );
    assert_eq!(
        (mood.chunks[0].first_line, mood.chunks[0].last_line),
        (0, 1)
    );
    assert_eq!(mood.lyrics_hash, record.hash());
    let norm: f32 = mood.embedding.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
    // The song's valence lies within its chunks' range (a weighted mean).
    let (lo, hi) = mood
        .chunks
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), c| {
            (lo.min(c.reading.valence), hi.max(c.reading.valence))
        });
    assert!(mood.reading.valence >= lo - 1e-6 && mood.reading.valence <= hi + 1e-6);
}

/// Analyzes what is missing, to the end.
fn run_missing(store: &Store, engine: &Engine, key: &str) -> analyze::AnalyzeSummary {
    analyze::run(
        store,
        engine,
        key,
        Which::Missing,
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap()
}

fn songs(store: &Store, n: usize) -> Vec<Song> {
    let items: Vec<(Song, Option<LyricsRecord>)> = (0..n)
        .map(|i| {
            let mut s = Song::new(
                &format!("Artist {i}"),
                &format!("Song {i}"),
                "A",
                Location::None,
            );
            let words: Vec<&str> = WORDS.split_whitespace().collect();
            // The number keeps every song's lyrics (and so its analysis key) its own.
            let text = format!(
                "{} {} {}\n{} {} {i}",
                words[i % 30],
                words[(i * 7) % 30],
                words[(i * 3) % 30],
                words[(i * 5) % 30],
                words[(i * 11) % 30]
            );
            let lyrics = if i == 0 {
                LyricsRecord::instrumental(LyricsOrigin::Manual)
            } else {
                LyricsRecord::new(&text, LyricsOrigin::Manual)
            };
            s.lyrics_origin = lyrics.has_words().then_some(LyricsOrigin::Manual);
            (s, Some(lyrics))
        })
        .collect();
    store.put_songs(&items).unwrap();
    store.all_songs().unwrap()
}

#[test]
fn analysis_resumes_after_an_interruption_and_redoes_changed_lyrics() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    // Two batches and a part: the first song has no lyrics.
    let n = analyze::SONGS_PER_BATCH * 2 + 6;
    let all = songs(&store, n);
    let with_lyrics = n - 1;
    let engine = tiny_engine();
    let key = "tiny+heads-test";

    // Stop once the first batch is stored. The batch being read meanwhile (the job reads one batch ahead of its
    // writes) is finished and stored too, so nothing read is thrown away; then the job stops.
    let cancel = AtomicBool::new(false);
    let first = analyze::run(
        &store,
        &engine,
        key,
        Which::Missing,
        &mut |p| {
            if p.done > 0 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
        &cancel,
    )
    .unwrap();
    assert!(first.interrupted);
    assert!(
        first.analyzed == analyze::SONGS_PER_BATCH
            || first.analyzed == 2 * analyze::SONGS_PER_BATCH,
        "{first:?}"
    );
    assert!(first.analyzed < with_lyrics);
    assert_eq!(first.no_lyrics, 1);

    // The next run does only what is left.
    let second = run_missing(&store, &engine, key);
    assert_eq!(second.already, first.analyzed);
    assert_eq!(second.analyzed, with_lyrics - first.analyzed);
    let third = run_missing(&store, &engine, key);
    assert_eq!(third.analyzed, 0);
    assert_eq!(third.already, with_lyrics);
    for s in &all[1..] {
        assert!(
            stored_mood(&store, key, s).unwrap().is_some(),
            "{} has no mood",
            s.title
        );
    }
    assert!(
        stored_mood(&store, key, &all[0]).unwrap().is_none(),
        "the instrumental is not guessed"
    );

    // Changed lyrics are analyzed again; the old analysis is not served for the new text.
    let song = &all[5];
    let updated = store
        .set_lyrics(
            song,
            &LyricsRecord::new("quiet rest home", LyricsOrigin::Manual),
        )
        .unwrap();
    assert!(stored_mood(&store, key, &updated).unwrap().is_none());
    let fourth = run_missing(&store, &engine, key);
    assert_eq!(fourth.analyzed, 1);
    assert!(stored_mood(&store, key, &updated).unwrap().is_some());

    // Another model or other heads never see these analyses.
    assert!(stored_mood(&store, "other+heads-test", &updated)
        .unwrap()
        .is_none());
}

#[test]
fn the_cache_key_names_the_encoder_and_the_heads() {
    let key = model_key();
    assert!(
        key.contains(&moodtape::emotion::ENCODER_SHA256[..12]),
        "{key}"
    );
    assert!(key.contains(moodtape::emotion::heads_version()), "{key}");
    assert_ne!(
        mood_key(&key, "abc"),
        mood_key("minilm-other+heads-x", "abc")
    );
    assert_ne!(mood_key(&key, "abc"), mood_key(&key, "abd"));
}
