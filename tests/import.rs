//! CSV/TSV/JSONL import, with bad rows reported by line number.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use moodtape::library::import::{import_file, ColumnMap, Format};
use moodtape::store::Store;

#[test]
fn csv_with_header_and_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("songs.csv");
    std::fs::write(
        &csv,
        "Artist,Title,Album,Duration,Lyrics,Path\n\
         Ada Vale,Morning Light,Dawn,3:25,\"sun is up\nwe dance\",/music/a.mp3\n\
         ,,Dawn,200,,\n\
         Brook Lane,Slow River,Bends,not-a-time,,\n\
         Cato,\"Paper Boats\",Folds,245.5,\"fold it\",mpd:cato/paper.flac\n\
         Dara,Esc\x1b[2Jape,Odd,1:00,\"bell\x07 here\",\n",
    )
    .unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let s = import_file(
        &store,
        &csv,
        Format::Csv,
        &ColumnMap::default(),
        true,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(s.rows, 5, "{s:?}");
    assert_eq!(s.imported, 3, "{s:?}");
    assert_eq!(s.failed.len(), 2, "{s:?}");
    // Line numbers are those of the file (the header is line 1; the first row spans lines 2-3).
    let lines: Vec<usize> = s.failed.iter().map(|f| f.line).collect();
    assert_eq!(lines, vec![4, 5], "{s:?}");
    assert!(
        s.failed[0].reason.contains("no artist and no title"),
        "{s:?}"
    );
    assert!(s.failed[1].reason.contains("duration"), "{s:?}");

    let songs = store.all_songs().unwrap();
    let ada = songs.iter().find(|s| s.artist == "Ada Vale").unwrap();
    assert_eq!(ada.duration_s, Some(205.0));
    assert_eq!(
        store.lyrics.get(ada.id.as_str()).unwrap().unwrap().text,
        "sun is up\nwe dance"
    );
    let dara = songs.iter().find(|s| s.artist == "Dara").unwrap();
    assert!(!dara.title.contains('\x1b'));
    assert!(!store
        .lyrics
        .get(dara.id.as_str())
        .unwrap()
        .unwrap()
        .text
        .contains('\x07'));

    // Importing again updates in place rather than duplicating.
    let again = import_file(
        &store,
        &csv,
        Format::Csv,
        &ColumnMap::default(),
        true,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(again.imported, 3);
    assert_eq!(store.all_songs().unwrap().len(), 3);
}

#[test]
fn jsonl_with_map_and_garbage_lines() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("songs.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"performer": "Ada Vale", "track_name": "One", "secs": 180, "words": "la la"}"#,
            "\n",
            "{not json}\n",
            "\n",
            r#"{"performer": "Brook", "track_name": "Two", "secs": "2:10"}"#,
            "\n",
            r#"[1, 2, 3]"#,
            "\n",
        ),
    )
    .unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let map =
        ColumnMap::parse("artist=performer,title=track_name,duration=secs,lyrics=words").unwrap();
    let s = import_file(&store, &file, Format::Jsonl, &map, true, &mut |_| {}).unwrap();
    assert_eq!(s.imported, 2, "{s:?}");
    let lines: Vec<usize> = s.failed.iter().map(|f| f.line).collect();
    assert_eq!(lines, vec![2, 5], "{s:?}");
    let songs = store.all_songs().unwrap();
    assert_eq!(
        songs.iter().find(|s| s.title == "Two").unwrap().duration_s,
        Some(130.0)
    );
    assert!(songs
        .iter()
        .find(|s| s.title == "One")
        .unwrap()
        .has_lyrics());
}

#[test]
fn headerless_csv_by_column_numbers_via_cli() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain.csv");
    std::fs::write(&file, "x,Ada Vale,Song A,200\nx,Brook,Song B,100\n").unwrap();
    let out = common::moodtape(dir.path())
        .args([
            "import",
            "--no-header",
            "--map",
            "artist=2,title=3,duration=4",
            "--json",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(common::json_out(&out)["imported"], 2);

    // A bad --map is a usage error with a clear message.
    let out = common::moodtape(dir.path())
        .args(["import", "--map", "colour=1"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field"));

    // A missing file names the file.
    let out = common::moodtape(dir.path())
        .args(["import", "nope.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.csv"));
}

/// Names that a transliteration folds together (是 and 事 are both "shi") are different songs: both are imported
/// and neither replaces the other; a true duplicate still updates.
#[test]
fn names_in_any_script_import_without_collisions() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("names.csv");
    let rows = [
        ("王菲", "是"),
        ("王菲", "事"),
        ("王菲", "试"),
        ("Кино", "Группа крови"),
        ("Кино", "Группа кровь"),
        ("فيروز", "نسم علينا الهوى"),
        ("فيروز", "نسّم علينا الهوى"),
        ("🎸 Band", "🔥"),
        ("🎸 Band", "💧"),
        ("Café", "Olé"),
        ("Cafe", "Ole"),
    ];
    let mut text = String::from("artist,title\n");
    for (a, t) in rows {
        text.push_str(&format!("{a},{t}\n"));
    }
    // A true duplicate (the same names, another case) updates the song instead of adding one.
    text.push_str("王菲,是\nCAFÉ,OLÉ\n");
    std::fs::write(&csv, text).unwrap();
    let out = common::moodtape(dir.path())
        .args(["import", "--json"])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = common::moodtape(dir.path())
        .args(["library", "list", "--json"])
        .output()
        .unwrap();
    let list = common::json_out(&out);
    let songs = list["songs"].as_array().unwrap();
    assert_eq!(songs.len(), rows.len(), "{list}");
    for (a, t) in rows {
        assert!(
            songs.iter().any(
                |s| s["title"].as_str().unwrap().to_lowercase() == t.to_lowercase()
                    && s["artist"].as_str().unwrap().to_lowercase() == a.to_lowercase()
            ),
            "{a} - {t} is missing: {list}"
        );
    }
}
