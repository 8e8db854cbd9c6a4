//! A small MPD client over TCP or a unix socket, speaking MPD's line protocol: queue a playlist (append or
//! replace, then play) and import MPD's library as songs located in MPD's database (`Location::Mpd`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::PlayerError;
use crate::records::LyricsRecord;
use crate::records::{normalize_name, Location, Song, SongId};
use crate::store::Store;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Long enough for `listallinfo` of a large library on a slow disk.
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// Songs written per database transaction during an import.
const IMPORT_BATCH: usize = 500;

/// MPD as configured (config `[mpd]`), before the environment is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpdSettings {
    pub host: String,
    pub port: u16,
    pub password: String,
}

impl Default for MpdSettings {
    fn default() -> Self {
        MpdSettings {
            host: "127.0.0.1".into(),
            port: 6600,
            password: String::new(),
        }
    }
}

/// Where MPD listens, and the password to send if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpdTarget {
    pub host: String,
    pub port: u16,
    pub password: Option<String>,
    /// A unix socket path; used instead of host and port when set.
    pub socket: Option<PathBuf>,
}

impl MpdTarget {
    /// The target from configured settings and the values of `MPD_HOST` (`[password@]host` or a socket path) and
    /// `MPD_PORT`, which override them as mpc and other MPD clients read them.
    pub fn resolve(
        config: &MpdSettings,
        host_env: Option<&str>,
        port_env: Option<&str>,
    ) -> MpdTarget {
        let mut password = Some(config.password.clone()).filter(|p| !p.is_empty());
        let mut host = config.host.trim().to_string();
        if let Some(env) = host_env.map(str::trim).filter(|h| !h.is_empty()) {
            host = match env.rsplit_once('@') {
                Some((pw, h)) if !pw.is_empty() && !h.is_empty() => {
                    password = Some(pw.to_string());
                    h.to_string()
                }
                _ => env.to_string(),
            };
        }
        let port = port_env
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(config.port);
        let socket = if host.starts_with('/') {
            Some(PathBuf::from(&host))
        } else if let Some(rest) = host.strip_prefix("~/") {
            std::env::var_os("HOME").map(|home| Path::new(&home).join(rest))
        } else {
            None
        };
        if host.is_empty() {
            host = "127.0.0.1".into();
        }
        MpdTarget {
            host,
            port,
            password,
            socket,
        }
    }

    /// "host:port" or the socket path, for messages.
    pub fn addr(&self) -> String {
        match &self.socket {
            Some(p) => p.display().to_string(),
            None if self.host.contains(':') => format!("[{}]:{}", self.host, self.port),
            None => format!("{}:{}", self.host, self.port),
        }
    }
}

/// What [`queue`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueReport {
    /// Songs added to MPD's queue.
    pub queued: usize,
    /// Songs not found in MPD's database ("Artist - Title"); the others were queued.
    pub missing: Vec<String>,
    pub replaced: bool,
    pub playing: bool,
}

/// What [`import_library`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    pub mpd: String,
    /// Songs in MPD's database.
    pub songs: usize,
    pub added: usize,
    pub updated: usize,
    /// Songs imported from this MPD earlier and no longer in its database.
    pub removed: usize,
    /// Songs whose lyrics were read from their files (tags or sidecars); only possible when MPD shares its music
    /// folder with this machine (over its unix socket it says where that is). Other songs get theirs from
    /// `moodtape lyrics fetch`.
    pub lyrics_found: usize,
}

/// Sends `songs` to MPD's queue, replacing it or appending to it, and starts playback when `play` is set.
/// Songs MPD does not know are reported in the result (and are an error when none is known).
pub fn queue(
    target: &MpdTarget,
    songs: &[Song],
    replace: bool,
    play: bool,
) -> Result<QueueReport, PlayerError> {
    if songs.is_empty() {
        return Err(PlayerError::Empty);
    }
    let mut mpd = Client::connect(target)?;
    let mut music_dir: Option<Option<PathBuf>> = None;
    let mut uris = Vec::with_capacity(songs.len());
    let mut missing = Vec::new();
    // Everything is looked up before the queue is touched, so a failed lookup never leaves a cleared queue.
    for song in songs {
        if crate::player::m3u::unsafe_location(song) {
            missing.push(song.display_name());
            continue;
        }
        match mpd.resolve(song, &mut music_dir)? {
            Some(uri) => uris.push(uri),
            None => missing.push(song.display_name()),
        }
    }
    if uris.is_empty() {
        return Err(PlayerError::NotInDatabase { songs: missing });
    }
    if replace {
        mpd.command("clear")?;
    }
    let mut first_id: Option<String> = None;
    for uri in &uris {
        let reply = mpd.command(&format!("addid {}", quote(uri)))?;
        if first_id.is_none() {
            first_id = value(&reply, "Id").map(str::to_string);
        }
    }
    let mut playing = false;
    if play {
        let state = mpd.command("status")?;
        if replace || value(&state, "state") != Some("play") {
            match &first_id {
                Some(id) => mpd.command(&format!("playid {id}"))?,
                None => mpd.command("play")?,
            };
        }
        playing = true;
    }
    mpd.close();
    Ok(QueueReport {
        queued: uris.len(),
        missing,
        replaced: replace,
        playing,
    })
}

/// Imports MPD's database as songs with `Location::Mpd(uri)`, their tags and durations. When MPD's music folder
/// is on this machine, lyrics in the files' tags or sidecars come along (MPD itself does not pass multi-line
/// tags on). A rescan updates tags, keeps lyrics and analyses, and removes songs MPD no longer has.
pub fn import_library(target: &MpdTarget, store: &Store) -> Result<ImportReport, PlayerError> {
    let mut mpd = Client::connect(target)?;
    let records = mpd.list_all()?;
    let music_dir = mpd.music_directory().filter(|d| d.is_dir());
    mpd.close();
    // One MPD library per database: the host may be named in several ways, the songs are the same.
    let source = MPD_SOURCE.to_string();
    let mut report = ImportReport {
        mpd: target.addr(),
        songs: records.len(),
        ..ImportReport::default()
    };
    let mut seen = std::collections::HashSet::new();
    let mut batch: Vec<(Song, Option<LyricsRecord>)> = Vec::with_capacity(IMPORT_BATCH);
    for record in &records {
        let Some(uri) = value(record, "file") else {
            continue;
        };
        let fresh = song_from_record(uri, record, &source);
        seen.insert(fresh.id.clone());
        let existing = store.song(&fresh.id)?;
        let mut song = match &existing {
            Some(old) => Song {
                lyrics_origin: old.lyrics_origin,
                instrumental: old.instrumental,
                ..fresh
            },
            None => fresh,
        };
        let changed = existing.as_ref() != Some(&song);
        let mut lyrics = None;
        if !song.has_lyrics() && !song.instrumental {
            if let Some(record) = music_dir
                .as_deref()
                .and_then(|dir| local_lyrics(&song, dir, uri))
            {
                song.lyrics_origin = Some(record.origin);
                lyrics = Some(record);
                report.lyrics_found += 1;
            }
        }
        if !changed && lyrics.is_none() {
            continue;
        }
        match existing {
            Some(_) if changed => report.updated += 1,
            Some(_) => {}
            None => report.added += 1,
        }
        batch.push((song, lyrics));
        if batch.len() >= IMPORT_BATCH {
            store.put_songs(&batch)?;
            store.flush()?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store.put_songs(&batch)?;
    }
    let gone: Vec<SongId> = store
        .all_songs()?
        .into_iter()
        .filter(|s| {
            s.source == source && matches!(s.location, Location::Mpd(_)) && !seen.contains(&s.id)
        })
        .map(|s| s.id)
        .collect();
    report.removed = gone.len();
    if !gone.is_empty() {
        store.remove_songs(&gone)?;
    }
    store.flush()?;
    Ok(report)
}

/// The `source` of songs imported from MPD.
pub const MPD_SOURCE: &str = "mpd";

/// Lyrics from the song's file in MPD's (local) music folder: a sidecar first, then the tags.
fn local_lyrics(song: &Song, music_dir: &Path, uri: &str) -> Option<LyricsRecord> {
    use crate::lyrics::source::{LyricsSource, SidecarSource, TagSource};
    let local = Song {
        location: Location::File(music_dir.join(uri)),
        ..song.clone()
    };
    let cancel = std::sync::atomic::AtomicBool::new(false);
    [&SidecarSource as &dyn LyricsSource, &TagSource]
        .into_iter()
        .find_map(|source| source.lookup(&local, &cancel).ok().flatten())
        .filter(LyricsRecord::has_words)
}

fn song_from_record(uri: &str, record: &[(String, String)], source: &str) -> Song {
    let stem = Path::new(uri)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| uri.to_string());
    let artist = value(record, "Artist")
        .or_else(|| value(record, "AlbumArtist"))
        .unwrap_or("");
    let title = value(record, "Title")
        .or_else(|| value(record, "Name"))
        .unwrap_or(&stem);
    let album = value(record, "Album").unwrap_or("");
    let mut song = Song::new(artist, title, album, Location::Mpd(uri.to_string()));
    song.duration_s = value(record, "duration")
        .or_else(|| value(record, "Time"))
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d >= 0.0);
    song.track = value(record, "Track").and_then(|t| t.split('/').next()?.trim().parse().ok());
    song.year = value(record, "Date").and_then(|d| d.get(..4)?.parse().ok());
    song.genre = value(record, "Genre")
        .map(crate::sanitize::clean_line)
        .unwrap_or_default();
    song.source = source.to_string();
    song
}

/// The first value of `key` in a reply.
fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// An argument in MPD's quoting.
fn quote(arg: &str) -> String {
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for c in arg.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

enum Stream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
}

impl Stream {
    fn try_clone(&self) -> std::io::Result<Stream> {
        match self {
            Stream::Tcp(s) => s.try_clone().map(Stream::Tcp),
            #[cfg(unix)]
            Stream::Unix(s) => s.try_clone().map(Stream::Unix),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            #[cfg(unix)]
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// One connection to MPD.
pub struct Client {
    reader: BufReader<Stream>,
    writer: Stream,
    addr: String,
    local: bool,
    /// The protocol version from MPD's greeting.
    pub version: String,
}

impl Client {
    /// Connects, reads the greeting and sends the password when there is one.
    pub fn connect(target: &MpdTarget) -> Result<Client, PlayerError> {
        let addr = target.addr();
        let refused = |e: std::io::Error| PlayerError::Connect {
            addr: addr.clone(),
            reason: io_reason(&e),
        };
        let (stream, local) = match &target.socket {
            #[cfg(unix)]
            Some(path) => {
                let s = std::os::unix::net::UnixStream::connect(path).map_err(refused)?;
                s.set_read_timeout(Some(IO_TIMEOUT)).map_err(refused)?;
                s.set_write_timeout(Some(IO_TIMEOUT)).map_err(refused)?;
                (Stream::Unix(s), true)
            }
            #[cfg(not(unix))]
            Some(_) => {
                return Err(PlayerError::Connect {
                    addr,
                    reason: "unix sockets are not supported on this system".into(),
                })
            }
            None => {
                let s = connect_tcp(&target.host, target.port).map_err(refused)?;
                s.set_read_timeout(Some(IO_TIMEOUT)).map_err(refused)?;
                s.set_write_timeout(Some(IO_TIMEOUT)).map_err(refused)?;
                let _ = s.set_nodelay(true);
                (Stream::Tcp(s), false)
            }
        };
        let writer = stream.try_clone().map_err(refused)?;
        let mut client = Client {
            reader: BufReader::new(stream),
            writer,
            addr: addr.clone(),
            local,
            version: String::new(),
        };
        let greeting = client.read_line()?;
        let Some(version) = greeting.strip_prefix("OK MPD ") else {
            return Err(PlayerError::Connect {
                addr,
                reason: format!(
                    "it is not MPD (it said {:?})",
                    crate::sanitize::clean_line(&greeting)
                ),
            });
        };
        client.version = version.trim().to_string();
        if let Some(pw) = &target.password {
            match client.command(&format!("password {}", quote(pw))) {
                Ok(_) => {}
                Err(PlayerError::Ack { .. }) => return Err(PlayerError::Password { addr }),
                Err(e) => return Err(e),
            }
        }
        Ok(client)
    }

    /// Sends one command line and reads its reply as key/value pairs up to `OK`; `ACK` is an error.
    pub fn command(&mut self, line: &str) -> Result<Vec<(String, String)>, PlayerError> {
        let name = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        // A line break inside an argument would end the command there and send the rest as another one.
        if line.contains(['\n', '\r', '\0']) {
            return Err(PlayerError::Ack {
                command: name,
                message: "an argument holds a line break or NUL; not sent".into(),
            });
        }
        let sent = self
            .writer
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| self.writer.flush());
        if let Err(e) = sent {
            return Err(self.lost(&e));
        }
        let mut pairs = Vec::new();
        loop {
            let reply = self.read_line()?;
            if reply == "OK" {
                return Ok(pairs);
            }
            if let Some(ack) = reply.strip_prefix("ACK ") {
                // "ACK [50@0] {add} No such song": the message is after the braces.
                let message = ack
                    .split_once("} ")
                    .map_or(ack, |(_, m)| m)
                    .trim()
                    .to_string();
                return Err(PlayerError::Ack {
                    command: name,
                    message,
                });
            }
            if let Some((k, v)) = reply.split_once(": ") {
                pairs.push((k.to_string(), v.to_string()));
            }
        }
    }

    fn read_line(&mut self) -> Result<String, PlayerError> {
        let mut buf = Vec::new();
        match self.reader.read_until(b'\n', &mut buf) {
            Ok(0) => Err(PlayerError::Protocol {
                addr: self.addr.clone(),
                detail: "the connection was closed".into(),
            }),
            Ok(_) => {
                while matches!(buf.last(), Some(b'\n' | b'\r')) {
                    buf.pop();
                }
                Ok(String::from_utf8_lossy(&buf).into_owned())
            }
            Err(e) => Err(self.lost(&e)),
        }
    }

    fn lost(&self, e: &std::io::Error) -> PlayerError {
        PlayerError::Protocol {
            addr: self.addr.clone(),
            detail: io_reason(e),
        }
    }

    /// Says goodbye; errors do not matter any more.
    pub fn close(mut self) {
        let _ = self.writer.write_all(b"close\n");
    }

    /// Every song record of the database. `listallinfo` of a whole large library can exceed MPD's output
    /// buffer; then each top-level folder is listed on its own.
    fn list_all(&mut self) -> Result<Vec<Vec<(String, String)>>, PlayerError> {
        let pairs = match self.command("listallinfo") {
            Ok(p) => p,
            Err(PlayerError::Ack { .. }) => {
                let top = self.command("lsinfo")?;
                let mut all = top.clone();
                for (k, dir) in top.iter().filter(|(k, _)| k == "directory") {
                    let _ = k;
                    all.extend(self.command(&format!("listallinfo {}", quote(dir)))?);
                }
                all
            }
            Err(e) => return Err(e),
        };
        Ok(split_records(pairs))
    }

    /// The URI MPD knows `song` by, or `None` when it is not in MPD's database.
    fn resolve(
        &mut self,
        song: &Song,
        music_dir: &mut Option<Option<PathBuf>>,
    ) -> Result<Option<String>, PlayerError> {
        match &song.location {
            Location::Mpd(uri) => self.has_file(uri).map(|ok| ok.then(|| uri.clone())),
            // Streams are MPD's business; it plays http and friends directly.
            Location::Uri(uri) => Ok(Some(uri.clone())),
            Location::File(path) => {
                if music_dir.is_none() {
                    *music_dir = Some(self.music_directory());
                }
                if let Some(Some(root)) = music_dir.as_ref() {
                    if let Ok(rel) = path.strip_prefix(root) {
                        let uri = rel.to_string_lossy().into_owned();
                        if self.has_file(&uri)? {
                            return Ok(Some(uri));
                        }
                    }
                }
                if let Some(uri) = self.find_by_names(song)? {
                    return Ok(Some(uri));
                }
                // MPD plays any local file sent over its unix socket.
                if self.local && path.is_absolute() && path.exists() {
                    return Ok(Some(format!("file://{}", path.display())));
                }
                Ok(None)
            }
            Location::None => self.find_by_names(song),
        }
    }

    fn has_file(&mut self, uri: &str) -> Result<bool, PlayerError> {
        match self.command(&format!("lsinfo {}", quote(uri))) {
            Ok(pairs) => Ok(value(&pairs, "file") == Some(uri)),
            Err(PlayerError::Ack { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// MPD tells its music folder only to local clients; elsewhere this is `None`.
    fn music_directory(&mut self) -> Option<PathBuf> {
        match self.command("config") {
            Ok(pairs) => value(&pairs, "music_directory").map(PathBuf::from),
            Err(_) => None,
        }
    }

    fn find_by_names(&mut self, song: &Song) -> Result<Option<String>, PlayerError> {
        let reply = match self.command(&format!(
            "search artist {} title {}",
            quote(&song.artist),
            quote(&song.title)
        )) {
            Ok(r) => r,
            Err(PlayerError::Ack { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let (artist, title) = (normalize_name(&song.artist), normalize_name(&song.title));
        Ok(split_records(reply).into_iter().find_map(|r| {
            let same = value(&r, "Artist").map(normalize_name) == Some(artist.clone())
                && value(&r, "Title").map(normalize_name) == Some(title.clone());
            same.then(|| value(&r, "file").map(str::to_string))
                .flatten()
        }))
    }
}

/// Splits a listing into records, each starting at `file`, `directory` or `playlist`.
fn split_records(pairs: Vec<(String, String)>) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = Vec::new();
    for (k, v) in pairs {
        if k == "file" || k == "directory" || k == "playlist" || out.is_empty() {
            out.push(Vec::new());
        }
        if let Some(last) = out.last_mut() {
            last.push((k, v));
        }
    }
    out.retain(|r| r.first().is_some_and(|(k, _)| k == "file"));
    out
}

fn connect_tcp(host: &str, port: u16) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "the host name did not resolve",
    );
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Plain words for the usual connection failures.
fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => "connection refused".into(),
        K::TimedOut | K::WouldBlock => "timed out".into(),
        K::NotFound => "no such socket or host".into(),
        K::PermissionDenied => "permission denied".into(),
        K::ConnectionReset | K::BrokenPipe | K::UnexpectedEof => "the connection was closed".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_config() {
        let config = MpdSettings::default();
        let t = MpdTarget::resolve(&config, Some("secret@music.local"), Some("6601"));
        assert_eq!(t.host, "music.local");
        assert_eq!(t.port, 6601);
        assert_eq!(t.password.as_deref(), Some("secret"));
        assert_eq!(t.addr(), "music.local:6601");
        let s = MpdTarget::resolve(&config, Some("/run/mpd/socket"), None);
        assert_eq!(s.socket, Some(PathBuf::from("/run/mpd/socket")));
        let d = MpdTarget::resolve(&config, None, Some("x"));
        assert_eq!(d.addr(), "127.0.0.1:6600");
        assert_eq!(d.password, None);
    }

    #[test]
    fn quoting_and_records() {
        assert_eq!(quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        let pairs = vec![
            ("directory".to_string(), "x".to_string()),
            ("file".into(), "x/a.flac".into()),
            ("Title".into(), "A".into()),
            ("file".into(), "x/b.flac".into()),
            ("playlist".into(), "p.m3u".into()),
        ];
        let records = split_records(pairs);
        assert_eq!(records.len(), 2);
        assert_eq!(value(&records[0], "Title"), Some("A"));
    }

    #[test]
    fn refused_connections_say_what_to_do() {
        // Port 1 on localhost is closed on any sane machine.
        let config = MpdSettings {
            host: "127.0.0.1".into(),
            port: 1,
            password: String::new(),
        };
        let t = MpdTarget::resolve(&config, None, None);
        let err = Client::connect(&t)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("cannot reach MPD at 127.0.0.1:1: connection refused; is mpd running?"),
            "{err}"
        );
    }
}
