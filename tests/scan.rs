//! Scanning real audio files with real tags: sidecars, embedded lyrics, corrupt files, odd names, rescans.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{retag, write_audio, Tags};
use moodtape::library::scan::{scan, ScanOptions};
use moodtape::records::LyricsOrigin;
use moodtape::store::Store;

fn tags<'a>(artist: &'a str, title: &'a str, lyrics: Option<&'a str>) -> Tags<'a> {
    Tags {
        artist,
        title,
        album: "Test Album",
        lyrics,
    }
}

#[test]
fn scan_reads_tags_sidecars_and_survives_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(music.join("sub")).unwrap();
    write_audio(
        &music.join("one.mp3"),
        &tags("Ada Vale", "Morning Light", Some("sun is up\nwe dance")),
        3,
    );
    write_audio(
        &music.join("two.flac"),
        &tags("Brook Lane", "Slow River", Some("quiet water\nrest now")),
        4,
    );
    write_audio(
        &music.join("sub/three.wav"),
        &tags("Cato", "Paper Boats", None),
        2,
    );
    std::fs::write(
        music.join("sub/three.lrc"),
        "[ar:Cato]\n[00:01.00]fold the paper\n[00:02.50]let it float\n",
    )
    .unwrap();
    write_audio(&music.join("four.mp3"), &tags("Dara", "No Words", None), 2);
    std::fs::write(music.join("four.txt"), "plain sidecar words\nsecond line").unwrap();
    // A corrupt file with an audio extension, and a file that is not audio at all.
    std::fs::write(music.join("broken.mp3"), b"this is not an mp3 at all").unwrap();
    std::fs::write(music.join("notes.md"), "not music").unwrap();
    // Escape sequences in tags never reach the store.
    write_audio(
        &music.join("esc.wav"),
        &tags("Evil\x1b[31m Red", "Title\x07Bell", None),
        1,
    );
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9-latin1.wav");
        write_audio(&music.join(name), &tags("Latin One", "Caf\u{e9}", None), 1);
    }

    let store = Store::open(&dir.path().join("db")).unwrap();
    let summary = scan(
        &store,
        std::slice::from_ref(&music),
        ScanOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let expected = if cfg!(unix) { 6 } else { 5 };
    assert_eq!(summary.added, expected, "{summary:?}");
    assert_eq!(
        summary.problems.len(),
        1,
        "only the broken file is a problem: {summary:?}"
    );
    assert!(summary.problems[0].path.contains("broken.mp3"));
    assert_eq!(
        summary.with_lyrics,
        4,
        "{:?}",
        store
            .all_songs()
            .unwrap()
            .iter()
            .map(|s| (&s.title, s.lyrics_origin))
            .collect::<Vec<_>>()
    );

    let songs = store.all_songs().unwrap();
    let by_title = |t: &str| {
        songs
            .iter()
            .find(|s| s.title == t)
            .unwrap_or_else(|| panic!("{t} missing: {songs:?}"))
    };
    let one = by_title("Morning Light");
    assert_eq!(one.artist, "Ada Vale");
    assert_eq!(one.album, "Test Album");
    assert_eq!(one.lyrics_origin, Some(LyricsOrigin::Tags));
    assert!(one.duration_s.unwrap() > 2.0);
    assert_eq!(
        store.lyrics.get(one.id.as_str()).unwrap().unwrap().text,
        "sun is up\nwe dance"
    );
    let flac = by_title("Slow River");
    assert_eq!(flac.lyrics_origin, Some(LyricsOrigin::Tags));
    let three = by_title("Paper Boats");
    assert_eq!(three.lyrics_origin, Some(LyricsOrigin::Sidecar));
    let lrc = store.lyrics.get(three.id.as_str()).unwrap().unwrap();
    assert_eq!(lrc.text, "fold the paper\nlet it float");
    assert!(lrc.synced.is_some());
    assert_eq!(
        by_title("No Words").lyrics_origin,
        Some(LyricsOrigin::Sidecar)
    );
    let esc = songs.iter().find(|s| s.artist.starts_with("Evil")).unwrap();
    assert!(
        !esc.artist.contains('\x1b') && !esc.title.contains('\x07'),
        "{esc:?}"
    );

    // A second scan with nothing changed skips everything.
    let again = scan(
        &store,
        std::slice::from_ref(&music),
        ScanOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(again.added, 0);
    assert_eq!(again.updated, 0);
    assert_eq!(again.unchanged, expected);

    // Edit one file's tags, delete another: the rescan updates and removes.
    std::thread::sleep(std::time::Duration::from_millis(20));
    retag(
        &music.join("one.mp3"),
        &tags("Ada Vale", "Morning Light (Live)", Some("sun is up")),
    );
    std::fs::remove_file(music.join("two.flac")).unwrap();
    let third = scan(
        &store,
        std::slice::from_ref(&music),
        ScanOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(third.updated, 1, "{third:?}");
    assert_eq!(third.removed, 1, "{third:?}");
    let songs = store.all_songs().unwrap();
    assert!(songs.iter().any(|s| s.title == "Morning Light (Live)"));
    assert!(!songs.iter().any(|s| s.title == "Slow River"));
    assert_eq!(songs.len(), expected - 1);
}

#[test]
fn scan_cli_reports_summary_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    write_audio(
        &music.join("a.wav"),
        &tags("Ada Vale", "First", Some("la la")),
        1,
    );
    std::fs::write(music.join("b.flac"), b"garbage").unwrap();
    let out = common::moodtape(dir.path())
        .args(["scan", "--json"])
        .arg(&music)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = common::json_out(&out);
    assert_eq!(v["added"], 1);
    assert_eq!(v["problems"].as_array().unwrap().len(), 1);

    let out = common::moodtape(dir.path())
        .args(["library", "list", "--json"])
        .output()
        .unwrap();
    let v = common::json_out(&out);
    let songs = v["songs"].as_array().unwrap();
    assert_eq!(songs.len(), 1);
    assert_eq!(songs[0]["title"], "First");
    assert_eq!(songs[0]["has_lyrics"], true);
    assert!(songs[0]["location"].as_str().unwrap().ends_with("a.wav"));
}

#[test]
fn scanning_a_missing_folder_is_a_clear_problem() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let summary = scan(
        &store,
        &[dir.path().join("nope")],
        ScanOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(summary.added, 0);
    assert_eq!(summary.problems.len(), 1);
}

/// A rescan keeps the songs of a folder it cannot list (a permission, a network mount that went away) with
/// their lyrics, removes only songs whose files are really gone, and gives a song whose file comes back the
/// lyrics it had. Unreadable folders need a user the permissions bind: as root the scan runs as `nobody`.
#[cfg(unix)]
#[test]
fn a_rescan_keeps_what_it_could_not_read_and_lyrics_come_back_with_their_file() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    use moodtape::records::{LyricsRecord, SongId};

    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_path_buf();
    let music = home.join("music");
    let db = home.join("lib.db");
    for sub in ["locked", "gone"] {
        std::fs::create_dir_all(music.join(sub)).unwrap();
    }
    write_audio(&music.join("a.wav"), &tags("Ada", "Open", None), 1);
    write_audio(&music.join("locked/b.wav"), &tags("Bo", "Shut", None), 1);
    write_audio(
        &music.join("locked/c.wav"),
        &tags("Cy", "Shut Too", None),
        1,
    );
    write_audio(&music.join("gone/d.wav"), &tags("Di", "Away", None), 1);
    let d_bytes = std::fs::read(music.join("gone/d.wav")).unwrap();

    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let open_up = || {
        if root {
            for e in walkdir::WalkDir::new(&home).into_iter().flatten() {
                let mode = if e.file_type().is_dir() { 0o777 } else { 0o666 };
                let _ = std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(mode));
            }
        }
    };
    let scan_json = |locked: bool| {
        open_up();
        if locked {
            std::fs::set_permissions(music.join("locked"), std::fs::Permissions::from_mode(0o000))
                .unwrap();
        }
        let mut cmd = common::moodtape_std(&home);
        cmd.arg("--db")
            .arg(&db)
            .arg("scan")
            .arg(&music)
            .arg("--json");
        if root {
            cmd.uid(65534).gid(65534);
        }
        let out = cmd.output().unwrap();
        std::fs::set_permissions(music.join("locked"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        common::json_out(&out)
    };
    let id = |path: &str| {
        SongId::for_location(&moodtape::records::Location::File(
            std::fs::canonicalize(&music).unwrap().join(path),
        ))
        .unwrap()
    };

    let first = scan_json(false);
    assert_eq!(first["added"], 4, "{first}");
    {
        let store = Store::open(&db).unwrap();
        for path in ["locked/b.wav", "gone/d.wav"] {
            let song = store.song(&id(path)).unwrap().unwrap();
            let record =
                LyricsRecord::new(&format!("fetched words of {path}"), LyricsOrigin::Lrclib);
            store.set_lyrics(&song, &record).unwrap();
        }
    }

    // The locked folder cannot be listed, and d.wav is really gone.
    std::fs::remove_file(music.join("gone/d.wav")).unwrap();
    let second = scan_json(true);
    assert_eq!(second["removed"], 1, "{second}");
    let problems = second["problems"].to_string();
    assert!(
        problems.contains("2 songs under it not checked and kept"),
        "{second}"
    );
    assert!(
        problems.to_lowercase().contains("permission denied"),
        "{second}"
    );
    {
        let store = Store::open(&db).unwrap();
        assert_eq!(store.all_songs().unwrap().len(), 3);
        let b = store.song(&id("locked/b.wav")).unwrap().expect("b is kept");
        assert_eq!(b.lyrics_origin, Some(LyricsOrigin::Lrclib));
        assert_eq!(
            store.lyrics.get(b.id.as_str()).unwrap().unwrap().text,
            "fetched words of locked/b.wav"
        );
        assert!(store.song(&id("gone/d.wav")).unwrap().is_none());
    }

    // d.wav comes back: it gets the lyrics it had.
    std::fs::write(music.join("gone/d.wav"), d_bytes).unwrap();
    let third = scan_json(false);
    assert_eq!(third["added"], 1, "{third}");
    let store = Store::open(&db).unwrap();
    let d = store.song(&id("gone/d.wav")).unwrap().expect("d is back");
    assert_eq!(d.lyrics_origin, Some(LyricsOrigin::Lrclib));
    assert_eq!(
        store.lyrics.get(d.id.as_str()).unwrap().unwrap().text,
        "fetched words of gone/d.wav"
    );
    assert!(store.tombstones.is_empty());
    assert_eq!(store.all_songs().unwrap().len(), 4);
}
