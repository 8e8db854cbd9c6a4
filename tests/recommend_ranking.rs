//! Ranking properties on a fixed set of hand-made moods (no model): a mood ranks songs of its quadrant first,
//! journeys take small steps and arrive, no artist plays twice in a row, near-duplicate titles collapse,
//! feedback reorders without hiding, and the same input always gives the same playlist.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use moodtape::emotion::model_key;
use moodtape::recommend::{self as rec, Candidate, Pick, Target, Weights};
use moodtape::records::Feedback;
use moodtape::records::LyricsRecord;
use moodtape::records::{mood_key, MoodReading, Quadrant, SongMood, TextMood, LABELS};
use moodtape::records::{Location, LyricsOrigin, Song, SongId};
use moodtape::store::Store;

const DIM: usize = 8;

fn label(name: &str) -> usize {
    LABELS.iter().position(|l| *l == name).unwrap()
}

/// The emotions typical of a quadrant, as probabilities.
fn emotions_for(q: Quadrant, twist: f32) -> Vec<f32> {
    let mut e = vec![0.02; LABELS.len()];
    let names: &[&str] = match q {
        Quadrant::Q1 => &["joy", "excitement", "amusement"],
        Quadrant::Q2 => &["anger", "fear", "annoyance"],
        Quadrant::Q3 => &["sadness", "grief", "disappointment"],
        Quadrant::Q4 => &["caring", "relief", "love"],
    };
    for (i, n) in names.iter().enumerate() {
        e[label(n)] = 0.7 - 0.2 * i as f32 + twist;
    }
    e
}

/// A unit embedding leaning towards one axis per quadrant.
fn embedding_for(q: Quadrant, twist: f32) -> Vec<f32> {
    let mut v = [0.1; DIM];
    v[q as usize] = 1.0;
    v[4 + (q as usize)] = twist;
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

fn reading(v: f32, a: f32, twist: f32) -> MoodReading {
    MoodReading {
        emotions: emotions_for(Quadrant::of(v, a), twist),
        valence: v,
        arousal: a,
    }
}

fn cand(artist: &str, title: &str, v: f32, a: f32) -> Candidate {
    let twist = ((v * 7.0 + a * 3.0).sin() * 0.05).abs();
    let song = Song::new(
        artist,
        title,
        "Album",
        Location::File(format!("/music/{artist}/{title}.flac").into()),
    );
    Candidate {
        song,
        mood: SongMood {
            model_key: "test".into(),
            lyrics_hash: format!("{artist}/{title}"),
            reading: reading(v, a, twist),
            embedding: embedding_for(Quadrant::of(v, a), twist),
            chunks: Vec::new(),
            analyzed_at: 0,
            confidence: 0.0,
            language: None,
            mood_skipped: None,
        },
    }
}

fn text_mood(v: f32, a: f32) -> TextMood {
    TextMood {
        reading: reading(v, a, 0.0),
        embedding: embedding_for(Quadrant::of(v, a), 0.0),
    }
}

/// Sixteen songs, four per quadrant, by eleven artists (some with songs in several quadrants).
fn library() -> Vec<Candidate> {
    let mut c = vec![
        cand("Sunny Days", "Bright Morning", 0.7, 0.6),
        cand("Sunny Days", "Dance All Night", 0.6, 0.8),
        cand("Hi-Fi Kids", "Jump", 0.5, 0.4),
        cand("Confetti", "Party Lights", 0.8, 0.3),
        cand("Iron Teeth", "Burn It Down", -0.7, 0.8),
        cand("Iron Teeth", "Rage Machine", -0.6, 0.6),
        cand("Nerve", "Panic Room", -0.4, 0.7),
        cand("Static", "Red Line", -0.8, 0.4),
        cand("Grey Harbour", "Empty Rooms", -0.6, -0.5),
        cand("Grey Harbour", "Last Letter", -0.7, -0.6),
        cand("Willow", "Rain on Glass", -0.5, -0.4),
        cand("Low Tide", "Goodbye Coast", -0.4, -0.7),
        cand("Velvet", "Slow Sunday", 0.5, -0.5),
        cand("Velvet", "Lullaby", 0.6, -0.7),
        cand("Meadow", "Warm Tea", 0.4, -0.4),
        cand("Harbour Lights", "Safe Now", 0.7, -0.3),
    ];
    c.sort_by(|a, b| a.song.id.cmp(&b.song.id));
    c
}

/// A 9x9 grid of songs over the plane, every song by its own artist: for journeys.
fn grid() -> Vec<Candidate> {
    let mut c = Vec::new();
    for i in 0..9 {
        for j in 0..9 {
            let v = -0.9 + 0.225 * i as f32;
            let a = -0.9 + 0.225 * j as f32;
            c.push(cand(
                &format!("Artist {i}-{j}"),
                &format!("Song {i}-{j}"),
                v,
                a,
            ));
        }
    }
    c
}

fn ids(picks: &[Pick]) -> Vec<SongId> {
    picks.iter().map(|p| p.song.id.clone()).collect()
}

fn assert_no_artist_twice(picks: &[Pick]) {
    for w in picks.windows(2) {
        assert_ne!(
            w[0].song.artist,
            w[1].song.artist,
            "same artist back to back: {:?}",
            picks
                .iter()
                .map(|p| p.song.display_name())
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn a_q3_mood_ranks_q3_songs_first() {
    let cands = library();
    let picks = rec::rank_match(&cands, &text_mood(-0.6, -0.5), &Weights::default(), &[], 16);
    let quads: Vec<Quadrant> = picks.iter().map(|p| p.quadrant).collect();
    assert!(quads[..4].iter().all(|q| *q == Quadrant::Q3), "{quads:?}");
    assert!(picks.iter().all(|p| !p.reason.is_empty()));
    assert!(
        picks[0].reason.contains("from your mood"),
        "{}",
        picks[0].reason
    );
    assert!(
        picks[0].reason.contains("shares sad"),
        "{}",
        picks[0].reason
    );
    assert_scores_fall_but_for_artist_turns(&picks);
}

/// Each pick is the best song left, unless that song was by the artist just played (it then comes later): so a
/// later pick scores higher than an earlier one only when it shares the artist of the pick before that one.
fn assert_scores_fall_but_for_artist_turns(picks: &[Pick]) {
    for (i, p) in picks.iter().enumerate() {
        for later in &picks[i + 1..] {
            if later.score > p.score {
                assert!(
                    i > 0 && later.song.artist == picks[i - 1].song.artist,
                    "{} ({:.3}) comes after {} ({:.3}) with no artist turn to explain it",
                    later.song.display_name(),
                    later.score,
                    p.song.display_name(),
                    p.score
                );
            }
        }
    }
}

#[test]
fn ties_go_to_the_smaller_song_id() {
    // Two songs with the same mood and words score the same; the smaller id comes first, whatever the input order.
    let a = cand("Artist A", "Same One", -0.6, -0.5);
    let b = cand("Artist B", "Same Two", -0.6, -0.5);
    let (small, big) = if a.song.id < b.song.id {
        (a, b)
    } else {
        (b, a)
    };
    for cands in [
        vec![small.clone(), big.clone()],
        vec![big.clone(), small.clone()],
    ] {
        let picks = rec::rank_match(&cands, &text_mood(-0.6, -0.5), &Weights::default(), &[], 2);
        assert_eq!(picks[0].score, picks[1].score);
        assert_eq!(picks[0].song.id, small.song.id);
    }
}

#[test]
fn every_quadrant_ranks_its_own_songs_first() {
    let cands = library();
    for q in Quadrant::ALL {
        let (v, a) = q.center();
        let picks = rec::rank_match(&cands, &text_mood(v, a), &Weights::default(), &[], 3);
        assert_eq!(picks.len(), 3);
        assert!(picks.iter().all(|p| p.quadrant == q), "{q}: {picks:?}");
        let near = rec::near(&cands, v, a, 3, &Weights::default(), &[]);
        assert!(near.iter().all(|p| p.quadrant == q), "{q}: {near:?}");
    }
}

#[test]
fn no_artist_plays_twice_in_a_row() {
    // One artist owns most of the sad corner: the list must still alternate.
    let mut cands = library();
    for i in 0..5 {
        cands.push(cand("Grey Harbour", &format!("Fog {i}"), -0.55, -0.55));
    }
    cands.sort_by(|a, b| a.song.id.cmp(&b.song.id));
    let mood = text_mood(-0.6, -0.5);
    let w = Weights::default();
    assert_no_artist_twice(&rec::rank_match(&cands, &mood, &w, &[], 30));
    assert_no_artist_twice(&rec::near(&cands, -0.6, -0.5, 30, &Weights::default(), &[]));
    let seed = cands[0].song.id.clone();
    assert_no_artist_twice(&rec::like(&cands, &seed, 30, &Weights::default(), &[]));
    let target = Target::Quadrant(Quadrant::Q1);
    assert_no_artist_twice(&rec::journey(&cands, &mood, &target, 8, &w, &[]));
}

#[test]
fn near_duplicate_titles_collapse() {
    let mut cands = library();
    cands.push(cand("Willow", "Rain on Glass (Live)", -0.5, -0.41));
    cands.push(cand(
        "Someone Else",
        "Rain On Glass - 2011 Remaster",
        -0.5,
        -0.42,
    ));
    let picks = rec::rank_match(&cands, &text_mood(-0.5, -0.4), &Weights::default(), &[], 30);
    let rain = picks
        .iter()
        .filter(|p| p.song.title.to_lowercase().starts_with("rain on glass"))
        .count();
    assert_eq!(rain, 1);
}

#[test]
fn like_finds_songs_of_the_same_mood_and_never_the_seed() {
    let cands = library();
    let seed = cands
        .iter()
        .find(|c| c.song.title == "Burn It Down")
        .unwrap();
    let picks = rec::like(&cands, &seed.song.id, 3, &Weights::default(), &[]);
    assert_eq!(picks.len(), 3);
    assert!(picks.iter().all(|p| p.song.id != seed.song.id));
    assert!(
        picks.iter().all(|p| p.quadrant == Quadrant::Q2),
        "{picks:?}"
    );
    assert!(
        picks[0].reason.contains("Burn It Down"),
        "{}",
        picks[0].reason
    );
    assert!(rec::like(&cands, &SongId("nope".into()), 3, &Weights::default(), &[]).is_empty());
}

#[test]
fn a_journey_takes_small_steps_and_arrives() {
    let cands = grid();
    let w = Weights::default();
    for (from, to) in [
        ((-0.6, 0.7), Quadrant::Q4),
        ((-0.7, -0.6), Quadrant::Q1),
        ((0.6, 0.6), Quadrant::Q3),
        ((0.3, -0.4), Quadrant::Q4),
    ] {
        let start = text_mood(from.0, from.1);
        let picks = rec::journey(&cands, &start, &Target::Quadrant(to), 8, &w, &[]);
        assert_eq!(picks.len(), 8);
        let last = picks.last().unwrap();
        assert_eq!(last.quadrant, to, "{from:?} -> {to}: {picks:?}");
        let first = &picks[0];
        let d0 = (first.valence - from.0).hypot(first.arousal - from.1);
        assert!(d0 < 0.25, "the first song is {d0} from the start");
        for pair in picks.windows(2) {
            let step = (pair[1].valence - pair[0].valence).hypot(pair[1].arousal - pair[0].arousal);
            assert!(step <= 0.5, "a step of {step}: {picks:?}");
        }
        assert!(picks.iter().all(|p| !p.reason.is_empty()));
        assert!(
            last.reason.contains(&format!("arrive in {to}")),
            "{}",
            last.reason
        );
        let unique: std::collections::HashSet<_> = ids(&picks).into_iter().collect();
        assert_eq!(unique.len(), picks.len());
    }
}

#[test]
fn a_journey_to_a_mood_ends_in_its_quadrant() {
    let cands = library();
    let start = text_mood(-0.7, 0.7);
    let target = Target::Mood(text_mood(0.6, -0.5));
    let picks = rec::journey(&cands, &start, &target, 5, &Weights::default(), &[]);
    assert_eq!(picks.len(), 5);
    assert_eq!(picks[0].quadrant, Quadrant::Q2);
    assert_eq!(picks.last().unwrap().quadrant, Quadrant::Q4);
    assert_no_artist_twice(&picks);
}

fn fb(song: &SongId, liked: bool, v: f32, a: f32) -> Feedback {
    Feedback {
        song_id: song.clone(),
        liked,
        valence: v,
        arousal: a,
        mood_text: String::new(),
        at: 1,
    }
}

#[test]
fn feedback_changes_the_order_but_never_hides_a_song() {
    let cands = library();
    let mood = text_mood(-0.6, -0.5);
    let w = Weights::default();
    let before = rec::rank_match(&cands, &mood, &w, &[], 100);
    let top = before[0].song.id.clone();
    let bottom_q3 = before
        .iter()
        .rfind(|p| p.quadrant == Quadrant::Q3)
        .unwrap()
        .song
        .id
        .clone();
    let feedback = vec![
        fb(&top, false, -0.6, -0.5),
        fb(&bottom_q3, true, -0.55, -0.5),
    ];
    let after = rec::rank_match(&cands, &mood, &w, &feedback, 100);
    assert_ne!(ids(&before), ids(&after));
    let pos = |list: &[Pick], id: &SongId| list.iter().position(|p| &p.song.id == id).unwrap();
    assert!(
        pos(&after, &top) > pos(&before, &top),
        "the disliked song sinks"
    );
    assert!(
        pos(&after, &bottom_q3) < pos(&before, &bottom_q3),
        "the liked song rises"
    );
    assert!(after
        .iter()
        .find(|p| p.song.id == bottom_q3)
        .unwrap()
        .reason
        .contains("you liked it"));
    // Nothing disappears: the same songs, in another order.
    let mut a = ids(&before);
    let mut b = ids(&after);
    a.sort();
    b.sort();
    assert_eq!(a, b);
    // Even a pile of dislikes moves a score by at most feedback_strength.
    let pile: Vec<Feedback> = (0..20).map(|_| fb(&top, false, -0.6, -0.5)).collect();
    let piled = rec::rank_match(&cands, &mood, &w, &pile, 100);
    let old = before.iter().find(|p| p.song.id == top).unwrap().score;
    let new = piled.iter().find(|p| p.song.id == top).unwrap().score;
    assert!((old - new) <= w.feedback + 1e-5, "{old} -> {new}");
    // Feedback given for a far-away mood does not touch this one.
    let far = vec![fb(&top, false, 0.7, 0.7)];
    assert_eq!(
        ids(&rec::rank_match(&cands, &mood, &w, &far, 100)),
        ids(&before)
    );
}

#[test]
fn the_same_input_gives_the_same_playlist() {
    let mut cands = library();
    // Two songs identical in every way but their id: the smaller id goes first.
    cands.push(cand("Twin A", "Mirror", -0.6, -0.5));
    cands.push(cand("Twin B", "Mirror Image", -0.6, -0.5));
    let mood = text_mood(-0.6, -0.5);
    let w = Weights::default();
    let first = rec::rank_match(&cands, &mood, &w, &[], 50);
    let mut reversed = cands.clone();
    reversed.reverse();
    assert_eq!(first, rec::rank_match(&cands, &mood, &w, &[], 50));
    assert_eq!(first, rec::rank_match(&reversed, &mood, &w, &[], 50));
    let target = Target::Quadrant(Quadrant::Q1);
    assert_eq!(
        rec::journey(&cands, &mood, &target, 6, &w, &[]),
        rec::journey(&reversed, &mood, &target, 6, &w, &[])
    );
    assert_eq!(
        rec::near(&cands, 0.1, 0.2, 50, &Weights::default(), &[]),
        rec::near(&reversed, 0.1, 0.2, 50, &Weights::default(), &[])
    );
}

#[test]
fn the_limit_is_respected() {
    let cands = library();
    let w = Weights::default();
    assert_eq!(
        rec::rank_match(&cands, &text_mood(0.5, 0.5), &w, &[], 5).len(),
        5
    );
    assert_eq!(
        rec::near(&cands, 0.0, 0.0, 0, &Weights::default(), &[]).len(),
        0
    );
}

/// A song with lyrics and an analysis in the store, and one with lyrics and none: only the first is a candidate.
#[test]
fn only_analyzed_songs_are_candidates_and_feedback_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let key = model_key();
    let mut analyzed = Song::new("A", "Analyzed", "", Location::None);
    let mut waiting = Song::new("B", "Waiting", "", Location::None);
    let bare = Song::new("C", "No Lyrics", "", Location::None);
    analyzed.lyrics_origin = Some(LyricsOrigin::Manual);
    waiting.lyrics_origin = Some(LyricsOrigin::Manual);
    let lyrics_a = LyricsRecord::new("tears fall in the rain tonight", LyricsOrigin::Manual);
    let lyrics_b = LyricsRecord::new("we dance in the sun", LyricsOrigin::Manual);
    store
        .put_songs(&[
            (analyzed.clone(), Some(lyrics_a.clone())),
            (waiting.clone(), Some(lyrics_b)),
            (bare, None),
        ])
        .unwrap();
    let mood = SongMood {
        model_key: key.clone(),
        lyrics_hash: lyrics_a.hash(),
        reading: reading(-0.5, -0.5, 0.0),
        embedding: embedding_for(Quadrant::Q3, 0.0),
        chunks: Vec::new(),
        analyzed_at: 0,
        confidence: 0.0,
        language: None,
        mood_skipped: None,
    };
    store
        .moods
        .insert(&mood_key(&key, &lyrics_a.hash()), &mood)
        .unwrap();
    let cands = rec::load_candidates(&store).unwrap();
    assert_eq!(cands.len(), 1);
    assert_eq!(cands[0].song.id, analyzed.id);

    let sad = reading(-0.5, -0.5, 0.0);
    rec::record_feedback(&store, &analyzed.id, true, &sad, "blue").unwrap();
    // A second opinion for a mood of the same quadrant replaces the first; another quadrant adds one.
    rec::record_feedback(
        &store,
        &analyzed.id,
        false,
        &reading(-0.4, -0.6, 0.0),
        "grey",
    )
    .unwrap();
    rec::record_feedback(&store, &analyzed.id, true, &reading(0.5, 0.5, 0.0), "").unwrap();
    let kept = rec::load_feedback(&store).unwrap();
    assert_eq!(kept.len(), 2);
    let q3 = kept
        .iter()
        .find(|f| Quadrant::of(f.valence, f.arousal) == Quadrant::Q3)
        .unwrap();
    assert!(!q3.liked);
    assert_eq!(q3.mood_text, "grey");
    assert_eq!(rec::clear_feedback(&store).unwrap(), 2);
    assert!(rec::load_feedback(&store).unwrap().is_empty());
}

#[test]
fn near_and_like_follow_the_configured_feedback_strength() {
    let cands = library();
    let off = Weights {
        feedback: 0.0,
        ..Weights::default()
    };
    let on = Weights::default();
    let before = rec::near(&cands, -0.6, -0.5, 100, &on, &[]);
    let top = before[0].song.id.clone();
    let feedback = vec![fb(&top, false, -0.6, -0.5)];
    // With strength 0 a dislike changes nothing; with the default it moves the song down.
    assert_eq!(
        ids(&rec::near(&cands, -0.6, -0.5, 100, &off, &feedback)),
        ids(&before)
    );
    let after = rec::near(&cands, -0.6, -0.5, 100, &on, &feedback);
    assert_ne!(after[0].song.id, top);

    let seed = before[1].song.id.clone();
    let liked = rec::like(&cands, &seed, 100, &on, &[]);
    let first = liked[0].song.id.clone();
    let feedback = vec![fb(&first, false, liked[0].valence, liked[0].arousal)];
    assert_eq!(
        ids(&rec::like(&cands, &seed, 100, &off, &feedback)),
        ids(&liked)
    );
    assert_ne!(
        rec::like(&cands, &seed, 100, &on, &feedback)[0].song.id,
        first
    );
}
