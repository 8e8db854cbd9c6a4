//! The song library: scanning music folders, importing CSV/JSONL, the demo library and fuzzy
//! search.

pub mod demo;
pub mod import;
pub mod scan;
pub mod search;
