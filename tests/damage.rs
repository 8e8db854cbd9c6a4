//! Nothing lost: damage to the database is found and never made worse, salvage and the rolling backups bring
//! every record back, and a restore killed at any point leaves the old library or the new one, whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

const SONGS: usize = 50;

/// A home with a database of `SONGS` imported songs, each with lyrics, and its rolling backup.
fn library(home: &Path) -> PathBuf {
    let csv = home.join("songs.csv");
    let mut text = String::from("artist,title,album,lyrics\n");
    for i in 0..SONGS {
        text.push_str(&format!(
            "Artist {i},Song {i},Album {},words of song {i}\n",
            i % 7
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let out = common::moodtape(home)
        .arg("import")
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = common::moodtape(home)
        .args(["db", "path"])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Every file of the database folder with its bytes.
fn snapshot(db: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(db).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            out.push((e.path().to_path_buf(), std::fs::read(e.path()).unwrap()));
        }
    }
    out
}

fn run(home: &Path, args: &[&str]) -> (i32, String) {
    let out = common::moodtape(home).args(args).output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains("panicked") && !all.contains("backtrace"),
        "{all}"
    );
    (out.status.code().unwrap_or(-1), all)
}

fn stats(home: &Path) -> (u64, u64) {
    let out = common::moodtape(home)
        .args(["library", "stats", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = common::json_out(&out);
    (
        v["songs"].as_u64().unwrap(),
        v["with_lyrics"].as_u64().unwrap(),
    )
}

enum Damage {
    Overwrite(f64),
    FlipBit(f64),
    Truncate(f64),
}

fn damage(file: &Path, how: &Damage) {
    let mut bytes = std::fs::read(file).unwrap();
    let at = |f: f64, len: usize| ((len as f64 * f) as usize).min(len.saturating_sub(1));
    match *how {
        Damage::Overwrite(f) => {
            let start = at(f, bytes.len()).min(bytes.len().saturating_sub(4096));
            let end = (start + 4096).min(bytes.len());
            bytes[start..end].fill(0xA5);
        }
        Damage::FlipBit(f) => {
            let i = at(f, bytes.len());
            bytes[i] ^= 0x08;
        }
        Damage::Truncate(f) => bytes.truncate(at(f, bytes.len())),
    }
    std::fs::write(file, bytes).unwrap();
}

#[test]
fn damage_is_reported_never_made_worse_and_undone() {
    let cases = [
        ("overwrite start", Damage::Overwrite(0.0)),
        ("overwrite middle", Damage::Overwrite(0.5)),
        ("overwrite end", Damage::Overwrite(1.0)),
        ("flip a bit near the start", Damage::FlipBit(0.01)),
        ("flip a bit at a third", Damage::FlipBit(0.33)),
        ("flip a bit in the middle", Damage::FlipBit(0.5)),
        ("flip a bit near the end", Damage::FlipBit(0.97)),
        ("truncate to half", Damage::Truncate(0.5)),
        ("truncate to a tenth", Damage::Truncate(0.1)),
    ];
    let mut detected = 0;
    for (name, how) in &cases {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        let db = library(home);
        damage(&db.join("db"), how);
        let before = snapshot(&db);

        let (code, out) = run(home, &["db", "check"]);
        if code == 0 {
            // sled read everything back: then every committed record must be there.
            let json = common::moodtape(home)
                .args(["db", "check", "--json"])
                .output()
                .unwrap();
            let report = common::json_out(&json);
            for tree in report["trees"].as_array().unwrap() {
                let want = match tree["tree"].as_str().unwrap() {
                    "songs.v1" | "lyrics.v1" => SONGS as u64,
                    _ => 0,
                };
                assert_eq!(
                    tree["records"].as_u64(),
                    Some(want),
                    "{name}: ok with {tree}"
                );
            }
            assert!(!out.contains("damaged"), "{name}: {out}");
        } else {
            detected += 1;
            assert_eq!(code, 1, "{name}: {out}");
            assert!(out.contains("damaged"), "{name}: {out}");
            assert!(out.contains("db restore --latest"), "{name}: {out}");
            assert!(out.contains("db salvage"), "{name}: {out}");
            assert!(
                !out.contains("backtrace ()"),
                "{name}: internal noise: {out}"
            );
        }
        assert!(
            snapshot(&db) == before,
            "{name}: db check changed the database"
        );

        // Ordinary commands refuse a damaged database and leave it as it is.
        let (code, out) = run(home, &["library", "stats"]);
        if code != 0 {
            assert!(out.contains("db restore --latest"), "{name}: {out}");
        }
        if code != 0 || snapshot(&db) != before {
            assert!(
                snapshot(&db) == before,
                "{name}: library stats changed a damaged database"
            );
        }

        let (code, out) = run(
            home,
            &["db", "export", home.join("x.jsonl").to_str().unwrap()],
        );
        if code != 0 {
            assert!(
                snapshot(&db) == before,
                "{name}: db export changed the database: {out}"
            );
        }

        let salvaged = home.join("salvaged.jsonl");
        let (code, out) = run(home, &["db", "salvage", salvaged.to_str().unwrap()]);
        if code == 0 {
            assert!(salvaged.exists(), "{name}: {out}");
        } else {
            assert!(out.contains("db restore --latest"), "{name}: {out}");
        }
        assert!(
            snapshot(&db) == before,
            "{name}: db salvage changed the database"
        );

        let (code, out) = run(home, &["db", "restore", "--latest"]);
        assert_eq!(code, 0, "{name}: {out}");
        assert_eq!(stats(home), (SONGS as u64, SONGS as u64), "{name}");
        let (code, out) = run(home, &["db", "check"]);
        assert_eq!(code, 0, "{name}: {out}");
        assert!(out.trim_end().ends_with("ok"), "{name}: {out}");
        // What salvage saved goes back on top.
        if salvaged.exists() {
            let (code, out) = run(home, &["db", "import", salvaged.to_str().unwrap()]);
            assert_eq!(code, 0, "{name}: {out}");
            assert_eq!(stats(home), (SONGS as u64, SONGS as u64), "{name}");
        }
    }
    eprintln!("{detected} of {} damages were detected", cases.len());
    assert!(
        detected >= 3,
        "only {detected} of {} damages were detected",
        cases.len()
    );
}

/// A backup file of `n` songs named "New i", each with lyrics, in `db export`'s format.
fn big_backup(path: &Path, n: usize) {
    use moodtape::records::{Location, LyricsOrigin, LyricsRecord, Song};
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        out,
        "{{\"moodtape_backup\":1,\"schema_version\":{}}}",
        moodtape::store::SCHEMA_VERSION
    )
    .unwrap();
    let mut lyrics = Vec::new();
    for i in 0..n {
        let mut song = Song::new(
            &format!("New {i}"),
            &format!("Track {i}"),
            "",
            Location::None,
        );
        song.lyrics_origin = Some(LyricsOrigin::Import);
        let record = LyricsRecord::new(
            &format!("new words {i} {}", "la ".repeat(40)),
            LyricsOrigin::Import,
        );
        writeln!(
            out,
            "{}",
            serde_json::json!({"tree": "songs.v1", "key": song.id.as_str(), "value": song})
        )
        .unwrap();
        lyrics.push((song.id.clone(), record));
    }
    for (id, record) in lyrics {
        writeln!(
            out,
            "{}",
            serde_json::json!({"tree": "lyrics.v1", "key": id.as_str(), "value": record})
        )
        .unwrap();
    }
}

#[cfg(unix)]
#[test]
fn a_restore_killed_at_any_point_leaves_one_whole_library() {
    let template = tempfile::tempdir().unwrap();
    let db = library(template.path());
    let big = template.path().join("big.jsonl");
    let new_songs = 20_000;
    big_backup(&big, new_songs);

    let fresh_home = |dir: &Path| {
        // The old library, as it was written.
        let target = dir.join("data/moodtape/library.db");
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        for e in walkdir::WalkDir::new(&db) {
            let e = e.unwrap();
            let to = target.join(e.path().strip_prefix(&db).unwrap());
            if e.file_type().is_dir() {
                std::fs::create_dir_all(&to).unwrap();
            } else {
                std::fs::copy(e.path(), &to).unwrap();
            }
        }
    };

    for args in [vec!["db", "restore"], vec!["db", "import", "--replace"]] {
        // How long a whole restore takes here, to spread the kills over it.
        let dir = tempfile::tempdir().unwrap();
        fresh_home(dir.path());
        let start = Instant::now();
        let (code, out) = run(dir.path(), &[&args[..], &[big.to_str().unwrap()]].concat());
        assert_eq!(code, 0, "{out}");
        let whole = start.elapsed();
        assert_eq!(stats(dir.path()), (new_songs as u64, new_songs as u64));

        let mut outcomes = (0, 0);
        for fraction in [0.05, 0.2, 0.4, 0.6, 0.8, 0.9, 0.97, 1.02] {
            let dir = tempfile::tempdir().unwrap();
            fresh_home(dir.path());
            let mut child = common::moodtape_std(dir.path())
                .args(&args)
                .arg(&big)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(whole.mul_f64(fraction));
            let _ = child.kill();
            let _ = child.wait();
            let found = stats(dir.path());
            if found == (SONGS as u64, SONGS as u64) {
                outcomes.0 += 1;
            } else {
                assert_eq!(
                    found,
                    (new_songs as u64, new_songs as u64),
                    "{args:?} killed at {fraction} of {whole:?}: neither the old library nor the new one"
                );
                outcomes.1 += 1;
            }
            let (code, out) = run(dir.path(), &["db", "check"]);
            assert_eq!(code, 0, "{args:?} killed at {fraction}: {out}");
        }
        eprintln!(
            "{args:?}: old library {} times, new {} times",
            outcomes.0, outcomes.1
        );
        assert!(
            outcomes.0 > 0,
            "{args:?}: no kill landed before the swap: {outcomes:?}"
        );
    }
}
