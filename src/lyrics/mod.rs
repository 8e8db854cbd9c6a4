//! Lyrics: the stored record, sidecar and tag sources, the LRCLIB client and LRC parsing.
//!
//! - [`source`]: the [`LyricsSource`] trait and the [`Chain`] of sidecar, tags, cache and LRCLIB.
//! - [`lrclib`]: the HTTP client, polite (rate limit, User-Agent) and fault-proof (timeouts, retries, body cap).
//! - [`matching`]: whether a server's record belongs to a song.
//! - [`lrc`]: LRC parsing.
//! - [`fetch`]: fetching for the whole library on a few worker threads, with progress and cancellation.

pub mod error;
pub mod fetch;
pub mod follow;
pub mod lrc;
pub mod lrclib;
pub mod matching;
pub mod source;

pub use error::LyricsError;
pub use fetch::{FetchOptions, FetchProgress, FetchSettings, FetchSummary};
pub use source::{Chain, LyricsSource, Outcome};
