//! LRC parsing: line stamps (`[mm:ss]`, `[mm:ss.xx]`, `[mm:ss:xx]`, `[mm:ss.xxx]`), several stamps on one line,
//! metadata tags (`[ar:...]`, `[ti:...]`), `[offset:+/-ms]` and enhanced word stamps (`<mm:ss.xx>`).
//! The parser never fails: what it cannot read is skipped, since LRC files in the wild are loosely written.

/// One timed line, its time already corrected by the file's offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LrcLine {
    pub time_ms: u64,
    pub text: String,
}

/// A parsed LRC text: metadata tags in file order and the timed lines sorted by time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lrc {
    pub tags: Vec<(String, String)>,
    /// From `[offset:...]`, in milliseconds; positive means the lyrics come sooner.
    pub offset_ms: i64,
    pub lines: Vec<LrcLine>,
}

impl Lrc {
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// The time of the last timed line, in seconds; `None` when there is no timed line.
    pub fn last_time_s(&self) -> Option<f64> {
        self.lines.last().map(|l| l.time_ms as f64 / 1000.0)
    }

    pub fn is_empty(&self) -> bool {
        self.lines.iter().all(|l| l.text.trim().is_empty())
    }

    /// The words in time order, one line per timed line (a line stamped twice appears twice).
    pub fn plain_text(&self) -> String {
        let lines: Vec<&str> = self.lines.iter().map(|l| l.text.as_str()).collect();
        lines.join("\n")
    }

    /// The lines as `[mm:ss.xx] text`, offset applied, for display.
    pub fn display_lines(&self) -> Vec<String> {
        self.lines
            .iter()
            .map(|l| format!("[{}] {}", format_time(l.time_ms), l.text))
            .collect()
    }
}

/// `mm:ss.xx` for a time in milliseconds.
pub fn format_time(ms: u64) -> String {
    let centis = (ms / 10) % 100;
    let seconds = (ms / 1000) % 60;
    let minutes = ms / 60_000;
    format!("{minutes:02}:{seconds:02}.{centis:02}")
}

/// Parses LRC text. Lines without a stamp or tag are ignored; stamps that cannot be read end the stamps of
/// their line.
pub fn parse(text: &str) -> Lrc {
    let mut lrc = Lrc::default();
    let mut raw: Vec<(i64, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_start_matches('\u{feff}').trim();
        let mut rest = line;
        let mut stamps: Vec<i64> = Vec::new();
        while let Some(inner) = rest.strip_prefix('[') {
            let Some(end) = inner.find(']') else { break };
            let tag = &inner[..end];
            if let Some(ms) = parse_timestamp(tag) {
                stamps.push(ms);
                rest = inner[end + 1..].trim_start();
            } else if stamps.is_empty() {
                if let Some((key, value)) = parse_meta(tag) {
                    if key.eq_ignore_ascii_case("offset") {
                        lrc.offset_ms = parse_offset(&value).unwrap_or(0);
                    }
                    lrc.tags.push((key, value));
                }
                // A metadata tag takes its whole line.
                rest = "";
                break;
            } else {
                break;
            }
        }
        if stamps.is_empty() {
            continue;
        }
        let words = strip_word_stamps(rest);
        for ms in stamps {
            raw.push((ms, words.clone()));
        }
    }
    let offset = lrc.offset_ms;
    let mut lines: Vec<LrcLine> = raw
        .into_iter()
        .map(|(ms, text)| LrcLine {
            time_ms: ms.saturating_sub(offset).max(0) as u64,
            text,
        })
        .collect();
    // Stable, so lines stamped with the same time keep their file order.
    lines.sort_by_key(|l| l.time_ms);
    lrc.lines = lines;
    lrc
}

/// True when text looks like LRC: one of its first non-blank lines starts with a time stamp.
pub fn looks_like_lrc(text: &str) -> bool {
    text.lines()
        .map(|l| l.trim_start_matches('\u{feff}').trim())
        .filter(|l| !l.is_empty())
        .take(8)
        .any(|l| {
            l.strip_prefix('[')
                .and_then(|rest| rest.find(']').map(|end| &rest[..end]))
                .is_some_and(|tag| parse_timestamp(tag).is_some())
        })
}

/// `mm:ss`, `mm:ss.f…`, `mm:ss:xx` and `h:mm:ss.xx` (minutes may exceed 59) into milliseconds.
pub fn parse_timestamp(tag: &str) -> Option<i64> {
    let tag = tag.trim();
    let parts: Vec<&str> = tag.split(':').collect();
    let all_digits =
        |s: &str| !s.is_empty() && s.len() <= 6 && s.bytes().all(|b| b.is_ascii_digit());
    let (hours, minutes, seconds, fraction) = match parts.as_slice() {
        [m, s] => {
            let (s, f) = split_fraction(s);
            (None, *m, s, f)
        }
        // `mm:ss:xx` uses a colon before the hundredths; `h:mm:ss(.xx)` has a seconds part of two digits and
        // a fraction after a dot, or a two-digit last part after a two-digit minutes part with hours first.
        [a, b, c] => {
            let (c_whole, c_frac) = split_fraction(c);
            if c_frac.is_some() {
                (Some(*a), *b, c_whole, c_frac)
            } else {
                (None, *a, *b, Some(*c))
            }
        }
        _ => return None,
    };
    if !all_digits(minutes) || !all_digits(seconds) {
        return None;
    }
    if let Some(h) = hours {
        if !all_digits(h) {
            return None;
        }
    }
    let seconds_n: i64 = seconds.parse().ok()?;
    if seconds.len() > 2 || seconds_n >= 60 {
        return None;
    }
    let fraction_ms = match fraction {
        None | Some("") => 0,
        Some(f) if f.bytes().all(|b| b.is_ascii_digit()) => {
            let digits: String = f.chars().take(3).collect();
            let value: i64 = digits.parse().ok()?;
            value * 10_i64.pow(3 - digits.len() as u32)
        }
        Some(_) => return None,
    };
    let hours_n: i64 = hours.map_or(Ok(0), str::parse).ok()?;
    let minutes_n: i64 = minutes.parse().ok()?;
    Some(((hours_n * 60 + minutes_n) * 60 + seconds_n) * 1000 + fraction_ms)
}

fn split_fraction(s: &str) -> (&str, Option<&str>) {
    match s.split_once('.') {
        Some((whole, frac)) => (whole, Some(frac)),
        None => (s, None),
    }
}

/// `[key:value]` where key is a short word: `ar`, `ti`, `al`, `by`, `length`, `offset`, `re`, `ve`, `#`…
fn parse_meta(tag: &str) -> Option<(String, String)> {
    let (key, value) = tag.split_once(':')?;
    let key = key.trim();
    let valid = !key.is_empty()
        && key.len() <= 16
        && key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '#')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '#');
    valid.then(|| (key.to_ascii_lowercase(), value.trim().to_string()))
}

fn parse_offset(value: &str) -> Option<i64> {
    let value = value.trim();
    let value = value.strip_prefix('+').unwrap_or(value);
    value
        .parse::<i64>()
        .ok()
        .map(|v| v.clamp(-3_600_000, 3_600_000))
}

/// Removes enhanced-LRC word stamps (`<mm:ss.xx>`) and folds whitespace.
fn strip_word_stamps(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('>') {
            Some(end) if parse_timestamp(&after[..end]).is_some() => rest = &after[end + 1..],
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_forms() {
        assert_eq!(parse_timestamp("01:02"), Some(62_000));
        assert_eq!(parse_timestamp("01:02.5"), Some(62_500));
        assert_eq!(parse_timestamp("01:02.05"), Some(62_050));
        assert_eq!(parse_timestamp("01:02.345"), Some(62_345));
        assert_eq!(parse_timestamp("01:02.3456"), Some(62_345));
        assert_eq!(parse_timestamp("01:02:34"), Some(62_340));
        assert_eq!(parse_timestamp("1:00:00.00"), Some(3_600_000));
        assert_eq!(parse_timestamp("123:00.00"), Some(7_380_000));
        assert_eq!(parse_timestamp("01:02."), Some(62_000));
        assert_eq!(parse_timestamp("ar:Someone"), None);
        assert_eq!(parse_timestamp("01:75.00"), None);
        assert_eq!(parse_timestamp("01:0a"), None);
        assert_eq!(parse_timestamp("-1:00"), None);
        assert_eq!(parse_timestamp(""), None);
        assert_eq!(parse_timestamp(":"), None);
    }

    #[test]
    fn tricky_file() {
        let text = "\u{feff}[ti:Night Drive]\r\n\
                    [ar:Someone]\r\n\
                    [by:me]\n\
                    [length: 03:20]\n\
                    \n\
                    just a stray line\n\
                    [00:12.00][00:48.50]Chorus <00:12.20>goes <00:12.60>here\n\
                    [00:05.10]First   line\n\
                    [00:30]Second line\n\
                    [00:31:50]Colon hundredths\n\
                    [00:40.00]\n\
                    [00:41.00]Angle <brackets> stay\n\
                    [xx:yy]not a stamp\n\
                    [00:50.00]Last [bracket] inside\n";
        let lrc = parse(text);
        assert_eq!(lrc.tag("ti"), Some("Night Drive"));
        assert_eq!(lrc.tag("AR"), Some("Someone"));
        assert_eq!(lrc.tag("length"), Some("03:20"));
        let got: Vec<(u64, &str)> = lrc
            .lines
            .iter()
            .map(|l| (l.time_ms, l.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (5_100, "First line"),
                (12_000, "Chorus goes here"),
                (30_000, "Second line"),
                (31_500, "Colon hundredths"),
                (40_000, ""),
                (41_000, "Angle <brackets> stay"),
                (48_500, "Chorus goes here"),
                (50_000, "Last [bracket] inside"),
            ]
        );
        assert_eq!(lrc.last_time_s(), Some(50.0));
        assert!(lrc.plain_text().starts_with("First line\nChorus goes here"));
    }

    #[test]
    fn offsets_shift_every_line_and_never_below_zero() {
        let lrc = parse("[offset:+500]\n[00:00.20]early\n[00:10.00]ten\n");
        assert_eq!(lrc.offset_ms, 500);
        assert_eq!(lrc.lines[0].time_ms, 0);
        assert_eq!(lrc.lines[1].time_ms, 9_500);
        let lrc = parse("[00:10.00]ten\n[offset:-1500]\n");
        assert_eq!(lrc.lines[0].time_ms, 11_500);
        let lrc = parse("[offset: junk]\n[00:01.00]a\n");
        assert_eq!(lrc.offset_ms, 0);
        assert_eq!(lrc.lines[0].time_ms, 1_000);
    }

    #[test]
    fn detection_and_empty_files() {
        assert!(looks_like_lrc("\n\n[00:01.00]x"));
        assert!(looks_like_lrc("[ar:x]\n[00:01]y"));
        assert!(!looks_like_lrc("[Chorus]\nla la"));
        assert!(!looks_like_lrc("plain words"));
        let lrc = parse("");
        assert!(lrc.is_empty());
        assert_eq!(lrc.last_time_s(), None);
        let lrc = parse("[ar:a]\n[00:01.00]\n");
        assert!(lrc.is_empty());
        assert_eq!(
            parse("[01:02.30]x").display_lines(),
            vec!["[01:02.30] x".to_string()]
        );
    }
}
