//! A real `mpd` for the tests: started on 127.0.0.1 with a free port, a temporary music folder, database and
//! state, a null audio output; plus a tiny client of its own so the tests check MPD's side independently of
//! moodtape's client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Mpd {
    child: Child,
    bin: PathBuf,
    conf: PathBuf,
    pub port: u16,
    /// MPD also listens here; over its unix socket it tells clients where its music folder is.
    pub socket: PathBuf,
    pub dir: PathBuf,
    pub password: Option<String>,
}

/// The mpd binary, when installed (CI's `.ci/run` installs it).
pub fn mpd_binary() -> Option<PathBuf> {
    // Lets a test pretend mpd is elsewhere, or missing.
    if let Some(p) = std::env::var_os("MOODTAPE_TEST_MPD") {
        return Some(PathBuf::from(p)).filter(|p| p.exists());
    }
    let candidates = ["/usr/bin/mpd", "/usr/local/bin/mpd", "/usr/sbin/mpd"];
    if let Some(p) = candidates.iter().map(PathBuf::from).find(|p| p.exists()) {
        return Some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("mpd"))
            .find(|p| p.exists())
    })
}

/// The mpd binary; when it is missing the test fails under CI and is skipped visibly elsewhere
/// ([`crate::common::require`]).
pub fn require_mpd(test: &str) -> Option<PathBuf> {
    let found = mpd_binary();
    crate::common::require(
        "mpd",
        found.is_some(),
        test,
        "`apt-get install mpd` runs it",
    );
    found
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Mpd {
    /// Starts mpd over `music` with its files in `dir`; `password` (if any) grants everything, and clients
    /// without it may only read.
    pub fn start(bin: &Path, music: &Path, dir: &Path, password: Option<&str>) -> Mpd {
        Mpd::start_with(bin, music, dir, password, "")
    }

    /// [`Mpd::start`] with more lines for mpd.conf, such as `max_output_buffer_size "64"`. A free port can be
    /// taken by another test between finding it and mpd binding it: then mpd exits at once, and it is started
    /// again on another port.
    pub fn start_with(
        bin: &Path,
        music: &Path,
        dir: &Path,
        password: Option<&str>,
        extra_conf: &str,
    ) -> Mpd {
        for _ in 0..5 {
            if let Some(mpd) = Mpd::try_start(bin, music, dir, password, extra_conf) {
                return mpd;
            }
        }
        panic!(
            "mpd did not start on any of 5 ports; its log: {}",
            std::fs::read_to_string(dir.join("log")).unwrap_or_default()
        );
    }

    fn try_start(
        bin: &Path,
        music: &Path,
        dir: &Path,
        password: Option<&str>,
        extra_conf: &str,
    ) -> Option<Mpd> {
        std::fs::create_dir_all(dir).unwrap();
        let _ = std::fs::remove_file(dir.join("socket"));
        let port = free_port();
        let mut conf = format!(
            "music_directory \"{}\"\n\
             db_file \"{}\"\n\
             state_file \"{}\"\n\
             log_file \"{}\"\n\
             bind_to_address \"127.0.0.1\"\n\
             bind_to_address \"{}\"\n\
             port \"{port}\"\n\
             auto_update \"no\"\n\
             zeroconf_enabled \"no\"\n\
             audio_output {{\n  type \"null\"\n  name \"null\"\n}}\n",
            music.display(),
            dir.join("db").display(),
            dir.join("state").display(),
            dir.join("log").display(),
            dir.join("socket").display(),
        );
        conf.push_str(extra_conf);
        if let Some(pw) = password {
            conf.push_str(&format!(
                "password \"{pw}@read,add,control,admin\"\ndefault_permissions \"read\"\n"
            ));
        }
        let conf_path = dir.join("mpd.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(bin)
            .arg("--no-daemon")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut mpd = Mpd {
            child,
            bin: bin.to_path_buf(),
            conf: conf_path.clone(),
            port,
            socket: dir.join("socket"),
            dir: dir.to_path_buf(),
            password: password.map(str::to_string),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() || !mpd.socket.exists() {
            if matches!(mpd.child.try_wait(), Ok(Some(_))) {
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "mpd did not start; its log: {}",
                std::fs::read_to_string(dir.join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(mpd)
    }

    /// Kills mpd (as a crash would).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts mpd again with the same config, port and database.
    pub fn start_again(&mut self) {
        self.kill();
        self.child = Command::new(&self.bin)
            .arg("--no-daemon")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "mpd did not start again");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn conn(&self) -> Conn {
        let mut c = Conn::connect(self.port);
        if let Some(pw) = &self.password {
            c.command(&format!("password \"{pw}\""));
        }
        c
    }

    /// Updates the database and waits until it holds `songs` songs.
    pub fn update_and_wait(&self, songs: usize) {
        let mut c = self.conn();
        c.command("update");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = c.command("status");
            let stats = c.command("stats");
            let updating = status.iter().any(|(k, _)| k == "updating_db");
            let n: usize = value(&stats, "songs")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            if !updating && n == songs {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "mpd's database has {n} songs, not {songs}; its log: {}",
                std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The files in MPD's queue, in order.
    pub fn queue(&self) -> Vec<String> {
        self.conn()
            .command("playlistinfo")
            .into_iter()
            .filter(|(k, _)| k == "file")
            .map(|(_, v)| v)
            .collect()
    }

    pub fn state(&self) -> String {
        value(&self.conn().command("status"), "state").unwrap_or_default()
    }
}

impl Drop for Mpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn value(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// MPD's line protocol, the minimum the tests need.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    pub fn connect(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let writer = s.try_clone().unwrap();
        let mut c = Conn {
            reader: BufReader::new(s),
            writer,
        };
        let greeting = c.line();
        assert!(greeting.starts_with("OK MPD "), "{greeting}");
        c
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        let n = self.reader.read_line(&mut l).unwrap();
        // A dead mpd ends the test with a message instead of a loop reading nothing forever.
        assert!(n > 0, "mpd closed the connection");
        l.trim_end_matches(['\r', '\n']).to_string()
    }

    pub fn try_command(&mut self, cmd: &str) -> Result<Vec<(String, String)>, String> {
        writeln!(self.writer, "{cmd}").unwrap();
        let mut out = Vec::new();
        loop {
            let l = self.line();
            if l == "OK" {
                return Ok(out);
            }
            if l.starts_with("ACK") {
                return Err(l);
            }
            if let Some((k, v)) = l.split_once(": ") {
                out.push((k.to_string(), v.to_string()));
            }
        }
    }

    pub fn command(&mut self, cmd: &str) -> Vec<(String, String)> {
        self.try_command(cmd)
            .unwrap_or_else(|e| panic!("mpd refused {cmd:?}: {e}"))
    }
}
