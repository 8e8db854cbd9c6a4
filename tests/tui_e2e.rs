//! The real binary in a real terminal: tmux runs `moodtape --demo` at 120x40, the test types a mood, waits for
//! recommendations, opens the help, quits, and checks the terminal was handed back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod tmux_support;

use std::process::Command;
use std::time::{Duration, Instant};

use tmux_support::{Tmux, SESSION};

const MOOD: &str = "I miss her so much, I feel empty";

/// A child process killed when the test ends early, so none outlives it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn type_a_mood_get_recommendations_open_help_and_quit() {
    if !common::require_tmux(module_path!()) {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let tmux = Tmux::new("moodtape-e2e", home.path());
    tmux.launch("", "--demo");

    // The first frame comes at once, long before the model has loaded.
    let first = tmux.wait_for("first frame", Duration::from_secs(60), |s| {
        s.contains("Library [1]")
    });
    eprintln!(
        "first frame shows the model {}",
        if first.contains("loading model") {
            "loading"
        } else {
            "already loaded"
        }
    );
    assert!(first.contains("124 songs"), "{first}");

    tmux.keys("m");
    tmux.run(&["send-keys", "-t", SESSION, "-l", MOOD]);
    let typed = tmux.wait_for("typed mood", Duration::from_secs(10), |s| s.contains(MOOD));
    assert!(
        !typed.contains("MOODTAPE_EXIT"),
        "typing q-less text must not quit"
    );
    tmux.keys("Enter");

    // Recommendations: the playlist is titled with the mood and has a first song with its reason.
    let recs = tmux.wait_for("recommendations", Duration::from_secs(120), |s| {
        s.contains("for \"I miss her so much") && s.contains("why:")
    });
    assert!(recs.contains(" 1 "), "{recs}");

    // While the TUI holds the database, another shell's commands go through it.
    let file = tmux.home().join("from-another-shell.m3u8");
    let out = common::moodtape_std(tmux.home())
        .args([
            "--demo",
            "recommend",
            "match",
            "dancing all night",
            "--limit",
            "4",
            "--allow-empty",
            "--out",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // Demo songs have no audio file, and the message says so.
    assert!(err.contains("wrote 0 of 4 songs"), "{err}");
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .starts_with("#EXTM3U"));
    let out = common::moodtape_std(tmux.home())
        .args(["--demo", "feedback", "like", "Rainy Window Lullaby"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The TUI shows what the other shell did.
    tmux.wait_for(
        "feedback from another shell",
        Duration::from_secs(10),
        |s| s.contains("liked Amélie Hart - Rainy Window Lullaby"),
    );

    tmux.keys("?");
    let help = tmux.wait_for("help", Duration::from_secs(10), |s| s.contains("Keys (esc"));
    assert!(
        help.contains("type a mood") && help.contains("next pane"),
        "{help}"
    );

    tmux.keys("q");
    let after = tmux.wait_for("exit", Duration::from_secs(30), |s| {
        s.contains("MOODTAPE_EXIT=")
    });
    assert!(after.contains("MOODTAPE_EXIT=0"), "{after}");
    // The alternate screen is gone: nothing of the TUI is left on the terminal.
    assert!(
        !after.contains("Library [1]") && !after.contains("Keys (esc"),
        "{after}"
    );
    let alternate = tmux.run(&["display-message", "-p", "-t", SESSION, "#{alternate_on}"]);
    assert_eq!(alternate.trim(), "0");
    let cursor = tmux.run(&["display-message", "-p", "-t", SESSION, "#{cursor_flag}"]);
    assert_eq!(cursor.trim(), "1", "the cursor is hidden after exit");
}

#[test]
fn a_tui_started_while_serve_runs_attaches_to_it() {
    if !common::require_tmux(module_path!()) {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let tmux = Tmux::new("moodtape-attach", home.path());
    let mut serve = KillOnDrop(
        common::moodtape_std(tmux.home())
            .args(["--demo", "--offline", "serve"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = serve.0.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    loop {
        let line = lines.next().expect("serve ended early").unwrap();
        if line.contains("serving") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    tmux.launch("", "--demo --offline");
    let screen = tmux.wait_for("attached TUI", Duration::from_secs(60), |s| {
        s.contains("Library [1]") && s.contains(&format!("via pid {}", serve.0.id()))
    });
    assert!(screen.contains("124 songs"), "{screen}");
    tmux.keys("q");
    let after = tmux.wait_for("exit", Duration::from_secs(30), |s| {
        s.contains("MOODTAPE_EXIT=")
    });
    assert!(after.contains("MOODTAPE_EXIT=0"), "{after}");
    // Closing the client leaves the server running.
    assert!(
        serve.0.try_wait().unwrap().is_none(),
        "serve stopped with its client"
    );
    // SAFETY: kill only signals our own child.
    unsafe { libc::kill(serve.0.id() as i32, libc::SIGTERM) };
    assert!(serve.0.wait().unwrap().success());
}

/// The pid of the process the pane's shell runs in the foreground (its child).
fn child_of_pane(tmux: &Tmux) -> String {
    let shell = tmux.run(&["display-message", "-p", "-t", SESSION, "#{pane_pid}"]);
    let out = Command::new("pgrep")
        .args(["-P", shell.trim()])
        .output()
        .unwrap();
    let pids = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !pids.is_empty() && !pids.contains('\n'),
        "children: {pids:?}"
    );
    pids
}

#[test]
fn ctrl_z_suspends_and_sigterm_or_sighup_restore_the_terminal() {
    if !common::require_tmux(module_path!()) {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let tmux = Tmux::new("moodtape-signals", home.path());
    tmux.start("bash --norc --noprofile -i");
    let bin = assert_cmd::cargo::cargo_bin("moodtape");
    let start = format!("'{}' --demo; echo MOODTAPE_EXIT=$?", bin.display());
    let alternate = || {
        tmux.run(&["display-message", "-p", "-t", SESSION, "#{alternate_on}"])
            .trim()
            .to_string()
    };
    for signal in ["TERM", "HUP"] {
        tmux.run(&["send-keys", "-t", SESSION, "clear", "Enter"]);
        tmux.run(&["send-keys", "-t", SESSION, &start, "Enter"]);
        tmux.wait_for("first frame", Duration::from_secs(60), |s| {
            s.contains("Library [1]")
        });
        if signal == "TERM" {
            // Ctrl-Z hands the terminal back to the shell; fg brings the TUI back, redrawn.
            tmux.keys("C-z");
            tmux.wait_for("suspended", Duration::from_secs(10), |s| {
                s.contains("Stopped")
            });
            assert_eq!(alternate(), "0");
            tmux.run(&["send-keys", "-t", SESSION, "fg", "Enter"]);
            tmux.wait_for("resumed", Duration::from_secs(10), |s| {
                s.contains("Library [1]")
            });
            assert_eq!(alternate(), "1");
        }
        let pid = child_of_pane(&tmux);
        let killed = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(killed.success());
        let gone = Instant::now();
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                gone.elapsed() < Duration::from_secs(30),
                "SIG{signal}: moodtape did not end"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let after = tmux.screen();
        if signal == "HUP" {
            // Without a suspend in between, the shell prints the exit code: a clean end, as with q.
            let after = tmux.wait_for("exit", Duration::from_secs(10), |s| {
                s.contains("MOODTAPE_EXIT=")
            });
            assert!(after.contains("MOODTAPE_EXIT=0"), "SIG{signal}: {after}");
        }
        assert_eq!(alternate(), "0", "SIG{signal} left the alternate screen on");
        assert!(!after.contains("Library [1]"), "{after}");
        // The database was closed cleanly: it opens and checks without a word of damage.
        let check = common::moodtape_std(tmux.home())
            .args(["--demo", "db", "check"])
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "SIG{signal}: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
    }
}
