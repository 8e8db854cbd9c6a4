//! moodtape against a real `mpd` started by the test: `scan --mpd` imports MPD's library (tags, durations, lyrics
//! from the files' tags), `play --mpd` queues songs (replace and append) and starts playback, and the queue is
//! read back over MPD's protocol. Also the errors: MPD down, a song MPD does not have, a wrong password.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod mpd_support;

use std::path::Path;

use common::{json_out, moodtape, write_audio, Tags};
use mpd_support::{free_port, require_mpd, Mpd};

struct Track {
    path: &'static str,
    artist: &'static str,
    title: &'static str,
    lyrics: &'static str,
    seconds: u32,
}

const TRACKS: [Track; 4] = [
    Track {
        path: "Artist One/Morning/01 First Light.flac",
        artist: "Artist One",
        title: "First Light",
        lyrics: "the sun is up and we are dancing\nall the windows open wide",
        seconds: 7,
    },
    Track {
        path: "Artist Two/Rain Again.flac",
        artist: "Artist Two",
        title: "Rain Again",
        lyrics: "tears on the glass again\nyou left and the rooms are empty",
        seconds: 5,
    },
    Track {
        path: "Café Noir/Say \"Hello\".flac",
        artist: "Café Noir",
        title: "Say \"Hello\"",
        lyrics: "say hello to the quiet night\nwarm tea and a slow heart",
        seconds: 9,
    },
    Track {
        path: "Artist Four/Storm.mp3",
        artist: "Artist Four",
        title: "Storm",
        lyrics: "shout it out break the walls\nI am burning with rage",
        // Long and really decodable (silent MPEG frames), so MPD is still playing it when the test looks.
        seconds: 30,
    },
];

fn write_music(music: &Path) {
    for t in &TRACKS {
        let path = music.join(t.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_audio(
            &path,
            &Tags {
                artist: t.artist,
                title: t.title,
                album: "Test Album",
                lyrics: Some(t.lyrics),
            },
            t.seconds,
        );
    }
}

/// moodtape pointed at the test's MPD, offline.
fn mt(home: &Path, port: u16, host: &str) -> assert_cmd::Command {
    let mut cmd = moodtape(home);
    cmd.env("MPD_HOST", host)
        .env("MPD_PORT", port.to_string())
        .arg("--offline");
    cmd
}

#[test]
fn scan_imports_mpd_and_play_queues_songs() {
    let Some(bin) = require_mpd("scan_imports_mpd_and_play_queues_songs") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    write_music(&music);
    let mpd = Mpd::start(&bin, &music, &tmp.path().join("mpd"), None);
    mpd.update_and_wait(TRACKS.len());
    let home = tmp.path().join("home");

    // Import over TCP: every song, its tags and duration. MPD does not say where its files are over TCP, so
    // no lyrics yet.
    let out = mt(&home, mpd.port, "127.0.0.1")
        .args(["scan", "--mpd", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_out(&out);
    assert_eq!(report["songs"], 4, "{report}");
    assert_eq!(report["added"], 4, "{report}");
    assert_eq!(report["lyrics_found"], 0, "{report}");
    // Over the unix socket MPD names its music folder, and the lyrics in the files' tags come along.
    let socket = mpd.socket.to_str().unwrap().to_string();
    let out = mt(&home, mpd.port, &socket)
        .args(["scan", "--mpd", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json_out(&out);
    assert_eq!(report["added"], 0, "{report}");
    assert_eq!(report["updated"], 0, "{report}");
    assert_eq!(report["lyrics_found"], 4, "{report}");

    let out = mt(&home, mpd.port, "127.0.0.1")
        .args(["library", "list", "--json"])
        .output()
        .unwrap();
    let list = json_out(&out);
    let songs = list["songs"].as_array().unwrap();
    assert_eq!(songs.len(), 4);
    for t in &TRACKS {
        let s = songs
            .iter()
            .find(|s| s["title"] == t.title)
            .unwrap_or_else(|| panic!("{} missing from {list}", t.title));
        assert_eq!(s["artist"], t.artist);
        assert_eq!(s["location"], format!("mpd:{}", t.path));
        let d = s["duration_s"].as_f64().unwrap();
        assert!((d - f64::from(t.seconds)).abs() < 1.0, "{}: {d}", t.title);
    }
    assert!(songs.iter().all(|s| s["has_lyrics"] == true), "{list}");

    // Replace the queue with two songs, in the order given; playback starts.
    mt(&home, mpd.port, "127.0.0.1")
        .args([
            "play",
            "Artist Four - Storm",
            "Café Noir - Say \"Hello\"",
            "Artist One - First Light",
            "--mpd",
            "--replace",
        ])
        .assert()
        .success();
    assert_eq!(
        mpd.queue(),
        vec![TRACKS[3].path, TRACKS[2].path, TRACKS[0].path]
    );
    assert_eq!(mpd.state(), "play");

    // Append one more; what is playing goes on playing.
    mt(&home, mpd.port, "127.0.0.1")
        .args(["play", "Artist Two - Rain Again", "--mpd"])
        .assert()
        .success();
    assert_eq!(
        mpd.queue(),
        vec![
            TRACKS[3].path,
            TRACKS[2].path,
            TRACKS[0].path,
            TRACKS[1].path
        ]
    );
    let status = mpd.conn().command("status");
    assert_eq!(mpd_support::value(&status, "song").as_deref(), Some("0"));

    // A song MPD does not have (scanned from a folder MPD does not know) is a clear error, and the queue stays.
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    write_audio(
        &elsewhere.join("x.flac"),
        &Tags {
            artist: "Nobody Known",
            title: "Lost Song",
            album: "",
            lyrics: None,
        },
        3,
    );
    mt(&home, mpd.port, "127.0.0.1")
        .args(["scan"])
        .arg(&elsewhere)
        .assert()
        .success();
    let out = mt(&home, mpd.port, "127.0.0.1")
        .args(["play", "Nobody Known - Lost Song", "--mpd", "--replace"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not in MPD's database") && err.contains("Nobody Known - Lost Song"),
        "{err}"
    );
    assert_eq!(mpd.queue().len(), 4);

    // A rescan after a file is gone from MPD removes its song and keeps the rest.
    std::fs::remove_file(music.join(TRACKS[3].path)).unwrap();
    mpd.update_and_wait(3);
    let out = mt(&home, mpd.port, "127.0.0.1")
        .args(["scan", "--mpd", "--json"])
        .output()
        .unwrap();
    let report = json_out(&out);
    assert_eq!(report["removed"], 1, "{report}");
    assert_eq!(report["added"], 0, "{report}");
}

#[test]
fn mpd_down_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = mt(tmp.path(), port, "127.0.0.1")
        .args(["scan", "--mpd"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot reach MPD at 127.0.0.1:{port}: connection refused; is mpd running? set MPD_HOST/MPD_PORT or [mpd] in the config"
        )),
        "{err}"
    );
}

#[test]
fn a_password_is_sent_and_a_wrong_one_reported() {
    let Some(bin) = require_mpd("a_password_is_sent_and_a_wrong_one_reported") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    write_music(&music);
    let mpd = Mpd::start(&bin, &music, &tmp.path().join("mpd"), Some("s3cret"));
    mpd.update_and_wait(TRACKS.len());
    let home = tmp.path().join("home");
    // Reading needs no password here, so the import works either way.
    mt(&home, mpd.port, "127.0.0.1")
        .args(["scan", "--mpd"])
        .assert()
        .success();
    let out = mt(&home, mpd.port, "wrong@127.0.0.1")
        .args(["play", "Artist Two - Rain Again", "--mpd"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused the password"), "{err}");
    // Without one, adding is not allowed: MPD's own words come through.
    let out = mt(&home, mpd.port, "127.0.0.1")
        .args(["play", "Artist Two - Rain Again", "--mpd"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("MPD answered") && err.contains("permission"),
        "{err}"
    );
    // The right password in MPD_HOST, as mpc takes it.
    mt(&home, mpd.port, "s3cret@127.0.0.1")
        .args(["play", "Artist Two - Rain Again", "--mpd", "--replace"])
        .assert()
        .success();
    assert_eq!(mpd.queue(), vec![TRACKS[1].path]);
}

/// A missing mpd fails the test under CI (`CI=true`, as `.ci/run` sets) and is a visible skip elsewhere: the
/// test above is run again in a child process of this test binary, with mpd made missing.
#[test]
fn ci_turns_a_missing_mpd_into_a_failing_test() {
    let me = std::env::current_exe().unwrap();
    let run = |ci: Option<&str>| {
        let mut cmd = std::process::Command::new(&me);
        cmd.args(["scan_imports_mpd_and_play_queues_songs", "--exact"])
            .env("MOODTAPE_TEST_MPD", "/nonexistent/mpd");
        match ci {
            Some(v) => cmd.env("CI", v),
            None => cmd.env_remove("CI"),
        };
        cmd.output().unwrap()
    };
    let out = run(Some("true"));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("CI must not skip"), "{all}");
    assert!(all.contains("1 failed"), "{all}");

    let out = run(None);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("SKIPPED scan_imports_mpd_and_play_queues_songs"),
        "{all}"
    );
}
