//! Off the user's path: training the heads, scoring them on datasets, and measuring speed. The CLI's `train`,
//! `eval` and `bench` commands call these; nothing else does.

pub mod bench;
pub mod bench_ui;
pub mod data;
pub mod eval;
pub mod metrics;
pub mod train;
