//! `moodtape recommend` and `moodtape feedback` end to end on the demo library with the real model. The first
//! run analyzes the demo itself (first use); the checks are about shape and rules, not exact rankings, since
//! the heads are retrained from time to time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::{json_out, moodtape};
use serde_json::Value;

fn run_json(home: &Path, args: &[&str]) -> (Value, String) {
    let out = moodtape(home)
        .args(["--demo", "--offline"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        json_out(&out),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn songs(v: &Value) -> &Vec<Value> {
    v["songs"].as_array().unwrap()
}

fn check_shape(list: &[Value]) {
    for s in list {
        for key in ["id", "artist", "title", "album", "location"] {
            assert!(s[key].is_string(), "{key} in {s}");
        }
        assert!(
            ["Q1", "Q2", "Q3", "Q4"].contains(&s["quadrant"].as_str().unwrap()),
            "{s}"
        );
        for key in ["valence", "arousal", "score"] {
            assert!(s[key].is_number(), "{key} in {s}");
        }
        assert!(!s["reason"].as_str().unwrap().is_empty(), "{s}");
        assert_eq!(s["analyzed"], true);
    }
    for pair in list.windows(2) {
        assert_ne!(
            pair[0]["artist"], pair[1]["artist"],
            "same artist back to back"
        );
    }
}

#[test]
fn recommend_on_the_demo_library() {
    common::ensure_model();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let text = "I miss you and the rain will not stop";

    // First use: the demo is analyzed, then ranked.
    let (first, first_raw) = run_json(
        home,
        &["recommend", "match", text, "--json", "--limit", "6"],
    );
    assert_eq!(songs(&first).len(), 6);
    check_shape(songs(&first));
    let (_, again) = run_json(
        home,
        &["recommend", "match", text, "--json", "--limit", "6"],
    );
    assert_eq!(first_raw, again, "the same input gives the same ranking");

    // Journeys: to a quadrant (arriving there when the library has songs there) and to a mood in words.
    let (library, _) = run_json(home, &["library", "list", "--json"]);
    let has_q4 = songs(&library).iter().any(|s| s["quadrant"] == "Q4");
    let (journey, _) = run_json(
        home,
        &[
            "recommend",
            "journey",
            text,
            "--to",
            "Q4",
            "--json",
            "--limit",
            "5",
        ],
    );
    assert_eq!(songs(&journey).len(), 5);
    check_shape(songs(&journey));
    if has_q4 {
        assert_eq!(songs(&journey)[4]["quadrant"], "Q4");
    }
    let (to_words, _) = run_json(
        home,
        &[
            "recommend",
            "journey",
            text,
            "--to",
            "calm and at peace",
            "--json",
            "--limit",
            "4",
        ],
    );
    assert_eq!(songs(&to_words).len(), 4);

    // Near a point (negative numbers are values, not flags) and like a song.
    let (near, _) = run_json(
        home,
        &[
            "recommend",
            "near",
            "-0.5",
            "-0.5",
            "--json",
            "--limit",
            "3",
        ],
    );
    assert_eq!(songs(&near).len(), 3);
    check_shape(songs(&near));
    let seed = &songs(&first)[0];
    let query = format!(
        "{} - {}",
        seed["artist"].as_str().unwrap(),
        seed["title"].as_str().unwrap()
    );
    let (like, _) = run_json(
        home,
        &["recommend", "like", &query, "--json", "--limit", "4"],
    );
    assert_eq!(songs(&like).len(), 4);
    assert!(songs(&like).iter().all(|s| s["id"] != seed["id"]));
    check_shape(songs(&like));

    // An M3U8 of the playlist, in playlist order.
    let m3u = home.join("out.m3u8");
    moodtape(home)
        .args([
            "--demo",
            "--offline",
            "recommend",
            "match",
            text,
            "--limit",
            "6",
            "--out",
        ])
        .arg(&m3u)
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "no audio file (the demo library has none)",
        ));
    assert!(!m3u.exists(), "a playlist of nothing was written");
    moodtape(home)
        .args([
            "--demo",
            "--offline",
            "recommend",
            "match",
            text,
            "--limit",
            "6",
            "--allow-empty",
            "--out",
        ])
        .arg(&m3u)
        .assert()
        .success()
        .stderr(predicates::str::contains("wrote 0 of 6 songs"));
    let entries = moodtape::player::parse_m3u8(&std::fs::read_to_string(&m3u).unwrap());
    let names: Vec<String> = songs(&first)
        .iter()
        .filter(|s| !s["location"].as_str().unwrap().is_empty())
        .map(|s| {
            format!(
                "{} - {}",
                s["artist"].as_str().unwrap(),
                s["title"].as_str().unwrap()
            )
        })
        .collect();
    let written: Vec<String> = entries.iter().map(|e| e.title.clone()).collect();
    assert_eq!(written, names);

    // Feedback: a dislike for this mood moves the song, never hides it; list and clear.
    let top = seed["id"].as_str().unwrap();
    moodtape(home)
        .args([
            "--demo",
            "--offline",
            "feedback",
            "dislike",
            top,
            "--mood",
            text,
        ])
        .assert()
        .success();
    let (fb, _) = run_json(home, &["feedback", "list", "--json"]);
    let fb = fb["feedback"].as_array().unwrap();
    assert_eq!(fb.len(), 1);
    assert_eq!(fb[0]["song_id"], top);
    assert_eq!(fb[0]["liked"], false);
    assert_eq!(fb[0]["mood_text"], text);
    let (all, _) = run_json(
        home,
        &["recommend", "match", text, "--json", "--limit", "500"],
    );
    assert!(
        songs(&all).iter().any(|s| s["id"] == top),
        "a disliked song is never hidden"
    );
    let disliked = songs(&all).iter().find(|s| s["id"] == top).unwrap();
    let (before, after) = (
        seed["score"].as_f64().unwrap(),
        disliked["score"].as_f64().unwrap(),
    );
    assert!(
        after < before - 0.1,
        "the dislike lowers the score: {before} -> {after}"
    );
    assert!(disliked["reason"]
        .as_str()
        .unwrap()
        .contains("you disliked it"));
    moodtape(home)
        .args(["--demo", "--offline", "feedback", "clear"])
        .assert()
        .success();
    let (fb, _) = run_json(home, &["feedback", "list", "--json"]);
    assert!(fb["feedback"].as_array().unwrap().is_empty());
}

#[test]
fn usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    // A journey needs a target; near needs numbers in range.
    moodtape(tmp.path())
        .args(["recommend", "journey", "sad"])
        .assert()
        .code(2);
    moodtape(tmp.path())
        .args(["recommend", "near", "x", "0"])
        .assert()
        .code(2);
    moodtape(tmp.path())
        .args(["--offline", "recommend", "near", "3", "0"])
        .assert()
        .code(2);
}
