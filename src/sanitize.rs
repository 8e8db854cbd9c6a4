//! Untrusted text (tags, lyrics, file names, server replies) passes through here before it is stored or drawn:
//! terminal escape sequences and control characters are removed so nothing read from a file or the network can
//! move the cursor, change colours or retitle the terminal.

/// Lyrics longer than this are cut; no real song comes near it, and it bounds memory and analysis time.
pub const MAX_LYRICS_CHARS: usize = 20_000;
/// The note appended to lyrics cut at [`MAX_LYRICS_CHARS`].
pub const TRUNCATION_NOTE: &str = "[lyrics truncated by moodtape]";
/// Tag values longer than this are cut.
pub const MAX_FIELD_CHARS: usize = 512;

/// Removes escape sequences and control characters, keeping newlines and tabs. `\r\n` and lone `\r` become `\n`.
pub fn clean_multiline(input: &str) -> String {
    strip(input, true)
}

/// Removes escape sequences and every control character, folds whitespace runs to one space and trims:
/// for one-line fields such as artist and title.
pub fn clean_line(input: &str) -> String {
    let stripped = strip(input, false);
    let mut out = String::with_capacity(stripped.len());
    for word in stripped.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    truncate_chars(&out, MAX_FIELD_CHARS).to_string()
}

/// Cleans lyrics for storage: escapes removed, trailing spaces and surplus blank lines dropped, and absurdly long
/// texts cut with a note. Returns the text and whether it was cut.
pub fn clean_lyrics(input: &str) -> (String, bool) {
    let cleaned = clean_multiline(input);
    let mut lines: Vec<&str> = Vec::new();
    let mut blank_run = 0;
    for line in cleaned.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank_run += 1;
            if blank_run > 1 || lines.is_empty() {
                continue;
            }
            lines.push("");
        } else {
            blank_run = 0;
            lines.push(line);
        }
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let joined = lines.join("\n");
    if joined.chars().count() > MAX_LYRICS_CHARS {
        let cut = truncate_chars(&joined, MAX_LYRICS_CHARS);
        let cut = cut.rfind('\n').map_or(cut, |i| &cut[..i]);
        (format!("{cut}\n{TRUNCATION_NOTE}"), true)
    } else {
        (joined, false)
    }
}

fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn strip(input: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(input.len());
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            // C1 CSI and OSC introducers, which some terminals honour as the 8-bit forms of ESC [ and ESC ].
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    continue;
                }
                out.push(if keep_newlines { '\n' } else { ' ' });
            }
            '\n' => out.push(if keep_newlines { '\n' } else { ' ' }),
            '\t' => out.push(if keep_newlines { '\t' } else { ' ' }),
            // Line and paragraph separators end a line in some terminals and editors.
            '\u{2028}' | '\u{2029}' => out.push(if keep_newlines { '\n' } else { ' ' }),
            c if c.is_control() => {}
            c if is_invisible(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Bidi marks, embeddings, overrides and isolates, and zero-width or invisible formatting characters: they can
/// make text display as something other than it is (or reorder what follows it on the line). Zero-width
/// (non-)joiners stay: emoji sequences and several scripts need them.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

/// Whether `c` must never reach a terminal as it is: a control character (C0, DEL, C1) other than newline and
/// tab, or an invisible/bidi mark.
pub fn is_unsafe_for_terminal(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || is_invisible(c)
        || c == '\u{2028}'
        || c == '\u{2029}'
}

/// Escapes in JSON text every character a terminal could act on that serde leaves raw (C1 controls, bidi and
/// invisible marks, line separators) as `\uXXXX`, so `--json` output is safe to print and still decodes to the
/// same strings. Such characters only occur inside JSON strings, where the escape means the same.
pub fn escape_json_for_terminal(json: &str) -> String {
    if !json.chars().any(is_unsafe_for_terminal) {
        return json.to_string();
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_unsafe_for_terminal(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_escape(chars: &mut Chars<'_>) {
    match chars.peek().copied() {
        Some('[') => {
            chars.next();
            skip_csi(chars);
        }
        Some(']') | Some('P') | Some('X') | Some('^') | Some('_') => {
            chars.next();
            skip_string(chars);
        }
        // Character-set designations take one more character (ESC ( B).
        Some('(') | Some(')') | Some('*') | Some('+') | Some('#') | Some('%') => {
            chars.next();
            chars.next();
        }
        Some(c) if ('\u{20}'..='\u{7e}').contains(&c) => {
            chars.next();
        }
        _ => {}
    }
}

/// A CSI sequence ends with a byte in 0x40..=0x7e.
fn skip_csi(chars: &mut Chars<'_>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            break;
        }
    }
}

/// OSC, DCS and friends end with BEL or ST (ESC \ or 0x9c).
fn skip_string(chars: &mut Chars<'_>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => break,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                break;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_csi_osc_and_controls_but_keeps_layout() {
        let raw = "Red \u{1b}[31mline\u{1b}[0m\n\ttab\u{7}\u{1b}]0;pwned\u{7} end\r\nnext\u{0}";
        assert_eq!(clean_multiline(raw), "Red line\n\ttab end\nnext");
    }

    #[test]
    fn c1_and_unterminated_sequences_are_dropped() {
        assert_eq!(clean_multiline("a\u{9b}2Jb"), "ab");
        assert_eq!(clean_multiline("a\u{1b}]52;c;ZXZpbA=="), "a");
        assert_eq!(clean_multiline("x\u{1b}(By"), "xy");
        assert_eq!(clean_multiline("x\u{1b}"), "x");
    }

    #[test]
    fn bidi_and_invisible_marks_and_separators_are_removed() {
        let raw = "a\u{200e}b\u{200f}c\u{61c}d\u{2066}e\u{2069}f\u{2028}g\u{2029}h\u{2060}i";
        assert_eq!(clean_multiline(raw), "abcdef\ng\nhi");
        assert_eq!(clean_line(raw), "abcdef g hi");
        // Joiners stay: emoji sequences need them.
        assert_eq!(clean_line("👩\u{200d}💻"), "👩\u{200d}💻");
    }

    #[test]
    fn json_escapes_keep_the_data_and_drop_the_raw_bytes() {
        let value = serde_json::json!({"name": "x\u{9b}2J\u{202e}y\u{1b}]0;t\u{7}"});
        let text = escape_json_for_terminal(&serde_json::to_string(&value).unwrap());
        assert!(!text.chars().any(is_unsafe_for_terminal), "{text}");
        assert!(!text.contains('\u{1b}'));
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn clean_line_folds_whitespace() {
        assert_eq!(clean_line("  The\tBand \n Name\u{1b}[2K "), "The Band Name");
        assert_eq!(clean_line("\u{202e}evil"), "evil");
    }

    #[test]
    fn lyrics_are_tidied_and_long_ones_cut_with_a_note() {
        let (text, cut) = clean_lyrics("\n\nline one  \n\n\n\nline two\n\n");
        assert_eq!(text, "line one\n\nline two");
        assert!(!cut);
        let huge = "la la la la la la la la la\n".repeat(5_000);
        let (text, cut) = clean_lyrics(&huge);
        assert!(cut);
        assert!(text.ends_with(TRUNCATION_NOTE));
        assert!(text.chars().count() <= MAX_LYRICS_CHARS + TRUNCATION_NOTE.len() + 1);
    }
}
