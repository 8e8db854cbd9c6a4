//! Playlists handed to players: M3U8 files written and read back (relative paths that resolve to the real
//! files, durations, "Artist - Title", URIs untouched), and `moodtape play` with `--out` and with a
//! `player.command` template.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use common::{moodtape, write_audio, Tags};
use moodtape::player::{parse_m3u8, write_m3u8};
use moodtape::records::{Location, Song};

fn tagged(dir: &Path, rel: &str, artist: &str, title: &str, seconds: u32) -> std::path::PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    write_audio(
        &path,
        &Tags {
            artist,
            title,
            album: "A",
            lyrics: None,
        },
        seconds,
    );
    path
}

#[test]
fn m3u8_round_trips_with_relative_paths_and_uris() {
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    let a = tagged(&music, "Björk Ö/one, two.flac", "Björk Ö", "One, Two", 5);
    let b = tagged(&music, "B/b.wav", "B", "Bee", 3);
    let mut songs = vec![
        Song::new("Björk Ö", "One, Two", "", Location::File(a.clone())),
        Song::new("B", "Bee", "", Location::File(b.clone())),
        Song::new(
            "Radio",
            "Live",
            "",
            Location::Uri("https://radio.example/stream?x=1".into()),
        ),
        Song::new("M", "From MPD", "", Location::Mpd("M/from mpd.flac".into())),
        Song::new("Nowhere", "No File", "", Location::None),
    ];
    songs[0].duration_s = Some(4.6);
    songs[1].duration_s = Some(3.0);

    let playlist = music.join("lists/evening.m3u8");
    write_m3u8(&playlist, &songs).unwrap();
    let text = std::fs::read_to_string(&playlist).unwrap();
    assert!(text.starts_with("#EXTM3U\n"), "{text}");
    assert!(!text.contains(".part"));
    let entries = parse_m3u8(&text);
    assert_eq!(
        entries.len(),
        4,
        "songs without a location are left out: {text}"
    );

    assert_eq!(entries[0].title, "Björk Ö - One, Two");
    assert_eq!(entries[0].duration_s, Some(5));
    assert_eq!(entries[0].location, "../Björk Ö/one, two.flac");
    assert_eq!(entries[1].location, "../B/b.wav");
    for (e, file) in entries.iter().zip([&a, &b]) {
        let resolved = playlist.parent().unwrap().join(&e.location);
        assert_eq!(
            resolved.canonicalize().unwrap(),
            file.canonicalize().unwrap()
        );
    }
    assert_eq!(entries[2].location, "https://radio.example/stream?x=1");
    assert_eq!(entries[2].duration_s, None);
    assert!(text.contains("#EXTINF:-1,Radio - Live\n"));
    assert_eq!(entries[3].location, "M/from mpd.flac");

    // A playlist outside any shared folder keeps absolute paths.
    let elsewhere = tempfile::tempdir().unwrap();
    let far = elsewhere.path().join("far.m3u8");
    write_m3u8(&far, &songs[..1]).unwrap();
    let entries = parse_m3u8(&std::fs::read_to_string(&far).unwrap());
    let shown = Path::new(&entries[0].location);
    let resolved = far.parent().unwrap().join(shown);
    assert_eq!(resolved.canonicalize().unwrap(), a.canonicalize().unwrap());
}

#[test]
fn play_writes_a_playlist_and_runs_the_player_command() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let music = tmp.path().join("music");
    tagged(&music, "x/first.flac", "Xavier", "First Song", 4);
    tagged(&music, "y/second.mp3", "Yolanda", "Second Song", 6);
    moodtape(&home).arg("scan").arg(&music).assert().success();

    let mix = tmp.path().join("mix.m3u8");
    moodtape(&home)
        .args(["play", "Yolanda - Second Song", "Xavier - First", "--out"])
        .arg(&mix)
        .assert()
        .success();
    let entries = parse_m3u8(&std::fs::read_to_string(&mix).unwrap());
    let titles: Vec<&str> = entries.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(titles, ["Yolanda - Second Song", "Xavier - First Song"]);
    assert_eq!(entries[0].location, "music/y/second.mp3");

    // The player command gets a playlist of absolute paths in place of {m3u}.
    let copy = tmp.path().join("copied.m3u8");
    let config = tmp.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[player]\ncommand = \"cp {{m3u}} '{}'\"\n", copy.display()),
    )
    .unwrap();
    moodtape(&home)
        .arg("--config")
        .arg(&config)
        .args(["play", "Xavier - First Song"])
        .assert()
        .success();
    let entries = parse_m3u8(&std::fs::read_to_string(&copy).unwrap());
    assert_eq!(entries.len(), 1);
    assert_eq!(
        Path::new(&entries[0].location),
        music.join("x/first.flac").as_path()
    );

    // No command configured: a clear error.
    let out = moodtape(&home)
        .args(["play", "Xavier - First Song"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("player.command"));
    // A song that is not there.
    let out = moodtape(&home)
        .args(["play", "zzzz qqqq", "--out"])
        .arg(&mix)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no song matches"));
}
