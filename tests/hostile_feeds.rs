//! Hostile feeds: a lyrics server that stalls, rate limits or redirects elsewhere, and import files that are
//! malformed, not UTF-8, not files at all, or huge. Real parts throughout: a real HTTP server on 127.0.0.1 that
//! counts what it is asked, and the binary itself. Every run of the binary fails the test on a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod lyrics_support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{json_out, moodtape};
use lyrics_support::{lrclib, track, Reply, Req, Server};

/// A test home with a database, a config file and a CSV of songs imported into it.
struct Env {
    home: tempfile::TempDir,
    db: PathBuf,
    config: PathBuf,
}

impl Env {
    /// `csv` is the whole file (header included); `config` the whole config file.
    fn new(csv: &str, config: &str) -> Env {
        let home = tempfile::tempdir().unwrap();
        let env = Env {
            db: home.path().join("library.db"),
            config: home.path().join("config.toml"),
            home,
        };
        std::fs::write(&env.config, config).unwrap();
        let file = env.home.path().join("songs.csv");
        std::fs::write(&file, csv).unwrap();
        let out = env.run(None, &["import", file.to_str().unwrap(), "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        env
    }

    fn cmd(&self, server: Option<&Server>) -> assert_cmd::Command {
        let mut cmd = moodtape(self.home.path());
        cmd.arg("--db")
            .arg(&self.db)
            .arg("--config")
            .arg(&self.config)
            .env("MOODTAPE_LYRICS_BACKOFF_MS", "10")
            .timeout(Duration::from_secs(120));
        match server {
            Some(s) => cmd.env("MOODTAPE_LRCLIB_URL", &s.url),
            // Nothing listens here: a run that should not go online fails loudly if it tries.
            None => cmd.env("MOODTAPE_LRCLIB_URL", "http://127.0.0.1:9"),
        };
        cmd
    }

    /// Runs the binary; a panic anywhere fails the test.
    fn run(&self, server: Option<&Server>, args: &[&str]) -> Output {
        let out = self.cmd(server).args(args).output().unwrap();
        no_panic(&out);
        out
    }

    /// `lyrics fetch --json`, which must succeed, and its summary.
    fn fetch(&self, server: &Server) -> Value {
        let out = self.run(Some(server), &["lyrics", "fetch", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        json_out(&out)
    }

    fn path(&self) -> &Path {
        self.home.path()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn no_panic(out: &Output) {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "the binary panicked:\n{err}");
}

/// `n` songs by one artist with durations, so each lookup starts with `/api/get`.
fn songs_csv(n: usize) -> String {
    let mut csv = String::from("artist,title,album,duration\n");
    for i in 0..n {
        csv.push_str(&format!("Hal Moreno,Song {i},Tapes,200\n"));
    }
    csv
}

fn lyrics_config(extra: &str) -> String {
    format!("[lyrics]\nrequests_per_second = 50.0\n{extra}\n")
}

fn reasons(summary: &Value) -> Vec<String> {
    summary["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reason"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_slow_server_trips_the_breaker() {
    // Every answer comes long after the client's timeout.
    let server = Server::start(|_, _| Reply::json(200, &json!([])).after(Duration::from_secs(5)));
    let env = Env::new(
        &songs_csv(20),
        &lyrics_config(
            "timeout_s = 0.5\nconnect_timeout_s = 0.5\nretries = 3\nbreaker_after = 3\nmax_concurrency = 2",
        ),
    );
    let started = Instant::now();
    let summary = env.fetch(&server);
    let took = started.elapsed();
    // Three timeouts in a row stop the run; a second worker may have had one request in flight.
    assert!(
        server.count() <= 3 + 2,
        "the server saw {} requests",
        server.count()
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert_eq!(summary["failed"], 20, "{summary}");
    assert_eq!(summary["found"], 0, "{summary}");
    let stopped = summary["stopped"].as_str().unwrap();
    assert!(
        stopped.contains("stopped after 3 timeouts in a row")
            && stopped.contains("lyrics.timeout_s"),
        "{stopped}"
    );
    let not_asked = reasons(&summary)
        .iter()
        .filter(|r| r.starts_with("not asked") && r.contains("timeouts in a row"))
        .count();
    assert!(not_asked >= 17, "{summary}");

    // The human summary counts the failures and names the reason once, not once per song.
    let out = env.run(Some(&server), &["lyrics", "fetch"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("failed 20"), "{text}");
    assert!(
        text.contains("stopped asking: LRCLIB stopped after 3 timeouts"),
        "{text}"
    );
    assert!(text.lines().count() < 10, "{text}");
}

#[test]
fn a_rate_limiting_server_trips_the_breaker() {
    let server = Server::start(|_, _| {
        Reply::json(
            429,
            &json!({"statusCode": 429, "error": "Too Many Requests"}),
        )
    });
    let env = Env::new(
        &songs_csv(30),
        &lyrics_config("retries = 5\nbreaker_after = 4\nmax_concurrency = 3"),
    );
    let summary = env.fetch(&server);
    assert!(
        server.count() <= 4 + 3,
        "the server saw {} requests",
        server.count()
    );
    assert_eq!(summary["failed"], 30, "{summary}");
    let stopped = summary["stopped"].as_str().unwrap();
    assert!(
        stopped.contains("stopped after 4 rate-limit answers (HTTP 429) in a row"),
        "{stopped}"
    );

    // A Retry-After of an hour is not waited out: the run stops at once and says so.
    let server = Server::start(|_, _| {
        Reply::json(429, &json!({"statusCode": 429})).header("Retry-After", "3600")
    });
    let env = Env::new(&songs_csv(10), &lyrics_config("max_concurrency = 2"));
    let started = Instant::now();
    let summary = env.fetch(&server);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        server.count() <= 2,
        "the server saw {} requests",
        server.count()
    );
    assert_eq!(summary["failed"], 10, "{summary}");
    assert!(
        summary["stopped"].as_str().unwrap().contains("wait 3600 s"),
        "{summary}"
    );

    // A short Retry-After is honoured, and an answer in between resets the count.
    let server = Server::start(|req, n| {
        if n % 2 == 0 {
            Reply::json(429, &json!({})).header("Retry-After", "0")
        } else {
            lrclib(vec![])(req, n)
        }
    });
    let env = Env::new(
        &songs_csv(6),
        &lyrics_config("max_concurrency = 1\nbreaker_after = 2"),
    );
    let summary = env.fetch(&server);
    assert_eq!(summary["not_found"], 6, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    assert!(summary["stopped"].is_null(), "{summary}");
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn query_of(req: &Req) -> String {
    req.query
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[test]
fn redirects_are_followed_only_on_the_same_host() {
    // Another host, on another loopback address: it must never be asked.
    let elsewhere = Server::start_on("127.0.0.2", lrclib(vec![]));
    let target = elsewhere.url.clone();
    let server = Server::start(move |req, _| {
        Reply::raw(302, Vec::new()).header(
            "Location",
            &format!("{target}{}?{}", req.path, query_of(req)),
        )
    });
    let env = Env::new(&songs_csv(2), &lyrics_config(""));
    let summary = env.fetch(&server);
    assert_eq!(
        elsewhere.count(),
        0,
        "a redirect to another host was followed"
    );
    assert_eq!(summary["failed"], 2, "{summary}");
    let reason = &reasons(&summary)[0];
    assert!(
        reason.contains("redirect") && reason.contains("127.0.0.2"),
        "{reason}"
    );
    assert!(server.count() <= 2, "a refused redirect is not retried");

    // A move within the same server is followed.
    let inner = lrclib(vec![track(
        1,
        "Hal Moreno",
        "Song 0",
        "Tapes",
        200.0,
        Some("the tape runs out"),
        None,
    )]);
    let server = Server::start(move |req, n| match req.path.strip_prefix("/moved") {
        Some(path) => inner(
            &Req {
                path: path.to_string(),
                ..req.clone()
            },
            n,
        ),
        None => Reply::raw(301, Vec::new())
            .header("Location", &format!("/moved{}?{}", req.path, query_of(req))),
    });
    let env = Env::new(&songs_csv(1), &lyrics_config(""));
    let summary = env.fetch(&server);
    assert_eq!(summary["found"], 1, "{summary}");
    let _ = env.path();
}

#[test]
fn recommend_keeps_to_its_lyrics_budget() {
    // Songs with lyrics to rank, and songs without, whose lookup meets a server that never answers in time.
    let mut csv = String::from("artist,title,album,duration,lyrics\n");
    let lyrics = [
        "the sun is up and we are dancing all night",
        "tears on the glass again, the rooms are empty",
        "warm tea and a slow heart, quiet evening",
        "shout it out, break the walls, burning with rage",
    ];
    for (i, words) in lyrics.iter().enumerate() {
        csv.push_str(&format!("Artist {i},Worded {i},A,200,\"{words}\"\n"));
    }
    for i in 0..10 {
        csv.push_str(&format!("Quiet {i},Wordless {i},B,200,\n"));
    }
    let budget = 2.0;
    let env = Env::new(
        &csv,
        &format!("[lyrics]\ntimeout_s = 60\n[recommend]\nprefetch_budget_s = {budget}\n"),
    );
    let server = Server::start(|_, _| Reply::json(200, &json!([])).after(Duration::from_secs(90)));
    let started = Instant::now();
    let out = env.run(
        Some(&server),
        &[
            "recommend",
            "match",
            "calm and warm",
            "--json",
            "--limit",
            "3",
        ],
    );
    let took = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        took < Duration::from_secs_f64(budget + 20.0),
        "recommend took {took:?} with a budget of {budget} s"
    );
    let err = stderr(&out);
    assert!(err.contains("cut short"), "{err}");
    assert!(err.contains("recommend.prefetch_budget_s"), "{err}");
    assert!(!json_out(&out)["songs"].as_array().unwrap().is_empty());
    assert!(server.count() >= 1, "the lookup was tried");
}

/// A home with an empty database, for imports.
fn import_env() -> Env {
    let home = tempfile::tempdir().unwrap();
    let env = Env {
        db: home.path().join("library.db"),
        config: home.path().join("config.toml"),
        home,
    };
    std::fs::write(&env.config, "").unwrap();
    env
}

fn titles(env: &Env) -> Vec<(String, String)> {
    let out = env.run(None, &["library", "list", "--json"]);
    json_out(&out)["songs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["artist"].as_str().unwrap().to_string(),
                s["title"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn csv_errors_are_located_and_the_rest_is_read() {
    let env = import_env();
    let file = env.path().join("songs.csv");
    std::fs::write(
        &file,
        "artist,title,lyrics\n\
         Ada,One,\"fine\"\n\
         Brook,\"Two,\n\
         Cato,Three,\n\
         Dara,Four,\"multi\nline\"\n\
         Eli,\"Fi\"ve\",\n\
         Fay,Six,\n\
         Gus,Seven,\"never closed\n\
         Hal,Eight,\n\
         Ivy,Nine,\n",
    )
    .unwrap();
    let out = env.run(None, &["import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("line 3: unclosed quote"), "{text}");
    assert!(
        text.contains("line 7: a quote inside a quoted field"),
        "{text}"
    );
    assert!(text.contains("line 9: unclosed quote"), "{text}");
    assert!(text.contains("3 failed"), "{text}");
    let mut have: Vec<String> = titles(&env).into_iter().map(|(_, t)| t).collect();
    have.sort();
    assert_eq!(
        have,
        ["Eight", "Four", "Nine", "One", "Six", "Three"],
        "the rows after each bad one are read"
    );

    // The same in JSON, with the line of each failure.
    let out = env.run(None, &["import", file.to_str().unwrap(), "--json"]);
    let summary = json_out(&out);
    let lines: Vec<u64> = summary["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 7, 9], "{summary}");
    assert_eq!(summary["failed_rows"], 3);
}

#[test]
fn latin1_and_utf16_files_keep_their_accents() {
    let env = import_env();
    let latin1 = env.path().join("latin1.csv");
    std::fs::write(
        &latin1,
        b"artist,title,album\n\xc9milie Simon,Caf\xe9 cr\xe8me,No\xebl\nPlain,Ascii,\n".as_slice(),
    )
    .unwrap();
    let out = env.run(None, &["import", latin1.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("2 imported"), "{text}");
    assert!(
        text.contains("line 2 is not UTF-8") && text.contains("Windows-1252"),
        "{text}"
    );
    let have = titles(&env);
    assert!(
        have.contains(&("Émilie Simon".to_string(), "Café crème".to_string())),
        "{have:?}"
    );

    let utf16 = env.path().join("utf16.tsv");
    let mut bytes = vec![0xFF, 0xFE];
    for unit in "artist\ttitle\r\nBjörk\tJóga\r\n".encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    std::fs::write(&utf16, bytes).unwrap();
    let out = env.run(None, &["import", utf16.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(titles(&env).contains(&("Björk".to_string(), "Jóga".to_string())));
}

#[test]
fn bracketed_lyrics_without_time_stamps_are_kept_whole() {
    let env = import_env();
    let file = env.path().join("songs.csv");
    std::fs::write(
        &file,
        "artist,title,lyrics\n\
         Ada,Chorus First,\"[Chorus]\nla la la\n[Verse 2]\nmore words\"\n\
         Brook,Timed,\"[00:01.00]first\n[00:02.00]second\"\n",
    )
    .unwrap();
    let out = env.run(None, &["import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run(None, &["lyrics", "show", "Ada - Chorus First", "--json"]);
    let shown = json_out(&out);
    assert_eq!(
        shown["text"], "[Chorus]\nla la la\n[Verse 2]\nmore words",
        "{shown}"
    );
    assert!(shown["synced"].is_null(), "{shown}");
    let out = env.run(None, &["lyrics", "show", "Brook - Timed", "--json"]);
    let shown = json_out(&out);
    assert_eq!(shown["text"], "first\nsecond", "{shown}");
    assert!(shown["synced"].is_string(), "{shown}");
}

#[test]
fn import_reads_only_regular_files() {
    let env = import_env();
    for args in [
        vec!["import", "/dev/zero"],
        vec!["import", "/dev/zero", "--format", "csv"],
        vec!["import", "/dev/zero", "--format", "jsonl", "--json"],
    ] {
        let out = env
            .cmd(None)
            .args(&args)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        no_panic(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("/dev/zero is a device, not a regular file"),
            "{err}"
        );
    }
    // A FIFO with no writer would block a plain open for ever.
    let fifo = env.path().join("songs.csv");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let out = env
        .cmd(None)
        .args(["import", fifo.to_str().unwrap()])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is a FIFO"), "{}", stderr(&out));
    // A folder too.
    let out = env.run(
        None,
        &["import", env.path().to_str().unwrap(), "--format", "csv"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is a folder"), "{}", stderr(&out));
}

#[test]
fn a_huge_jsonl_line_is_a_failed_row() {
    let env = import_env();
    let file = env.path().join("songs.jsonl");
    let mut text = String::from("{\"artist\": \"Ada\", \"title\": \"One\"}\n{\"artist\": \"");
    text.push_str(&"x".repeat(8 * 1024 * 1024));
    text.push_str("\", \"title\": \"Huge\"}\n{\"artist\": \"Cato\", \"title\": \"Three\"}\n");
    std::fs::write(&file, text).unwrap();
    let out = env.run(None, &["import", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = json_out(&out);
    assert_eq!(summary["imported"], 2, "{summary}");
    assert_eq!(summary["failed"][0]["line"], 2, "{summary}");
    assert!(
        summary["failed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("longer than 1 MiB"),
        "{summary}"
    );
}

/// Writes a CSV of `rows` songs with two lines of lyrics each.
fn big_csv(path: &Path, rows: usize) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "artist,title,album,duration,lyrics").unwrap();
    for i in 0..rows {
        writeln!(
            out,
            "Artist {},Song number {i},Album {},{},\"la la {i}\nand a second line\"",
            i % 5000,
            i % 20000,
            100 + i % 300
        )
        .unwrap();
    }
    out.flush().unwrap();
}

/// Imports `rows` generated songs into a fresh database and returns the child's peak resident memory in bytes
/// (`VmHWM`, the high-water mark, polled until the child exits).
fn import_peak(rows: usize) -> u64 {
    let env = import_env();
    let csv = env.path().join("big.csv");
    big_csv(&csv, rows);
    let log = env.path().join("stderr.txt");
    let mut child = common::moodtape_std(env.path())
        .arg("--db")
        .arg(&env.db)
        .arg("--config")
        .arg(&env.config)
        .args(["import", csv.to_str().unwrap(), "--json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let started = Instant::now();
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak_kb = peak_kb.max(kb);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(600) {
            child.kill().unwrap();
            panic!("importing {rows} rows took over 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(!err.contains("panicked"), "the binary panicked:\n{err}");
    assert!(status.success(), "{err}");
    assert!(peak_kb > 0, "no VmHWM read for the child");
    peak_kb * 1024
}

/// Memory stays flat as a file grows. A million rows take minutes in the debug build the tests run, so the
/// ceiling is checked on 250k rows, and the growth from 100k to 250k rows must stay small: rows are not kept
/// (that would be 75 MiB and more here), only sled's own bookkeeping grows a little with the database (measured:
/// 113 and 146 MiB; a million rows measured by hand stay under 200 MB).
#[cfg(target_os = "linux")]
#[test]
fn import_memory_does_not_grow_with_the_file() {
    const MIB: u64 = 1024 * 1024;
    let small = import_peak(100_000);
    let large = import_peak(250_000);
    eprintln!(
        "peak resident memory: 100k rows {} MiB, 250k rows {} MiB",
        small / MIB,
        large / MIB
    );
    assert!(
        large <= 200 * MIB,
        "250k rows peaked at {} MiB",
        large / MIB
    );
    assert!(
        large.saturating_sub(small) <= 48 * MIB,
        "memory grew from {} MiB to {} MiB with the rows",
        small / MIB,
        large / MIB
    );
}
