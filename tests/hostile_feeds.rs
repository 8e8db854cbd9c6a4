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
    format!("[lyrics]\nrequests_per_second = 500.0\n{extra}\n")
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
            "timeout_s = 0.3\nconnect_timeout_s = 0.3\nretries = 3\nbreaker_after = 3\nmax_concurrency = 2",
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
