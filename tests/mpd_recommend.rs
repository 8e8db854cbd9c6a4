//! A recommendation sent to a real `mpd`: the library is imported from MPD (lyrics read from the files over
//! MPD's unix socket), analyzed on first use with the real model, and `recommend ... --mpd --replace` queues
//! the playlist; the queue read back over MPD's protocol is the playlist, in order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod mpd_support;

use common::{json_out, moodtape, write_audio, Tags};
use mpd_support::{require_mpd, Mpd};

const SONGS: [(&str, &str, &str); 5] = [
    (
        "Ana",
        "Sunrise Parade",
        "we dance in the sun all day, hearts so light and free",
    ),
    (
        "Bo",
        "Broken Glass",
        "I hate the lies you told, I will burn it all down",
    ),
    (
        "Cy",
        "Empty Chair",
        "your chair is empty and I cry alone every night",
    ),
    (
        "Di",
        "Quiet Harbour",
        "slow waves, warm tea, I am safe and calm with you",
    ),
    (
        "Ed",
        "Night Drive",
        "the road is long and the radio hums, we keep going",
    ),
];

#[test]
fn recommend_queues_its_playlist_on_mpd() {
    common::ensure_model();
    let Some(bin) = require_mpd("recommend_queues_its_playlist_on_mpd") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    for (artist, title, lyrics) in SONGS {
        write_audio(
            &music.join(format!("{artist} - {title}.flac")),
            &Tags {
                artist,
                title,
                album: "Moods",
                lyrics: Some(&lyrics.replace(", ", "\n")),
            },
            4,
        );
    }
    let mpd = Mpd::start(&bin, &music, &tmp.path().join("mpd"), None);
    mpd.update_and_wait(SONGS.len());
    let home = tmp.path().join("home");
    let socket = mpd.socket.to_str().unwrap().to_string();
    let mt = || {
        let mut c = moodtape(&home);
        c.env("MPD_HOST", &socket)
            .env("MPD_PORT", mpd.port.to_string())
            .arg("--offline");
        c
    };

    let out = mt().args(["scan", "--mpd", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_out(&out)["lyrics_found"], 5);

    let out = mt()
        .args([
            "recommend",
            "near",
            "0",
            "0",
            "--limit",
            "3",
            "--json",
            "--mpd",
            "--replace",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = json_out(&out);
    let picked: Vec<String> = list["songs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["location"]
                .as_str()
                .unwrap()
                .strip_prefix("mpd:")
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(picked.len(), 3);
    assert_eq!(mpd.queue(), picked);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("queued (replacing the queue) 3 songs"),
        "{err}"
    );

    // Appending a journey keeps the first playlist and adds the new one after it.
    let out = mt()
        .args([
            "recommend",
            "journey",
            "so angry",
            "--to",
            "Q4",
            "--limit",
            "2",
            "--json",
            "--mpd",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let queue = mpd.queue();
    assert_eq!(queue.len(), 5);
    assert_eq!(queue[..3], picked[..]);
}
