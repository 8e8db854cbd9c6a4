//! The command line on the demo library, as a script would use it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{json_out, moodtape};

#[test]
fn demo_library_list_has_every_song_with_the_documented_shape() {
    let home = tempfile::tempdir().unwrap();
    let out = moodtape(home.path())
        .args(["--demo", "library", "list", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_out(&out);
    let songs = v["songs"].as_array().unwrap();
    assert!(songs.len() >= 120, "{} demo songs", songs.len());
    for s in songs {
        for key in [
            "id",
            "artist",
            "title",
            "album",
            "duration_s",
            "location",
            "has_lyrics",
        ] {
            assert!(s.get(key).is_some(), "{key} missing in {s}");
        }
    }
    assert_eq!(
        songs.iter().filter(|s| s["has_lyrics"] == false).count(),
        1,
        "one instrumental"
    );
    // The demo database lives under the cache dir, never in the user's data dir.
    assert!(home.path().join("cache/moodtape/demo.db").exists());
    assert!(!home.path().join("data/moodtape/library.db").exists());
}

#[test]
fn search_rain_returns_fuzzy_matches_best_first() {
    let home = tempfile::tempdir().unwrap();
    let out = moodtape(home.path())
        .args(["--demo", "library", "search", "rain", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let songs = json_out(&out)["songs"].as_array().unwrap().clone();
    assert!(songs.len() >= 5, "{songs:?}");
    // The best matches carry the word in the title or artist.
    for s in &songs[..5] {
        let hay = format!("{} {}", s["artist"], s["title"]).to_lowercase();
        assert!(hay.contains("rain"), "{hay}");
    }
    // A nonsense query finds nothing and still succeeds.
    let out = moodtape(home.path())
        .args(["--demo", "library", "search", "zzqxw", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(json_out(&out)["songs"].as_array().unwrap().len(), 0);
}

#[test]
fn stats_json_counts() {
    let home = tempfile::tempdir().unwrap();
    let out = moodtape(home.path())
        .args(["--demo", "library", "stats", "--json"])
        .output()
        .unwrap();
    let v = json_out(&out);
    let songs = v["songs"].as_u64().unwrap();
    assert!(songs >= 120);
    assert_eq!(v["with_lyrics"].as_u64().unwrap(), songs - 1);
    // A fresh demo database has read no moods yet; after `analyze` every song with lyrics has one, and the
    // quadrants count each analyzed song once.
    common::ensure_model();
    assert_eq!(v["analyzed"].as_u64(), Some(0), "{v}");
    moodtape(home.path())
        .args(["--demo", "--offline", "analyze"])
        .assert()
        .success();
    let out = moodtape(home.path())
        .args(["--demo", "library", "stats", "--json"])
        .output()
        .unwrap();
    let v = json_out(&out);
    assert_eq!(v["analyzed"].as_u64(), Some(songs - 1), "{v}");
    let by_quadrant: u64 = v["by_quadrant"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(by_quadrant, songs - 1, "{v}");
}

#[test]
fn the_user_library_is_separate_from_the_demo() {
    let home = tempfile::tempdir().unwrap();
    moodtape(home.path())
        .args(["--demo", "library", "list"])
        .assert()
        .success();
    let out = moodtape(home.path())
        .args(["library", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(json_out(&out)["songs"].as_array().unwrap().len(), 0);
    // --db and MOODTAPE_DB both choose the database.
    let db = home.path().join("elsewhere.db");
    let out = moodtape(home.path())
        .arg("--db")
        .arg(&db)
        .args(["db", "path"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        db.display().to_string()
    );
    let out = moodtape(home.path())
        .env("MOODTAPE_DB", &db)
        .args(["db", "path"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        db.display().to_string()
    );
}

#[test]
fn usage_errors_exit_2_and_runtime_errors_exit_1() {
    let home = tempfile::tempdir().unwrap();
    let out = moodtape(home.path())
        .args(["library", "frobnicate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = moodtape(home.path()).args(["scan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = moodtape(home.path())
        .args(["db", "import", "/nonexistent/backup.jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("moodtape: error:"), "{err}");
    assert!(err.contains("/nonexistent/backup.jsonl"), "{err}");
}

#[test]
fn a_broken_config_names_file_key_and_fix() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[ui]\ntheme = \"default\"\nmax_fps = 0\n[recommend]\nweigth_emotion = 0.5\n",
    )
    .unwrap();
    let out = moodtape(home.path())
        .arg("--config")
        .arg(&cfg)
        .args(["library", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml"), "{err}");
    assert!(err.contains("weigth_emotion"), "{err}");

    std::fs::write(&cfg, "[ui]\nmax_fps = 0\n").unwrap();
    let out = moodtape(home.path())
        .arg("--config")
        .arg(&cfg)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max_fps"), "{err}");

    std::fs::write(&cfg, "this is [ not toml").unwrap();
    let out = moodtape(home.path())
        .arg("--config")
        .arg(&cfg)
        .args(["library", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml"));

    // The default config printed by the binary parses and checks clean.
    let out = moodtape(home.path())
        .args(["config", "default"])
        .output()
        .unwrap();
    std::fs::write(&cfg, &out.stdout).unwrap();
    moodtape(home.path())
        .arg("--config")
        .arg(&cfg)
        .args(["config", "check"])
        .assert()
        .success();
}

#[test]
fn config_check_also_checks_the_keymap_and_theme() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("keys.toml");
    std::fs::write(&cfg, "[keys]\nfrobnicate = [\"x\"]\n").unwrap();
    let out = moodtape(home.path())
        .arg("--config")
        .arg(&cfg)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("keys.frobnicate") && err.contains("keys.toml"),
        "{err}"
    );

    std::fs::write(&cfg, "[keys]\nquit = [\"Q\", \"ctrl-q\"]\n").unwrap();
    moodtape(home.path())
        .arg("--config")
        .arg(&cfg)
        .args(["config", "check"])
        .assert()
        .success();

    let out = moodtape(home.path())
        .args(["--theme", "nope", "config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown theme \"nope\""));
}

#[test]
fn completions_parse_and_the_man_page_is_roff() {
    let home = tempfile::tempdir().unwrap();
    // A broken config does not stand in their way.
    std::fs::write(home.path().join("bad.toml"), "[nope\n").unwrap();
    let bash = moodtape(home.path())
        .args(["--config", "bad.toml", "completions", "bash"])
        .current_dir(home.path())
        .output()
        .unwrap();
    assert!(bash.status.success());
    let script = home.path().join("moodtape.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    assert!(String::from_utf8_lossy(&bash.stdout).contains("recommend"));
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = moodtape(home.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
    let man = moodtape(home.path()).arg("man").output().unwrap();
    assert!(man.status.success());
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(
        page.lines().any(|l| l.starts_with(".TH moodtape 1")),
        "{page}"
    );
    assert!(page.contains("recommend"), "{page}");
}

#[test]
fn reporting_commands_print_their_documented_json() {
    common::ensure_model();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    std::fs::write(
        h.join("songs.csv"),
        "artist,title,location\nAnn,Plain,/music/a.flac\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = moodtape(h).current_dir(h).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_out(&out)
    };
    moodtape(h)
        .current_dir(h)
        .args(["import", "songs.csv"])
        .assert()
        .success();
    let v = run(&["play", "--out", "p.m3u8", "Ann", "--json"]);
    assert_eq!(v["written"]["songs"], 1, "{v}");
    assert!(v["written"]["note"]
        .as_str()
        .unwrap()
        .contains("wrote 1 of 1"));
    assert_eq!(v["queued"], serde_json::Value::Null);
    assert_eq!(v["played"], false);
    let v = run(&["db", "export", "b.jsonl", "--json"]);
    assert_eq!(v["records"], 1, "{v}");
    assert!(v["file"].as_str().unwrap().ends_with("b.jsonl"));
    let v = run(&["db", "import", "b.jsonl", "--json"]);
    assert_eq!(v["records"], 1, "{v}");
    let v = run(&["db", "restore", "b.jsonl", "--json"]);
    assert_eq!(v["records"], 1, "{v}");
    assert!(v.get("replaced").is_some(), "{v}");
    let v = run(&["db", "salvage", "s.jsonl", "--json"]);
    assert!(v["records"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["lost"].is_array(), "{v}");
    let v = run(&["config", "check", "--json"]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["config"]["recommend"]["limit"], 20, "{v}");
    let v = run(&[
        "--offline",
        "feedback",
        "like",
        "Ann",
        "--mood",
        "happy",
        "--json",
    ]);
    assert_eq!(v["liked"], true, "{v}");
    assert_eq!(v["song"]["artist"], "Ann");
    assert!(["Q1", "Q2", "Q3", "Q4"].contains(&v["quadrant"].as_str().unwrap()));
}

#[test]
fn scan_reports_progress_on_stderr_and_keeps_json_stdout_clean() {
    let home = tempfile::tempdir().unwrap();
    let music = home.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    for i in 0..3 {
        let title = format!("Song {i}");
        common::write_audio(
            &music.join(format!("{i}.wav")),
            &common::Tags {
                artist: "Ann",
                title: &title,
                album: "",
                lyrics: None,
            },
            1,
        );
    }
    // Not a terminal: plain progress lines on stderr, with the count known up front.
    let out = moodtape(home.path())
        .args(["scan", music.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("scanned 3/3 files"), "{err}");
    // With --json, stdout holds only the summary and stderr no progress.
    let out = moodtape(home.path())
        .args(["scan", music.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v = json_out(&out);
    assert_eq!(v["files_seen"], 3, "{v}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("scanned"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn import_reports_progress_by_bytes_read() {
    let home = tempfile::tempdir().unwrap();
    let mut csv = String::from("artist,title\n");
    for i in 0..450 {
        csv.push_str(&format!("Artist {i},Title {i}\n"));
    }
    std::fs::write(home.path().join("many.csv"), csv).unwrap();
    let out = moodtape(home.path())
        .current_dir(home.path())
        .args(["import", "many.csv"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("200 songs stored"), "{err}");
    assert!(err.contains("% of the file read"), "{err}");
    let out = moodtape(home.path())
        .current_dir(home.path())
        .args(["import", "many.csv", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(json_out(&out)["imported"], 450);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("songs stored"));
}
