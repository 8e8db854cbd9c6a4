//! moodtape: a terminal music companion that reads the mood of songs from their lyrics and recommends songs
//! that fit, or gently change, how you feel.

pub mod app;
pub mod cli;
pub mod config;
pub mod emotion;
pub mod library;
pub mod lyrics;
pub mod paths;
pub mod player;
pub mod recommend;
pub mod sanitize;
pub mod store;
pub mod ui;
