//! Fixtures for the TUI tests: the demo library with a fixed set of moods made up from each song's intended
//! quadrant (never the model, so drawings are stable), a fixed reading of the user's mood, fixed picks, and a
//! helper that draws the app on a test backend.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use moodtape::library::demo::demo_songs;
use moodtape::recommend::Pick;
use moodtape::records::{
    ChunkMood, LyricsRecord, MoodReading, MoodSummary, Quadrant, Song, SongMood, TextMood, LABELS,
};
use moodtape::service::{Entry, Event, JobKind, JobStatus, Mode, ModelStatus};
use moodtape::tui::action::Action;
use moodtape::tui::editor::EditOp;
use moodtape::tui::state::{App, AppOptions, Effect, Reply};
use moodtape::tui::view::Theme;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

pub const MOOD_TEXT: &str = "I miss her so much, I feel empty";

/// A number in 0..1 that depends only on `i` and `salt`.
fn unit(i: usize, salt: u64) -> f32 {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ salt.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 29;
    (x % 10_000) as f32 / 10_000.0
}

fn label(name: &str) -> usize {
    LABELS.iter().position(|l| *l == name).unwrap()
}

/// The labels that lead a reading in each quadrant.
fn quadrant_labels(q: Quadrant) -> [&'static str; 3] {
    match q {
        Quadrant::Q1 => ["joy", "excitement", "amusement"],
        Quadrant::Q2 => ["anger", "annoyance", "fear"],
        Quadrant::Q3 => ["sadness", "grief", "disappointment"],
        Quadrant::Q4 => ["love", "caring", "relief"],
    }
}

/// A made-up reading in quadrant `q`, varied by `i`.
pub fn reading(q: Quadrant, i: usize) -> MoodReading {
    let (sv, sa) = match q {
        Quadrant::Q1 => (1.0, 1.0),
        Quadrant::Q2 => (-1.0, 1.0),
        Quadrant::Q3 => (-1.0, -1.0),
        Quadrant::Q4 => (1.0, -1.0),
    };
    let valence = sv * (0.1 + 0.8 * unit(i, 1));
    let arousal = sa * (0.1 + 0.8 * unit(i, 2));
    let mut emotions = vec![0.02f32; LABELS.len()];
    let names = quadrant_labels(q);
    let lead = (i % 3, (i + 1) % 3, (i + 2) % 3);
    emotions[label(names[lead.0])] = 0.45 + 0.4 * unit(i, 3);
    emotions[label(names[lead.1])] = 0.15 + 0.2 * unit(i, 4);
    emotions[label(names[lead.2])] = 0.05 + 0.1 * unit(i, 5);
    emotions[label("neutral")] = 0.1 * unit(i, 6);
    let round = |x: f32| (x * 100.0).round() / 100.0;
    MoodReading {
        emotions: emotions.into_iter().map(round).collect(),
        valence: round(valence),
        arousal: round(arousal),
    }
}

/// The demo songs with their lyrics, in the store's order (artist, album, track, title).
pub fn demo() -> Vec<(Song, LyricsRecord, Quadrant)> {
    let mut all: Vec<(Song, LyricsRecord, Quadrant)> = demo_songs()
        .unwrap()
        .iter()
        .map(|d| {
            let (song, lyrics) = d.to_song();
            (song, lyrics, Quadrant::parse(&d.intended).unwrap())
        })
        .collect();
    let mut songs: Vec<Song> = all.iter().map(|x| x.0.clone()).collect();
    moodtape::store::sort_songs(&mut songs);
    let order: Vec<_> = songs.iter().map(|s| s.id.clone()).collect();
    all.sort_by_key(|x| order.iter().position(|id| *id == x.0.id));
    all
}

/// Whether the fixture leaves song `i` unanalyzed (a few, so the markers show).
pub fn unanalyzed(i: usize) -> bool {
    i % 23 == 5
}

/// A fixed analysis of a demo song: a reading in its intended quadrant, and one chunk per stanza, every third
/// stanza in a neighbouring quadrant so the lyrics pane shows shading change.
pub fn song_mood(i: usize, lyrics: &LyricsRecord, q: Quadrant) -> SongMood {
    let lines: Vec<&str> = lyrics.text.lines().collect();
    let mut chunks = Vec::new();
    let mut start = 0;
    for (n, line) in lines.iter().enumerate() {
        let end_of_stanza = line.trim().is_empty() || n + 1 == lines.len();
        if end_of_stanza {
            let last = if line.trim().is_empty() {
                n.saturating_sub(1)
            } else {
                n
            };
            if last >= start && !lines[start].trim().is_empty() {
                let k = chunks.len();
                let cq = if k % 3 == 2 {
                    Quadrant::ALL[(Quadrant::ALL.iter().position(|x| *x == q).unwrap() + 1) % 4]
                } else {
                    q
                };
                chunks.push(ChunkMood {
                    first_line: start,
                    last_line: last,
                    reading: reading(cq, i * 7 + k),
                });
            }
            start = n + 1;
        }
    }
    SongMood {
        model_key: "fixture".into(),
        lyrics_hash: lyrics.hash(),
        reading: reading(q, i),
        embedding: vec![0.0; 8],
        chunks,
        analyzed_at: 0,
        confidence: 0.9,
        language: None,
        mood_skipped: None,
    }
}

/// The user's mood as the fixture reads "I miss her so much, I feel empty".
pub fn text_mood() -> TextMood {
    let mut emotions = vec![0.01f32; LABELS.len()];
    emotions[label("sadness")] = 0.62;
    emotions[label("grief")] = 0.31;
    emotions[label("disappointment")] = 0.18;
    emotions[label("remorse")] = 0.09;
    emotions[label("neutral")] = 0.07;
    TextMood {
        reading: MoodReading {
            emotions,
            valence: -0.64,
            arousal: -0.38,
        },
        embedding: vec![0.0; 8],
    }
}

/// Fixed playlist entries for the fixture mood: the analyzed songs nearest it on the map.
pub fn picks(app: &App, n: usize) -> Vec<Entry> {
    let mood = text_mood().reading;
    let mut scored: Vec<(usize, f32)> = app
        .moods
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            m.map(|m| {
                (
                    i,
                    (m.valence - mood.valence).hypot(m.arousal - mood.arousal),
                )
            })
        })
        .collect();
    scored.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    scored
        .into_iter()
        .take(n)
        .map(|(i, d)| {
            let m = app.moods[i].unwrap();
            let top = m.top().map(|t| t.0).unwrap_or("neutral");
            Entry {
                pick: Pick {
                    song: app.songs[i].clone(),
                    valence: m.valence,
                    arousal: m.arousal,
                    quadrant: m.quadrant,
                    score: 1.0 - d / 2.0,
                    reason: format!("{top} like you · {d:.2} from your mood"),
                },
                reading: MoodReading {
                    emotions: vec![0.0; LABELS.len()],
                    valence: m.valence,
                    arousal: m.arousal,
                },
                note: Default::default(),
            }
        })
        .collect()
}

pub fn options() -> AppOptions {
    AppOptions {
        database: "~/.cache/moodtape/demo.db".into(),
        ..AppOptions::default()
    }
}

/// The demo library with the fixture's analyses streamed in, the model ready and the analysis done.
pub fn demo_app() -> App {
    let demo = demo();
    let songs: Vec<Song> = demo.iter().map(|d| d.0.clone()).collect();
    let mut app = App::new(songs, options());
    let moods: Vec<_> = demo
        .iter()
        .enumerate()
        .filter(|(i, d)| !unanalyzed(*i) && d.1.has_words())
        .map(|(i, d)| {
            (
                d.0.id.clone(),
                MoodSummary::of(&song_mood(i, &d.1, d.2).reading),
            )
        })
        .collect();
    app.update(Action::Reply(Reply::Moods(moods)));
    app.update(Action::Reply(Reply::MoodsLoaded));
    app.update(model_ready());
    app.update(job(
        JobKind::Analysis,
        JobStatus::Done {
            summary: "118 analyzed".into(),
        },
    ));
    answer_detail(&mut app);
    app
}

/// Answers the app's detail requests from the fixture, as the main loop answers them from the store; returns the
/// other effects.
pub fn answer_detail(app: &mut App) -> Vec<Effect> {
    let demo = demo();
    let mut rest = Vec::new();
    for effect in app.take_effects() {
        if let Effect::LoadDetail(id) = effect {
            let Some((i, d)) = demo.iter().enumerate().find(|(_, d)| d.0.id == id) else {
                continue;
            };
            let mood = (!unanalyzed(i) && d.1.has_words()).then(|| song_mood(i, &d.1, d.2));
            app.update(Action::Reply(Reply::Detail {
                id,
                lyrics: Some(d.1.clone()),
                mood,
            }));
            rest.extend(app.take_effects());
        } else {
            rest.push(effect);
        }
    }
    rest
}

/// Applies `action`, answers detail requests the way the main loop does, and returns the other effects.
pub fn act(app: &mut App, action: Action) -> Vec<Effect> {
    app.update(action);
    answer_detail(app)
}

/// Types `text` into the focused input.
pub fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    let mut out = Vec::new();
    for c in text.chars() {
        out.extend(act(app, Action::Edit(EditOp::Insert(c))));
    }
    out
}

/// The app after the user typed the fixture mood: read, and the playlist filled with fixed picks.
pub fn app_with_mood() -> App {
    let mut app = demo_app();
    act(&mut app, Action::FocusMood);
    type_text(&mut app, MOOD_TEXT);
    let effects = act(&mut app, Action::Edit(EditOp::Submit));
    let id = effects
        .iter()
        .find_map(|e| match e {
            Effect::ReadMood { id, .. } => Some(*id),
            _ => None,
        })
        .unwrap();
    let effects = act(
        &mut app,
        Action::Reply(Reply::MoodRead {
            id,
            mood: text_mood(),
        }),
    );
    let rid = effects
        .iter()
        .find_map(|e| match e {
            Effect::Recommend { id, request } if matches!(request.mode, Mode::Match { .. }) => {
                Some(*id)
            }
            _ => None,
        })
        .unwrap();
    let entries = picks(&app, 12);
    act(
        &mut app,
        Action::Reply(Reply::Playlist { id: rid, entries }),
    );
    app
}

/// The fixed theme of the drawings.
pub fn theme() -> Theme {
    Theme::default()
}

/// Draws the whole app on a `width` x `height` test terminal.
pub fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
    t.draw(|f| moodtape::tui::view::draw(f, app, &theme()))
        .unwrap();
    t
}

/// Draws one pane with `draw` on a `width` x `height` test terminal.
pub fn draw_pane(
    app: &App,
    width: u16,
    height: u16,
    pane: fn(&mut ratatui::Frame, ratatui::layout::Rect, &App, &Theme),
) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
    t.draw(|f| pane(f, f.area(), app, &theme())).unwrap();
    t
}

/// The screen as text, one line per row.
pub fn text(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// The model is loaded and runs on the CPU.
pub fn model_ready() -> Action {
    Action::Service(Event::Model {
        status: ModelStatus::Ready {
            device: "cpu".into(),
        },
    })
}

/// A background job's new state.
pub fn job(kind: JobKind, status: JobStatus) -> Action {
    Action::Service(Event::Job { kind, status })
}

/// A running job at `done` of `total`.
pub fn running(kind: JobKind, done: usize, total: usize, rate: f64, eta_s: Option<f64>) -> Action {
    job(
        kind,
        JobStatus::Running {
            done,
            total,
            rate,
            eta_s,
        },
    )
}

/// New analyses stored by the core.
pub fn moods_stored(moods: Vec<(moodtape::records::SongId, MoodSummary)>) -> Action {
    Action::Service(Event::Moods {
        moods,
        skipped: Vec::new(),
    })
}

/// Analyses the core just stored: the first analyzed song's again, as a new analysis would come.
pub fn fresh_analyses(app: &App) -> Action {
    let (song, mood) = app
        .songs
        .iter()
        .zip(&app.moods)
        .find_map(|(s, m)| m.map(|m| (s.id.clone(), m)))
        .unwrap();
    moods_stored(vec![(song, mood)])
}
