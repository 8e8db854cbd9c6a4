//! The sled store: reopen, schema version, a lock held by another process, damage, backup round trip, and a
//! crash in the middle of a large import.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use moodtape::records::LyricsRecord;
use moodtape::records::{Location, LyricsOrigin, Song};
use moodtape::store::{
    export_jsonl, import_jsonl, ImportMode, Manifest, Store, Verify, SCHEMA_VERSION,
};

fn sample(n: usize) -> Vec<(Song, Option<LyricsRecord>)> {
    (0..n)
        .map(|i| {
            let mut song = Song::new(
                &format!("Artist {i}"),
                &format!("Song {i}"),
                "Album",
                Location::None,
            );
            song.duration_s = Some(100.0 + i as f64);
            let lyrics = (i % 2 == 0)
                .then(|| LyricsRecord::new(&format!("words of song {i}"), LyricsOrigin::Import));
            song.lyrics_origin = lyrics.as_ref().map(|_| LyricsOrigin::Import);
            (song, lyrics)
        })
        .collect()
}

#[test]
fn reopen_keeps_everything_and_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lib.db");
    {
        let store = Store::open(&path).unwrap();
        store.put_songs(&sample(10)).unwrap();
        store.flush().unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), Some(SCHEMA_VERSION));
    let songs = store.all_songs().unwrap();
    assert_eq!(songs.len(), 10);
    assert_eq!(store.lyrics.len(), 5);
    let s4 = songs.iter().find(|s| s.title == "Song 4").unwrap();
    assert_eq!(
        store.lyrics.get(s4.id.as_str()).unwrap().unwrap().text,
        "words of song 4"
    );
}

#[test]
fn a_newer_schema_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lib.db");
    {
        let store = Store::open(&path).unwrap();
        store
            .meta
            .insert("schema_version", b"999".to_vec())
            .unwrap();
        store.flush().unwrap();
    }
    let err = Store::open(&path).err().unwrap().to_string();
    assert!(err.contains("newer moodtape"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
}

#[test]
fn second_process_gets_a_clear_lock_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lib.db");
    let _held = Store::open(&path).unwrap();
    let out = common::moodtape(dir.path())
        .arg("--db")
        .arg(&path)
        .args(["library", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another moodtape"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

#[test]
fn a_damaged_database_gets_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lib.db");
    {
        let store = Store::open(&path).unwrap();
        store.put_songs(&sample(50)).unwrap();
        store.flush().unwrap();
    }
    // Overwrite the middle of every data file with garbage.
    for entry in walk(&path) {
        let mut bytes = std::fs::read(&entry).unwrap();
        if bytes.len() > 64 {
            let mid = bytes.len() / 2;
            let end = (mid + 4096).min(bytes.len());
            for b in &mut bytes[mid..end] {
                *b = 0xA5;
            }
            std::fs::write(&entry, bytes).unwrap();
        }
    }
    let out = common::moodtape(dir.path())
        .arg("--db")
        .arg(&path)
        .args(["db", "check"])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("panicked"), "{all}");
    assert!(all.contains(&path.display().to_string()), "{all}");
    // sled may recover silently to an intact prefix of its log; the manifest shows what was lost.
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("damaged"), "{all}");
    assert!(all.contains("db restore --latest"), "{all}");
}

#[test]
fn a_database_of_schema_1_migrates_its_ids_with_lyrics_feedback_and_analyses() {
    use moodtape::records::{Feedback, SongId};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    // Written the way schema 1 did: name-only ids from a transliteration (王菲 - 是 and 王菲 - 事 were one song).
    let names = [("王菲", "是"), ("Кино", "Звезда"), ("Adele", "Hello")];
    let mut old_ids = Vec::new();
    {
        let store = Store::open(&path).unwrap();
        for (artist, title) in names {
            let mut song = Song::new(artist, title, "", Location::None);
            song.id = SongId::legacy_for_names(artist, title, "");
            song.lyrics_origin = Some(LyricsOrigin::Import);
            let lyrics = LyricsRecord::new(&format!("words of {title}"), LyricsOrigin::Import);
            store.put_songs(&[(song.clone(), Some(lyrics))]).unwrap();
            store
                .feedback
                .insert(
                    &format!("{}/Q1", song.id),
                    &Feedback {
                        song_id: song.id.clone(),
                        liked: true,
                        valence: 0.5,
                        arousal: 0.5,
                        mood_text: String::new(),
                        at: 1,
                    },
                )
                .unwrap();
            old_ids.push(song.id);
        }
        // An analysis is keyed by model and lyrics, not by the song.
        store
            .moods
            .raw()
            .insert("model/lyricshash", b"{}".to_vec())
            .unwrap();
        store.meta.insert("schema_version", b"1".to_vec()).unwrap();
        store.flush().unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), Some(SCHEMA_VERSION));
    let songs = store.all_songs().unwrap();
    assert_eq!(songs.len(), 3);
    for (artist, title) in names {
        let id = SongId::for_names(artist, title, "");
        assert!(!old_ids.contains(&id) || artist == "Adele", "{artist}");
        let song = store.song(&id).unwrap().expect("the song under its new id");
        assert_eq!(song.title, title);
        assert_eq!(
            store.lyrics.get(id.as_str()).unwrap().unwrap().text,
            format!("words of {title}")
        );
        let fb = store.feedback.get(&format!("{id}/Q1")).unwrap().unwrap();
        assert_eq!(fb.song_id, id);
    }
    assert_eq!(store.feedback.len(), 3);
    assert_eq!(store.lyrics.len(), 3);
    assert_eq!(store.moods.raw().len(), 1);
    for old in &old_ids {
        assert!(
            store.song(old).unwrap().is_none() || old == &SongId::for_names("Adele", "Hello", "")
        );
    }
    drop(store);
    // The migrated database checks clean, and a song 事 now lands beside 是 instead of on it.
    let store = Store::open(&path).unwrap();
    let report = moodtape::store::check(&store);
    assert!(
        report.problems.is_empty() && report.damage.is_empty(),
        "{report:?}"
    );
    for tree in report.trees.iter().filter(|t| t.tree != "moods.v1") {
        assert!(tree.unreadable.is_empty(), "{report:?}");
    }
    store
        .put_songs(&[(Song::new("王菲", "事", "", Location::None), None)])
        .unwrap();
    assert_eq!(store.all_songs().unwrap().len(), 4);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.file_name().is_some_and(|n| n != "conf") {
            out.push(p);
        }
    }
    out
}

#[test]
fn export_then_import_round_trip_is_equal() {
    let dir = tempfile::tempdir().unwrap();
    let a = Store::open(&dir.path().join("a.db")).unwrap();
    a.put_songs(&sample(30)).unwrap();
    let mut first = Vec::new();
    let n = export_jsonl(&a, &mut first).unwrap();
    assert_eq!(n, 45);

    let b = Store::open(&dir.path().join("b.db")).unwrap();
    b.put_songs(&sample(3)[..1]).unwrap();
    import_jsonl(&b, &mut first.as_slice(), ImportMode::Replace).unwrap();
    let mut second = Vec::new();
    export_jsonl(&b, &mut second).unwrap();
    assert_eq!(
        String::from_utf8(first).unwrap(),
        String::from_utf8(second).unwrap()
    );
    assert_eq!(a.all_songs().unwrap(), b.all_songs().unwrap());
}

#[test]
fn export_import_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.jsonl");
    let db = dir.path().join("x.db");
    let out = common::moodtape(dir.path())
        .arg("--demo")
        .arg("db")
        .arg("export")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = common::moodtape(dir.path())
        .arg("--db")
        .arg(&db)
        .arg("db")
        .arg("import")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = dir.path().join("again.jsonl");
    common::moodtape(dir.path())
        .arg("--db")
        .arg(&db)
        .arg("db")
        .arg("export")
        .arg(&again)
        .assert()
        .success();
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        std::fs::read(&again).unwrap()
    );

    // A truncated or foreign file is refused with a message, and the database is untouched.
    std::fs::write(dir.path().join("bad.jsonl"), "{\"hello\": 1}\nnot json\n").unwrap();
    let out = common::moodtape(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["db", "import"])
        .arg(dir.path().join("bad.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    common::moodtape(dir.path())
        .arg("--db")
        .arg(&db)
        .arg("db")
        .arg("export")
        .arg(&again)
        .assert()
        .success();
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[cfg(unix)]
#[test]
fn sigkill_in_the_middle_of_a_large_import_loses_nothing_committed() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("big.csv");
    let rows = 60_000;
    let mut text = String::from("artist,title,album,duration,lyrics\n");
    for i in 0..rows {
        text.push_str(&format!(
            "Artist {i},Song {i},Album {},{} ,words of song {i}\n",
            i % 97,
            120 + i % 200
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let db = dir.path().join("crash.db");
    let mut child = common::moodtape_std(dir.path())
        .arg("--db")
        .arg(&db)
        .arg("import")
        .arg(&csv)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the importer reports committed batches, then kill it without warning.
    let mut committed = 0usize;
    let stderr = child.stderr.take().unwrap();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if let Some((n, _)) = line.split_once(" songs stored") {
            committed = n.trim().parse().unwrap();
            if committed >= 2_000 {
                break;
            }
        }
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the import finished before it was killed; make the file bigger"
    );
    assert!(committed >= 2_000, "no progress was reported");

    let store = Store::open(&db).unwrap();
    let songs = store.all_songs().unwrap();
    assert!(
        songs.len() >= committed,
        "{} songs after the kill, {committed} were committed",
        songs.len()
    );
    assert!(songs.len() < rows);
    for song in &songs {
        let i: usize = song.title.strip_prefix("Song ").unwrap().parse().unwrap();
        assert_eq!(song.artist, format!("Artist {i}"));
        let lyrics = store
            .lyrics
            .get(song.id.as_str())
            .unwrap()
            .expect("a committed song has its lyrics");
        assert_eq!(lyrics.text, format!("words of song {i}"));
    }
    let report = moodtape::store::check(&store);
    assert!(report.is_healthy(), "{report:?}");
}

/// Opens `path` with the check against the manifest in the background and waits for its verdict.
fn open_checked_later(path: &std::path::Path) -> (Store, Vec<String>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let store = Store::open_checked(
        path,
        Verify::Background(Box::new(move |short| {
            let _ = tx.send(short);
        })),
    )
    .unwrap();
    store.start_verification();
    let short = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the background check reports");
    (store, short)
}

#[test]
fn an_intact_database_checked_in_the_background_opens_whole_and_stays_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lib.db");
    {
        let store = Store::open(&path).unwrap();
        store.put_songs(&sample(40)).unwrap();
    }
    let (store, short) = open_checked_later(&path);
    assert!(short.is_empty(), "{short:?}");
    assert_eq!(store.all_songs().unwrap().len(), 40);
    store.put_songs(&sample(60)).unwrap();
    drop(store);
    // The manifest written on close counts what is there, so the full check at the next open passes.
    let store = Store::open(&path).unwrap();
    assert_eq!(store.all_songs().unwrap().len(), 60);
}

#[test]
fn records_missing_behind_an_unchanged_fingerprint_are_found_in_the_background_and_the_manifest_kept(
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lib.db");
    {
        let store = Store::open(&path).unwrap();
        store.put_songs(&sample(10)).unwrap();
    }
    // The manifest promises more songs than sled holds, while sled's files are exactly as they were left: damage
    // that a size and mtime cannot show.
    let mut manifest = Manifest::read(&path).unwrap().unwrap();
    manifest.counts.insert("songs.v1".into(), 50);
    manifest.write(&path).unwrap();

    let (store, short) = open_checked_later(&path);
    assert_eq!(short.len(), 1, "{short:?}");
    assert!(
        short[0].contains("50") && short[0].contains("10"),
        "{short:?}"
    );
    store.put_songs(&sample(12)).unwrap();
    store.flush().unwrap();
    drop(store);
    // The evidence stays: the manifest still says what the database held.
    let kept = Manifest::read(&path).unwrap().unwrap();
    assert_eq!(kept.counts.get("songs.v1"), Some(&50));
    // A full check at open refuses it, as before.
    assert!(matches!(
        Store::open(&path),
        Err(moodtape::store::StoreError::Damaged { .. })
    ));
}
