//! A song's stored lyrics and the record of a failed lookup.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::song::LyricsOrigin;

/// A song's lyrics as stored. `text` is plain, sanitized text used for analysis; `synced` keeps LRC for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LyricsRecord {
    pub text: String,
    #[serde(default)]
    pub synced: Option<String>,
    pub origin: LyricsOrigin,
    #[serde(default)]
    pub instrumental: bool,
    /// Set when the text was cut at [`crate::sanitize::MAX_LYRICS_CHARS`].
    #[serde(default)]
    pub truncated: bool,
    #[serde(default)]
    pub fetched_at: u64,
}

impl LyricsRecord {
    /// Cleans `text` (escapes removed, long texts cut) and records where it came from.
    pub fn new(text: &str, origin: LyricsOrigin) -> LyricsRecord {
        let (text, truncated) = crate::sanitize::clean_lyrics(text);
        LyricsRecord {
            text,
            synced: None,
            origin,
            instrumental: false,
            truncated,
            fetched_at: crate::records::now_s(),
        }
    }

    /// A record saying the song has no words.
    pub fn instrumental(origin: LyricsOrigin) -> LyricsRecord {
        LyricsRecord {
            instrumental: true,
            ..LyricsRecord::new("", origin)
        }
    }

    /// Lyrics in whichever form `text` has: LRC when a line starts with a time stamp (or it is nothing but LRC
    /// tags), plain otherwise.
    pub fn from_text(text: &str, origin: LyricsOrigin) -> LyricsRecord {
        LyricsRecord::synced(text, origin)
    }

    /// Lyrics in LRC form: the plain text is derived from it, and the cleaned LRC kept for display. Text without
    /// a single time stamp is not LRC, whatever brackets it has: it is kept whole as plain text, so lines such as
    /// `[Chorus]` stay.
    pub fn synced(lrc: &str, origin: LyricsOrigin) -> LyricsRecord {
        if !has_time_stamps(lrc) && !only_lrc_tags(lrc) {
            return LyricsRecord::new(lrc, origin);
        }
        let plain: Vec<String> = lrc.lines().map(lrc_line_text).collect();
        let mut record = LyricsRecord::new(&plain.join("\n"), origin);
        let (synced, _) = crate::sanitize::clean_lyrics(lrc);
        record.synced = Some(synced);
        record
    }

    /// A short hash of the plain text: moods are keyed by it, so changed lyrics are analyzed again.
    pub fn hash(&self) -> String {
        lyrics_hash(&self.text)
    }

    pub fn has_words(&self) -> bool {
        !self.instrumental && !self.text.trim().is_empty()
    }
}

pub fn lyrics_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    super::song::hex(&digest[..8])
}

/// True when a line of `text` starts with an LRC time stamp (`[mm:ss]`, `[mm:ss.xx]`, `[mm:ss:xx]`,
/// `[h:mm:ss.xx]`). Only such text is LRC: section marks (`[Chorus]`) and tags (`[ar:...]`) alone are not.
pub fn has_time_stamps(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start_matches('\u{feff}').trim_start();
        line.strip_prefix('[')
            .and_then(|rest| rest.find(']').map(|end| &rest[..end]))
            .is_some_and(is_time_stamp)
    })
}

/// An LRC file with tags and no timed line (`[ar:Someone]` alone): LRC with no words, not words.
fn only_lrc_tags(text: &str) -> bool {
    const KEYS: [&str; 11] = [
        "ar", "al", "ti", "au", "by", "length", "offset", "re", "ve", "tool", "#",
    ];
    let mut lines = text
        .lines()
        .map(|l| l.trim_start_matches('\u{feff}').trim())
        .filter(|l| !l.is_empty())
        .peekable();
    lines.peek().is_some()
        && lines.all(|line| {
            line.strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|tag| tag.split_once(':'))
                .is_some_and(|(key, _)| KEYS.iter().any(|k| k.eq_ignore_ascii_case(key.trim())))
        })
}

fn is_time_stamp(tag: &str) -> bool {
    let (main, fraction) = match tag.trim().split_once('.') {
        Some((main, fraction)) => (main, fraction),
        None => (tag.trim(), ""),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = main.split(':').collect();
    (2..=3).contains(&parts.len())
        && parts.iter().all(|p| digits(p))
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// The words of one LRC line: leading `[mm:ss.xx]` stamps removed, metadata lines (`[ar:...]`) dropped.
pub fn lrc_line_text(line: &str) -> String {
    let mut rest = line.trim();
    while let Some(stripped) = rest.strip_prefix('[') {
        let Some(end) = stripped.find(']') else { break };
        let tag = &stripped[..end];
        let is_time = tag.chars().next().is_some_and(|c| c.is_ascii_digit());
        if !is_time {
            return String::new();
        }
        rest = stripped[end + 1..].trim_start();
    }
    // Enhanced LRC word stamps: <mm:ss.xx>
    let mut out = String::with_capacity(rest.len());
    let mut in_stamp = false;
    for c in rest.chars() {
        match c {
            '<' => in_stamp = true,
            '>' if in_stamp => in_stamp = false,
            c if !in_stamp => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A song looked up online and not found; not asked again until `until`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LyricsMiss {
    pub checked_at: u64,
    pub until: u64,
    #[serde(default)]
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::LyricsOrigin;

    #[test]
    fn records_sanitize_and_hash() {
        let r = LyricsRecord::new("hello\u{1b}[31m red\n", LyricsOrigin::Import);
        assert_eq!(r.text, "hello red");
        assert_eq!(
            r.hash(),
            LyricsRecord::new("hello red", LyricsOrigin::Tags).hash()
        );
        assert_ne!(
            r.hash(),
            LyricsRecord::new("hello blue", LyricsOrigin::Tags).hash()
        );
    }

    #[test]
    fn bracketed_text_without_time_stamps_is_plain() {
        let text = "[Chorus]\nla la la\n\n[Verse 2]\nmore words";
        let r = LyricsRecord::synced(text, LyricsOrigin::Import);
        assert_eq!(r.text, text);
        assert_eq!(r.synced, None);
        let r = LyricsRecord::from_text("[ar:Someone]\n[Intro]\nhum", LyricsOrigin::Sidecar);
        assert_eq!(r.text, "[ar:Someone]\n[Intro]\nhum");
        let r = LyricsRecord::from_text("[ar:Someone]\n[ti:x]\n", LyricsOrigin::Sidecar);
        assert!(!r.has_words());
        let r = LyricsRecord::from_text("[Verse 1: Someone]\nwords", LyricsOrigin::Sidecar);
        assert_eq!(r.text, "[Verse 1: Someone]\nwords");
        let r = LyricsRecord::from_text("[Intro]\n[00:01.00]sung\n", LyricsOrigin::Sidecar);
        assert_eq!(r.text, "sung");
        assert!(r.synced.is_some());
        for stamp in [
            "[00:01]",
            "[00:01.50]",
            "[01:02:34]",
            "[1:00:00.00]",
            "[123:00.00]",
        ] {
            assert!(has_time_stamps(&format!("{stamp}x")), "{stamp}");
        }
        for not in [
            "[Chorus]",
            "[ar:x]",
            "[1st verse]",
            "[00]",
            "[a:b]",
            "[00:01.x]",
            "x [00:01]",
        ] {
            assert!(!has_time_stamps(not), "{not}");
        }
    }

    #[test]
    fn synced_records_keep_lrc_and_derive_text() {
        let r = LyricsRecord::synced(
            "[ar:Someone]\n[00:01.00]First line\n[00:02.50][00:09.00]Again\n",
            LyricsOrigin::Sidecar,
        );
        assert_eq!(r.text, "First line\nAgain");
        assert!(r
            .synced
            .as_deref()
            .unwrap_or_default()
            .contains("[00:01.00]"));
    }
}
