//! The real binary in tmux following a real `mpd`: the TUI shows the playing song, says so when mpd is killed
//! while it keeps working, and follows mpd again when it comes back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod mpd_support;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{write_audio, Tags};
use mpd_support::{require_mpd, Mpd};

const SESSION: &str = "moodtape";

struct Tmux {
    socket: String,
    home: std::path::PathBuf,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket, "-f", "/dev/null"]);
        common::isolate(&mut cmd, &self.home);
        cmd.env_remove("TMUX").env_remove("NO_COLOR");
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.run(&["capture-pane", "-p", "-t", SESSION]);
            if done(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "waiting for {what}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

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

    let tmux = Tmux {
        socket: format!("moodtape-playing-{}", std::process::id()),
        home: home.clone(),
    };
    let script = format!(
        "MPD_HOST=127.0.0.1 MPD_PORT={} '{}' --offline; echo MOODTAPE_EXIT=$?; sleep 600",
        mpd.port,
        assert_cmd::cargo::cargo_bin("moodtape").display()
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-x",
        "120",
        "-y",
        "40",
        "-s",
        SESSION,
        &script,
    ]);
    tmux.wait_for("the playing song", |s| {
        s.contains("▶ Ann Arbor – Sunny Run")
    });
    tmux.run(&["send-keys", "-t", SESSION, ">"]);
    tmux.wait_for("the next song", |s| {
        s.contains("▶ Ben Bright – Jump Around")
    });

    mpd.kill();
    tmux.wait_for("MPD lost", |s| s.contains("trying again"));
    // The UI keeps working.
    tmux.run(&["send-keys", "-t", SESSION, "?"]);
    tmux.wait_for("help", |s| s.contains("Keys (esc"));
    tmux.run(&["send-keys", "-t", SESSION, "Escape"]);
    mpd.start_again();
    // A killed mpd kept no queue.
    let mut conn = mpd.conn();
    conn.command("add \"Ann Arbor - Sunny Run.mp3\"");
    conn.command("play 0");
    tmux.wait_for("MPD back", |s| {
        s.contains("▶ Ann Arbor – Sunny Run") && !s.contains("trying again")
    });
    tmux.run(&["send-keys", "-t", SESSION, "q"]);
    let after = tmux.wait_for("exit", |s| s.contains("MOODTAPE_EXIT="));
    assert!(after.contains("MOODTAPE_EXIT=0"), "{after}");
}
