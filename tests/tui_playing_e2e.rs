//! The real binary in tmux following a real `mpd`: the TUI shows the playing song, says so when mpd is killed
//! while it keeps working, and follows mpd again when it comes back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod mpd_support;
mod tmux_support;

use std::time::Duration;

use common::{write_audio, Tags};
use mpd_support::{require_mpd, Mpd};
use tmux_support::Tmux;

#[test]
fn the_tui_shows_the_playing_song_and_survives_mpd_going_away() {
    let Some(bin) = require_mpd(module_path!()) else {
        return;
    };
    if !common::require_tmux(module_path!()) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    for (artist, title) in [("Ann Arbor", "Sunny Run"), ("Ben Bright", "Jump Around")] {
        let tags = Tags {
            artist,
            title,
            album: "Moods",
            lyrics: None,
        };
        write_audio(&music.join(format!("{artist} - {title}.mp3")), &tags, 60);
    }
    let mut mpd = Mpd::start(&bin, &music, &tmp.path().join("mpd"), None);
    mpd.update_and_wait(2);
    let home = tmp.path().join("home");
    let out = common::moodtape(&home)
        .env("MPD_HOST", "127.0.0.1")
        .env("MPD_PORT", mpd.port.to_string())
        .args(["--offline", "scan", "--mpd"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut conn = mpd.conn();
    conn.command("add \"Ann Arbor - Sunny Run.mp3\"");
    conn.command("add \"Ben Bright - Jump Around.mp3\"");
    conn.command("play 0");

    let tmux = Tmux::new("moodtape-playing", &home);
    tmux.launch(
        &format!("MPD_HOST=127.0.0.1 MPD_PORT={}", mpd.port),
        "--offline",
    );
    tmux.wait_for("the playing song", Duration::from_secs(60), |s| {
        s.contains("▶ Ann Arbor – Sunny Run")
    });
    tmux.keys(">");
    tmux.wait_for("the next song", Duration::from_secs(60), |s| {
        s.contains("▶ Ben Bright – Jump Around")
    });

    mpd.kill();
    tmux.wait_for("MPD lost", Duration::from_secs(60), |s| {
        s.contains("trying again")
    });
    // The UI keeps working.
    tmux.keys("?");
    tmux.wait_for("help", Duration::from_secs(60), |s| s.contains("Keys (esc"));
    tmux.keys("Escape");
    mpd.start_again();
    // A killed mpd kept no queue.
    let mut conn = mpd.conn();
    conn.command("add \"Ann Arbor - Sunny Run.mp3\"");
    conn.command("play 0");
    tmux.wait_for("MPD back", Duration::from_secs(60), |s| {
        s.contains("▶ Ann Arbor – Sunny Run") && !s.contains("trying again")
    });
    tmux.keys("q");
    let after = tmux.wait_for("exit", Duration::from_secs(60), |s| {
        s.contains("MOODTAPE_EXIT=")
    });
    assert!(after.contains("MOODTAPE_EXIT=0"), "{after}");
}
