//! M3U8 playlists: `#EXTM3U`, one `#EXTINF:<seconds>,Artist - Title` per song, then its location. Files are
//! written relative to the playlist when they share a folder above it, so a music folder with its playlists can
//! move as a whole; URIs and MPD paths are written as they are.

use std::path::{Component, Path, PathBuf};

use crate::records::{Location, Song};

/// One entry read back from an M3U8 file.
#[derive(Debug, Clone, PartialEq)]
pub struct M3uEntry {
    /// Seconds from `#EXTINF`; `None` when absent or -1 (unknown).
    pub duration_s: Option<i64>,
    /// The display text after the comma of `#EXTINF`.
    pub title: String,
    pub location: String,
}

/// Whether a song's location holds a control character (a line break, NUL, an escape): written into a playlist
/// or sent to MPD it would end the entry early or splice it into another path, so such songs are left out.
pub fn unsafe_location(song: &Song) -> bool {
    match &song.location {
        Location::File(p) => crate::records::path_bytes(p)
            .iter()
            .any(|b| b.is_ascii_control()),
        Location::Uri(u) | Location::Mpd(u) => u.chars().any(char::is_control),
        Location::None => false,
    }
}

/// Writes `songs` as an M3U8 playlist at `path`; songs with no location, or with one no playlist can hold (see
/// [`unsafe_location`]), are left out.
/// How many of `songs` a playlist can list (the others have no location, or one no playlist can hold).
pub fn listable(songs: &[Song]) -> usize {
    count_entries(&render(songs, None))
}

fn count_entries(bytes: &[u8]) -> usize {
    bytes
        .split(|b| *b == b'\n')
        .filter(|line| line.starts_with(b"#EXTINF:"))
        .count()
}

/// Returns the number of songs written.
pub fn write_m3u8(path: &Path, songs: &[Song]) -> std::io::Result<usize> {
    let base = absolute(path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let bytes = render(songs, Some(&base));
    write_file(path, &bytes)?;
    Ok(count_entries(&bytes))
}

/// Like [`write_m3u8`], with absolute file paths: for playlists that live apart from the music (temp files).
pub fn write_m3u8_absolute(path: &Path, songs: &[Song]) -> std::io::Result<()> {
    write_file(path, &render(songs, None))
}

fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // Written beside and renamed, so a player reading the old playlist never sees half of the new one; a link or
    // a device at the target is refused rather than written through.
    crate::files::write_bytes(path, bytes).map_err(std::io::Error::other)
}

/// The playlist's bytes; file paths are made relative to `base` when it is given and they share a folder.
pub fn render(songs: &[Song], base: Option<&Path>) -> Vec<u8> {
    let mut out = b"#EXTM3U\n".to_vec();
    for song in songs {
        if unsafe_location(song) {
            continue;
        }
        let mut location: Vec<u8> = match &song.location {
            Location::File(p) => {
                let abs = absolute(p);
                let shown = base.and_then(|b| relative_to(&abs, b)).unwrap_or(abs);
                crate::records::path_bytes(&shown)
            }
            Location::Uri(u) | Location::Mpd(u) => u.as_bytes().to_vec(),
            Location::None => continue,
        };
        // A line starting with `#` is a directive or a comment to every reader; `./#name` is the same file.
        if location.first() == Some(&b'#') {
            if matches!(song.location, Location::File(_)) {
                location.splice(0..0, *b"./");
            } else {
                continue;
            }
        }
        let secs = song
            .duration_s
            .filter(|d| d.is_finite() && *d >= 0.0)
            .map_or(-1, |d| d.round() as i64);
        let name = crate::sanitize::clean_line(&song.display_name());
        out.extend_from_slice(format!("#EXTINF:{secs},{name}\n").as_bytes());
        out.extend_from_slice(&location);
        out.push(b'\n');
    }
    out
}

/// Reads an M3U/M3U8 playlist: entries in order, `#EXTINF` attached to the location that follows it.
pub fn parse_m3u8(text: &str) -> Vec<M3uEntry> {
    let mut out = Vec::new();
    let mut pending: Option<(Option<i64>, String)> = None;
    for line in text.lines() {
        let line = line.trim_start_matches('\u{feff}').trim_end_matches('\r');
        if let Some(info) = line.strip_prefix("#EXTINF:") {
            let (secs, title) = info.split_once(',').unwrap_or((info, ""));
            let secs = secs
                .split_whitespace()
                .next()
                .and_then(|s| s.parse::<i64>().ok())
                .filter(|s| *s >= 0);
            pending = Some((secs, title.to_string()));
        } else if line.starts_with('#') || line.trim().is_empty() {
            continue;
        } else {
            let (duration_s, title) = pending.take().unwrap_or((None, String::new()));
            out.push(M3uEntry {
                duration_s,
                title,
                location: line.to_string(),
            });
        }
    }
    out
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// `path` relative to the folder `base`, when the two share at least one folder below the root.
fn relative_to(path: &Path, base: &Path) -> Option<PathBuf> {
    fn clean(p: &Path) -> Vec<Component<'_>> {
        let mut parts: Vec<Component<'_>> = Vec::new();
        for c in p.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir if matches!(parts.last(), Some(Component::Normal(_))) => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        parts
    }
    let (p, b) = (clean(path), clean(base));
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let shared_folders = p[..common]
        .iter()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count();
    if shared_folders == 0 || common == p.len() {
        return None;
    }
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        let r = |p: &str, b: &str| {
            relative_to(Path::new(p), Path::new(b)).map(|p| p.display().to_string())
        };
        assert_eq!(r("/m/a/x.flac", "/m/a"), Some("x.flac".into()));
        assert_eq!(r("/m/a/x.flac", "/m/lists"), Some("../a/x.flac".into()));
        assert_eq!(r("/m/a/x.flac", "/other"), None);
        assert_eq!(r("/m/./a/../b/x.flac", "/m"), Some("b/x.flac".into()));
    }

    #[test]
    fn locations_that_would_split_or_become_directives_are_never_spliced() {
        let spliced = Song::new("A", "B", "", Location::File("/etc/pass\nwd".into()));
        let hash = Song::new("C", "D", "", Location::File("#weird.flac".into()));
        let uri = Song::new("E", "F", "", Location::Uri("#EXT-X-ENDLIST".into()));
        let text = String::from_utf8(render(&[spliced, hash, uri], None)).unwrap();
        assert!(!text.contains("passwd") && !text.contains("pass"), "{text}");
        assert!(!text.contains("\n#EXT-X"), "{text}");
        let back = parse_m3u8(&text);
        assert_eq!(back.len(), 1, "{text}");
        assert!(back[0].location.ends_with("/#weird.flac"), "{text}");
    }

    #[test]
    fn renders_and_parses() {
        let mut a = Song::new("A, B", "T", "", Location::File("/m/a/x.flac".into()));
        a.duration_s = Some(61.6);
        let b = Song::new("C", "U", "", Location::Uri("http://radio/x".into()));
        let c = Song::new("D", "V", "", Location::None);
        let text = String::from_utf8(render(&[a, b, c], Some(Path::new("/m")))).unwrap();
        assert!(text.starts_with("#EXTM3U\n#EXTINF:62,A, B - T\na/x.flac\n"));
        let back = parse_m3u8(&text);
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].title, "A, B - T");
        assert_eq!(back[1].duration_s, None);
        assert_eq!(back[1].location, "http://radio/x");
    }
}
