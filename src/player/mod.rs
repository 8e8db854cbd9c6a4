//! Handing playlists to a real player: M3U8 files, an MPD client (queue and library import), and an external
//! command template such as `mpv --playlist={m3u}`.

pub mod command;
pub mod m3u;
pub mod mpd;

pub use command::{run_command, spawn_command};
pub use m3u::{parse_m3u8, write_m3u8, M3uEntry};
pub use mpd::{
    import_library, queue, song_at, ImportReport, MpdSettings, MpdTarget, PlayState, PlayerOp,
    PlayerStatus, QueueReport,
};

/// What can go wrong when handing songs to a player.
#[derive(Debug, thiserror::Error)]
pub enum PlayerError {
    #[error("cannot reach MPD at {addr}: {reason}; is mpd running? set MPD_HOST/MPD_PORT or [mpd] in the config")]
    Connect { addr: String, reason: String },
    #[error("MPD at {addr} refused the password; check MPD_HOST (password@host) or mpd.password in the config")]
    Password { addr: String },
    #[error("MPD answered {command:?} with an error: {message}")]
    Ack { command: String, message: String },
    #[error("MPD at {addr} stopped answering: {detail}")]
    Protocol { addr: String, detail: String },
    #[error("{} not in MPD's database: {}{}; update MPD's database (`mpc update`) and import it with `moodtape scan --mpd`",
        if .songs.len() == 1 { "this song is" } else { "these songs are" },
        .songs.iter().take(5).cloned().collect::<Vec<_>>().join("; "),
        if .songs.len() > 5 { format!("; and {} more", .songs.len() - 5) } else { String::new() })]
    NotInDatabase { songs: Vec<String> },
    #[error("no songs to play")]
    Empty,
    #[error("no player command is set; set player.command in the config, e.g. \"mpv --playlist={{m3u}}\"")]
    NoCommand,
    #[error("the player command {command:?} failed: {detail}")]
    Command { command: String, detail: String },
    #[error("cannot write the playlist {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
