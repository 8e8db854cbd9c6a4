//! Lyrics that follow the song: which line of a record's plain text is sung at a given time. Synced lyrics (LRC)
//! say it exactly; for plain lyrics the line is placed by the share of the song that has played, counted in
//! letters, which puts the listener in the right stanza more often than not.

use super::lrc::parse_timestamp;
use crate::records::lrc_line_text;
use crate::sanitize::clean_line;

/// The line of `text` (a record's plain text, derived from `synced`) sung at `elapsed_s`; `None` before the
/// first line and during a gap (a stamp with no words).
pub fn synced_line(synced: &str, text: &str, elapsed_s: f64) -> Option<usize> {
    let offset = super::lrc::parse(synced).offset_ms;
    let lines: Vec<String> = text.lines().map(clean_line).collect();
    let mut timeline: Vec<(i64, Option<usize>)> = Vec::new();
    let mut next = 0;
    for raw in synced.lines() {
        let stamps = stamps_of(raw);
        if stamps.is_empty() {
            continue;
        }
        let words = clean_line(&lrc_line_text(raw));
        let at = if words.is_empty() {
            None
        } else {
            let found = (next..lines.len()).find(|&j| lines[j] == words);
            if let Some(j) = found {
                next = j + 1;
            }
            found
        };
        timeline.extend(stamps.into_iter().map(|ms| (ms - offset, at)));
    }
    timeline.sort_by_key(|(ms, _)| *ms);
    let now = (elapsed_s * 1000.0) as i64;
    timeline
        .iter()
        .rev()
        .find(|(ms, _)| *ms <= now)
        .and_then(|(_, at)| *at)
}

/// The time stamps at the start of an LRC line, in milliseconds.
fn stamps_of(line: &str) -> Vec<i64> {
    let mut rest = line.trim_start_matches('\u{feff}').trim();
    let mut out = Vec::new();
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(end) = inner.find(']') else { break };
        match parse_timestamp(&inner[..end]) {
            Some(ms) => out.push(ms),
            None => break,
        }
        rest = inner[end + 1..].trim_start();
    }
    out
}

/// The line of plain `text` probably sung at `elapsed_s` of a song `duration_s` long: placed by the share of the
/// song played, counted in letters over the lines with words.
pub fn plain_line(text: &str, elapsed_s: f64, duration_s: f64) -> Option<usize> {
    if duration_s.is_nan() || duration_s <= 0.0 || !elapsed_s.is_finite() {
        return None;
    }
    let share = (elapsed_s / duration_s).clamp(0.0, 1.0);
    let weights: Vec<usize> = text.lines().map(|l| l.trim().chars().count()).collect();
    let total: usize = weights.iter().sum();
    if total == 0 {
        return None;
    }
    let target = share * total as f64;
    let mut seen = 0usize;
    let mut last = None;
    for (i, w) in weights.iter().enumerate() {
        if *w == 0 {
            continue;
        }
        last = Some(i);
        seen += w;
        if seen as f64 > target {
            return Some(i);
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{LyricsOrigin, LyricsRecord};

    const LRC: &str =
        "[ar:Someone]\n[ti:Night Drive]\n[00:01.00]First line\n[00:04.50]Second line\n\n\
                       [00:08.00][00:20.00]Chorus goes here\n[00:12.00]\n[00:14.00]Verse two\n";

    #[test]
    fn the_current_line_of_synced_lyrics() {
        let r = LyricsRecord::synced(LRC, LyricsOrigin::Sidecar);
        let synced = r.synced.as_deref().unwrap();
        let at = |t: f64| synced_line(synced, &r.text, t).map(|i| r.text.lines().nth(i).unwrap());
        assert_eq!(at(0.5), None);
        assert_eq!(at(1.0), Some("First line"));
        assert_eq!(at(4.49), Some("First line"));
        assert_eq!(at(4.5), Some("Second line"));
        assert_eq!(at(9.0), Some("Chorus goes here"));
        // A stamp with no words is a pause.
        assert_eq!(at(12.5), None);
        assert_eq!(at(15.0), Some("Verse two"));
        // A line stamped twice comes back.
        assert_eq!(at(21.0), Some("Chorus goes here"));
        assert_eq!(at(999.0), Some("Chorus goes here"));
    }

    #[test]
    fn the_offset_tag_moves_every_line() {
        let lrc = "[offset:+1000]\n[00:02.00]one\n[00:04.00]two\n";
        let r = LyricsRecord::synced(lrc, LyricsOrigin::Sidecar);
        let synced = r.synced.as_deref().unwrap();
        assert_eq!(synced_line(synced, &r.text, 1.0), Some(0));
        assert_eq!(synced_line(synced, &r.text, 3.0), Some(1));
    }

    #[test]
    fn plain_lyrics_are_placed_by_the_share_played() {
        let text = "aaaa\nbbbb\n\ncccc\ndddd";
        assert_eq!(plain_line(text, 0.0, 100.0), Some(0));
        assert_eq!(plain_line(text, 30.0, 100.0), Some(1));
        assert_eq!(plain_line(text, 60.0, 100.0), Some(3));
        assert_eq!(plain_line(text, 99.0, 100.0), Some(4));
        assert_eq!(plain_line(text, 200.0, 100.0), Some(4));
        assert_eq!(plain_line(text, 10.0, 0.0), None);
        assert_eq!(plain_line("", 10.0, 100.0), None);
    }
}
