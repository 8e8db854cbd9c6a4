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
    /// The user named MPD (config or environment), or its usual socket exists: worth saying when it is down.
    pub configured: bool,
}

impl MpdTarget {
    /// The target from configured settings and the values of `MPD_HOST` (`[password@]host`, a socket path, or
    /// `@name` for a Linux abstract socket) and `MPD_PORT`, which override them as mpc and other MPD clients read
    /// them. When neither the config nor the environment names MPD, its usual socket
    /// `$XDG_RUNTIME_DIR/mpd/socket` is used where it exists (`runtime_dir` is `$XDG_RUNTIME_DIR`).
    pub fn resolve(
        config: &MpdSettings,
        host_env: Option<&str>,
        port_env: Option<&str>,
        runtime_dir: Option<&Path>,
    ) -> MpdTarget {
        let mut password = Some(config.password.clone()).filter(|p| !p.is_empty());
        let mut host = config.host.trim().to_string();
        let host_env = host_env.map(str::trim).filter(|h| !h.is_empty());
        let port_env = port_env.map(str::trim).filter(|p| !p.is_empty());
        if let Some(env) = host_env {
            host = if env.starts_with('@') {
                env.to_string()
            } else if let Some((pw, abstract_name)) = env.split_once("@@") {
                // `password@@name`: a password and an abstract socket.
                if !pw.is_empty() {
                    password = Some(pw.to_string());
                }
                format!("@{abstract_name}")
            } else {
                match env.rsplit_once('@') {
                    Some((pw, h)) if !pw.is_empty() && !h.is_empty() => {
                        password = Some(pw.to_string());
                        h.to_string()
                    }
                    _ => env.to_string(),
                }
            };
        }
        let port = port_env.and_then(|p| p.parse().ok()).unwrap_or(config.port);
        let mut socket = if host.starts_with('/') || (host.starts_with('@') && host.len() > 1) {
            Some(PathBuf::from(&host))
        } else if let Some(rest) = host.strip_prefix("~/") {
            std::env::var_os("HOME").map(|home| Path::new(&home).join(rest))
        } else {
            None
        };
        let unconfigured = host_env.is_none()
            && port_env.is_none()
            && config.host.trim() == MpdSettings::default().host
            && config.port == MpdSettings::default().port;
        if unconfigured {
            if let Some(default) = runtime_dir
                .map(|d| d.join("mpd").join("socket"))
                .filter(|p| p.exists())
            {
                host = default.display().to_string();
                socket = Some(default);
            }
        }
        if host.is_empty() {
            host = "127.0.0.1".into();
        }
        MpdTarget {
            host,
            port,
            password,
            configured: !unconfigured || socket.is_some(),
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
pub fn import_library(
    target: &MpdTarget,
    store: &Store,
    listed: &mut dyn FnMut(usize),
) -> Result<ImportReport, PlayerError> {
    let mut mpd = Client::connect(target)?;
    let records = list_songs(target, &mut mpd, listed)?;
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

/// MPD's player state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlayState {
    Play,
    Pause,
    #[default]
    Stop,
}

/// What MPD plays and how far it is: its `status` and `currentsong` in one. Tags are as MPD tells them: clean
/// them before display.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlayerStatus {
    pub state: PlayState,
    pub elapsed_s: f64,
    pub duration_s: Option<f64>,
    /// 0-100; `None` when MPD has no mixer.
    pub volume: Option<u8>,
    /// The current song's place in the queue and its queue id.
    pub song_pos: Option<usize>,
    pub song_id: Option<u64>,
    pub queue_len: usize,
    /// MPD's queue version: it changes whenever the queue does.
    pub queue_version: u64,
    pub uri: Option<String>,
    pub artist: String,
    pub title: String,
    pub album: String,
}

impl PlayerStatus {
    fn from_replies(status: &[(String, String)], song: &[(String, String)]) -> PlayerStatus {
        let num = |k: &str| value(status, k).and_then(|v| v.trim().parse::<f64>().ok());
        let state = match value(status, "state") {
            Some("play") => PlayState::Play,
            Some("pause") => PlayState::Pause,
            _ => PlayState::Stop,
        };
        let duration_s = num("duration")
            .or_else(|| {
                // Older MPDs: "time: elapsed:total".
                value(status, "time")?.split_once(':')?.1.parse().ok()
            })
            .or_else(|| value(song, "duration").and_then(|d| d.parse().ok()))
            .filter(|d: &f64| d.is_finite() && *d > 0.0);
        let has_song = value(status, "songid").is_some();
        let tag = |k: &str| {
            if has_song {
                value(song, k).unwrap_or_default().to_string()
            } else {
                String::new()
            }
        };
        PlayerStatus {
            state,
            elapsed_s: num("elapsed")
                .filter(|e| e.is_finite() && *e >= 0.0)
                .unwrap_or(0.0),
            duration_s,
            volume: num("volume")
                .filter(|v| *v >= 0.0)
                .map(|v| v.min(100.0) as u8),
            song_pos: num("song").map(|p| p as usize),
            song_id: num("songid").map(|p| p as u64),
            queue_len: num("playlistlength").map_or(0, |n| n as usize),
            queue_version: num("playlist").map_or(0, |n| n as u64),
            uri: has_song
                .then(|| value(song, "file").map(str::to_string))
                .flatten(),
            artist: {
                let a = tag("Artist");
                if a.is_empty() {
                    tag("AlbumArtist")
                } else {
                    a
                }
            },
            title: {
                let t = tag("Title");
                if t.is_empty() {
                    tag("Name")
                } else {
                    t
                }
            },
            album: tag("Album"),
        }
    }

    /// "Artist – Title", or the file's name when MPD knows no tags.
    pub fn display_name(&self) -> String {
        let title = if self.title.is_empty() {
            self.uri
                .as_deref()
                .map(|u| {
                    Path::new(u)
                        .file_stem()
                        .map_or_else(|| u.to_string(), |s| s.to_string_lossy().into_owned())
                })
                .unwrap_or_default()
        } else {
            self.title.clone()
        };
        if self.artist.is_empty() {
            title
        } else {
            format!("{} – {title}", self.artist)
        }
    }
}

/// What a player key asks MPD to do.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum PlayerOp {
    /// Play when stopped, else pause or resume.
    TogglePause,
    Next,
    Previous,
    /// Seek by this many seconds from where the song is (negative: back).
    SeekBy {
        seconds: f64,
    },
    /// Change the volume by this many percent.
    VolumeBy {
        percent: i32,
    },
    /// Play the song at this place of the queue.
    PlayAt {
        pos: usize,
    },
}

/// The song at `uri` in MPD's database, as an imported song (not stored).
pub fn song_at(target: &MpdTarget, uri: &str) -> Result<Song, PlayerError> {
    let mut mpd = Client::connect(target)?;
    let reply = mpd.command(&format!("lsinfo {}", quote(uri)))?;
    mpd.close();
    split_records(reply)
        .into_iter()
        .find(|r| value(r, "file") == Some(uri))
        .map(|r| song_from_record(uri, &r, MPD_SOURCE))
        .ok_or_else(|| PlayerError::NotInDatabase {
            songs: vec![crate::sanitize::clean_line(uri)],
        })
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
    /// What was read of a line when a read timed out, so the line is whole when the read goes on.
    partial: Vec<u8>,
    /// The last failed read ran out of time (the connection may still be fine).
    timed_out: bool,
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
                let s = connect_unix(path).map_err(refused)?;
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
            partial: Vec::new(),
            timed_out: false,
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
        self.timed_out = false;
        let mut buf = std::mem::take(&mut self.partial);
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
            Err(e) => {
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) {
                    self.timed_out = true;
                    self.partial = buf;
                }
                Err(self.lost(&e))
            }
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

    /// MPD's player state and the current song.
    pub fn status(&mut self) -> Result<PlayerStatus, PlayerError> {
        let status = self.command("status")?;
        let song = if value(&status, "songid").is_some() {
            self.command("currentsong")?
        } else {
            Vec::new()
        };
        Ok(PlayerStatus::from_replies(&status, &song))
    }

    /// Waits up to `wait` for a change in MPD's `subsystems` (`idle`), then ends the wait (`noidle`); returns the
    /// subsystems that changed (none when the time ran out).
    pub fn idle(&mut self, subsystems: &str, wait: Duration) -> Result<Vec<String>, PlayerError> {
        let sent = self
            .writer
            .write_all(format!("idle {subsystems}\n").as_bytes())
            .and_then(|()| self.writer.flush());
        if let Err(e) = sent {
            return Err(self.lost(&e));
        }
        let set = |c: &mut Client, t: Duration| {
            let r = match c.reader.get_ref() {
                Stream::Tcp(s) => s.set_read_timeout(Some(t)),
                #[cfg(unix)]
                Stream::Unix(s) => s.set_read_timeout(Some(t)),
            };
            r.map_err(|e| c.lost(&e))
        };
        set(self, wait.max(Duration::from_millis(1)))?;
        let first = match self.read_line() {
            Ok(line) => Some(line),
            Err(PlayerError::Protocol { .. }) if self.timed_out => None,
            Err(e) => return Err(e),
        };
        set(self, IO_TIMEOUT)?;
        let mut changed = Vec::new();
        let mut line = match first {
            Some(line) => line,
            None => {
                let sent = self
                    .writer
                    .write_all(b"noidle\n")
                    .and_then(|()| self.writer.flush());
                if let Err(e) = sent {
                    return Err(self.lost(&e));
                }
                self.read_line()?
            }
        };
        loop {
            if line == "OK" {
                return Ok(changed);
            }
            if let Some(ack) = line.strip_prefix("ACK ") {
                return Err(PlayerError::Ack {
                    command: "idle".into(),
                    message: ack.to_string(),
                });
            }
            if let Some(sub) = line.strip_prefix("changed: ") {
                changed.push(sub.to_string());
            }
            line = self.read_line()?;
        }
    }

    /// Does what a player key asks.
    pub fn control(&mut self, op: PlayerOp) -> Result<(), PlayerError> {
        let status = self.status()?;
        let line = match op {
            PlayerOp::TogglePause => match status.state {
                PlayState::Stop => "play".to_string(),
                PlayState::Play => "pause 1".to_string(),
                PlayState::Pause => "pause 0".to_string(),
            },
            PlayerOp::Next => "next".to_string(),
            PlayerOp::Previous => "previous".to_string(),
            PlayerOp::SeekBy { seconds } => {
                if status.song_id.is_none() || status.state == PlayState::Stop {
                    return Ok(());
                }
                let to = (status.elapsed_s + seconds).max(0.0);
                match status.duration_s {
                    // Past the end: the next song, as a player's seek bar does.
                    Some(d) if to >= d => "next".to_string(),
                    _ => format!("seekcur {to:.1}"),
                }
            }
            PlayerOp::VolumeBy { percent } => {
                let Some(v) = status.volume else {
                    return Err(PlayerError::Ack {
                        command: "setvol".into(),
                        message: "MPD has no volume control here (set mixer_type in mpd.conf)"
                            .into(),
                    });
                };
                format!("setvol {}", (i32::from(v) + percent).clamp(0, 100))
            }
            PlayerOp::PlayAt { pos } => format!("play {pos}"),
        };
        self.command(&line).map(|_| ())
    }

    /// The record of the song at `pos` in the queue.
    pub fn queued_song(
        &mut self,
        pos: usize,
    ) -> Result<Option<Vec<(String, String)>>, PlayerError> {
        match self.command(&format!("playlistinfo {pos}")) {
            Ok(reply) => Ok(split_records(reply).into_iter().next()),
            Err(PlayerError::Ack { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Adds a song to the end of the queue; returns its queue id.
    pub fn add(&mut self, uri: &str) -> Result<Option<String>, PlayerError> {
        let reply = self.command(&format!("addid {}", quote(uri)))?;
        Ok(value(&reply, "Id").map(str::to_string))
    }

    /// The URI MPD knows `song` by, or `None` when MPD does not have it.
    pub fn uri_of(&mut self, song: &Song) -> Result<Option<String>, PlayerError> {
        let mut music_dir = None;
        self.resolve(song, &mut music_dir)
    }

    /// MPD's music folder, when it tells (over its unix socket).
    pub fn music_dir(&mut self) -> Option<PathBuf> {
        self.music_directory()
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

/// Records per `find ... window` request once a whole listing did not fit; halved whenever MPD still drops the
/// connection, so even a tiny `max_output_buffer_size` gets through.
const LIST_WINDOW: usize = 512;
/// Reconnections in a row, without a window getting through, before a listing gives up.
const LIST_RETRIES: u32 = 6;

/// Every song record of MPD's database. One `listallinfo` answers small libraries; when that does not fit MPD's
/// output buffer (`max_output_buffer_size`: MPD logs "Output buffer is full" and hangs up, or answers ACK) the
/// songs are listed in windows of `find`, reconnecting whenever MPD drops the connection, and by folder
/// (`lsinfo`) on MPDs older than 0.21, which know no filter expressions. `listed` hears the running count.
pub fn list_songs(
    target: &MpdTarget,
    mpd: &mut Client,
    listed: &mut dyn FnMut(usize),
) -> Result<Vec<Vec<(String, String)>>, PlayerError> {
    match mpd.command("listallinfo") {
        Ok(pairs) => {
            let records = split_records(pairs);
            listed(records.len());
            return Ok(records);
        }
        Err(PlayerError::Ack { .. }) => {}
        Err(PlayerError::Protocol { .. }) => *mpd = reconnect(target, 0)?,
        Err(e) => return Err(e),
    }
    let mut out = Vec::new();
    let mut size = LIST_WINDOW;
    let mut failures = 0;
    loop {
        let start = out.len();
        let line = format!(
            "find {} window {start}:{}",
            quote("(file != \"\")"),
            start + size
        );
        match mpd.command(&line) {
            Ok(pairs) => {
                failures = 0;
                let records = split_records(pairs);
                let n = records.len();
                out.extend(records);
                listed(out.len());
                if n < size {
                    return Ok(out);
                }
            }
            // No filter expressions (MPD before 0.21): folder by folder.
            Err(PlayerError::Ack { .. }) if start == 0 => {
                return list_by_folder(target, mpd, listed);
            }
            Err(PlayerError::Protocol { addr, detail }) => {
                failures += 1;
                if failures > LIST_RETRIES {
                    return Err(PlayerError::Protocol {
                        addr,
                        detail: format!(
                            "{detail} (listing in windows of {size} songs after {LIST_RETRIES} reconnections; raise max_output_buffer_size in mpd.conf)"
                        ),
                    });
                }
                size = (size / 2).max(1);
                *mpd = reconnect(target, failures)?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Lists folder by folder with `lsinfo`, reconnecting when MPD drops the connection.
fn list_by_folder(
    target: &MpdTarget,
    mpd: &mut Client,
    listed: &mut dyn FnMut(usize),
) -> Result<Vec<Vec<(String, String)>>, PlayerError> {
    let mut out = Vec::new();
    let mut folders = vec![String::new()];
    while let Some(dir) = folders.pop() {
        let line = if dir.is_empty() {
            "lsinfo".to_string()
        } else {
            format!("lsinfo {}", quote(&dir))
        };
        let mut failures = 0;
        let pairs = loop {
            match mpd.command(&line) {
                Ok(p) => break p,
                Err(PlayerError::Protocol { .. }) if failures < LIST_RETRIES => {
                    failures += 1;
                    *mpd = reconnect(target, failures)?;
                }
                Err(e) => return Err(e),
            }
        };
        folders.extend(
            pairs
                .iter()
                .filter(|(k, _)| k == "directory")
                .map(|(_, v)| v.clone()),
        );
        out.extend(split_records(pairs));
        listed(out.len());
    }
    Ok(out)
}

/// A fresh connection after MPD dropped one, a little later each time.
fn reconnect(target: &MpdTarget, attempt: u32) -> Result<Client, PlayerError> {
    std::thread::sleep(Duration::from_millis(100 * u64::from(attempt.min(10))));
    Client::connect(target)
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

/// A socket path, or `@name` for a Linux abstract socket (as `MPD_HOST=@mpd` names one).
#[cfg(unix)]
fn connect_unix(path: &Path) -> std::io::Result<std::os::unix::net::UnixStream> {
    use std::os::unix::net::UnixStream;
    let text = path.as_os_str().as_encoded_bytes();
    match text.strip_prefix(b"@") {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Some(name) => {
            #[cfg(target_os = "android")]
            use std::os::android::net::SocketAddrExt;
            #[cfg(target_os = "linux")]
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            UnixStream::connect_addr(&addr)
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        Some(_) => Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "abstract sockets (@name) exist only on Linux",
        )),
        None => UnixStream::connect(path),
    }
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
        let t = MpdTarget::resolve(&config, Some("secret@music.local"), Some("6601"), None);
        assert_eq!(t.host, "music.local");
        assert_eq!(t.port, 6601);
        assert_eq!(t.password.as_deref(), Some("secret"));
        assert_eq!(t.addr(), "music.local:6601");
        let s = MpdTarget::resolve(&config, Some("/run/mpd/socket"), None, None);
        assert_eq!(s.socket, Some(PathBuf::from("/run/mpd/socket")));
        let d = MpdTarget::resolve(&config, None, Some("x"), None);
        assert_eq!(d.addr(), "127.0.0.1:6600");
        assert_eq!(d.password, None);
    }

    #[test]
    fn abstract_sockets_and_the_default_socket() {
        let config = MpdSettings::default();
        let a = MpdTarget::resolve(&config, Some("@mpd"), None, None);
        assert_eq!(a.socket, Some(PathBuf::from("@mpd")));
        assert_eq!(a.password, None);
        let b = MpdTarget::resolve(&config, Some("pw@@mpd"), None, None);
        assert_eq!(b.socket, Some(PathBuf::from("@mpd")));
        assert_eq!(b.password.as_deref(), Some("pw"));

        let runtime = std::env::temp_dir().join(format!("moodtape-mpd-rt-{}", std::process::id()));
        std::fs::create_dir_all(runtime.join("mpd")).unwrap();
        std::fs::write(runtime.join("mpd/socket"), b"").unwrap();
        let d = MpdTarget::resolve(&config, None, None, Some(&runtime));
        assert_eq!(d.socket, Some(runtime.join("mpd/socket")));
        // Anything configured wins over the default socket.
        let e = MpdTarget::resolve(&config, Some("music.local"), None, Some(&runtime));
        assert_eq!(e.socket, None);
        let other = MpdSettings {
            port: 6601,
            ..MpdSettings::default()
        };
        assert_eq!(
            MpdTarget::resolve(&other, None, None, Some(&runtime)).socket,
            None
        );
        let _ = std::fs::remove_dir_all(&runtime);
        assert_eq!(
            MpdTarget::resolve(&config, None, None, Some(&runtime)).socket,
            None
        );
    }

    #[test]
    fn an_abstract_socket_is_reached() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("moodtape-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"OK MPD 0.23.0\n").unwrap();
        });
        let t = MpdTarget::resolve(
            &MpdSettings::default(),
            Some(&format!("@{name}")),
            None,
            None,
        );
        let client = Client::connect(&t).unwrap();
        assert_eq!(client.version, "0.23.0");
        server.join().unwrap();
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
        let t = MpdTarget::resolve(&config, None, None, None);
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
