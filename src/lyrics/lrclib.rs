//! The LRCLIB client (<https://lrclib.net>, or a self-hosted server): `/api/get` and `/api/search` over one
//! shared blocking reqwest client, polite and fault-proof. Every request waits its turn under a rate limit, has a
//! connect timeout and a deadline for the whole answer, and reads at most [`MAX_BODY_BYTES`]. Connection errors,
//! timeouts, 429 (after its `Retry-After`) and 5xx are retried with exponential backoff and jitter; other 4xx are
//! not. A malformed answer is an error for that song only.
//!
//! A slow or rate-limiting server must not cost a timeout per song for a whole library, so the client is also a
//! circuit breaker: after `breaker_after` timeouts or 429s in a row (counted per attempt, across every worker), or
//! one `Retry-After` longer than [`MAX_RETRY_AFTER`], it stops asking for the rest of the run and says why; the
//! same goes for a server that cannot be reached. A run may also have a deadline, which cuts the last requests
//! short instead of waiting out their timeouts. Redirects are followed only within the server's own host.

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::LyricsError;
use super::{lrc, matching};
use crate::records::LyricsRecord;
use crate::records::{LyricsOrigin, Song};

/// Overrides config `lyrics.lrclib_url`, for a self-hosted server.
pub const ENV_LRCLIB_URL: &str = "MOODTAPE_LRCLIB_URL";
/// Overrides the first retry's pause in milliseconds (later ones double); mainly for tests.
pub const ENV_BACKOFF_MS: &str = "MOODTAPE_LYRICS_BACKOFF_MS";
/// No answer from a lyrics server is read past this size.
pub const MAX_BODY_BYTES: u64 = 2 * 1024 * 1024;
/// Error bodies are only read for their message.
const MAX_ERROR_BODY_BYTES: u64 = 16 * 1024;
/// A `Retry-After` up to this long is waited out (by every worker); a longer one stops the run, so one answer
/// cannot stall it for hours.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const DEFAULT_BACKOFF: Duration = Duration::from_millis(500);
/// Config `lyrics.breaker_after` by default: after this many timeouts or 429s in a row, or requests in a row that
/// could not reach the server (retries spent), the rest of the run does not ask. A server that is down, slow or
/// rate limiting should end a run in seconds, not song by song.
pub const DEFAULT_BREAKER_AFTER: u32 = 3;
/// Redirects followed for one request, all within the server's host.
const MAX_REDIRECTS: usize = 5;
/// The artist name [`Song::new`] gives songs without one; never sent as a real artist.
const UNKNOWN_ARTIST: &str = "Unknown artist";

/// `moodtape/VERSION (HOMEPAGE)`, as LRCLIB asks clients to identify themselves.
pub fn user_agent() -> String {
    format!(
        "moodtape/{} ({})",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_HOMEPAGE")
    )
}

/// How the client talks to the server.
#[derive(Debug, Clone, PartialEq)]
pub struct LrclibSettings {
    pub base_url: String,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub requests_per_second: f64,
    pub backoff_base: Duration,
    pub max_body_bytes: u64,
    /// Timeouts or 429s in a row (or unreachable requests in a row) after which the run stops asking.
    pub breaker_after: u32,
}

impl LrclibSettings {
    /// Settings for the server at `base_url`, with `MOODTAPE_LRCLIB_URL` and `MOODTAPE_LYRICS_BACKOFF_MS` applied.
    pub fn new(
        base_url: &str,
        connect_timeout_s: f64,
        timeout_s: f64,
        retries: u32,
        requests_per_second: f64,
    ) -> LrclibSettings {
        let base_url = std::env::var(ENV_LRCLIB_URL)
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| base_url.to_string());
        let backoff_base = std::env::var(ENV_BACKOFF_MS)
            .ok()
            .and_then(|ms| ms.trim().parse::<u64>().ok())
            .map_or(DEFAULT_BACKOFF, Duration::from_millis);
        LrclibSettings {
            base_url: base_url.trim().to_string(),
            connect_timeout: seconds(connect_timeout_s),
            timeout: seconds(timeout_s),
            retries: retries.min(10),
            requests_per_second,
            backoff_base,
            max_body_bytes: MAX_BODY_BYTES,
            breaker_after: DEFAULT_BREAKER_AFTER,
        }
    }
}

fn seconds(value: f64) -> Duration {
    if value.is_finite() && value > 0.0 {
        Duration::from_secs_f64(value.min(3600.0))
    } else {
        Duration::from_secs(15)
    }
}

/// One record as LRCLIB returns it. Every field may be missing or null on some server.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LrclibRecord {
    pub id: Option<serde_json::Value>,
    pub track_name: Option<String>,
    pub artist_name: Option<String>,
    pub album_name: Option<String>,
    pub duration: Option<f64>,
    pub instrumental: Option<bool>,
    pub plain_lyrics: Option<String>,
    pub synced_lyrics: Option<String>,
}

/// Error bodies differ between the public server (`code`) and the open-source one (`statusCode`); both are read.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ErrorBody {
    code: Option<serde_json::Value>,
    #[serde(rename = "statusCode")]
    status_code: Option<serde_json::Value>,
    name: Option<String>,
    error: Option<String>,
    message: Option<serde_json::Value>,
}

/// Spaces requests at least `1 / requests_per_second` apart across every thread using the client.
struct RateLimiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
    fn new(requests_per_second: f64) -> RateLimiter {
        let rps = if requests_per_second.is_finite() && requests_per_second > 0.0 {
            requests_per_second
        } else {
            1.0
        };
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / rps.min(1000.0)),
            next: Mutex::new(Instant::now()),
        }
    }

    fn wait(&self, cancel: &AtomicBool, deadline: Option<Instant>) -> Result<(), LyricsError> {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        sleep_within(slot, cancel, deadline)
    }

    /// No request from any worker before `until` (the server's `Retry-After`).
    fn hold(&self, until: Instant) {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        *next = (*next).max(until);
    }
}

/// Sleeps until `until`, or fails at once with [`LyricsError::OutOfTime`] when that is past the run's deadline.
fn sleep_within(
    until: Instant,
    cancel: &AtomicBool,
    deadline: Option<Instant>,
) -> Result<(), LyricsError> {
    if deadline.is_some_and(|d| until > d) {
        return Err(LyricsError::OutOfTime);
    }
    sleep_until(until, cancel)
}

/// Sleeps until `deadline` in short slices, so a cancelled run stops promptly.
fn sleep_until(deadline: Instant, cancel: &AtomicBool) -> Result<(), LyricsError> {
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(LyricsError::Cancelled);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(());
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
    }
}

/// The LRCLIB client. One is shared by every worker thread of a fetch.
pub struct Lrclib {
    http: reqwest::blocking::Client,
    base: reqwest::Url,
    settings: LrclibSettings,
    limiter: RateLimiter,
    requests: AtomicU64,
    unreachable_streak: AtomicU32,
    /// Timeouts and 429s in a row, over every worker.
    overload_streak: AtomicU32,
    /// Why the breaker stopped the run; once set, no request is sent.
    stopped: Mutex<Option<String>>,
    /// No request runs past this (a caller's time budget).
    deadline: Option<Instant>,
}

impl Lrclib {
    pub fn new(settings: LrclibSettings) -> Result<Lrclib, LyricsError> {
        let bad_url = |detail: String| LyricsError::BadUrl {
            url: settings.base_url.clone(),
            detail,
        };
        if !(settings.base_url.starts_with("http://") || settings.base_url.starts_with("https://"))
        {
            return Err(bad_url("it must start with http:// or https://".into()));
        }
        // A trailing slash makes `join` keep a path prefix such as a reverse proxy's `/lrclib`.
        let mut base_text = settings.base_url.clone();
        if !base_text.ends_with('/') {
            base_text.push('/');
        }
        let base = reqwest::Url::parse(&base_text).map_err(|e| bad_url(e.to_string()))?;
        let http = reqwest::blocking::Client::builder()
            .user_agent(user_agent())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(same_host_redirects())
            .build()
            .map_err(|e| bad_url(error_chain(&e)))?;
        Ok(Lrclib {
            http,
            base,
            limiter: RateLimiter::new(settings.requests_per_second),
            settings,
            requests: AtomicU64::new(0),
            unreachable_streak: AtomicU32::new(0),
            overload_streak: AtomicU32::new(0),
            stopped: Mutex::new(None),
            deadline: None,
        })
    }

    /// No request of this client runs past `deadline`: the last ones are cut short with
    /// [`LyricsError::OutOfTime`] rather than waiting out their timeouts.
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Lrclib {
        self.deadline = deadline;
        self
    }

    /// Why this client stopped asking (the breaker tripped, or the server could not be reached), if it did.
    pub fn stop_reason(&self) -> Option<String> {
        if let Some(reason) = self
            .stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Some(reason);
        }
        let failures = self.unreachable_streak.load(Ordering::Relaxed);
        (failures >= self.breaker_after()).then(|| {
            format!(
                "LRCLIB at {} could not be reached {failures} times in a row: check lyrics.lrclib_url and the network",
                crate::sanitize::clean_line(&self.settings.base_url)
            )
        })
    }

    fn breaker_after(&self) -> u32 {
        self.settings.breaker_after.max(1)
    }

    /// Stops the run (the first reason wins).
    fn trip(&self, reason: String) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        if stopped.is_none() {
            tracing::warn!(%reason, "lyrics server: no more requests this run");
            *stopped = Some(reason);
        }
    }

    /// Fails when no request may be sent any more.
    fn check_open(&self) -> Result<(), LyricsError> {
        if let Some(reason) = self
            .stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Err(LyricsError::Stopped { reason });
        }
        let failures = self.unreachable_streak.load(Ordering::Relaxed);
        if failures >= self.breaker_after() {
            return Err(LyricsError::Unreachable {
                url: self.settings.base_url.clone(),
                failures,
            });
        }
        Ok(())
    }

    /// Counts an attempt's outcome towards the breaker, and trips it when the server is overloaded.
    fn note<T>(
        &self,
        result: &Result<Option<T>, LyricsError>,
        retries_spent: bool,
        retry_after: Option<Duration>,
    ) {
        match result {
            Err(LyricsError::Connect { .. }) => {
                if retries_spent {
                    self.unreachable_streak.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
            Err(LyricsError::Cancelled | LyricsError::OutOfTime) => return,
            _ => self.unreachable_streak.store(0, Ordering::Relaxed),
        }
        let overloaded = match result {
            Err(LyricsError::Timeout { .. }) => Some("timeouts"),
            Err(LyricsError::Http { status: 429, .. }) => Some("rate-limit answers (HTTP 429)"),
            _ => None,
        };
        let Some(what) = overloaded else {
            self.overload_streak.store(0, Ordering::Relaxed);
            return;
        };
        if let Some(wait) = retry_after.filter(|w| *w > MAX_RETRY_AFTER) {
            self.trip(format!(
                "LRCLIB asks to wait {} s before the next request (HTTP 429 Retry-After): try later",
                wait.as_secs()
            ));
            return;
        }
        let streak = self.overload_streak.fetch_add(1, Ordering::Relaxed) + 1;
        if streak >= self.breaker_after() {
            let fix = if what == "timeouts" {
                "try later or raise lyrics.timeout_s"
            } else {
                "try later or lower lyrics.requests_per_second"
            };
            self.trip(format!(
                "LRCLIB stopped after {streak} {what} in a row: {fix}"
            ));
        }
    }

    pub fn settings(&self) -> &LrclibSettings {
        &self.settings
    }

    /// HTTP requests sent so far, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// `GET /api/get`: the one record for these exact names and duration; `None` when the server has none.
    pub fn get(
        &self,
        track: &str,
        artist: &str,
        album: &str,
        duration_s: f64,
        cancel: &AtomicBool,
    ) -> Result<Option<LrclibRecord>, LyricsError> {
        let duration = format!("{}", duration_s.round().max(0.0) as u64);
        self.get_json(
            "api/get",
            &[
                ("track_name", track),
                ("artist_name", artist),
                ("album_name", album),
                ("duration", &duration),
            ],
            cancel,
        )
    }

    /// `GET /api/search` with the given query pairs (`q`, `track_name`, `artist_name`, `album_name`).
    pub fn search(
        &self,
        query: &[(&str, &str)],
        cancel: &AtomicBool,
    ) -> Result<Vec<LrclibRecord>, LyricsError> {
        Ok(self
            .get_json::<Vec<LrclibRecord>>("api/search", query, cancel)?
            .unwrap_or_default())
    }

    /// Finds the lyrics of `song`: `/api/get` with its exact names when its duration is known, then a search on
    /// its cleaned names, and the best acceptable candidate of both. `Ok(None)` means the server has none.
    pub fn lookup(
        &self,
        song: &Song,
        cancel: &AtomicBool,
    ) -> Result<Option<LyricsRecord>, LyricsError> {
        let artist_known = !song.artist.is_empty() && song.artist != UNKNOWN_ARTIST;
        let mut candidates: Vec<LrclibRecord> = Vec::new();
        if let (Some(duration), true) = (song.duration_s, artist_known) {
            match self.get(&song.title, &song.artist, &song.album, duration, cancel) {
                Ok(Some(record)) => {
                    // A synced or instrumental exact hit is as good as it gets; a plain one may have a synced
                    // sibling that the search finds.
                    if let Some(choice) = choose(song, std::slice::from_ref(&record)) {
                        if choice.rank >= Rank::Synced || choice.rank == Rank::Instrumental {
                            return Ok(Some(choice.record));
                        }
                    }
                    candidates.push(record);
                }
                Ok(None) => {}
                // Some servers refuse an empty album or an odd duration; the search still works for them.
                Err(LyricsError::Http { status, .. }) if status == 400 || status == 422 => {}
                Err(e) => return Err(e),
            }
        }
        let title = matching::clean_title(&song.title);
        let artist = matching::clean_artist(&song.artist);
        let found = if artist_known {
            self.search(&[("track_name", &title), ("artist_name", &artist)], cancel)?
        } else {
            self.search(&[("q", &title)], cancel)?
        };
        candidates.extend(found);
        Ok(choose(song, &candidates).map(|c| c.record))
    }

    /// One GET with the rate limit, retries and body cap. `Ok(None)` on 404.
    fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        cancel: &AtomicBool,
    ) -> Result<Option<T>, LyricsError> {
        let mut url = self.base.join(path).map_err(|e| LyricsError::BadUrl {
            url: self.settings.base_url.clone(),
            detail: e.to_string(),
        })?;
        url.query_pairs_mut().extend_pairs(query.iter().copied());
        self.check_open()?;
        let attempts = self.settings.retries + 1;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limiter.wait(cancel, self.deadline)?;
            // Another worker may have tripped the breaker while this one waited its turn.
            self.check_open()?;
            let (result, retry_after) = self.attempt::<T>(&url);
            self.note(&result, attempt >= attempts, retry_after);
            let stopped = self.stop_reason().is_some();
            match result {
                Err(e) if e.is_transient() && attempt < attempts && !stopped => {
                    let pause = match retry_after {
                        Some(wait) => {
                            // Retry-After is about the client, not this request: every worker holds.
                            self.limiter.hold(Instant::now() + wait);
                            wait
                        }
                        None => self.backoff(attempt),
                    };
                    tracing::debug!(%url, attempt, error = %e, ?pause, "lyrics request will be retried");
                    sleep_within(Instant::now() + pause, cancel, self.deadline)?;
                }
                Err(LyricsError::Http { status: 429, .. }) => {
                    return Err(LyricsError::RateLimited { attempts: attempt })
                }
                other => return other,
            }
        }
    }

    /// `base * 2^(attempt-1)`, plus up to half of that again at random so parallel workers do not retry in step.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .settings
            .backoff_base
            .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16));
        let jitter = exp.mul_f64(rand::random::<f64>() * 0.5);
        (exp + jitter).min(MAX_BACKOFF)
    }

    /// One request, cut short at the run's deadline; also returns the server's `Retry-After` when it gave one.
    fn attempt<T: DeserializeOwned>(
        &self,
        url: &reqwest::Url,
    ) -> (Result<Option<T>, LyricsError>, Option<Duration>) {
        let mut timeout = self.settings.timeout;
        let mut clipped = false;
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (Err(LyricsError::OutOfTime), None);
            }
            if left < timeout {
                timeout = left;
                clipped = true;
            }
        }
        match self.attempt_within::<T>(url, timeout) {
            // The budget ran out, not the server's time: no failure of the server, nothing for the breaker.
            (Err(LyricsError::Timeout { .. }), _) if clipped => (Err(LyricsError::OutOfTime), None),
            other => other,
        }
    }

    fn attempt_within<T: DeserializeOwned>(
        &self,
        url: &reqwest::Url,
        timeout: Duration,
    ) -> (Result<Option<T>, LyricsError>, Option<Duration>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let deadline = started + timeout;
        let response = match self.http.get(url.clone()).timeout(timeout).send() {
            Ok(r) => r,
            Err(e) => return (Err(self.classify(url, &e)), None),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
        if status == 404 {
            return (Ok(None), None);
        }
        if !(200..300).contains(&status) {
            let body = self
                .read_body(response, MAX_ERROR_BODY_BYTES, deadline, url)
                .unwrap_or_default();
            let message = error_message(&body);
            return (Err(LyricsError::Http { status, message }), retry_after);
        }
        if let Some(length) = response.content_length() {
            if length > self.settings.max_body_bytes {
                return (
                    Err(LyricsError::TooLarge {
                        limit: self.settings.max_body_bytes,
                    }),
                    None,
                );
            }
        }
        let body = match self.read_body(response, self.settings.max_body_bytes, deadline, url) {
            Ok(b) => b,
            Err(e) => return (Err(e), None),
        };
        let parsed = serde_json::from_slice::<T>(&body)
            .map(Some)
            .map_err(|e| LyricsError::Json(e.to_string()));
        (parsed, None)
    }

    /// Reads at most `limit` bytes before `deadline`; more than `limit` is [`LyricsError::TooLarge`].
    fn read_body(
        &self,
        response: reqwest::blocking::Response,
        limit: u64,
        deadline: Instant,
        url: &reqwest::Url,
    ) -> Result<Vec<u8>, LyricsError> {
        let mut reader = response.take(limit + 1);
        let mut body = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if Instant::now() > deadline {
                return Err(self.timeout_error(url));
            }
            let n = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    return Err(self.timeout_error(url))
                }
                Err(e) => {
                    return Err(LyricsError::Transport {
                        url: short_url(url),
                        detail: crate::sanitize::clean_line(&root_cause(&e)),
                    })
                }
            };
            body.extend_from_slice(&chunk[..n]);
            if body.len() as u64 > limit {
                return Err(LyricsError::TooLarge { limit });
            }
        }
        Ok(body)
    }

    fn timeout_error(&self, url: &reqwest::Url) -> LyricsError {
        LyricsError::Timeout {
            url: short_url(url),
            after: self.settings.timeout,
        }
    }

    fn classify(&self, url: &reqwest::Url, e: &reqwest::Error) -> LyricsError {
        let detail = crate::sanitize::clean_line(&root_cause(e));
        if e.is_timeout() {
            self.timeout_error(url)
        } else if e.is_redirect() {
            LyricsError::Redirect {
                url: short_url(url),
                detail,
            }
        } else if e.is_connect() {
            LyricsError::Connect {
                url: short_url(url),
                detail,
            }
        } else {
            LyricsError::Transport {
                url: short_url(url),
                detail,
            }
        }
    }
}

/// Follows redirects only to the host (and port) the request went to, never from https down to http: a lyrics
/// server has no business sending the client elsewhere.
/// A `Retry-After` value: delay seconds, or an HTTP date (RFC 9110: IMF-fixdate, and the obsolete RFC 850 and
/// asctime forms), as the time from `now` (a date already past means no wait).
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(1e9)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn same_host_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        let verdict = attempt
            .previous()
            .first()
            .map(|from| redirect_verdict(from, attempt.url()));
        match verdict {
            Some(Ok(())) | None => attempt.follow(),
            Some(Err(refusal)) => attempt.error(refusal),
        }
    })
}

/// `Ok` when a redirect from `from` to `to` stays on the same host and port and keeps https.
fn redirect_verdict(from: &reqwest::Url, to: &reqwest::Url) -> Result<(), String> {
    let same_host = from.host_str() == to.host_str()
        && from.port_or_known_default() == to.port_or_known_default();
    let downgrade = from.scheme() == "https" && to.scheme() != "https";
    if same_host && !downgrade {
        return Ok(());
    }
    let target = match (to.host_str(), to.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", to.scheme()),
        (Some(host), None) => format!("{}://{host}", to.scheme()),
        _ => to.scheme().to_string(),
    };
    Err(format!(
        "redirect to {} not followed (only the server's own host is)",
        crate::sanitize::clean_line(&target)
    ))
}

/// The URL without its query, for messages: the song is named next to it anyway.
fn short_url(url: &reqwest::Url) -> String {
    let mut short = url.clone();
    short.set_query(None);
    short.to_string()
}

/// The innermost cause of an error ("Connection refused"), which says more than reqwest's "error sending
/// request".
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// The innermost causes of an error, which say more than reqwest's "error sending request".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// A short, clean message from an error body, whichever shape it has.
pub fn error_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let message = match serde_json::from_str::<ErrorBody>(&text) {
        Ok(parsed) => {
            let code = parsed.code.or(parsed.status_code).map(value_text);
            let name = parsed.name.or(parsed.error);
            let message = parsed.message.map(value_text);
            let parts: Vec<String> = [name, message]
                .into_iter()
                .flatten()
                .filter(|p| !p.trim().is_empty())
                .collect();
            match (parts.is_empty(), code) {
                (true, Some(code)) => format!("code {code}"),
                _ => parts.join(": "),
            }
        }
        Err(_) => text.into_owned(),
    };
    let clean = crate::sanitize::clean_line(&message);
    match clean.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &clean[..i]),
        None => clean,
    }
}

fn value_text(v: serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

/// How good a candidate is; higher wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    Instrumental,
    Plain,
    Synced,
}

/// The chosen candidate as a record to store.
#[derive(Debug, Clone)]
pub struct Choice {
    pub rank: Rank,
    pub record: LyricsRecord,
    pub index: usize,
}

/// Picks the best acceptable candidate for `song`: names must match and durations agree; synced lyrics beat
/// plain ones, which beat "instrumental"; then the closest duration wins, then the server's order.
pub fn choose(song: &Song, candidates: &[LrclibRecord]) -> Option<Choice> {
    let artist_known = !song.artist.is_empty() && song.artist != UNKNOWN_ARTIST;
    let mut best: Option<(Choice, f64)> = None;
    for (index, candidate) in candidates.iter().enumerate() {
        let track = candidate.track_name.as_deref().unwrap_or_default();
        let artist = candidate.artist_name.as_deref().unwrap_or_default();
        if !matching::titles_match(&song.title, track) {
            continue;
        }
        if artist_known && !matching::artists_match(&song.artist, artist) {
            continue;
        }
        if matching::duration_mismatch(song.duration_s, candidate.duration) {
            continue;
        }
        let Some((rank, record)) = evaluate(song, candidate) else {
            continue;
        };
        let distance = match (song.duration_s, candidate.duration) {
            (Some(s), Some(c)) => (s - c).abs(),
            _ => f64::MAX / 4.0,
        };
        let better = match &best {
            None => true,
            Some((b, b_distance)) => rank > b.rank || (rank == b.rank && distance < *b_distance),
        };
        if better {
            best = Some((
                Choice {
                    rank,
                    record,
                    index,
                },
                distance,
            ));
        }
    }
    best.map(|(c, _)| c)
}

/// What a matching candidate offers; `None` when it has no usable text and is not instrumental (a miss).
fn evaluate(song: &Song, candidate: &LrclibRecord) -> Option<(Rank, LyricsRecord)> {
    if candidate.instrumental == Some(true) {
        return Some((
            Rank::Instrumental,
            LyricsRecord::instrumental(LyricsOrigin::Lrclib),
        ));
    }
    let plain = candidate
        .plain_lyrics
        .as_deref()
        .filter(|p| !p.trim().is_empty());
    let synced = candidate
        .synced_lyrics
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .filter(|s| {
            let parsed = lrc::parse(s);
            !parsed.is_empty() && !matching::synced_past_end(song.duration_s, parsed.last_time_s())
        });
    let record = match (plain, synced) {
        (Some(plain), Some(synced)) => {
            let mut record = LyricsRecord::new(plain, LyricsOrigin::Lrclib);
            record.synced = Some(crate::sanitize::clean_lyrics(synced).0);
            record
        }
        (None, Some(synced)) => LyricsRecord::synced(synced, LyricsOrigin::Lrclib),
        (Some(plain), None) => LyricsRecord::new(plain, LyricsOrigin::Lrclib),
        (None, None) => return None,
    };
    if !record.has_words() {
        return None;
    }
    let rank = if record.synced.is_some() {
        Rank::Synced
    } else {
        Rank::Plain
    };
    Some((rank, record))
}

#[cfg(test)]
mod tests {

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // The obsolete forms a server may still send.
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:10 2015", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    use super::*;
    use crate::records::Location;

    fn song(artist: &str, title: &str, duration: Option<f64>) -> Song {
        let mut s = Song::new(artist, title, "", Location::None);
        s.duration_s = duration;
        s
    }

    fn candidate(
        track: &str,
        artist: &str,
        duration: f64,
        plain: Option<&str>,
        synced: Option<&str>,
    ) -> LrclibRecord {
        LrclibRecord {
            track_name: Some(track.into()),
            artist_name: Some(artist.into()),
            duration: Some(duration),
            instrumental: Some(false),
            plain_lyrics: plain.map(String::from),
            synced_lyrics: synced.map(String::from),
            ..LrclibRecord::default()
        }
    }

    #[test]
    fn prefers_synced_then_closest_duration() {
        let s = song("Artist", "Song", Some(200.0));
        let list = vec![
            candidate("Song", "Artist", 150.0, Some("far"), Some("[00:01.00]far")),
            candidate("Song", "Artist", 201.0, Some("plain close"), None),
            candidate("Song", "Artist", 196.0, Some("a"), Some("[00:01.00]a")),
            candidate("Song", "Artist", 199.0, Some("b"), Some("[00:01.00]b")),
            candidate("Other", "Artist", 200.0, Some("other"), Some("[00:01.00]o")),
        ];
        let choice = choose(&s, &list).unwrap();
        assert_eq!(choice.index, 3);
        assert_eq!(choice.record.text, "b");
        assert_eq!(choice.rank, Rank::Synced);
    }

    #[test]
    fn synced_past_the_end_is_dropped_and_empty_records_are_misses() {
        let s = song("Artist", "Song", Some(60.0));
        let list = vec![candidate(
            "Song",
            "Artist",
            60.0,
            Some("words"),
            Some("[00:10.00]words\n[05:00.00]too late"),
        )];
        let choice = choose(&s, &list).unwrap();
        assert_eq!(choice.rank, Rank::Plain);
        assert_eq!(choice.record.synced, None);
        let only_late = vec![candidate(
            "Song",
            "Artist",
            60.0,
            None,
            Some("[05:00.00]too late"),
        )];
        assert!(choose(&s, &only_late).is_none());
        let empty = vec![candidate("Song", "Artist", 60.0, Some("  "), None)];
        assert!(choose(&s, &empty).is_none());
        let escapes_only = vec![candidate(
            "Song",
            "Artist",
            60.0,
            Some("\u{1b}[2J\u{1b}]0;x\u{7}"),
            None,
        )];
        assert!(choose(&s, &escapes_only).is_none());
    }

    #[test]
    fn instrumental_loses_to_words_but_counts() {
        let s = song("Artist", "Song", None);
        let mut inst = candidate("Song", "Artist", 100.0, None, None);
        inst.instrumental = Some(true);
        let choice = choose(&s, std::slice::from_ref(&inst)).unwrap();
        assert!(choice.record.instrumental);
        let words = candidate("Song", "Artist", 100.0, Some("la"), None);
        let choice = choose(&s, &[inst, words]).unwrap();
        assert_eq!(choice.record.text, "la");
    }

    #[test]
    fn error_bodies_of_both_servers() {
        assert_eq!(
            error_message(
                br#"{"code":404,"name":"TrackNotFound","message":"Failed to find specified track"}"#
            ),
            "TrackNotFound: Failed to find specified track"
        );
        assert_eq!(
            error_message(br#"{"statusCode":400,"error":"Bad Request","message":["x"]}"#),
            "Bad Request: [\"x\"]"
        );
        assert_eq!(error_message(br#"{"statusCode":503}"#), "code 503");
        assert_eq!(
            error_message(b"<html>\x1b[31mdown</html>"),
            "<html>down</html>"
        );
        assert!(error_message(&[b'x'; 1000]).chars().count() <= 201);
    }

    #[test]
    fn redirects_stay_on_the_same_host() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        let from = url("http://127.0.0.1:8080/api/get?x=1");
        assert!(redirect_verdict(&from, &url("http://127.0.0.1:8080/other")).is_ok());
        assert!(redirect_verdict(&from, &url("http://127.0.0.1:8081/other")).is_err());
        let refusal = redirect_verdict(&from, &url("http://127.0.0.2:8080/x")).unwrap_err();
        assert!(refusal.contains("127.0.0.2"), "{refusal}");
        assert!(redirect_verdict(&from, &url("http://localhost:8080/x")).is_err());
        let https = url("https://lrclib.net/api/get");
        assert!(redirect_verdict(&https, &url("https://lrclib.net/api/v2/get")).is_ok());
        assert!(redirect_verdict(&https, &url("http://lrclib.net/api/get")).is_err());
        assert!(redirect_verdict(&https, &url("https://evil.example/api/get")).is_err());
    }

    #[test]
    fn user_agent_names_app_version_and_homepage() {
        let ua = user_agent();
        assert!(ua.starts_with("moodtape/"));
        assert!(ua.contains(env!("CARGO_PKG_VERSION")));
        assert!(ua.contains("https://"));
    }
}
