//! Playing through any player with a command template (config `player.command`, e.g. `mpv --playlist={m3u}`):
//! the songs go into a temporary M3U8 file whose path replaces `{m3u}`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::m3u::write_m3u8_absolute;
use super::PlayerError;
use crate::records::Song;

/// Runs the player command for `songs` and waits for it (a terminal player such as mpv takes over until it ends).
pub fn run_command(template: &str, songs: &[Song]) -> Result<(), PlayerError> {
    let mut cmd = prepare(template, songs)?;
    let status = cmd.status().map_err(|e| PlayerError::Command {
        command: template.to_string(),
        detail: e.to_string(),
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(PlayerError::Command {
            command: template.to_string(),
            detail: format!("it exited with {status}"),
        })
    }
}

/// Starts the player command for `songs` without waiting, its output detached (for the TUI, which owns the
/// terminal).
pub fn spawn_command(template: &str, songs: &[Song]) -> Result<Child, PlayerError> {
    let mut cmd = prepare(template, songs)?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| PlayerError::Command {
            command: template.to_string(),
            detail: e.to_string(),
        })
}

/// The command with `{m3u}` replaced by a new playlist file (appended when the template has no `{m3u}`). The file
/// is left in the temp dir: players such as `xdg-open` read it after the command has returned.
fn prepare(template: &str, songs: &[Song]) -> Result<Command, PlayerError> {
    let template = template.trim();
    if template.is_empty() {
        return Err(PlayerError::NoCommand);
    }
    if songs.is_empty() {
        return Err(PlayerError::Empty);
    }
    let path = temp_playlist();
    write_m3u8_absolute(&path, songs).map_err(|source| PlayerError::Write {
        path: path.display().to_string(),
        source,
    })?;
    let arg = path.to_string_lossy().into_owned();
    let line = if template.contains("{m3u}") {
        template.replace("{m3u}", &shell_quote(&arg))
    } else {
        format!("{template} {}", shell_quote(&arg))
    };
    Ok(shell(&line))
}

fn temp_playlist() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("moodtape-{}-{nanos}.m3u8", std::process::id()))
}

#[cfg(unix)]
fn shell(line: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(line);
    c
}

#[cfg(not(unix))]
fn shell(line: &str) -> Command {
    let mut c = Command::new("cmd");
    c.arg("/C").arg(line);
    c
}

/// The path as `sh` should see it. Temp paths are plain (`/tmp/moodtape-1-2.m3u8`) and go in bare, so a template
/// that quotes `{m3u}` itself still works; only unusual temp dirs need quoting.
#[cfg(unix)]
fn shell_quote(arg: &str) -> String {
    let plain = arg
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(not(unix))]
fn shell_quote(arg: &str) -> String {
    format!("\"{arg}\"")
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::records::Location;

    #[test]
    fn the_template_gets_the_playlist() {
        let dir = std::env::temp_dir().join(format!("moodtape-cmd-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("copy.m3u8");
        let song = Song::new("A", "T", "", Location::File("/m/a.flac".into()));
        run_command(&format!("cp {{m3u}} '{}'", out.display()), &[song]).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("#EXTINF:-1,A - T\n/m/a.flac\n"), "{text}");
        assert!(run_command("false", &[Song::new("A", "T", "", Location::None)]).is_err());
        assert!(matches!(
            run_command("  ", &[]),
            Err(PlayerError::NoCommand)
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
