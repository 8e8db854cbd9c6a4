//! A tmux server of the tests' own (its own socket, the isolated environment) that runs the real binary in a
//! 120x40 terminal, reads the screen and is killed on drop.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common;

pub const SESSION: &str = "moodtape";

/// What on the screen means the app failed, so a wait ends at once instead of timing out.
const FAILED: [&str; 2] = ["cannot read the mood", "✗ model:"];

pub struct Tmux {
    socket: String,
    home: PathBuf,
}

impl Tmux {
    /// A server named after `name` and this process, running programs with `home` as their isolated home.
    pub fn new(name: &str, home: &Path) -> Tmux {
        Tmux {
            socket: format!("{name}-{}", std::process::id()),
            home: home.to_path_buf(),
        }
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket, "-f", "/dev/null"]);
        common::isolate(&mut cmd, &self.home);
        cmd.env_remove("TMUX").env_remove("NO_COLOR");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts the binary with `flags` (after `env`, e.g. `MPD_PORT=6601`) at 120x40; the shell prints its exit
    /// code after it and stays, so the screen can be read after the app ends.
    pub fn launch(&self, env: &str, flags: &str) {
        let bin = assert_cmd::cargo::cargo_bin("moodtape");
        let script = format!(
            "{env} '{}' {flags}; echo MOODTAPE_EXIT=$?; sleep 600",
            bin.display().to_string().replace('\'', "'\\''")
        );
        self.start(&script);
    }

    /// Opens the session at 120x40 running the shell command `command`.
    pub fn start(&self, command: &str) {
        self.run(&[
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "-s",
            SESSION,
            command,
        ]);
    }

    pub fn keys(&self, keys: &str) {
        self.run(&["send-keys", "-t", SESSION, keys]);
    }

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", SESSION])
    }

    /// Polls the screen until `done` holds; panics with the screen and the app's log when the app shows a
    /// failure or time is up.
    pub fn wait_for(&self, what: &str, timeout: Duration, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if done(&screen) {
                eprintln!("{what}: after {:.1}s", start.elapsed().as_secs_f64());
                return screen;
            }
            let failed = FAILED.iter().find(|f| screen.contains(*f));
            if failed.is_some() || start.elapsed() > timeout {
                let log = std::fs::read_to_string(self.home.join("state/moodtape/moodtape.log"))
                    .unwrap_or_default();
                panic!(
                    "waiting for {what} ({:.0}s): {}\n--- screen ---\n{screen}\n--- log ---\n{log}",
                    start.elapsed().as_secs_f64(),
                    failed.map_or("timed out", |f| f)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
    }
}
