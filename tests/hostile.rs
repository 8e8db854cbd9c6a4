//! Hostile input, run through the binary as a user (or an attacker) would: restored backups with escapes in their
//! names, configs with out-of-range values, numbers at their limits, links and devices where files are
//! expected. Every output is checked for bytes a terminal would act on, and no run may panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Output;

use common::{moodtape, write_audio, Tags};

/// A title full of things a terminal acts on: OSC 52 (clipboard), OSC 0 (title), C1 CSI, bidi and invisible marks.
const EVIL_TITLE: &str =
    "\\u001b]52;c;ZXZpbA==\\u0007Pla\\u001b]0;pwned\\u0007in\\u009b2J\\u200e\\u202e\\u2028\\u061c";

/// Fails on any byte or character a terminal could act on (newline and tab aside), and on any panic.
fn assert_clean(what: &str, out: &Output) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains("panicked"),
            "{what}: a panic on {stream}: {text}"
        );
        let bad: Vec<char> = text
            .chars()
            .filter(|c| moodtape::sanitize::is_unsafe_for_terminal(*c) || *c == '\r')
            .collect();
        assert!(bad.is_empty(), "{what}: {stream} holds {bad:?}: {text:?}");
    }
}

fn run(home: &Path, args: &[&str]) -> Output {
    let out = moodtape(home)
        .current_dir(home)
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_clean(&args.join(" "), &out);
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A library restored from a backup someone else wrote: one song's title is hostile and its location would
/// splice into `/etc/passwd`; another's location starts with `#`.
fn hostile_library(home: &Path) {
    std::fs::write(
        home.join("songs.csv"),
        "artist,title,location\nAnn,Plain,/music/a.flac\nBob,Other,/music/b.flac\n",
    )
    .unwrap();
    assert!(run(home, &["import", "songs.csv"]).status.success());
    assert!(run(home, &["db", "export", "backup.jsonl"])
        .status
        .success());
    let backup = std::fs::read_to_string(home.join("backup.jsonl")).unwrap();
    let evil = backup
        .replace(
            "\"title\":\"Plain\"",
            &format!("\"title\":\"{EVIL_TITLE}\""),
        )
        .replace("\"/music/a.flac\"", "\"/etc/pass\\nwd\"")
        .replace("\"/music/b.flac\"", "\"#EXT-X-INJECTED\"");
    assert_ne!(evil, backup);
    std::fs::write(home.join("evil.jsonl"), evil).unwrap();
    let out = run(home, &["db", "import", "--replace", "evil.jsonl"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn escapes_in_restored_records_never_reach_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    hostile_library(home);
    for args in [
        &["library", "list"][..],
        &["library", "list", "--json"],
        &["library", "search", "plain"],
        &["library", "search", "plain", "--json"],
        &["library", "stats"],
        &["db", "check"],
        &["--offline", "lyrics", "show", "plain"],
    ] {
        run(home, args);
    }
    // The title is still recognisable once cleaned.
    let listed = text(&run(home, &["library", "list"]));
    assert!(listed.contains("Plain"), "{listed}");
    // JSON keeps the data: the escapes are there as escapes, not raw bytes.
    let json = run(home, &["library", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(v["songs"].as_array().unwrap().len() == 2);
}

#[test]
fn playlists_never_splice_locations_or_write_directives() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    hostile_library(home);
    // The spliced path is left out, the `#` path written as a path, and the message says so.
    let out = run(home, &["play", "--out", "list.m3u8", "Ann", "Bob"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("wrote 1 of 2 songs") && text(&out).contains("no playlist can hold"),
        "{}",
        text(&out)
    );
    // A playlist of nothing listable is not written, unless asked for.
    let out = run(home, &["play", "--out", "none.m3u8", "Ann"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!home.join("none.m3u8").exists());
    let out = run(
        home,
        &["play", "--out", "none.m3u8", "--allow-empty", "Ann"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("wrote 0 of 1 songs"), "{}", text(&out));
    let playlist = std::fs::read_to_string(home.join("list.m3u8")).unwrap();
    assert!(!playlist.contains("/etc/passwd"), "{playlist}");
    assert!(
        !playlist.lines().any(|l| l.starts_with("#EXT-X")),
        "{playlist}"
    );
    assert!(
        playlist.lines().any(|l| l == "./#EXT-X-INJECTED"),
        "{playlist}"
    );
    assert!(
        !playlist
            .chars()
            .any(moodtape::sanitize::is_unsafe_for_terminal),
        "{playlist:?}"
    );
}

#[test]
fn writes_never_follow_or_replace_links_devices_or_planted_temp_files() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    std::fs::write(
        home.join("songs.csv"),
        "artist,title,location\nAnn,Plain,/music/a.flac\n",
    )
    .unwrap();
    assert!(run(home, &["import", "songs.csv"]).status.success());
    let victim = home.join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, home.join("out.m3u8")).unwrap();
    std::os::unix::fs::symlink(&victim, home.join("out.m3u8.part")).unwrap();
    std::os::unix::fs::symlink(&victim, home.join("backup.jsonl")).unwrap();
    std::os::unix::fs::symlink(&victim, home.join("backup.jsonl.partial")).unwrap();

    let out = run(home, &["play", "--out", "out.m3u8", "Ann"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("symbolic link"), "{}", text(&out));
    let out = run(home, &["db", "export", "backup.jsonl"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = run(home, &["play", "--out", "/dev/null", "Ann"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("device"), "{}", text(&out));

    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    for link in ["out.m3u8", "backup.jsonl"] {
        let meta = std::fs::symlink_metadata(home.join(link)).unwrap();
        assert!(meta.file_type().is_symlink(), "{link} was replaced");
    }
    // A good write leaves no temp file behind.
    assert!(run(home, &["play", "--out", "good.m3u8", "Ann"])
        .status
        .success());
    let leftovers: Vec<String> = std::fs::read_dir(home)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn out_of_range_config_values_are_refused_at_load_with_the_key_named() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let cases = [
        (
            "[lyrics]\nrequests_per_second = 1e-300\n",
            "lyrics.requests_per_second",
        ),
        (
            "[lyrics]\nrequests_per_second = 1e300\n",
            "lyrics.requests_per_second",
        ),
        ("[lyrics]\ntimeout_s = 1e-9\n", "lyrics.timeout_s"),
        ("[lyrics]\nretries = 4000000000\n", "lyrics.retries"),
        (
            "[recommend]\njourney_length = 18446744073709551615\n",
            "recommend.journey_length",
        ),
        ("[recommend]\nlimit = 0\n", "recommend.limit"),
        ("[mpd]\nport = 0\n", "mpd.port"),
        ("[keys]\nquit = []\n", "keys.quit"),
        ("[keys]\nlike = [\"q\"]\n", "also bound"),
        // An escape in a config line is quoted in the error, cleaned.
        ("[lyrics]\nonl\u{1b}]0;pwned\u{7}ine = 1\n", "line 2"),
    ];
    for (i, (toml, expect)) in cases.iter().enumerate() {
        let path = home.join(format!("c{i}.toml"));
        std::fs::write(&path, toml).unwrap();
        let out = run(
            home,
            &["--config", path.to_str().unwrap(), "config", "check"],
        );
        assert_eq!(out.status.code(), Some(1), "{toml}: {}", text(&out));
        assert!(text(&out).contains(expect), "{toml}: {}", text(&out));
        // The same file stops every other command too, before anything runs (key bindings are the TUI's).
        if !toml.starts_with("[keys]") {
            let out = run(
                home,
                &["--config", path.to_str().unwrap(), "library", "stats"],
            );
            assert_ne!(out.status.code(), Some(0), "{toml}: {}", text(&out));
        }
    }
}

#[test]
fn numbers_and_names_out_of_range_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    for args in [
        &["recommend", "match", "sad", "--limit", "0"][..],
        &["recommend", "match", "sad", "--limit", "100000000000"],
        &[
            "recommend",
            "journey",
            "sad",
            "--to",
            "Q1",
            "--limit",
            "18446744073709551615",
        ],
        &["recommend", "journey", "sad", "--to", "Q9"],
        &["recommend", "near", "NaN", "0"],
        &["recommend", "near", "0", "7"],
        &["recommend", "near", "\u{1b}[2J", "0"],
        &["library", "search", "x", "--limit", "0"],
    ] {
        let out = run(home, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
    // Within range but too long for a journey: a clear error, not a panic.
    let out = run(
        home,
        &[
            "--demo",
            "recommend",
            "journey",
            "sad",
            "--to",
            "Q1",
            "--limit",
            "1000",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("2 to 200"), "{}", text(&out));
}

#[test]
fn configs_and_themes_must_be_small_regular_files() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let fifo = home.join("fifo.toml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let big = home.join("big.toml");
    std::fs::write(&big, format!("# {}\n", "x".repeat(2 << 20))).unwrap();
    for (args, expect) in [
        (
            vec!["--config", "/dev/zero", "config", "check"],
            "not a regular file",
        ),
        (
            vec!["--config", fifo.to_str().unwrap(), "config", "check"],
            "FIFO",
        ),
        (
            vec!["--config", big.to_str().unwrap(), "config", "check"],
            "larger than",
        ),
        (
            vec!["--theme", "/dev/zero", "config", "check"],
            "not a regular file",
        ),
        (
            vec!["--theme", fifo.to_str().unwrap(), "config", "check"],
            "FIFO",
        ),
    ] {
        let out = run(home, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(expect), "{args:?}: {}", text(&out));
    }
}

#[test]
fn scans_stay_inside_their_folders_and_never_read_linked_sidecars() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let music = home.join("music");
    let outside = home.join("outside");
    std::fs::create_dir_all(&music).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let tags = Tags {
        artist: "Ann",
        title: "Inside",
        album: "",
        lyrics: None,
    };
    write_audio(&music.join("inside.wav"), &tags, 1);
    // A sidecar that is a link to the process's environment.
    std::os::unix::fs::symlink("/proc/self/environ", music.join("inside.txt")).unwrap();
    let far = Tags {
        title: "Outside",
        ..tags
    };
    write_audio(&outside.join("outside.wav"), &far, 1);
    std::os::unix::fs::symlink(&outside, music.join("elsewhere")).unwrap();
    std::os::unix::fs::symlink("/usr", music.join("usr")).unwrap();

    let out = moodtape(home)
        .env("MOODTAPE_TEST_SECRET", "hunter2-secret")
        .args(["scan", music.to_str().unwrap()])
        .output()
        .unwrap();
    assert_clean("scan", &out);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("links not followed"), "{}", text(&out));
    let list = text(&run(home, &["library", "list"]));
    assert!(list.contains("Inside"), "{list}");
    assert!(!list.contains("Outside"), "{list}");
    let shown = text(&run(home, &["--offline", "lyrics", "show", "Inside"]));
    assert!(!shown.contains("hunter2"), "{shown}");

    // Following links is a choice the config makes.
    std::fs::write(home.join("follow.toml"), "[scan]\nfollow_symlinks = true\n").unwrap();
    std::fs::remove_file(music.join("usr")).unwrap();
    let out = run(
        home,
        &["--config", "follow.toml", "scan", music.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let list = text(&run(home, &["library", "list"]));
    assert!(list.contains("Outside"), "{list}");
}

#[test]
fn a_huge_search_query_is_answered_not_ground_through() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let query = "a".repeat(100_000);
    let out = run(home, &["--demo", "library", "search", &query, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["songs"].as_array().unwrap().is_empty());
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = common::moodtape_std(home.path());
    cmd.args(["--demo", "library", "list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    // Close the reading end at once, as `| head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_clean("library list | closed", &out);
}
