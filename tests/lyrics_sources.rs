//! The local lyrics sources on real, generated audio files: sidecar `.lrc`/`.txt` files, lyrics in tags, the
//! cache, the chain's order, and `lyrics fetch --offline` picking up files added after a scan.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use common::{json_out, moodtape, write_audio, Tags};
use moodtape::lyrics::source::{CacheSource, Chain, Outcome, SidecarSource, TagSource};
use moodtape::lyrics::LyricsSource;
use moodtape::records::LyricsRecord;
use moodtape::records::{Location, LyricsOrigin, Song};
use moodtape::store::Store;

fn song_at(path: &Path) -> Song {
    Song::new(
        "Ada Vale",
        "Night Drive",
        "",
        Location::File(path.to_path_buf()),
    )
}

fn tags<'a>(lyrics: Option<&'a str>) -> Tags<'a> {
    Tags {
        artist: "Ada Vale",
        title: "Night Drive",
        album: "Roads",
        lyrics,
    }
}

static NO_CANCEL: AtomicBool = AtomicBool::new(false);

#[test]
fn tag_source_reads_plain_and_lrc_lyrics_from_every_format() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["wav", "mp3", "flac"] {
        let path = dir.path().join(format!("plain.{ext}"));
        write_audio(
            &path,
            &tags(Some("first line\n\u{1b}[31msecond\u{1b}[0m line")),
            1,
        );
        let record = TagSource
            .lookup(&song_at(&path), &NO_CANCEL)
            .unwrap()
            .unwrap();
        assert_eq!(record.origin, LyricsOrigin::Tags, "{ext}");
        assert_eq!(record.text, "first line\nsecond line", "{ext}");
        assert!(record.synced.is_none(), "{ext}");

        let path = dir.path().join(format!("synced.{ext}"));
        write_audio(
            &path,
            &tags(Some("[00:01.00]one\n[00:02.00][00:04.00]two")),
            1,
        );
        let record = TagSource
            .lookup(&song_at(&path), &NO_CANCEL)
            .unwrap()
            .unwrap();
        assert_eq!(record.text, "one\ntwo", "{ext}");
        assert!(record.synced.unwrap().contains("[00:04.00]"), "{ext}");

        let path = dir.path().join(format!("none.{ext}"));
        write_audio(&path, &tags(None), 1);
        assert!(TagSource
            .lookup(&song_at(&path), &NO_CANCEL)
            .unwrap()
            .is_none());
    }
    // A damaged file is an error of this source, not a panic.
    let bad = dir.path().join("bad.mp3");
    std::fs::write(&bad, b"ID3\x04\x00\x00\x7f\x7f\x7f\x7fgarbage").unwrap();
    assert!(TagSource.lookup(&song_at(&bad), &NO_CANCEL).is_err());
    // Songs without a file have no tags to read.
    let song = Song::new("A", "B", "", Location::Uri("http://x/y.mp3".into()));
    assert!(TagSource.lookup(&song, &NO_CANCEL).unwrap().is_none());
    assert!(SidecarSource.lookup(&song, &NO_CANCEL).unwrap().is_none());
}

#[test]
fn sidecar_source_prefers_lrc_and_reads_txt() {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("song.flac");
    write_audio(&audio, &tags(None), 1);
    assert!(SidecarSource
        .lookup(&song_at(&audio), &NO_CANCEL)
        .unwrap()
        .is_none());

    std::fs::write(dir.path().join("song.txt"), "plain words\r\nmore words\r\n").unwrap();
    let record = SidecarSource
        .lookup(&song_at(&audio), &NO_CANCEL)
        .unwrap()
        .unwrap();
    assert_eq!(record.origin, LyricsOrigin::Sidecar);
    assert_eq!(record.text, "plain words\nmore words");

    std::fs::write(
        dir.path().join("song.lrc"),
        "[ar:Ada Vale]\n[offset:+100]\n[00:01.00]timed words\n",
    )
    .unwrap();
    let record = SidecarSource
        .lookup(&song_at(&audio), &NO_CANCEL)
        .unwrap()
        .unwrap();
    assert_eq!(record.text, "timed words");
    assert!(record.synced.is_some());

    // A sidecar with nothing but tags has no words: not found here.
    std::fs::write(dir.path().join("song.lrc"), "[ar:Ada Vale]\n").unwrap();
    std::fs::remove_file(dir.path().join("song.txt")).unwrap();
    assert!(SidecarSource
        .lookup(&song_at(&audio), &NO_CANCEL)
        .unwrap()
        .is_none());
}

#[test]
fn the_chain_follows_the_configured_order() {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("both.mp3");
    write_audio(&audio, &tags(Some("from the tags")), 1);
    std::fs::write(dir.path().join("both.txt"), "from the sidecar").unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let song = song_at(&audio);
    store
        .set_lyrics(
            &song,
            &LyricsRecord::new("from the cache", LyricsOrigin::Import),
        )
        .unwrap();

    let text_of = |names: &[&str]| -> (String, &'static str) {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        match Chain::from_names(&names, &store, None).lookup(&song, true, &NO_CANCEL) {
            Outcome::Found { record, source } => (record.text, source),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        text_of(&["sidecar", "tags", "cache", "lrclib"]),
        ("from the sidecar".into(), "sidecar")
    );
    assert_eq!(
        text_of(&["tags", "sidecar"]),
        ("from the tags".into(), "tags")
    );
    assert_eq!(
        text_of(&["cache", "tags"]),
        ("from the cache".into(), "cache")
    );
    // Offline (no client), lrclib is simply not in the chain.
    let chain = Chain::from_names(&["lrclib".to_string()], &store, None);
    assert!(chain.names().is_empty());
    assert!(matches!(
        chain.lookup(&song, true, &NO_CANCEL),
        Outcome::NotFound {
            asked_online: false
        }
    ));
    // The cache source alone returns what is stored, instrumental records included.
    let other = Song::new("X", "Y", "", Location::None);
    store
        .set_lyrics(&other, &LyricsRecord::instrumental(LyricsOrigin::Lrclib))
        .unwrap();
    let record = CacheSource::new(store.clone())
        .lookup(&other, &NO_CANCEL)
        .unwrap()
        .unwrap();
    assert!(record.instrumental);
}

#[test]
fn offline_fetch_picks_up_sidecars_and_tags_added_after_the_scan() {
    let home = tempfile::tempdir().unwrap();
    let music = home.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    write_audio(&music.join("a.flac"), &tags(None), 1);
    write_audio(
        &music.join("b.mp3"),
        &Tags {
            title: "Second",
            ..tags(None)
        },
        1,
    );
    let db = home.path().join("library.db");
    let run = |args: &[&str]| {
        moodtape(home.path())
            .arg("--db")
            .arg(&db)
            .env("MOODTAPE_LRCLIB_URL", "http://127.0.0.1:9")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["scan", music.to_str().unwrap(), "--json"]);
    assert!(out.status.success());

    std::fs::write(music.join("a.lrc"), "[00:01.00]added later\n").unwrap();
    common::retag(
        &music.join("b.mp3"),
        &Tags {
            title: "Second",
            ..tags(Some("tag words"))
        },
    );
    let out = run(&["--offline", "lyrics", "fetch", "--missing", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_out(&out);
    assert_eq!(v["found"], 2, "{v}");
    assert_eq!(v["synced"], 1, "{v}");

    let out = run(&["library", "list", "--json"]);
    let songs = json_out(&out)["songs"].as_array().unwrap().clone();
    let source = |title: &str| {
        songs.iter().find(|s| s["title"] == title).unwrap()["lyrics_source"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(source("Night Drive"), "sidecar");
    assert_eq!(source("Second"), "tags");
    let out = run(&["lyrics", "show", "Ada Vale - Second"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "tag words");
}
