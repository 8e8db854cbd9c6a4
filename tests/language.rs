//! Lyrics in a language the model does not read, end to end with the real model: `analyze` stores a skip with the
//! language instead of a mood and does not try again until the lyrics change, every JSON view of the song says
//! so, and recommendations leave the song out unless `--include-unanalyzed` asks for it. Mixed English/Spanish
//! lyrics with a large English part are read. Which chunks count as which language is tested in
//! `emotion::language`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::{moodtape, ok_json, succeeded};
use serde_json::{json, Value};

const SPANISH: &str = "La noche es larga y tú no estás aquí\nLloro sola pensando en ti\nLas calles están vacías y frías\nY el silencio llena mis días\n\nTe busco en cada rincón de la ciudad\nPero solo encuentro soledad\nMi corazón se rompe sin piedad\nY no sé dónde está la verdad";
const ENGLISH_CHORUS: &str = "Dance with me under the summer sun\nWe are young and the night has just begun\nHold my hand and never let me go\nThis is the happiest day I know";
const SPANISH_VERSE: &str = "Bailamos juntos en la plaza del pueblo\nLa música suena y el mundo es nuestro\nTus ojos brillan como las estrellas\nY todas las noches son más bellas";

fn import(home: &Path, songs: &[(&str, &str, &str)]) {
    let rows: String = songs
        .iter()
        .map(|(artist, title, lyrics)| {
            format!(
                "{}\n",
                json!({"artist": artist, "title": title, "lyrics": lyrics})
            )
        })
        .collect();
    let file = home.join("songs.jsonl");
    std::fs::write(&file, rows).unwrap();
    succeeded(
        moodtape(home)
            .args(["--offline", "import"])
            .arg(&file)
            .output()
            .unwrap(),
    );
}

fn run_json(home: &Path, args: &[&str]) -> Value {
    ok_json(
        moodtape(home)
            .arg("--offline")
            .args(args)
            .arg("--json")
            .output()
            .unwrap(),
    )
}

fn by_title<'a>(list: &'a Value, title: &str) -> Option<&'a Value> {
    list["songs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"] == title)
}

#[test]
fn spanish_lyrics_get_no_mood_and_stay_out_of_recommendations() {
    common::ensure_model();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let mixed =
        format!("{SPANISH_VERSE}\n\n{ENGLISH_CHORUS}\n\n{SPANISH_VERSE}\n\n{ENGLISH_CHORUS}");
    import(
        home,
        &[
            ("Sol", "Golden Morning", ENGLISH_CHORUS),
            (
                "Grey",
                "Empty Room",
                "Empty room and the rain on the glass\nYou are gone and the hurt won't pass\nI cry alone at night, nobody calls\nGrey and cold behind these silent walls",
            ),
            ("Short", "Three Words", "I love you"),
            ("Luna", "La Noche", SPANISH),
            ("Mezcla", "Dos Mundos", &mixed),
        ],
    );

    let first = run_json(home, &["analyze"]);
    assert_eq!(first["analyzed"], 4, "{first}");
    assert_eq!(first["skipped_language"], 1, "{first}");

    let library = run_json(home, &["library", "list"]);
    let spanish = by_title(&library, "La Noche").unwrap();
    assert_eq!(spanish["analyzed"], false, "{spanish}");
    assert_eq!(spanish["language"], "es", "{spanish}");
    assert_eq!(spanish["mood_skipped"], "language", "{spanish}");
    assert!(spanish.get("valence").is_none(), "{spanish}");
    for title in ["Golden Morning", "Empty Room", "Three Words", "Dos Mundos"] {
        let song = by_title(&library, title).unwrap();
        assert_eq!(song["analyzed"], true, "{song}");
        assert!(song.get("mood_skipped").is_none(), "{song}");
        let confidence = song["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&confidence), "{song}");
    }
    // A short English lyric is too short to tell its language: it is read, never skipped.
    assert!(by_title(&library, "Three Words").unwrap()["language"].is_null());

    let shown = run_json(home, &["lyrics", "show", "Luna - La Noche"]);
    assert_eq!(shown["mood_skipped"], "language", "{shown}");
    assert_eq!(shown["language"], "es", "{shown}");
    assert_eq!(shown["analyzed"], false, "{shown}");

    // The skip is stored: a second run has nothing to do.
    let again = run_json(home, &["analyze"]);
    assert_eq!(
        (
            &again["analyzed"],
            &again["skipped_language"],
            &again["already"]
        ),
        (&json!(0), &json!(0), &json!(5)),
        "{again}"
    );

    // Every kind of recommendation leaves the song out.
    for args in [
        vec!["recommend", "near", "0", "0", "--limit", "10"],
        vec!["recommend", "match", "lonely night", "--limit", "10"],
        vec!["recommend", "like", "Grey - Empty Room", "--limit", "10"],
        vec!["recommend", "journey", "sad", "--to", "Q1", "--limit", "3"],
    ] {
        let list = run_json(home, &args);
        assert!(by_title(&list, "La Noche").is_none(), "{args:?}: {list}");
    }
    // Asked for, it is listed after the playlist with the reason.
    let list = run_json(
        home,
        &[
            "recommend",
            "near",
            "0",
            "0",
            "--limit",
            "10",
            "--include-unanalyzed",
        ],
    );
    let spanish = by_title(&list, "La Noche").unwrap();
    assert_eq!(spanish["mood_skipped"], "language", "{spanish}");
    assert_eq!(spanish["language"], "es", "{spanish}");
    assert!(
        spanish["reason"].as_str().unwrap().contains("Spanish"),
        "{spanish}"
    );
    assert_eq!(
        list["songs"].as_array().unwrap().last().unwrap()["title"],
        "La Noche"
    );

    // It cannot seed a `like` either, and the error says why.
    let out = moodtape(home)
        .args(["--offline", "recommend", "like", "Luna - La Noche"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lyrics in Spanish"), "{err}");

    // New lyrics are tried again (analyses are keyed by the lyrics, so these are new to the store).
    let english = format!("{ENGLISH_CHORUS}\nLa la la, the night is ours");
    import(home, &[("Luna", "La Noche", &english)]);
    let after = run_json(home, &["analyze"]);
    assert_eq!(after["analyzed"], 1, "{after}");
    let library = run_json(home, &["library", "list"]);
    assert_eq!(by_title(&library, "La Noche").unwrap()["analyzed"], true);
}
