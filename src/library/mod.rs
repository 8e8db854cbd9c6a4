//! The song library: the `Song` record, scanning music folders, importing CSV/JSONL, the demo library and fuzzy
//! search.

pub mod demo;
pub mod import;
pub mod scan;
pub mod search;
pub mod song;

pub use song::{format_duration, normalize_name, FileStamp, Location, LyricsOrigin, Song, SongId};
