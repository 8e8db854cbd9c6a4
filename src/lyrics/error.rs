//! What can go wrong while looking up lyrics. Every variant is about one song: none of them stops a fetch run.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum LyricsError {
    #[error("could not connect to {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("no complete answer from {url} within {}s", .after.as_secs_f64())]
    Timeout { url: String, after: Duration },
    #[error("request to {url} failed: {detail}")]
    Transport { url: String, detail: String },
    #[error("the server answered HTTP {status}{}", describe(.message))]
    Http { status: u16, message: String },
    #[error("the server is rate limiting us (HTTP 429) and still was after {attempts} attempts")]
    RateLimited { attempts: u32 },
    #[error("the answer is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the server sent malformed JSON: {0}")]
    Json(String),
    #[error("bad lyrics server URL {url:?}: {detail}")]
    BadUrl { url: String, detail: String },
    #[error("not asked: {url} could not be reached the last {failures} times")]
    Unreachable { url: String, failures: u32 },
    /// The circuit breaker tripped: the server timed out or rate limited us too often in a row.
    #[error("not asked: {reason}")]
    Stopped { reason: String },
    #[error("{url} redirected to another host: {detail}")]
    Redirect { url: String, detail: String },
    /// The run's time budget ran out before this song's lookup finished; not a failure of the server.
    #[error("not looked up: the time for lyrics ran out")]
    OutOfTime,
    #[error("cancelled")]
    Cancelled,
    #[error("cannot read {path}: {detail}")]
    Local { path: String, detail: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

fn describe(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

impl LyricsError {
    /// Worth asking again after a pause: the network or the server may recover.
    pub fn is_transient(&self) -> bool {
        match self {
            LyricsError::Connect { .. }
            | LyricsError::Timeout { .. }
            | LyricsError::Transport { .. } => true,
            LyricsError::Http { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}
