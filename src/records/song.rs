//! The song record every part of moodtape shares.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A stable song id: 16 hex digits of a SHA-256 over what identifies the song (its file, URI, or its names).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SongId(pub String);

impl SongId {
    pub fn from_key(kind: &str, key: &[u8]) -> SongId {
        let mut hasher = Sha256::new();
        hasher.update(kind.as_bytes());
        hasher.update([0u8]);
        hasher.update(key);
        let digest = hasher.finalize();
        SongId(hex(&digest[..8]))
    }

    pub fn for_location(location: &Location) -> Option<SongId> {
        match location {
            Location::File(path) => Some(SongId::from_key("file", &path_bytes(path))),
            Location::Uri(uri) => Some(SongId::from_key("uri", uri.as_bytes())),
            Location::Mpd(uri) => Some(SongId::from_key("mpd", uri.as_bytes())),
            Location::None => None,
        }
    }

    /// For songs with no file or URI: the exact artist, title and album, only Unicode-normalised (NFC),
    /// case-folded and with runs of whitespace made one space. Two different names never share an id this way
    /// (a transliteration made 是 and 事 both "shi"); searching and matching still fold further.
    pub fn for_names(artist: &str, title: &str, album: &str) -> SongId {
        let key = format!(
            "{}\u{0}{}\u{0}{}",
            identity_name(artist),
            identity_name(title),
            identity_name(album)
        );
        SongId::from_key("names2", key.as_bytes())
    }

    /// The id [`SongId::for_names`] gave before schema 2 (a transliteration), for migrating old databases.
    pub fn legacy_for_names(artist: &str, title: &str, album: &str) -> SongId {
        let key = format!(
            "{}\u{0}{}\u{0}{}",
            normalize_name(artist),
            normalize_name(title),
            normalize_name(album)
        );
        SongId::from_key("names", key.as_bytes())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SongId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A name as it identifies a song: NFC, lower case, whitespace collapsed; nothing else is folded.
pub fn identity_name(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let folded: String = name.nfc().collect::<String>().to_lowercase();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lower case, accents folded, punctuation dropped, whitespace collapsed: for comparing names.
pub fn normalize_name(name: &str) -> String {
    let folded = deunicode::deunicode(name).to_lowercase();
    let mut out = String::with_capacity(folded.len());
    for c in folded.chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with(' ') && !out.is_empty() {
            out.push(' ');
        }
    }
    out.trim_end().to_string()
}

/// Where a song can be played from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// An audio file; names that are not UTF-8 are kept byte for byte.
    File(#[serde(with = "path_serde")] PathBuf),
    /// A URL or another player's URI, passed on as it is.
    Uri(String),
    /// A path inside MPD's music database.
    Mpd(String),
    #[default]
    None,
}

impl Location {
    /// A printable form (lossy for non-UTF-8 paths).
    pub fn display(&self) -> String {
        match self {
            Location::File(p) => crate::sanitize::clean_line(&p.to_string_lossy()),
            Location::Uri(u) => crate::sanitize::clean_line(u),
            Location::Mpd(u) => format!("mpd:{}", crate::sanitize::clean_line(u)),
            Location::None => String::new(),
        }
    }

    /// Reads a location given as text in an import: URLs stay URIs, `mpd:` marks MPD paths, the rest are files.
    pub fn parse(text: &str) -> Location {
        let text = text.trim();
        if text.is_empty() {
            Location::None
        } else if let Some(rest) = text.strip_prefix("mpd:") {
            Location::Mpd(rest.to_string())
        } else if let Some(rest) = text.strip_prefix("file://") {
            Location::File(PathBuf::from(rest))
        } else if text.contains("://") {
            Location::Uri(text.to_string())
        } else {
            Location::File(PathBuf::from(text))
        }
    }

    pub fn file(&self) -> Option<&Path> {
        match self {
            Location::File(p) => Some(p),
            _ => None,
        }
    }
}

#[cfg(unix)]
pub fn path_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
pub fn path_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().as_bytes().to_vec()
}

/// Paths serialize as a string when they are UTF-8 and as a byte array otherwise, so no file name is lost.
mod path_serde {
    use std::path::PathBuf;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Bytes(Vec<u8>),
    }

    pub fn serialize<S: Serializer>(path: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
        match path.to_str() {
            Some(text) => Repr::Text(text.to_string()).serialize(s),
            None => Repr::Bytes(super::path_bytes(path)).serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Text(t) => Ok(PathBuf::from(t)),
            Repr::Bytes(b) => Ok(from_bytes(b)),
        }
    }

    #[cfg(unix)]
    fn from_bytes(b: Vec<u8>) -> PathBuf {
        use std::os::unix::ffi::OsStringExt;
        PathBuf::from(std::ffi::OsString::from_vec(b))
    }

    #[cfg(not(unix))]
    fn from_bytes(b: Vec<u8>) -> PathBuf {
        PathBuf::from(String::from_utf8_lossy(&b).into_owned())
    }
}

/// Where a song's lyrics came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LyricsOrigin {
    Sidecar,
    Tags,
    Import,
    Demo,
    Lrclib,
    Manual,
}

impl LyricsOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            LyricsOrigin::Sidecar => "sidecar",
            LyricsOrigin::Tags => "tags",
            LyricsOrigin::Import => "import",
            LyricsOrigin::Demo => "demo",
            LyricsOrigin::Lrclib => "lrclib",
            LyricsOrigin::Manual => "manual",
        }
    }
}

/// Size and modification time of a scanned file, so a rescan can skip files that did not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    pub size: u64,
    pub mtime_ns: i128,
}

impl FileStamp {
    pub fn of(meta: &std::fs::Metadata) -> FileStamp {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        FileStamp {
            size: meta.len(),
            mtime_ns,
        }
    }
}

/// One song of the library. Text fields are sanitized when the song is built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Song {
    pub id: SongId,
    pub artist: String,
    pub title: String,
    #[serde(default)]
    pub album: String,
    #[serde(default)]
    pub duration_s: Option<f64>,
    #[serde(default)]
    pub track: Option<u32>,
    #[serde(default)]
    pub year: Option<i32>,
    #[serde(default)]
    pub genre: String,
    #[serde(default)]
    pub location: Location,
    /// Where the stored lyrics came from; `None` while the song has none.
    #[serde(default)]
    pub lyrics_origin: Option<LyricsOrigin>,
    /// True when the song is known to have no words.
    #[serde(default)]
    pub instrumental: bool,
    #[serde(default)]
    pub stamp: Option<FileStamp>,
    /// The stamp of the lyrics sidecar file, so editing only the sidecar triggers a rescan of the song.
    #[serde(default)]
    pub sidecar_stamp: Option<FileStamp>,
    /// The scan root or import source that brought the song in, so a rescan only removes its own songs.
    #[serde(default)]
    pub source: String,
}

impl Song {
    /// A new song with clean text fields; the id comes from the location, or from the names when there is none.
    pub fn new(artist: &str, title: &str, album: &str, location: Location) -> Song {
        let artist = clean_or(artist, "Unknown artist");
        let title = clean_or(title, "Untitled");
        let album = crate::sanitize::clean_line(album);
        let id = SongId::for_location(&location)
            .unwrap_or_else(|| SongId::for_names(&artist, &title, &album));
        Song {
            id,
            artist,
            title,
            album,
            duration_s: None,
            track: None,
            year: None,
            genre: String::new(),
            location,
            lyrics_origin: None,
            instrumental: false,
            stamp: None,
            sidecar_stamp: None,
            source: String::new(),
        }
    }

    pub fn has_lyrics(&self) -> bool {
        self.lyrics_origin.is_some()
    }

    /// "Artist - Title", as players and playlists show it.
    pub fn display_name(&self) -> String {
        format!("{} - {}", self.artist, self.title)
    }
}

fn clean_or(text: &str, fallback: &str) -> String {
    let cleaned = crate::sanitize::clean_line(text);
    if cleaned.is_empty() {
        fallback.to_string()
    } else {
        cleaned
    }
}

/// `m:ss` for a duration in seconds.
pub fn format_duration(seconds: Option<f64>) -> String {
    match seconds {
        Some(s) if s.is_finite() && s >= 0.0 => {
            let total = s.round() as u64;
            format!("{}:{:02}", total / 60, total % 60)
        }
        _ => "--:--".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = Song::new("A", "T", "", Location::File("/m/a.mp3".into()));
        let b = Song::new("A", "T", "", Location::File("/m/a.mp3".into()));
        let c = Song::new("A", "T", "", Location::File("/m/b.mp3".into()));
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(a.id.as_str().len(), 16);
        assert_eq!(
            Song::new("Café  Tacuba", "X", "", Location::None).id,
            Song::new("café tacuba", "x", "", Location::None).id
        );
        // Composed and decomposed é are one name; é and e are two.
        assert_eq!(
            Song::new("Cafe\u{301}", "X", "", Location::None).id,
            Song::new("Caf\u{e9}", "X", "", Location::None).id
        );
        assert_ne!(
            Song::new("Café", "X", "", Location::None).id,
            Song::new("Cafe", "X", "", Location::None).id
        );
    }

    #[test]
    fn names_that_transliterate_alike_get_different_ids() {
        let pairs = [
            ("王菲", "是", "王菲", "事"),
            ("Кино", "Группа крови", "Кино", "Группа кровь"),
            ("فيروز", "نسم علينا الهوى", "فيروز", "نسّم علينا الهوى"),
            ("🎸", "🔥", "🎸", "💧"),
        ];
        for (a1, t1, a2, t2) in pairs {
            assert_ne!(
                Song::new(a1, t1, "", Location::None).id,
                Song::new(a2, t2, "", Location::None).id,
                "{a1} {t1} / {a2} {t2}"
            );
        }
        assert_eq!(
            SongId::legacy_for_names("王菲", "是", ""),
            SongId::legacy_for_names("王菲", "事", "")
        );
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_paths_round_trip_through_json() {
        use std::os::unix::ffi::OsStringExt;
        let path = PathBuf::from(std::ffi::OsString::from_vec(b"/m/caf\xe9.mp3".to_vec()));
        let loc = Location::File(path.clone());
        let json = serde_json::to_string(&loc).unwrap();
        let back: Location = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Location::File(path));
        assert!(loc.display().contains("caf"));
    }

    #[test]
    fn names_normalise() {
        assert_eq!(normalize_name("  Beyoncé — Halo!! "), "beyonce halo");
        assert_eq!(format_duration(Some(125.4)), "2:05");
        assert_eq!(format_duration(None), "--:--");
    }

    #[test]
    fn locations_parse() {
        assert_eq!(
            Location::parse("http://x/y.mp3"),
            Location::Uri("http://x/y.mp3".into())
        );
        assert_eq!(
            Location::parse("mpd:a/b.flac"),
            Location::Mpd("a/b.flac".into())
        );
        assert_eq!(
            Location::parse("/a/b.flac"),
            Location::File("/a/b.flac".into())
        );
        assert_eq!(Location::parse(""), Location::None);
    }
}
