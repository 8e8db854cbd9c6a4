//! Helpers shared by the integration tests: real audio files with real tags, and the binary under test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use lofty::config::WriteOptions;
use lofty::file::TaggedFileExt;
use lofty::prelude::{Accessor, ItemKey};
use lofty::tag::{Tag, TagExt};

/// One second of silent 16-bit mono PCM in a RIFF/WAVE container.
pub fn wav_bytes(seconds: u32) -> Vec<u8> {
    let rate: u32 = 8000;
    let data_len = rate * 2 * seconds;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    b.resize(b.len() + data_len as usize, 0);
    b
}

/// MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz) of silence: about `seconds` long.
pub fn mp3_bytes(seconds: u32) -> Vec<u8> {
    let frames = (seconds * 44100).div_ceil(1152);
    let mut b = Vec::new();
    for _ in 0..frames {
        let mut frame = vec![0u8; 417];
        frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x00]);
        b.extend_from_slice(&frame);
    }
    b
}

/// A FLAC stream with only its STREAMINFO block (44.1 kHz, 16-bit stereo, `seconds` long).
pub fn flac_bytes(seconds: u32) -> Vec<u8> {
    let mut b = b"fLaC".to_vec();
    b.push(0x00); // STREAMINFO, not the last block
    b.extend_from_slice(&[0, 0, 34]);
    b.extend_from_slice(&4096u16.to_be_bytes());
    b.extend_from_slice(&4096u16.to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let rate: u64 = 44100;
    let samples: u64 = rate * u64::from(seconds);
    // 20 bits rate, 3 bits channels-1, 5 bits bps-1, 36 bits total samples.
    let packed: u64 = (rate << 44) | (1 << 41) | (15 << 36) | samples;
    b.extend_from_slice(&packed.to_be_bytes());
    b.extend_from_slice(&[0u8; 16]);
    b.extend_from_slice(&[0x81, 0, 0, 16]); // PADDING, the last block
    b.extend_from_slice(&[0u8; 16]);
    // A frame header followed by silence, so writers find audio after the metadata.
    b.extend_from_slice(&[0xFF, 0xF8, 0x69, 0x08, 0x00, 0x00, 0x00]);
    b.resize(b.len() + 512, 0);
    b
}

pub struct Tags<'a> {
    pub artist: &'a str,
    pub title: &'a str,
    pub album: &'a str,
    pub lyrics: Option<&'a str>,
}

/// Writes an audio file of the kind its extension names and tags it with lofty.
pub fn write_audio(path: &Path, tags: &Tags, seconds: u32) {
    let bytes = match path.extension().and_then(|e| e.to_str()) {
        Some("wav") => wav_bytes(seconds),
        Some("mp3") => mp3_bytes(seconds),
        Some("flac") => flac_bytes(seconds),
        other => panic!("no generator for {other:?}"),
    };
    std::fs::write(path, bytes).unwrap();
    retag(path, tags);
}

/// Replaces the tags of an existing audio file.
pub fn retag(path: &Path, tags: &Tags) {
    let tagged = lofty::probe::Probe::open(path)
        .unwrap()
        .guess_file_type()
        .unwrap()
        .read()
        .unwrap();
    let mut tag = Tag::new(tagged.primary_tag_type());
    tag.set_artist(tags.artist.to_string());
    tag.set_title(tags.title.to_string());
    tag.set_album(tags.album.to_string());
    if let Some(lyrics) = tags.lyrics {
        tag.insert_text(ItemKey::Lyrics, lyrics.to_string());
    }
    tag.save_to_path(path, WriteOptions::default()).unwrap();
}

/// The moodtape binary with its dirs pointed into `home`, so a test never touches the user's files.
pub fn moodtape(home: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("moodtape").unwrap();
    isolate(&mut cmd, home);
    cmd
}

/// A std Command for the binary (for spawning and killing), isolated like [`moodtape`].
pub fn moodtape_std(home: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("moodtape"));
    isolate(&mut cmd, home);
    cmd
}

pub trait EnvSet {
    fn set(&mut self, key: &str, value: &Path);
    fn unset(&mut self, key: &str);
}
impl EnvSet for assert_cmd::Command {
    fn set(&mut self, key: &str, value: &Path) {
        self.env(key, value);
    }
    fn unset(&mut self, key: &str) {
        self.env_remove(key);
    }
}
impl EnvSet for std::process::Command {
    fn set(&mut self, key: &str, value: &Path) {
        self.env(key, value);
    }
    fn unset(&mut self, key: &str) {
        self.env_remove(key);
    }
}

pub fn isolate(cmd: &mut dyn EnvSet, home: &Path) {
    cmd.set("HOME", home);
    cmd.set("XDG_CONFIG_HOME", &home.join("config"));
    cmd.set("XDG_DATA_HOME", &home.join("data"));
    cmd.set("XDG_CACHE_HOME", &home.join("cache"));
    cmd.set("XDG_STATE_HOME", &home.join("state"));
    cmd.unset("MOODTAPE_CONFIG");
    cmd.unset("MOODTAPE_DB");
    cmd.unset("MOODTAPE_LRCLIB_URL");
    // Sockets of running moodtapes go to the cache dir, inside the test's home.
    cmd.unset("XDG_RUNTIME_DIR");
    // The model cache is shared between tests (and CI) so the encoder is fetched once.
    if std::env::var_os("MOODTAPE_MODEL_CACHE").is_none() {
        if let Some(dir) = shared_model_cache() {
            cmd.set("MOODTAPE_MODEL_CACHE", &dir);
        }
    }
}

/// The real user cache dir, where `moodtape models fetch` keeps the encoder; tests reuse it.
pub fn shared_model_cache() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "moodtape").map(|d| d.cache_dir().join("models"))
}

/// Parses stdout as JSON.
/// `out` of a command that must have succeeded: a failure shows its stderr.
pub fn succeeded(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The stdout of a command that must have succeeded, as JSON.
pub fn ok_json(out: std::process::Output) -> serde_json::Value {
    json_out(&succeeded(out))
}

pub fn json_out(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Whether `tmux` can be run here (the TUI's end-to-end test drives the binary in it).
pub fn tmux_available() -> bool {
    std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Whether this run is CI's (`CI` set, as `.ci/run` does, and not "false" or "0").
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Gates a test on a real part it needs (`what`, e.g. "mpd"): true when `found`. When it is missing, under CI the
/// test fails, so a skipped real test can never pass for a passing one; elsewhere it says SKIPPED on the terminal
/// (written past the test runner's capture, which hides the output of passing tests) and the test returns.
pub fn require(what: &str, found: bool, test: &str, how: &str) -> bool {
    if found {
        return true;
    }
    if in_ci() {
        panic!("{test}: {what} is needed and missing, and CI must not skip real tests; {how}");
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\nSKIPPED {test}: {what} is missing ({how}); with CI=true this fails\n"
    );
    false
}

/// [`require`] for tmux.
pub fn require_tmux(test: &str) -> bool {
    require(
        "tmux",
        tmux_available(),
        test,
        "`apt-get install tmux` runs it",
    )
}

/// Makes sure the encoder is in the shared model cache, fetching it with moodtape's own fetch once per test
/// binary: a test that needs the model never depends on an earlier suite having put it there.
pub fn ensure_model() {
    static FETCHED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let result = FETCHED.get_or_init(|| {
        let home = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = moodtape_std(home.path())
            .args(["models", "fetch"])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    if let Err(e) = result {
        panic!("the encoder could not be fetched, and this test needs it: {e}");
    }
}
