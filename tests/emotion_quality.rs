//! Quality checks against the real encoder and moodtape's trained heads: the encoder is obtained by moodtape's own
//! fetch (cache, then its published sources), the datasets are read from ../shared/datasets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;

use common::{ensure_model, json_out, moodtape, ok_json};

fn datasets() -> PathBuf {
    let dir = std::env::var_os("MOODTAPE_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"));
    assert!(
        dir.join("goemotions/test.tsv").is_file(),
        "the datasets are not at {}",
        dir.display()
    );
    dir
}

fn mood(text: &str) -> serde_json::Value {
    ensure_model();
    let home = tempfile::tempdir().unwrap();
    ok_json(
        moodtape(home.path())
            .args(["mood", "--json", text])
            .output()
            .unwrap(),
    )
}

const JOY_GROUP: [&str; 12] = [
    "joy",
    "amusement",
    "approval",
    "excitement",
    "gratitude",
    "love",
    "optimism",
    "relief",
    "pride",
    "admiration",
    "desire",
    "caring",
];

fn top_labels(v: &serde_json::Value, n: usize) -> Vec<String> {
    v["emotions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["label"].as_str().unwrap().to_string())
        .filter(|l| l != "neutral")
        .take(n)
        .collect()
}

#[test]
fn mood_json_has_the_documented_shape() {
    let v = mood("tired but hopeful");
    assert!(v["valence"].as_f64().unwrap().abs() <= 1.0);
    assert!(v["arousal"].as_f64().unwrap().abs() <= 1.0);
    assert!(["Q1", "Q2", "Q3", "Q4"].contains(&v["quadrant"].as_str().unwrap()));
    let emotions = v["emotions"].as_array().unwrap();
    assert_eq!(emotions.len(), 28);
    let scores: Vec<f64> = emotions
        .iter()
        .map(|e| e["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "emotions are sorted by score"
    );
}

#[test]
fn joy_lands_in_q1_with_joy_group_emotions_on_top() {
    let v = mood("I can't stop smiling, best day ever");
    assert_eq!(v["quadrant"], "Q1", "{v}");
    let top = top_labels(&v, 2);
    assert!(
        top.iter().all(|l| JOY_GROUP.contains(&l.as_str())),
        "{top:?}"
    );
}

#[test]
fn fury_lands_in_q2() {
    let v = mood("I hate this, I'm furious");
    assert_eq!(v["quadrant"], "Q2", "{v}");
    let top = top_labels(&v, 1);
    assert!(
        ["anger", "annoyance", "disgust", "disapproval"].contains(&top[0].as_str()),
        "{top:?}"
    );
}

#[test]
fn missing_someone_lands_in_q3() {
    let v = mood("I miss her so much, I feel empty");
    assert_eq!(v["quadrant"], "Q3", "{v}");
    let top = top_labels(&v, 2);
    assert!(
        top.iter()
            .any(|l| ["sadness", "grief", "disappointment", "remorse"].contains(&l.as_str())),
        "{top:?}"
    );
}

#[test]
fn a_quiet_evening_lands_in_q4() {
    let v = mood("a quiet peaceful evening by the lake");
    assert_eq!(v["quadrant"], "Q4", "{v}");
}

/// `moodtape eval DATASET --split test --json` on the shared datasets.
fn eval_test_split(dataset: &str) -> serde_json::Value {
    ensure_model();
    let home = tempfile::tempdir().unwrap();
    ok_json(
        moodtape(home.path())
            .args(["eval", dataset, "--split", "test", "--json", "--data"])
            .arg(datasets().join(dataset))
            .output()
            .unwrap(),
    )
}

#[test]
fn goemotions_test_split_reaches_the_bars() {
    let v = eval_test_split("goemotions");
    let macro_f1 = v["macro_f1"].as_f64().unwrap();
    let ekman = v["ekman_macro_f1"].as_f64().unwrap();
    eprintln!("GoEmotions test: macro-F1 {macro_f1:.4}, Ekman macro-F1 {ekman:.4}");
    assert!(macro_f1 >= 0.40, "macro-F1 {macro_f1}");
    assert!(ekman >= 0.55, "Ekman macro-F1 {ekman}");
    assert_eq!(v["per_label"].as_object().unwrap().len(), 28);
}

#[test]
fn emobank_test_split_reaches_the_bars() {
    let v = eval_test_split("emobank");
    let pv = v["pearson_valence"].as_f64().unwrap();
    let pa = v["pearson_arousal"].as_f64().unwrap();
    eprintln!("EmoBank test: Pearson valence {pv:.4}, arousal {pa:.4}");
    assert!(pv >= 0.65, "valence r {pv}");
    assert!(pa >= 0.45, "arousal r {pa}");
}

#[test]
fn offline_without_the_model_says_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    let out = moodtape(home.path())
        .env("MOODTAPE_MODEL_CACHE", home.path().join("empty-cache"))
        .args(["--offline", "mood", "hello"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--offline") && err.contains("MOODTAPE_MODEL_DIR"),
        "{err}"
    );
}

#[test]
fn analyze_the_demo_library_then_json_carries_moods() {
    ensure_model();
    let home = tempfile::tempdir().unwrap();
    let v = ok_json(
        moodtape(home.path())
            .args(["--demo", "analyze", "--json"])
            .output()
            .unwrap(),
    );
    assert!(v["analyzed"].as_u64().unwrap() >= 120, "{v}");
    assert_eq!(v["no_lyrics"], 1);
    // A second run has nothing to do.
    let out = moodtape(home.path())
        .args(["--demo", "analyze", "--json"])
        .output()
        .unwrap();
    assert_eq!(json_out(&out)["analyzed"], 0);

    let out = moodtape(home.path())
        .args(["--demo", "library", "list", "--json"])
        .output()
        .unwrap();
    let songs = json_out(&out)["songs"].as_array().unwrap().clone();
    let analyzed: Vec<_> = songs.iter().filter(|s| s["quadrant"].is_string()).collect();
    assert_eq!(analyzed.len(), songs.len() - 1);
    for s in &analyzed {
        assert!(s["valence"].is_number() && s["arousal"].is_number());
        assert_eq!(s["emotions"].as_array().unwrap().len(), 3);
    }
    let out = moodtape(home.path())
        .args(["--demo", "library", "stats", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        json_out(&out)["analyzed"].as_u64().unwrap() as usize,
        analyzed.len()
    );

    // Most demo songs land in the quadrant they were written for.
    let demo = moodtape::library::demo::demo_songs().unwrap();
    let mut hits = 0;
    let mut total = 0;
    for d in demo.iter().filter(|d| !d.instrumental) {
        let s = analyzed
            .iter()
            .find(|s| s["title"] == d.title.as_str() && s["artist"] == d.artist.as_str())
            .unwrap();
        total += 1;
        if s["quadrant"] == d.intended.as_str() {
            hits += 1;
        }
    }
    eprintln!("demo songs in their intended quadrant: {hits}/{total}");
    assert!(hits * 2 > total, "{hits}/{total}");
}
