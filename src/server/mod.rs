//! A running moodtape serves the others. The process that holds a database listens on a Unix socket for it
//! (`$XDG_RUNTIME_DIR/moodtape/`, or the cache dir's `sockets/`, named after the database path, mode 0600, the
//! peer's uid checked), and any other moodtape that finds the database held sends its calls there.
//!
//! The protocol is JSON lines. A request is one line `{"v": 1, "call": {...}}` of at most [`MAX_REQUEST`] bytes;
//! the answer is zero or more `{"progress": ...}` and `{"alive": true}` lines (the latter every
//! [`HEARTBEAT`] while a call runs, so a client can tell a long call from a hung server), then one
//! `{"ok": ...}` or `{"error": {"message", "causes"}}` line, and the connection closes. A malformed, oversized or
//! foreign request gets an error line, never a crash.

mod client;
mod core;
mod host;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use client::Client;
pub use core::{Core, Link};
pub use host::Server;

use crate::service::{Answer, Call, Progress};

/// The protocol version this build speaks.
pub const PROTOCOL: u32 = 1;
/// The largest request line a server reads.
pub const MAX_REQUEST: usize = 1 << 20;
/// How often a server says it is still working on a call.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a client waits for any line before it gives up (`MOODTAPE_SOCKET_TIMEOUT_S` overrides).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub v: u32,
    pub call: Call,
}

/// An error as it crosses the socket: the message and its causes, as the CLI prints them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub message: String,
    #[serde(default)]
    pub causes: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Progress(Progress),
    Alive(bool),
    Ok(Box<Answer>),
    Error(ErrorReply),
}

impl ErrorReply {
    pub fn of(e: &anyhow::Error) -> ErrorReply {
        let mut chain = e.chain().map(|c| c.to_string());
        ErrorReply {
            message: chain.next().unwrap_or_default(),
            causes: chain.collect(),
        }
    }

    /// Back into an error whose chain prints the same lines.
    pub fn into_error(self) -> anyhow::Error {
        let mut err: Option<RemoteError> = None;
        for text in self.causes.into_iter().rev() {
            err = Some(RemoteError {
                text,
                source: err.map(Box::new),
            });
        }
        anyhow::Error::new(RemoteError {
            text: self.message,
            source: err.map(Box::new),
        })
    }
}

/// One line of an error chain that came over the socket.
#[derive(Debug)]
struct RemoteError {
    text: String,
    source: Option<Box<RemoteError>>,
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for RemoteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The folder sockets live in: `$XDG_RUNTIME_DIR/moodtape`, or `cache_dir/sockets` where that is unset.
pub fn socket_dir(cache_dir: &Path) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("moodtape"),
        None => cache_dir.join("sockets"),
    }
}

/// The socket of the database at `db`: a short hash of its absolute path, so every moodtape that opens the same
/// database finds the same socket, and the path stays under the length a socket address allows.
pub fn socket_path(cache_dir: &Path, db: &Path) -> PathBuf {
    let absolute = canonical_db(db);
    let digest = <sha2::Sha256 as sha2::Digest>::digest(crate::records::path_bytes(&absolute));
    let name = format!("{}.sock", crate::records::hex(&digest[..8]));
    socket_dir(cache_dir).join(name)
}

/// The database path made absolute with symlinks resolved where it exists, so two spellings of one database
/// meet at one socket.
fn canonical_db(db: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(db) {
        return p;
    }
    let absolute = std::path::absolute(db).unwrap_or_else(|_| db.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent)
            .map(|p| p.join(name))
            .unwrap_or(absolute),
        _ => absolute,
    }
}

/// How long a client waits for a line.
pub fn idle_timeout() -> Duration {
    std::env::var("MOODTAPE_SOCKET_TIMEOUT_S")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(DEFAULT_IDLE_TIMEOUT, |s| {
            Duration::from_secs_f64(s.min(86_400.0))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_cross_with_their_causes() {
        let e = anyhow::anyhow!("root").context("middle").context("top");
        let reply = ErrorReply::of(&e);
        assert_eq!(reply.message, "top");
        assert_eq!(reply.causes, vec!["middle", "root"]);
        let back = reply.clone().into_error();
        let lines: Vec<String> = back.chain().map(|c| c.to_string()).collect();
        assert_eq!(lines, vec!["top", "middle", "root"]);
    }

    #[test]
    fn one_database_one_socket() {
        let dir = std::env::temp_dir();
        let sub = dir.join(format!("moodtape-sock-test-{}", std::process::id()));
        std::fs::create_dir_all(&sub).unwrap();
        let a = socket_path(&dir, &sub.join("../library.db"));
        let b = socket_path(&dir, &dir.join("library.db"));
        let c = socket_path(&dir, &dir.join("other.db"));
        let _ = std::fs::remove_dir(&sub);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.as_os_str().len() < 100);
    }
}
