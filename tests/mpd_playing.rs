//! Now playing and the mood radio against a real `mpd` with generated, really decodable audio (silent MPEG
//! frames played through a null output): a session in this process follows MPD (play, pause, next) and the app
//! shows it; MPD killed and started again is reported and reconnected; the radio keeps the queue K songs ahead
//! across several `next`, never repeats a song nor an artist in a row, counts quick skips as dislikes and stops
//! when the queue is cleared.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod mpd_support;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{write_audio, Tags};
use moodtape::player::{MpdSettings, MpdTarget, PlayState, PlayerOp};
use moodtape::service::{
    Call, Context, Event, Flags, NowPlaying, RadioRequest, RadioStatus, Session,
};
use moodtape::tui::action::Action;
use moodtape::tui::state::{App, AppOptions};
use mpd_support::{require_mpd, Mpd};

const SONGS: [(&str, &str, &str); 10] = [
    (
        "Ann Arbor",
        "Sunny Run",
        "the sun is up and we are dancing, all the windows open wide",
    ),
    (
        "Ben Bright",
        "Jump Around",
        "jump and shout we are so happy tonight, the party never ends",
    ),
    (
        "Cara Cole",
        "Good Morning",
        "good morning world I feel alive, laughing in the golden light",
    ),
    (
        "Dan Dale",
        "Festival",
        "lights and music everyone is cheering, we dance until the dawn",
    ),
    (
        "Eve East",
        "Summer Kiss",
        "your summer kiss makes me smile, joy is running through my veins",
    ),
    (
        "Fay Fern",
        "Celebrate",
        "raise your glass we celebrate, the best day of our lives",
    ),
    (
        "Gil Gray",
        "Rainy Window",
        "tears on the glass again, you left and the rooms are empty",
    ),
    (
        "Hal Hunt",
        "Alone",
        "I miss you so much, the nights are long and cold without you",
    ),
    (
        "Ivy Ink",
        "Slow Tea",
        "warm tea and a quiet evening, soft blankets and a calm heart",
    ),
    (
        "Jo Jade",
        "Storm",
        "shout it out break the walls, I am burning with rage",
    ),
];

fn write_music(music: &Path) {
    std::fs::create_dir_all(music).unwrap();
    for (artist, title, lyrics) in SONGS {
        write_audio(
            &music.join(format!("{artist} - {title}.mp3")),
            &Tags {
                artist,
                title,
                album: "Moods",
                lyrics: Some(&lyrics.replace(", ", "\n")),
            },
            60,
        );
    }
}

/// A session on a fresh database, following the test's MPD over `target`.
fn session(home: &Path, target: MpdTarget) -> Arc<Session> {
    let flags = Flags {
        db: Some(home.join("library.db")),
        config: Some(home.join("config.toml")),
        offline: true,
        model_dir: common::shared_model_cache(),
        ..Flags::default()
    };
    std::fs::create_dir_all(home).unwrap();
    std::fs::write(home.join("config.toml"), "[backup]\nkeep = 0\n").unwrap();
    let ctx = Context::new(&flags).unwrap();
    let mut settings = ctx.settings();
    settings.mpd = target;
    Arc::new(Session::open(settings).unwrap())
}

fn tcp(port: u16) -> MpdTarget {
    let config = MpdSettings {
        host: "127.0.0.1".into(),
        port,
        password: String::new(),
    };
    MpdTarget::resolve(&config, None, None, None)
}

/// Waits for a now-playing event that satisfies `done`, feeding every event to `app` on the way.
fn wait_now(
    rx: &Receiver<Event>,
    app: &mut App,
    what: &str,
    done: impl Fn(&NowPlaying) -> bool,
) -> NowPlaying {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no now-playing event: {what}");
        if let Ok(ev) = rx.recv_timeout(left.min(Duration::from_millis(500))) {
            app.update(Action::Service(ev.clone()));
            if let Event::NowPlaying { now } = ev {
                if done(&now) {
                    return now;
                }
            }
        }
    }
}

fn state(now: &NowPlaying) -> Option<PlayState> {
    now.status.as_ref().map(|s| s.state)
}

fn title(now: &NowPlaying) -> String {
    now.status
        .as_ref()
        .map(|s| s.title.clone())
        .unwrap_or_default()
}

#[test]
fn now_playing_follows_play_pause_next_and_a_restarted_mpd() {
    let Some(bin) = require_mpd(module_path!()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    write_music(&music);
    let mut mpd = Mpd::start(&bin, &music, &tmp.path().join("mpd"), None);
    mpd.update_and_wait(SONGS.len());
    let session = session(&tmp.path().join("home"), tcp(mpd.port));
    session.scan_mpd(&mut |_| {}).unwrap();
    let songs = session.store().all_songs().unwrap();
    let mut app = App::new(songs.clone(), AppOptions::default());
    let rx = session.subscribe();
    session.start_watch();

    let mut conn = mpd.conn();
    conn.command("clear");
    for (artist, t, _) in &SONGS[..3] {
        conn.command(&format!("add \"{artist} - {t}.mp3\""));
    }
    conn.command("play 0");
    let now = wait_now(&rx, &mut app, "playing", |n| {
        state(n) == Some(PlayState::Play) && title(n) == "Sunny Run"
    });
    let first = songs.iter().find(|s| s.title == "Sunny Run").unwrap();
    assert_eq!(now.song.as_ref(), Some(&first.id), "the library's song");
    // The app follows: the playing song is selected (the cursor was not moved) and shown with its time.
    let selected = app
        .library
        .selected_song()
        .map(|i| app.songs[i].title.clone());
    assert_eq!(selected.as_deref(), Some("Sunny Run"));
    assert!(app.playing.elapsed_at(Instant::now()).is_some());

    session.player_control(PlayerOp::TogglePause).unwrap();
    wait_now(&rx, &mut app, "paused", |n| {
        state(n) == Some(PlayState::Pause)
    });
    session.player_control(PlayerOp::TogglePause).unwrap();
    wait_now(&rx, &mut app, "resumed", |n| {
        state(n) == Some(PlayState::Play)
    });
    session.player_control(PlayerOp::Next).unwrap();
    wait_now(&rx, &mut app, "next", |n| title(n) == "Jump Around");
    let selected = app
        .library
        .selected_song()
        .map(|i| app.songs[i].title.clone());
    assert_eq!(selected.as_deref(), Some("Jump Around"));
    session
        .player_control(PlayerOp::SeekBy { seconds: 20.0 })
        .unwrap();
    wait_now(&rx, &mut app, "seek", |n| {
        n.status.as_ref().is_some_and(|s| s.elapsed_s >= 19.0)
    });
    session.player_control(PlayerOp::Previous).unwrap();
    wait_now(&rx, &mut app, "previous", |n| title(n) == "Sunny Run");

    // MPD goes away: every client hears why, and the app keeps working.
    mpd.kill();
    let lost = wait_now(&rx, &mut app, "lost", |n| n.problem.is_some());
    assert!(
        lost.problem.as_deref().unwrap().contains("trying again"),
        "{lost:?}"
    );
    app.update(Action::Down);
    assert!(app.playing.status().is_none());
    // It comes back: the watcher reconnects by itself.
    mpd.start_again();
    wait_now(&rx, &mut app, "reconnected", |n| n.status.is_some());
    session.close(Duration::from_secs(3));
}

/// The radio's queue as files, and where the current song is.
fn queue(mpd: &Mpd) -> (Vec<String>, Option<usize>) {
    let mut c = mpd.conn();
    let files = c
        .command("playlistinfo")
        .into_iter()
        .filter(|(k, _)| k == "file")
        .map(|(_, v)| v)
        .collect();
    let pos = mpd_support::value(&c.command("status"), "song").and_then(|p| p.parse().ok());
    (files, pos)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_radio_keeps_the_queue_ahead_never_repeats_and_hears_skips() {
    let Some(bin) = require_mpd(module_path!()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let music = tmp.path().join("music");
    write_music(&music);
    let mpd = Mpd::start(&bin, &music, &tmp.path().join("mpd"), None);
    mpd.update_and_wait(SONGS.len());
    // Over the unix socket, so the lyrics in the files' tags come along and the songs can be analyzed.
    let target = MpdTarget::resolve(
        &MpdSettings::default(),
        Some(mpd.socket.to_str().unwrap()),
        None,
        None,
    );
    let session = session(&tmp.path().join("home"), target);
    let report = session.scan_mpd(&mut |_| {}).unwrap();
    assert_eq!(report.lyrics_found, SONGS.len());
    session
        .call(
            Call::Analyze {
                which: moodtape::emotion::analyze::Which::Missing,
            },
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .unwrap();
    let rx = session.subscribe();
    session.start_watch();
    const AHEAD: usize = 3;
    let status = session
        .start_radio(RadioRequest {
            text: "so happy, dancing all night with my friends".into(),
            to: None,
            over: None,
            ahead: Some(AHEAD),
        })
        .unwrap();
    assert!(matches!(status, RadioStatus::On { .. }), "{status:?}");

    let ahead_ok = |(files, pos): &(Vec<String>, Option<usize>)| {
        pos.is_some_and(|p| files.len() >= p + 1 + AHEAD)
    };
    wait_until("the radio's first songs", || ahead_ok(&queue(&mpd)));
    assert_eq!(mpd.state(), "play");
    let mut skipped = Vec::new();
    for round in 0..4 {
        let (files, pos) = queue(&mpd);
        skipped.push(files[pos.unwrap()].clone());
        mpd.conn().command("next");
        wait_until(
            &format!("the queue {AHEAD} ahead after next #{round}"),
            || {
                let q = queue(&mpd);
                q.1 == Some(pos.unwrap() + 1) && ahead_ok(&q)
            },
        );
    }
    let (files, _) = queue(&mpd);
    let mut unique = files.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), files.len(), "a song came twice: {files:?}");
    let artist = |f: &String| f.split(" - ").next().unwrap().to_string();
    for pair in files.windows(2) {
        assert_ne!(artist(&pair[0]), artist(&pair[1]), "{files:?}");
    }
    // Quick skips were kept as dislikes for the radio's mood.
    wait_until("the skips as dislikes", || {
        let list = session.feedback_list().unwrap();
        skipped.iter().all(|file| {
            list.iter().any(|e| {
                !e.feedback.liked
                    && e.song.as_ref().is_some_and(|s| {
                        s.location == moodtape::records::Location::Mpd(file.clone())
                    })
            })
        })
    });

    // Clearing the queue stops the radio.
    mpd.conn().command("clear");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "the radio did not stop");
        if let Ok(Event::Radio {
            radio: RadioStatus::Off { reason },
        }) = rx.recv_timeout(left)
        {
            assert!(reason.contains("cleared"), "{reason}");
            break;
        }
    }
    session.close(Duration::from_secs(3));
}
