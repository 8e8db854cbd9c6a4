//! `moodtape lyrics fetch` and `lyrics show` against a real HTTP server on 127.0.0.1 that plays LRCLIB, and
//! misbehaves on purpose: 404s, 429 with Retry-After, 500s, slow answers, malformed JSON, huge bodies, escapes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod lyrics_support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use common::{json_out, moodtape};
use lyrics_support::{instrumental, lrclib, track, Reply, Server};

const NIGHT_LRC: &str = "[ar:Ada Vale]\n[ti:Night Drive]\n[00:01.00]Headlights on the wet road\n\
                         [00:05.50][01:10.00]We drive until the morning\n";
const NIGHT_PLAIN: &str =
    "Headlights on the wet road\nWe drive until the morning\nWe drive until the morning";

/// A test home with a database of imported songs and a fast, polite-enough config.
struct Env {
    home: tempfile::TempDir,
    db: PathBuf,
    config: PathBuf,
}

impl Env {
    /// `csv_rows` are `artist,title,album,duration` lines; `config` is extra `[lyrics]` keys.
    fn new(csv_rows: &[&str], config: &str) -> Env {
        let home = tempfile::tempdir().unwrap();
        let db = home.path().join("library.db");
        let config_path = home.path().join("config.toml");
        let mut text = String::from("[lyrics]\n");
        for line in config.lines().map(str::trim).filter(|l| !l.is_empty()) {
            text.push_str(line);
            text.push('\n');
        }
        // Fast by default; a test that sets a key itself keeps its value.
        for (key, value) in [("requests_per_second", "50.0"), ("retries", "3")] {
            if !config.contains(key) {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        std::fs::write(&config_path, text).unwrap();
        let csv = home.path().join("songs.csv");
        let mut body = String::from("artist,title,album,duration\n");
        for row in csv_rows {
            body.push_str(row);
            body.push('\n');
        }
        std::fs::write(&csv, body).unwrap();
        let env = Env {
            home,
            db,
            config: config_path,
        };
        let out = env
            .cmd(None)
            .args(["import", csv.to_str().unwrap(), "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        env
    }

    fn cmd(&self, server: Option<&Server>) -> assert_cmd::Command {
        let mut cmd = moodtape(self.home.path());
        cmd.arg("--db")
            .arg(&self.db)
            .arg("--config")
            .arg(&self.config)
            .env("MOODTAPE_LYRICS_BACKOFF_MS", "10");
        match server {
            Some(s) => cmd.env("MOODTAPE_LRCLIB_URL", &s.url),
            // Nothing listens here: a test that should not go online fails loudly if it tries.
            None => cmd.env("MOODTAPE_LRCLIB_URL", "http://127.0.0.1:9"),
        };
        cmd
    }

    /// Runs `lyrics fetch --json` plus `args`, and returns the summary.
    fn fetch(&self, server: &Server, args: &[&str]) -> Value {
        let out = self
            .cmd(Some(server))
            .args(["lyrics", "fetch", "--json"])
            .args(args)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_out(&out)
    }

    fn show(&self, query: &str, extra: &[&str]) -> std::process::Output {
        self.cmd(None)
            .args(["lyrics", "show", query])
            .args(extra)
            .output()
            .unwrap()
    }

    fn songs(&self) -> Vec<Value> {
        let out = self
            .cmd(None)
            .args(["library", "list", "--json"])
            .output()
            .unwrap();
        json_out(&out)["songs"].as_array().unwrap().clone()
    }

    fn song(&self, title: &str) -> Value {
        self.songs()
            .into_iter()
            .find(|s| s["title"] == title)
            .unwrap_or_else(|| panic!("no song {title}"))
    }

    fn path(&self) -> &Path {
        self.home.path()
    }
}

fn counts(v: &Value) -> [u64; 5] {
    ["found", "synced", "instrumental", "not_found", "failed"].map(|k| v[k].as_u64().unwrap())
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn exact_hit_remaster_noise_and_diacritics() {
    let server = Server::start(lrclib(vec![
        track(
            1,
            "Ada Vale",
            "Night Drive",
            "Roads",
            200.0,
            Some(NIGHT_PLAIN),
            Some(NIGHT_LRC),
        ),
        track(
            2,
            "Brook Lane",
            "Sunrise",
            "Old Songs",
            181.0,
            Some("The sun comes up again"),
            None,
        ),
        track(
            3,
            "Cafe Tacvba",
            "Eres",
            "Cuatro Caminos",
            240.0,
            Some("Eres lo que mas quiero"),
            None,
        ),
        track(
            4,
            "Somebody Else",
            "Sunrise",
            "Other",
            181.0,
            Some("wrong artist"),
            None,
        ),
    ]));
    let env = Env::new(
        &[
            "Ada Vale,Night Drive,Roads,200",
            "Brook Lane,Sunrise (Remastered 2011),Old Songs - Deluxe,180",
            "Café Tacvba feat. Someone,Éres,,241",
        ],
        "",
    );
    let summary = env.fetch(&server, &[]);
    assert_eq!(counts(&summary), [3, 1, 0, 0, 0], "{summary}");

    // The exact hit came from /api/get; the others needed a search on cleaned names.
    let reqs = server.requests();
    let first = reqs
        .iter()
        .find(|r| r.path == "/api/get" && r.q("track_name") == "Night Drive")
        .unwrap();
    assert_eq!(first.q("artist_name"), "Ada Vale");
    assert_eq!(first.q("album_name"), "Roads");
    assert_eq!(first.q("duration"), "200");
    let ua = &first.headers["user-agent"];
    assert!(
        ua.starts_with(&format!("moodtape/{}", env!("CARGO_PKG_VERSION"))),
        "{ua}"
    );
    assert!(ua.contains(env!("CARGO_PKG_HOMEPAGE")), "{ua}");
    assert!(reqs
        .iter()
        .any(|r| r.path == "/api/search" && r.q("track_name") == "Sunrise"));

    assert_eq!(env.song("Night Drive")["lyrics_source"], "lrclib");
    assert_eq!(env.song("Night Drive")["has_lyrics"], true);

    let out = env.show("Ada Vale - Night Drive", &[]);
    assert!(out.status.success());
    assert_eq!(stdout(&out).trim_end(), NIGHT_PLAIN);
    let out = env.show("ada night", &["--synced"]);
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>(),
        vec![
            "[00:01.00] Headlights on the wet road",
            "[00:05.50] We drive until the morning",
            "[01:10.00] We drive until the morning",
        ]
    );
    let out = env.show("Brook Lane - Sunrise", &[]);
    assert_eq!(stdout(&out).trim_end(), "The sun comes up again");
    let out = env.show("Tacvba Eres", &["--json"]);
    assert_eq!(json_out(&out)["text"], "Eres lo que mas quiero");
    // By id too.
    let id = env.song("Sunrise (Remastered 2011)")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = env.show(&id, &[]);
    assert_eq!(stdout(&out).trim_end(), "The sun comes up again");

    // A second run finds everything stored and asks the server nothing.
    let before = server.count();
    let summary = env.fetch(&server, &[]);
    assert_eq!(counts(&summary), [3, 1, 0, 0, 0], "{summary}");
    let summary = env.fetch(&server, &["--missing"]);
    assert_eq!(counts(&summary), [0, 0, 0, 0, 0], "{summary}");
    assert_eq!(server.count(), before);
}

#[test]
fn duration_picks_among_candidates() {
    let synced = |text: &str, end: &str| format!("[00:01.00]{text}\n[{end}]end\n");
    let server = Server::start(lrclib(vec![
        track(
            1,
            "Cato",
            "Echo",
            "Live",
            150.0,
            None,
            Some(&synced("short cut", "02:00.00")),
        ),
        // Close in duration, but its synced lyrics run past the song's end and it has no plain text.
        track(
            2,
            "Cato",
            "Echo",
            "Extended",
            238.0,
            None,
            Some(&synced("too long", "06:00.00")),
        ),
        track(
            3,
            "Cato",
            "Echo",
            "Echoes",
            241.0,
            Some("the right one\nend"),
            Some(&synced("the right one", "03:55.00")),
        ),
        track(
            4,
            "Cato",
            "Echo",
            "Remix",
            300.0,
            None,
            Some(&synced("remix", "04:50.00")),
        ),
    ]));
    // No album, so the exact /api/get misses and the search returns all four.
    let env = Env::new(&["Cato,Echo,,240"], "");
    let summary = env.fetch(&server, &[]);
    assert_eq!(counts(&summary), [1, 1, 0, 0, 0], "{summary}");
    let out = env.show("Cato - Echo", &[]);
    assert_eq!(stdout(&out).trim_end(), "the right one\nend");
    let out = env.show("Cato - Echo", &["--synced"]);
    assert!(stdout(&out).contains("[03:55.00] end"), "{}", stdout(&out));
}

#[test]
fn instrumental_is_stored_as_instrumental_and_empty_records_are_misses() {
    let server = Server::start(lrclib(vec![
        instrumental(1, "Dara", "Interlude", 90.0),
        // No text and not instrumental: a miss.
        track(2, "Dara", "Hollow", "", 120.0, Some(""), None),
    ]));
    let env = Env::new(&["Dara,Interlude,,90", "Dara,Hollow,,120"], "");
    let summary = env.fetch(&server, &[]);
    assert_eq!(counts(&summary), [0, 0, 1, 1, 0], "{summary}");
    let song = env.song("Interlude");
    assert_eq!(song["instrumental"], true);
    assert_eq!(song["has_lyrics"], false);
    let out = env.show("Dara - Interlude", &[]);
    assert!(out.status.success());
    assert_eq!(stdout(&out).trim(), "(instrumental)");
    // Instrumental songs are not looked up again by --missing.
    let before = server.count();
    let summary = env.fetch(&server, &["--missing"]);
    assert_eq!(counts(&summary), [0, 0, 0, 1, 0], "{summary}");
    assert_eq!(server.count(), before, "the miss is cached too");
    // A song with no lyrics stored cannot be shown.
    let out = env.show("Dara - Hollow", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no lyrics stored"));
}

#[test]
fn not_found_is_cached_until_its_ttl() {
    let server = Server::start(lrclib(vec![]));
    let env = Env::new(&["Nobody,Unknown Song,,200", "Nobody,Other Song,,"], "");
    let summary = env.fetch(&server, &[]);
    assert_eq!(counts(&summary), [0, 0, 0, 2, 0], "{summary}");
    let asked = server.count();
    assert!(
        asked >= 3,
        "get + search, and a search for the song without duration: {asked}"
    );

    let summary = env.fetch(&server, &[]);
    assert_eq!(counts(&summary), [0, 0, 0, 2, 0], "{summary}");
    let summary = env.fetch(&server, &["--missing"]);
    assert_eq!(counts(&summary), [0, 0, 0, 2, 0], "{summary}");
    assert_eq!(server.count(), asked, "the second run made requests");

    // With a TTL of 0 days the miss has already expired.
    std::fs::write(
        &env.config,
        "[lyrics]\nrequests_per_second = 50.0\nnot_found_ttl_days = 0\n",
    )
    .unwrap();
    env.fetch(&server, &[]);
    assert!(server.count() > asked);
}

/// Serves `inner` after `failures` replies from `fail`.
fn failing_first(
    failures: usize,
    fail: impl Fn(usize) -> Reply + Send + Sync + 'static,
    inner: impl Fn(&lyrics_support::Req, usize) -> Reply + Send + Sync + 'static,
) -> impl Fn(&lyrics_support::Req, usize) -> Reply + Send + Sync + 'static {
    move |req, n| {
        if n < failures {
            fail(n)
        } else {
            inner(req, n)
        }
    }
}

fn one_song_server() -> impl Fn(&lyrics_support::Req, usize) -> Reply + Send + Sync + 'static {
    lrclib(vec![track(
        1,
        "Ada Vale",
        "Night Drive",
        "Roads",
        200.0,
        Some(NIGHT_PLAIN),
        Some(NIGHT_LRC),
    )])
}

#[test]
fn rate_limited_429_waits_for_retry_after_then_succeeds() {
    let server = Server::start(failing_first(
        1,
        |_| {
            Reply::json(
                429,
                &json!({"statusCode": 429, "error": "Too Many Requests"}),
            )
            .header("Retry-After", "1")
        },
        one_song_server(),
    ));
    let env = Env::new(&["Ada Vale,Night Drive,Roads,200"], "");
    let summary = env.fetch(&server, &[]);
    assert_eq!(counts(&summary), [1, 1, 0, 0, 0], "{summary}");
    assert_eq!(server.count(), 2);
    // The backoff in tests is 10 ms, so only Retry-After explains a pause of a second between the two requests.
    let gaps = server.gaps();
    assert!(gaps[0] >= Duration::from_millis(950), "{gaps:?}");
}

#[test]
fn retry_after_as_an_http_date_is_honoured() {
    let server = Server::start(failing_first(
        1,
        |_| {
            // Two seconds from now, in the date form (whole seconds, so between one and two seconds away).
            let at = std::time::SystemTime::now() + Duration::from_secs(2);
            Reply::json(
                429,
                &json!({"statusCode": 429, "error": "Too Many Requests"}),
            )
            .header("Retry-After", &httpdate::fmt_http_date(at))
        },
        one_song_server(),
    ));
    let env = Env::new(&["Ada Vale,Night Drive,Roads,200"], "");
    let summary = env.fetch(&server, &[]);
    assert_eq!(counts(&summary), [1, 1, 0, 0, 0], "{summary}");
    let gaps = server.gaps();
    assert!(gaps[0] >= Duration::from_millis(900), "{gaps:?}");
}

#[test]
fn server_errors_are_retried_and_other_4xx_are_not() {
    let server = Server::start(failing_first(
        2,
        |_| Reply::raw(500, b"<html>oops</html>".to_vec()),
        one_song_server(),
    ));
    let env = Env::new(&["Ada Vale,Night Drive,Roads,200"], "");
    let summary = env.fetch(&server, &[]);
    assert_eq!(counts(&summary), [1, 1, 0, 0, 0], "{summary}");
    assert_eq!(server.count(), 3);

    // Always 503: retries run out (1 + 2 attempts) and the song fails with the server's reason.
    let server =
        Server::start(|_, _| Reply::json(503, &json!({"code": 503, "message": "maintenance"})));
    let env = Env::new(&["Ada Vale,Night Drive,Roads,200"], "retries = 2");
    let summary = env.fetch(&server, &[]);
    assert_eq!(counts(&summary), [0, 0, 0, 0, 1], "{summary}");
    assert_eq!(server.count(), 3);
    let reason = summary["failures"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("503") && reason.contains("maintenance"),
        "{reason}"
    );
    // A failure is not a miss: the next run asks again.
    env.fetch(&server, &[]);
    assert_eq!(server.count(), 6);

    // 403 is not retried.
    let server =
        Server::start(|_, _| Reply::json(403, &json!({"statusCode": 403, "message": "go away"})));
    let env = Env::new(&["Ada Vale,Night Drive,Roads,200"], "");
    let summary = env.fetch(&server, &[]);
    assert_eq!(counts(&summary), [0, 0, 0, 0, 1], "{summary}");
    assert_eq!(server.count(), 1);
    assert!(summary["failures"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("go away"));
}

#[test]
fn slow_answers_time_out() {
    let server = Server::start(|req, _| {
        Reply::json(200, &json!([])).after(if req.path == "/api/get" {
            Duration::from_secs(4)
        } else {
            Duration::ZERO
        })
    });
    let env = Env::new(
        &["Ada Vale,Night Drive,Roads,200"],
        "timeout_s = 0.5\nconnect_timeout_s = 0.5\nretries = 1",
    );
    let summary = env.fetch(&server, &[]);
    assert_eq!(counts(&summary), [0, 0, 0, 0, 1], "{summary}");
    assert_eq!(server.count(), 2, "one retry after the timeout");
    // The retry arrived while the first answer was still being held back: the client gave up on it.
    let gaps = server.gaps();
    assert!(gaps[0] < Duration::from_secs(4), "{gaps:?}");
    let reason = summary["failures"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("within"), "{reason}");
}

#[test]
fn malformed_json_fails_only_that_song() {
    let server = Server::start(|req, _| {
        if req.q("track_name").starts_with("Broken") {
            Reply::raw(200, b"{\"trackName\": \"Broken\", \"plainLy".to_vec())
        } else if req.q("track_name").starts_with("Shape") {
            // Valid JSON of the wrong shape.
            Reply::json(200, &json!({"unexpected": true}))
        } else {
            one_song_server()(req, 0)
        }
    });
    let env = Env::new(
        &[
            "Ada Vale,Night Drive,Roads,200",
            "Eve,Broken,,100",
            "Eve,Shape,,",
        ],
        "",
    );
    let summary = env.fetch(&server, &[]);
    assert_eq!(counts(&summary), [1, 1, 0, 0, 2], "{summary}");
    for f in summary["failures"].as_array().unwrap() {
        assert!(
            f["reason"].as_str().unwrap().contains("malformed JSON"),
            "{f}"
        );
    }
}

#[test]
fn oversized_bodies_are_refused() {
    let big = {
        let words = "la ".repeat(3 * 1024 * 1024 / 3);
        json!([{"trackName": "Big", "artistName": "Eve", "duration": 100.0, "plainLyrics": words}])
            .to_string()
    };
    let server = Server::start(move |req, _| {
        if req.path != "/api/search" {
            return Reply::not_found();
        }
        let reply = Reply::raw(200, big.clone().into_bytes());
        if req.q("track_name") == "Big Streamed" {
            reply.without_length()
        } else {
            reply
        }
    });
    let env = Env::new(&["Eve,Big,,100", "Eve,Big Streamed,,100"], "");
    let summary = env.fetch(&server, &[]);
    assert_eq!(counts(&summary), [0, 0, 0, 0, 2], "{summary}");
    for f in summary["failures"].as_array().unwrap() {
        assert!(f["reason"].as_str().unwrap().contains("larger than"), "{f}");
    }
}

#[test]
fn escape_sequences_never_reach_the_store_or_the_terminal() {
    let plain =
        "\u{1b}[31mRed\u{1b}[0m words\u{1b}]0;pwned\u{7} here\n\u{9b}2Jclear\u{1b}[2J line\u{7}";
    let synced =
        "[00:01.00]\u{1b}[31mRed\u{1b}[0m words\n[00:02.00]\u{1b}]2;title\u{1b}\\clear line\n";
    let server = Server::start(lrclib(vec![track(
        1,
        "Eve",
        "Escape",
        "",
        100.0,
        Some(plain),
        Some(synced),
    )]));
    let env = Env::new(&["Eve,Escape,,100"], "");
    let summary = env.fetch(&server, &[]);
    assert_eq!(counts(&summary), [1, 1, 0, 0, 0], "{summary}");

    let store = moodtape::store::Store::open(&env.db).unwrap();
    let id = moodtape::records::SongId::for_names("Eve", "Escape", "");
    let record = store.lyrics.get(id.as_str()).unwrap().unwrap();
    drop(store);
    assert_eq!(record.text, "Red words here\nclear line");
    let stored_lrc = record.synced.unwrap();
    for text in [&record.text, &stored_lrc] {
        assert!(!text.contains(['\u{1b}', '\u{7}', '\u{9b}']), "{text:?}");
    }
    for args in [&[][..], &["--synced"][..], &["--json"][..]] {
        let out = env.show("Eve - Escape", args);
        assert!(out.status.success());
        let all = [out.stdout.clone(), out.stderr.clone()].concat();
        assert!(
            !all.iter().any(|b| *b == 0x1b || *b == 0x07),
            "{args:?}: {}",
            String::from_utf8_lossy(&all)
        );
        assert!(stdout(&out).contains("Red words"), "{}", stdout(&out));
    }
}

#[test]
fn offline_never_touches_the_network() {
    let server = Server::start(one_song_server());
    let env = Env::new(&["Ada Vale,Night Drive,Roads,200"], "");
    let out = env
        .cmd(Some(&server))
        .args(["--offline", "lyrics", "fetch", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(counts(&json_out(&out)), [0, 0, 0, 1, 0]);
    // Config `lyrics.online = false` is the same.
    std::fs::write(
        &env.config,
        "[lyrics]\nonline = false\nrequests_per_second = 50.0\n",
    )
    .unwrap();
    let out = env
        .cmd(Some(&server))
        .args(["lyrics", "fetch"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).contains("offline"), "{}", stdout(&out));
    // And leaving lrclib out of the sources.
    std::fs::write(
        &env.config,
        "[lyrics]\nsources = [\"sidecar\", \"tags\", \"cache\"]\n",
    )
    .unwrap();
    env.fetch(&server, &[]);
    assert_eq!(server.count(), 0);
    // Not a miss: going online later asks the server.
    std::fs::write(&env.config, "[lyrics]\nrequests_per_second = 50.0\n").unwrap();
    let summary = env.fetch(&server, &[]);
    assert_eq!(counts(&summary), [1, 1, 0, 0, 0], "{summary}");
}

#[test]
fn concurrency_and_rate_are_bounded() {
    let in_flight_delay = Duration::from_millis(150);
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let server = Server::start(move |req, n| {
        counter.fetch_add(1, Ordering::SeqCst);
        lrclib(vec![])(req, n).after(in_flight_delay)
    });
    // Songs without a duration need one search each.
    let rows: Vec<String> = (0..6).map(|i| format!("Fay,Song {i},,")).collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let env = Env::new(&rows, "max_concurrency = 8");
    let summary = env.fetch(&server, &["--jobs", "2"]);
    assert_eq!(counts(&summary), [0, 0, 0, 6, 0], "{summary}");
    assert_eq!(served.load(Ordering::SeqCst), 6);
    assert!(server.max_in_flight() <= 2, "{}", server.max_in_flight());

    // Four requests at 5 per second take at least 0.6 s, whatever the concurrency.
    let server = Server::start(lrclib(vec![]));
    let rows: Vec<String> = (0..4).map(|i| format!("Gus,Tune {i},,")).collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let env = Env::new(&rows, "requests_per_second = 5.0\nmax_concurrency = 4");
    let out = env
        .cmd(Some(&server))
        .args(["lyrics", "fetch", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(server.count(), 4);
    // Five a second across all four workers: requests arrive at least ~200 ms apart, measured where they land.
    let gaps = server.gaps();
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(180)),
        "{gaps:?}"
    );
}

#[test]
fn cli_usage_and_human_output() {
    let server = Server::start(one_song_server());
    let env = Env::new(&["Ada Vale,Night Drive,Roads,200", "Nobody,Nothing,,"], "");
    let out = env
        .cmd(Some(&server))
        .args(["lyrics", "fetch", "--jobs", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = env
        .cmd(Some(&server))
        .args(["lyrics", "fetch"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("found 1 (1 synced)") && text.contains("not found 1"),
        "{text}"
    );
    let out = env.show("zzqxw qqq", &[]);
    assert_eq!(out.status.code(), Some(1));
    // A bad URL from the environment is a runtime error, not a crash.
    let out = env
        .cmd(None)
        .env("MOODTAPE_LRCLIB_URL", "ftp://nowhere")
        .args(["lyrics", "fetch", "--missing"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = env.path();
}

#[test]
fn an_unreachable_server_fails_the_run_quickly() {
    // A port that was just free: connections to it are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rows: Vec<String> = (0..8).map(|i| format!("Hal,Song {i},,100")).collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let env = Env::new(&rows, "max_concurrency = 1\nretries = 1");
    let out = env
        .cmd(None)
        .env("MOODTAPE_LRCLIB_URL", format!("http://127.0.0.1:{port}"))
        .args(["lyrics", "fetch", "--json"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert!(out.status.success());
    let summary = json_out(&out);
    assert_eq!(counts(&summary), [0, 0, 0, 0, 8], "{summary}");
    let reasons: Vec<&str> = summary["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons
            .iter()
            .filter(|r| r.contains("could not connect"))
            .count(),
        3,
        "{reasons:?}"
    );
    assert_eq!(
        reasons
            .iter()
            .filter(|r| r.starts_with("not asked"))
            .count(),
        5,
        "{reasons:?}"
    );
    // The song is named beside the reason, so the reason names no query.
    assert!(!reasons[0].contains("track_name"), "{}", reasons[0]);
}
