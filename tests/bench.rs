//! The bench commands as a user runs them: generated inputs that repeat exactly, `bench analyze` over the whole
//! analysis path with the real model, the peer script when its venv is there, and the device fallback line.
//! Speed is never asserted here: the figures live in the bench output and the README.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{ensure_model, moodtape, ok_json, succeeded};

fn texts(home: &std::path::Path, kind: &str, count: &str, seed: &str) -> Vec<String> {
    let out = succeeded(
        moodtape(home)
            .args([
                "bench", "texts", "--kind", kind, "--count", count, "--seed", seed,
            ])
            .output()
            .unwrap(),
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["text"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn bench_inputs_are_generated_the_same_every_time() {
    let home = tempfile::tempdir().unwrap();
    let first = texts(home.path(), "stanza", "40", "7");
    assert_eq!(first.len(), 40);
    assert_eq!(first, texts(home.path(), "stanza", "40", "7"));
    assert_ne!(first, texts(home.path(), "stanza", "40", "8"));
    for stanza in &first {
        let lines = stanza.lines().count();
        let words = stanza.split_whitespace().count();
        assert!((4..=8).contains(&lines), "{stanza}");
        assert!((20..=72).contains(&words), "{words} words: {stanza}");
    }
    // Songs repeat their chorus, as real lyrics do.
    for song in texts(home.path(), "song", "10", "1") {
        let stanzas: Vec<&str> = song.split("\n\n").collect();
        assert!(stanzas.len() >= 5, "{song}");
        let chorus = stanzas[1];
        assert!(stanzas.iter().filter(|s| **s == chorus).count() >= 3);
    }
    // --out writes the same lines to a file.
    let file = home.path().join("stanzas.jsonl");
    moodtape(home.path())
        .args(["bench", "texts", "--count", "40", "--seed", "7", "--out"])
        .arg(&file)
        .assert()
        .success();
    let written: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(written, first);
}

#[test]
fn bench_analyze_reads_every_generated_song_through_the_real_path() {
    ensure_model();
    let home = tempfile::tempdir().unwrap();
    let v = ok_json(
        moodtape(home.path())
            .args([
                "--device", "cpu", "bench", "analyze", "--songs", "12", "--json",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(v["songs"], 12);
    assert_eq!(v["device"], "cpu");
    assert_eq!(v["precision"], "f32");
    // Each song has at least two distinct chunks; choruses are read once, so fewer chunks than stanzas.
    let chunks = v["chunks"].as_u64().unwrap();
    assert!((24..=12 * 8).contains(&chunks), "{v}");
    assert!(v["tokens"].as_u64().unwrap() > chunks * 20, "{v}");
    for field in ["songs_per_s", "tokens_per_s", "peak_rss_mb"] {
        assert!(v[field].as_f64().unwrap() > 0.0, "{field}: {v}");
    }
    let share = v["encoder_alone"]["share"].as_f64().unwrap();
    assert!(share > 0.0 && share.is_finite(), "{v}");
}

#[test]
fn a_gpu_asked_for_but_missing_runs_on_the_cpu_and_says_why() {
    ensure_model();
    let home = tempfile::tempdir().unwrap();
    let v = ok_json(
        moodtape(home.path())
            .args(["--device", "cuda", "models", "info", "--json"])
            .output()
            .unwrap(),
    );
    // This machine has no GPU (CI never does); a GPU machine would say cuda:0 and no reason.
    if v["device"] == "cpu" {
        let why = v["device_fallback"].as_str().unwrap();
        assert!(why.ends_with("running on the CPU"), "{why}");
        assert!(!why.contains('\n'));
    } else {
        assert!(v["device"].as_str().unwrap().starts_with("cuda:"));
    }
    // `mood` still answers, on the CPU.
    moodtape(home.path())
        .args(["--device", "cuda", "mood", "calm and happy", "--json"])
        .assert()
        .success();
}

#[test]
fn a_bad_precision_is_refused_in_config_and_on_the_command_line() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(&config, "[general]\nprecision = \"int3\"\n").unwrap();
    let out = moodtape(home.path())
        .args(["--config"])
        .arg(&config)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("general.precision"));
    let out = moodtape(home.path())
        .args(["--precision", "half", "models", "info"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// `--precision fast` on a CPU picks its path by the CPU's features (int8 on AVX512-VNNI, bf16 on AVX512-BF16,
/// int8 on AVX-VNNI or AVX2, else f32); `MOODTAPE_CPU_FAST` narrows the choice on any machine (`f32` forces the
/// fallback), and `models info` says what runs.
#[test]
fn fast_on_the_cpu_picks_its_path_by_the_cpus_features_and_falls_back_to_f32() {
    use moodtape::emotion::int8::Kernel;
    let home = tempfile::tempdir().unwrap();
    let info = |forced: Option<&str>| {
        let mut cmd = moodtape(home.path());
        cmd.args([
            "--device",
            "cpu",
            "--precision",
            "fast",
            "models",
            "info",
            "--json",
        ]);
        match forced {
            Some(path) => cmd.env("MOODTAPE_CPU_FAST", path),
            None => cmd.env_remove("MOODTAPE_CPU_FAST"),
        };
        let out = ok_json(cmd.output().unwrap());
        assert_eq!(out["precision"], "fast");
        (
            out["computes_in"].as_str().unwrap().to_string(),
            out["kernel"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(info(Some("f32")), ("f32".into(), "gemm".into()));
    let avx2 = if Kernel::Avx2.supported() {
        ("int8", "avx2")
    } else {
        ("f32", "gemm")
    };
    assert_eq!(info(Some("int8-avx2")), (avx2.0.into(), avx2.1.into()));
    let bf16 = if moodtape::emotion::bf16::detected() {
        ("bf16", "avx512-bf16")
    } else {
        ("f32", "gemm")
    };
    assert_eq!(info(Some("bf16")), (bf16.0.into(), bf16.1.into()));
    let best = [Kernel::Vnni, Kernel::AvxVnni, Kernel::Avx2]
        .into_iter()
        .find(|k| k.supported());
    let (computes, kernel) = info(None);
    let want = if Kernel::Vnni.supported() {
        ("int8", "avx512-vnni")
    } else if moodtape::emotion::bf16::detected() {
        ("bf16", "avx512-bf16")
    } else if let Some(k) = best {
        ("int8", k.label())
    } else {
        ("f32", "gemm")
    };
    assert_eq!((computes.as_str(), kernel.as_str()), want);
    let plain = ok_json(
        moodtape(home.path())
            .args(["--device", "cpu", "models", "info", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(plain["computes_in"], "f32");
    assert_eq!(plain["kernel"], "gemm");
}

/// The peer (PyTorch sentence-transformers) on the same texts, only where its venv was made as
/// benches/peer/README.md says: the test suite never installs PyTorch.
#[test]
fn the_peer_script_embeds_the_same_texts_when_its_venv_exists() {
    let python =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peer-venv/bin/python");
    if !python.exists() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\nSKIPPED the peer script: no target/peer-venv (see benches/peer/README.md)\n"
        );
        return;
    }
    ensure_model();
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("stanzas.jsonl");
    moodtape(home.path())
        .args(["bench", "texts", "--count", "20", "--out"])
        .arg(&file)
        .assert()
        .success();
    let v = ok_json(
        std::process::Command::new(python)
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peer/embed.py"))
            .arg("--texts")
            .arg(&file)
            .args(["--threads", "1"])
            .output()
            .unwrap(),
    );
    assert_eq!(v["texts"], 20);
    assert!(v["texts_per_s"].as_f64().unwrap() > 0.0);
}

/// Analysis tokenizes each line once and builds a chunk's ids from its lines' ids. With the real tokenizer that
/// must be exactly what tokenizing the chunk whole gives, on every demo song and on lines full of punctuation,
/// accents, other scripts, emoji, control characters and words cut by hyphens or apostrophes.
#[test]
fn chunk_ids_built_from_line_ids_equal_the_chunk_tokenized_whole() {
    use moodtape::emotion::encoder::{load_tokenizer, tokenize_here, MAX_TOKENS};
    use moodtape::records::{LyricsOrigin, LyricsRecord};
    ensure_model();
    let dir = std::env::var_os("MOODTAPE_MODEL_CACHE")
        .map(std::path::PathBuf::from)
        .or_else(common::shared_model_cache)
        .unwrap();
    let tokenizer = load_tokenizer(&dir.join("tokenizer.json")).unwrap();
    let mut lyrics: Vec<String> = moodtape::library::demo::demo_songs()
        .unwrap()
        .into_iter()
        .map(|s| s.lyrics)
        .collect();
    lyrics.push(
        "Don't—stop!!! (we're\u{301} \"alive\")...\nCAFÉ naïve co-operate re-\nentry 東京 の 夜 😀🔥\n\
         tab\there\u{7}bell, ok?\n\n  spaced   out   line  \nx\n"
            .repeat(9),
    );
    lyrics.push("word ".repeat(400));
    let mut checked = 0;
    for text in &lyrics {
        let record = LyricsRecord::new(text, LyricsOrigin::Manual);
        let (chunks, ids) =
            moodtape::emotion::engine::song_chunks_with_ids(&tokenizer, &record).unwrap();
        assert_eq!(chunks.len(), ids.len());
        let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
        let whole = tokenize_here(&tokenizer, &texts, MAX_TOKENS).unwrap();
        assert_eq!(ids, whole, "{texts:?}");
        checked += chunks.len();
    }
    assert!(checked > 300, "{checked} chunks");
}
