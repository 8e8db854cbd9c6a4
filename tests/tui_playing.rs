//! The TUI following MPD, without a terminal: now-playing events select the playing song (until the user moves
//! the cursor), the player keys become effects, a lost MPD shows in the status bar, and the lyrics pane marks the
//! line being sung; drawn at 120x40 and kept as an insta snapshot.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod tui_support;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use moodtape::player::{PlayState, PlayerOp, PlayerStatus};
use moodtape::records::{LyricsOrigin, LyricsRecord, Song};
use moodtape::service::{Event, NowPlaying, RadioStatus};
use moodtape::tui::action::Action;
use moodtape::tui::state::{App, Effect, Reply};
use tui_support::*;

const LRC: &str = "[ti:Test]\n[00:00.00]the first line is here\n[00:10.00]a second line follows\n\
                   [00:20.00]this line is sung at twenty five\n[00:30.00]and the fourth comes after\n\
                   [00:40.00]the last line of all\n";

fn now(song: &Song, state: PlayState, elapsed_s: f64) -> Action {
    Action::Service(Event::NowPlaying {
        now: NowPlaying {
            mpd: "127.0.0.1:6600".into(),
            status: Some(PlayerStatus {
                state,
                elapsed_s,
                duration_s: Some(200.0),
                volume: Some(80),
                song_pos: Some(0),
                song_id: Some(7),
                queue_len: 3,
                queue_version: 1,
                uri: Some(format!("{}.mp3", song.title)),
                artist: song.artist.clone(),
                title: song.title.clone(),
                album: String::new(),
            }),
            song: Some(song.id.clone()),
            problem: None,
        },
    })
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn selected(app: &App) -> String {
    app.library
        .selected_song()
        .map(|i| app.songs[i].title.clone())
        .unwrap_or_default()
}

#[test]
fn the_app_follows_the_playing_song_and_its_lyrics() {
    let mut app = demo_app();
    let song = app.songs[10].clone();
    act(&mut app, now(&song, PlayState::Pause, 25.0));
    assert_eq!(selected(&app), song.title);
    // The lyrics pane reads the playing song; it has synced lyrics.
    app.update(Action::Reply(Reply::Detail {
        id: song.id.clone(),
        lyrics: Some(LyricsRecord::synced(LRC, LyricsOrigin::Sidecar)),
        mood: None,
    }));
    let screen = text(&draw(&app, 120, 40));
    assert!(screen.contains("⏸ paused"), "{screen}");
    assert!(screen.contains("0:25/3:20"), "{screen}");
    assert!(
        screen.contains("▶this line is sung at twenty five"),
        "{screen}"
    );
    insta::assert_snapshot!("now_playing_120x40", screen);

    // Player keys become calls on MPD.
    app.take_effects();
    app.handle_key(&key(' '));
    app.handle_key(&key('>'));
    app.handle_key(&key('f'));
    app.handle_key(&key('.'));
    let ops: Vec<Effect> = app.take_effects();
    assert_eq!(
        ops,
        vec![
            Effect::Player(PlayerOp::TogglePause),
            Effect::Player(PlayerOp::Next),
            Effect::Player(PlayerOp::SeekBy { seconds: 10.0 }),
            Effect::Player(PlayerOp::VolumeBy { percent: 5 }),
        ]
    );

    // The user moves the cursor: the next song no longer moves it; the jump key brings it back.
    act(&mut app, Action::Down);
    act(&mut app, Action::Down);
    let mine = selected(&app);
    let next = app.songs[20].clone();
    act(&mut app, now(&next, PlayState::Play, 0.0));
    assert_eq!(selected(&app), mine);
    app.handle_key(&key('c'));
    assert_eq!(selected(&app), next.title);
    assert!(app.playing.follow_lyrics);
}

#[test]
fn a_lost_mpd_shows_in_the_status_bar_and_the_app_keeps_working() {
    let mut app = demo_app();
    act(
        &mut app,
        Action::Service(Event::NowPlaying {
            now: NowPlaying {
                mpd: "127.0.0.1:6600".into(),
                status: None,
                song: None,
                problem: Some(
                    "MPD at 127.0.0.1:6600: connection refused; trying again in 4s".into(),
                ),
            },
        }),
    );
    let screen = text(&draw(&app, 120, 40));
    assert!(
        screen.contains("connection refused; trying again in 4s"),
        "{screen}"
    );
    // Keys still work; the player keys say why they do nothing.
    act(&mut app, Action::Down);
    app.handle_key(&key(' '));
    assert!(app
        .take_effects()
        .iter()
        .all(|e| !matches!(e, Effect::Player(_))));
    assert!(app
        .jobs
        .message
        .as_ref()
        .is_some_and(|(err, m)| *err && m.contains("not connected")));
}

#[test]
fn the_radio_key_starts_the_radio_with_the_mood_and_stops_it() {
    let mut app = demo_app();
    app.handle_key(&KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT));
    assert!(app.take_effects().is_empty());
    assert!(app
        .jobs
        .message
        .as_ref()
        .is_some_and(|(_, m)| m.contains("radio plays your mood")));

    let mut app = app_with_mood();
    app.take_effects();
    app.handle_key(&KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT));
    let effects = app.take_effects();
    assert!(
        matches!(&effects[..], [Effect::Radio(Some(r))] if r.text == MOOD_TEXT),
        "{effects:?}"
    );
    act(
        &mut app,
        Action::Service(Event::Radio {
            radio: RadioStatus::On {
                text: MOOD_TEXT.into(),
                to: None,
                queued: 4,
                ahead: 5,
                journey_left: 0,
            },
        }),
    );
    let screen = text(&draw(&app, 120, 40));
    assert!(screen.contains("4 queued"), "{screen}");
    app.handle_key(&KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT));
    assert_eq!(app.take_effects(), vec![Effect::Radio(None)]);
}
