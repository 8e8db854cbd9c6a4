//! `scan --mpd` on a library bigger than one MPD answer may be: an mpd started with a tiny
//! `max_output_buffer_size` hangs up on `listallinfo`, and moodtape still imports every song by listing in
//! windows; a proxy that cuts the first connection mid-listing shows the import reconnects.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod mpd_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{json_out, moodtape};
use mpd_support::{require_mpd, Mpd};

const SONGS: usize = 1000;

/// `SONGS` untagged one-second WAV files in 20 folders (MPD names them by file).
fn write_music(music: &Path) {
    let wav = common::wav_bytes(1);
    for i in 0..SONGS {
        let dir = music.join(format!("folder {:02}", i % 20));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("song {i:04}.wav")), &wav).unwrap();
    }
}

fn scan(home: &Path, port: u16) -> serde_json::Value {
    let out = moodtape(home)
        .env("MPD_HOST", "127.0.0.1")
        .env("MPD_PORT", port.to_string())
        .args(["--offline", "scan", "--mpd", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_out(&out)
}

fn library_size(home: &Path) -> u64 {
    let out = moodtape(home)
        .args(["--offline", "library", "stats", "--json"])
        .output()
        .unwrap();
    json_out(&out)["songs"].as_u64().unwrap()
}

#[test]
fn a_library_bigger_than_mpds_output_buffer_is_imported_whole() {
    let Some(bin) = require_mpd(module_path!()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    write_music(&music);
    let mpd = Mpd::start_with(
        &bin,
        &music,
        &tmp.path().join("mpd"),
        None,
        "max_output_buffer_size \"64\"\n",
    );
    mpd.update_and_wait(SONGS);
    // The whole listing does not fit: mpd hangs up on it.
    let mut raw = TcpStream::connect(("127.0.0.1", mpd.port)).unwrap();
    raw.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    raw.write_all(b"listallinfo\n").unwrap();
    let mut answer = Vec::new();
    let _ = raw.read_to_end(&mut answer);
    assert!(
        !answer.ends_with(b"\nOK\n"),
        "listallinfo should not fit a 64 KiB output buffer"
    );

    let home = tmp.path().join("home");
    let report = scan(&home, mpd.port);
    assert_eq!(report["songs"], SONGS as u64, "{report}");
    assert_eq!(report["added"], SONGS as u64, "{report}");
    assert_eq!(library_size(&home), SONGS as u64);
    // A rescan finds the same songs and changes nothing.
    let again = scan(&home, mpd.port);
    assert_eq!(again["songs"], SONGS as u64, "{again}");
    assert_eq!(again["added"], 0, "{again}");
    assert_eq!(again["removed"], 0, "{again}");
}

/// Forwards connections to `upstream`; the first one is cut after `cut_after` bytes of answers.
fn cutting_proxy(upstream: u16, cut_after: usize) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let n = count.fetch_add(1, Ordering::SeqCst);
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                return;
            };
            let (mut c_read, mut s_write) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_read, &mut s_write);
                let _ = s_write.shutdown(std::net::Shutdown::Both);
            });
            let (mut s_read, mut c_write) = (server, client);
            std::thread::spawn(move || {
                let mut passed = 0;
                let mut buf = [0u8; 4096];
                while let Ok(got) = s_read.read(&mut buf) {
                    if got == 0 {
                        break;
                    }
                    let allowed = if n == 0 {
                        got.min(cut_after.saturating_sub(passed))
                    } else {
                        got
                    };
                    if c_write.write_all(&buf[..allowed]).is_err() {
                        break;
                    }
                    passed += allowed;
                    if allowed < got {
                        break;
                    }
                }
                let _ = c_write.shutdown(std::net::Shutdown::Both);
                let _ = s_read.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (port, connections)
}

#[test]
fn an_import_reconnects_when_mpd_hangs_up_mid_listing() {
    let Some(bin) = require_mpd(module_path!()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    write_music(&music);
    let mpd = Mpd::start(&bin, &music, &tmp.path().join("mpd"), None);
    mpd.update_and_wait(SONGS);
    let (port, connections) = cutting_proxy(mpd.port, 20_000);
    let home = tmp.path().join("home");
    let report = scan(&home, port);
    assert_eq!(report["songs"], SONGS as u64, "{report}");
    assert_eq!(library_size(&home), SONGS as u64);
    assert!(
        connections.load(Ordering::SeqCst) >= 2,
        "the import should have connected again"
    );
}
