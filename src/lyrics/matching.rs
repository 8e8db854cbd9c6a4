//! Deciding whether a record from a lyrics server belongs to a song, the way careful taggers do: names compared
//! after folding case, diacritics and punctuation and dropping "feat." and "(Remastered ...)" noise; durations
//! within about 5%; synced lyrics preferred, and synced lyrics that run past the song's end rejected.

use crate::records::normalize_name;

/// Words that mark a bracketed or dashed title suffix as edition noise rather than part of the name.
const NOISE_WORDS: [&str; 22] = [
    "remaster",
    "remastered",
    "live",
    "feat",
    "ft",
    "featuring",
    "with",
    "edit",
    "version",
    "mono",
    "stereo",
    "explicit",
    "clean",
    "bonus",
    "deluxe",
    "demo",
    "mix",
    "remix",
    "acoustic",
    "single",
    "instrumental",
    "anniversary",
];

/// How far a candidate's duration may be from the song's, as a share of the song's duration.
pub const DURATION_TOLERANCE: f64 = 0.05;
/// The smallest tolerance in seconds: servers round durations to whole seconds.
pub const MIN_DURATION_TOLERANCE_S: f64 = 2.0;
/// Synced lyrics may end this long after the song's last second before they are rejected.
pub const SYNCED_END_GRACE_S: f64 = 1.0;

/// A title without edition noise: "Song (Remastered 2011)", "Song - 2011 Remaster" and "Song (feat. X)" all
/// become "Song". The original is kept when removing the noise would leave nothing.
pub fn clean_title(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    let mut depth = 0usize;
    let mut group = String::new();
    for c in title.chars() {
        match c {
            '(' | '[' | '{' => {
                if depth == 0 {
                    group.clear();
                } else {
                    group.push(c);
                }
                depth += 1;
            }
            ')' | ']' | '}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    if !is_noise(&group) {
                        out.push('(');
                        out.push_str(&group);
                        out.push(')');
                    }
                } else {
                    group.push(c);
                }
            }
            c if depth > 0 => group.push(c),
            c => out.push(c),
        }
    }
    if depth > 0 {
        // An unclosed bracket: keep what it held.
        out.push('(');
        out.push_str(&group);
    }
    let mut cleaned = out;
    for separator in [" - ", " – ", " — ", " / "] {
        if let Some(at) = cleaned.find(separator) {
            if is_noise(&cleaned[at + separator.len()..]) {
                cleaned.truncate(at);
            }
        }
    }
    let cleaned = cut_featuring(&cleaned);
    let cleaned = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if normalize_name(&cleaned).is_empty() {
        title.trim().to_string()
    } else {
        cleaned
    }
}

/// An artist without "feat. X": the credited main artist(s).
pub fn clean_artist(artist: &str) -> String {
    let cleaned = cut_featuring(artist);
    let cleaned = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if cleaned.is_empty() {
        artist.trim().to_string()
    } else {
        cleaned
    }
}

/// Cuts the text at an unbracketed "feat." / "ft." / "featuring".
fn cut_featuring(text: &str) -> String {
    let lower = text.to_lowercase();
    let mut cut = text.len();
    for marker in [" feat. ", " feat ", " ft. ", " ft ", " featuring "] {
        if let Some(at) = lower.find(marker) {
            // `to_lowercase` can change byte lengths for some scripts; only cut where the index is valid.
            if text.is_char_boundary(at) {
                cut = cut.min(at);
            }
        }
    }
    text[..cut].to_string()
}

fn is_noise(group: &str) -> bool {
    let normal = normalize_name(group);
    normal
        .split(' ')
        .any(|word| NOISE_WORDS.contains(&word) || (word.len() == 4 && is_year(word)))
        && !normal.is_empty()
}

fn is_year(word: &str) -> bool {
    word.parse::<u32>().is_ok_and(|y| (1900..2100).contains(&y))
}

/// [`normalize_name`], with apostrophes dropped rather than made word breaks ("Don't" = "Dont").
fn fold(text: &str) -> String {
    normalize_name(&text.replace(['\'', '\u{2019}', '\u{2018}', '`'], ""))
}

/// The key a title is compared by.
pub fn title_key(title: &str) -> String {
    fold(&clean_title(title))
}

/// The artists named in a credit, each normalised: "A & B", "A, B", "A x B", "A feat. B" name A and B.
pub fn artist_keys(artist: &str) -> Vec<String> {
    let normal = fold(artist);
    let mut keys = vec![fold(&clean_artist(artist))];
    let mut spaced = format!(" {normal} ");
    for joiner in [
        " and ",
        " x ",
        " feat ",
        " ft ",
        " featuring ",
        " with ",
        " vs ",
    ] {
        spaced = spaced.replace(joiner, " | ");
    }
    // `&`, `,`, `/` and `;` were folded to spaces by normalisation, so split the raw text on them too.
    for part in artist.split(['&', ',', '/', ';', '+']) {
        let key = fold(part);
        if !key.is_empty() {
            keys.push(key);
        }
    }
    for part in spaced.split('|') {
        let key = part.trim().to_string();
        if !key.is_empty() {
            keys.push(key);
        }
    }
    keys.push(normal);
    keys.sort();
    keys.dedup();
    keys.retain(|k| !k.is_empty());
    keys
}

/// True when two artist credits name the same artist: equal after normalisation, or sharing a main artist.
pub fn artists_match(a: &str, b: &str) -> bool {
    let (ka, kb) = (artist_keys(a), artist_keys(b));
    ka.iter().any(|k| kb.contains(k))
}

pub fn titles_match(a: &str, b: &str) -> bool {
    let (ka, kb) = (title_key(a), title_key(b));
    !ka.is_empty() && ka == kb
}

/// True when both durations are known and differ by more than the tolerance.
pub fn duration_mismatch(song_s: Option<f64>, candidate_s: Option<f64>) -> bool {
    match (song_s, candidate_s) {
        (Some(s), Some(c)) if s > 0.0 && c > 0.0 => {
            (s - c).abs() > (s * DURATION_TOLERANCE).max(MIN_DURATION_TOLERANCE_S)
        }
        _ => false,
    }
}

/// True when synced lyrics run past the end of a song of known duration.
pub fn synced_past_end(song_s: Option<f64>, last_stamp_s: Option<f64>) -> bool {
    match (song_s, last_stamp_s) {
        (Some(s), Some(last)) if s > 0.0 => last > s + SYNCED_END_GRACE_S,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_lose_edition_noise() {
        assert_eq!(clean_title("Song (Remastered 2011)"), "Song");
        assert_eq!(clean_title("Song [2009 Remaster]"), "Song");
        assert_eq!(clean_title("Song - Remastered 2011"), "Song");
        assert_eq!(clean_title("Song - 2011 Remaster"), "Song");
        assert_eq!(clean_title("Song (feat. Someone)"), "Song");
        assert_eq!(clean_title("Song feat. Someone"), "Song");
        assert_eq!(clean_title("Song (Live at Wembley) [Explicit]"), "Song");
        assert_eq!(clean_title("Song (Part 2)"), "Song (Part 2)");
        assert_eq!(clean_title("Love - Hate"), "Love - Hate");
        assert_eq!(clean_title("(Live)"), "(Live)");
        assert_eq!(clean_title("Open (bracket"), "Open (bracket");
        assert!(titles_match("Café del Mar (Remastered)", "cafe del mar"));
        assert!(titles_match("Don't Stop", "Dont Stop!"));
        assert!(!titles_match("Song", "Song (Part 2)"));
    }

    #[test]
    fn artists_match_on_any_main_artist() {
        assert!(artists_match("Beyoncé", "BEYONCE"));
        assert!(artists_match("Artist feat. Guest", "Artist"));
        assert!(artists_match("A & B", "B"));
        assert!(artists_match("A, B", "a"));
        assert!(artists_match("Simon & Garfunkel", "Simon and Garfunkel"));
        assert!(!artists_match("Someone", "Someone Else Entirely"));
    }

    #[test]
    fn durations_and_synced_ends() {
        assert!(!duration_mismatch(Some(200.0), Some(209.0)));
        assert!(duration_mismatch(Some(200.0), Some(211.0)));
        assert!(!duration_mismatch(Some(20.0), Some(21.5)));
        assert!(!duration_mismatch(None, Some(100.0)));
        assert!(synced_past_end(Some(100.0), Some(101.5)));
        assert!(!synced_past_end(Some(100.0), Some(100.5)));
        assert!(!synced_past_end(None, Some(1000.0)));
    }
}
