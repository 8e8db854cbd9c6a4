//! moodtape: a terminal music companion that reads the mood of songs from their lyrics and recommends songs
//! that fit, or gently change, how you feel.
//!
//! Layers, each using only those listed before it (a test reads the imports and holds this order):
//! `sanitize`, `paths` → `files` → `records` → `store` → `library`, `lyrics`, `emotion`, `recommend`, `player` (the
//! domain) → `config` → `service` (the one core) → `lab` (train, eval, bench) → `server` → `cli`, `tui` (the
//! faces, which never use each other).

pub mod cli;
pub mod config;
pub mod emotion;
pub mod files;
pub mod lab;
pub mod library;
pub mod lyrics;
pub mod paths;
pub mod player;
pub mod recommend;
pub mod records;
pub mod sanitize;
pub mod server;
pub mod service;
pub mod store;
pub mod tui;
