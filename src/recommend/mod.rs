//! Recommendations: ranking songs for a mood, mood journeys, and feedback.
//!
//! Everything here is pure over [`Candidate`]s (a song with its analysis), so the same library, model and input
//! always give the same playlist: scores are compared with `total_cmp` and ties go to the smaller song id. The
//! store is touched only to load candidates and to keep feedback.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::records::{normalize_name, Song, SongId};
use crate::records::{Feedback, MoodReading, Quadrant, SongMood, TextMood};
use crate::store::{Store, StoreError};

/// A song that can be recommended: it has an analysis by the current model.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub song: Song,
    pub mood: SongMood,
}

/// One song of a recommendation, in playlist order, with why it is there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pick {
    pub song: Song,
    pub valence: f32,
    pub arousal: f32,
    pub quadrant: Quadrant,
    pub score: f32,
    pub reason: String,
}

/// How much each signal counts in the blend, and how far feedback may move a score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    pub emotion: f32,
    pub va: f32,
    pub lyrics: f32,
    /// The most feedback can add to or take from a score (config `recommend.feedback_strength`).
    pub feedback: f32,
}

impl Weights {
    /// The blend moodtape ships with (config `[recommend]` defaults).
    pub const DEFAULT: Weights = Weights {
        emotion: 0.45,
        va: 0.40,
        lyrics: 0.15,
        feedback: 0.15,
    };
}

impl Default for Weights {
    fn default() -> Self {
        Weights::DEFAULT
    }
}

/// Where a journey goes: the centre of a quadrant, or the mood of a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Target {
    Quadrant(Quadrant),
    Mood(TextMood),
}

impl Target {
    /// The point of the valence/arousal plane the journey ends at.
    pub fn point(&self) -> (f32, f32) {
        match self {
            Target::Quadrant(q) => q.center(),
            Target::Mood(m) => (m.reading.valence, m.reading.arousal),
        }
    }

    /// The quadrant the last song must be in.
    pub fn quadrant(&self) -> Quadrant {
        match self {
            Target::Quadrant(q) => *q,
            Target::Mood(m) => m.reading.quadrant(),
        }
    }
}

/// Distances on the valence/arousal plane at or beyond this count as no similarity at all (the plane is 2x2).
const VA_SCALE: f32 = 2.0;
/// The longest journey computed, whatever was asked.
pub const MAX_JOURNEY_STEPS: usize = 1000;
/// Feedback given for a mood farther than this from the current one does not count.
const FEEDBACK_RADIUS: f32 = 1.0;
/// Jumps up to this long are never penalised in a journey: neighbours on a sparse map are this far apart.
const MIN_STEP: f32 = 0.25;
/// Lyric similarity at which a reason mentions the words.
const LYRICS_NOTE: f32 = 0.45;
/// The blend for `like`: lyrics count as much as the mood there.
const LIKE_WEIGHTS: Weights = Weights {
    emotion: 0.35,
    va: 0.30,
    lyrics: 0.35,
    feedback: 0.15,
};

/// Every analyzed song, sorted by id so rankings never depend on database order.
pub fn load_candidates(store: &Store) -> Result<Vec<Candidate>, StoreError> {
    let key = crate::emotion::model_key();
    let mut out = Vec::new();
    for song in store.all_songs()? {
        if let Some(mood) = crate::emotion::stored_mood(store, &key, &song)? {
            out.push(Candidate { song, mood });
        }
    }
    out.sort_by(|a, b| a.song.id.cmp(&b.song.id));
    Ok(out)
}

/// Every feedback record, in key order (song id, then quadrant).
pub fn load_feedback(store: &Store) -> Result<Vec<Feedback>, StoreError> {
    store
        .feedback
        .iter()
        .map(|item| item.map(|(_, f)| f))
        .collect()
}

/// Keeps a like or dislike of `song` for `mood`. One record per song and quadrant: a later opinion for a mood of
/// the same quadrant replaces the earlier one, so changing your mind is not outvoted by your past self.
pub fn record_feedback(
    store: &Store,
    song: &SongId,
    liked: bool,
    mood: &MoodReading,
    text: &str,
) -> Result<Feedback, StoreError> {
    let record = Feedback {
        song_id: song.clone(),
        liked,
        valence: mood.valence,
        arousal: mood.arousal,
        mood_text: crate::sanitize::clean_line(text),
        at: crate::records::now_s(),
    };
    store
        .feedback
        .insert(&feedback_key(song, mood.quadrant()), &record)?;
    store.flush()?;
    Ok(record)
}

/// Forgets all feedback; returns how many records there were.
pub fn clear_feedback(store: &Store) -> Result<usize, StoreError> {
    let n = store.feedback.len();
    store.feedback.clear()?;
    store.flush()?;
    Ok(n)
}

fn feedback_key(song: &SongId, quadrant: Quadrant) -> String {
    format!("{}/{}", song, quadrant.code())
}

/// Songs whose mood fits `mood`: emotion profile, place on the map and the words of the lyrics, blended by `w`.
pub fn rank_match(
    cands: &[Candidate],
    mood: &TextMood,
    w: &Weights,
    feedback: &[Feedback],
    limit: usize,
) -> Vec<Pick> {
    let (v, a) = (mood.reading.valence, mood.reading.arousal);
    let scored = cands
        .iter()
        .map(|c| {
            let emo = cosine(&c.mood.reading.emotions, &mood.reading.emotions).max(0.0);
            let dist = va_distance(&c.mood.reading, v, a);
            let lyr = lyric_similarity(&c.mood.embedding, &mood.embedding);
            let base = blend(w, emo, va_similarity(dist), lyr);
            let (adj, opinion) = feedback_nudge(&c.song.id, v, a, feedback, w.feedback);
            let mut reason = vec![
                emotion_phrase(&c.mood.reading, &mood.reading),
                format!("{dist:.2} from your mood"),
            ];
            if lyr.is_some_and(|l| l >= LYRICS_NOTE) {
                reason.push("lyrics echo your words".into());
            }
            reason.extend(opinion);
            Scored::new(c, base + adj, reason)
        })
        .collect();
    arrange(scored, limit)
}

/// Songs nearest a point of the valence/arousal plane. Only `w.feedback` counts here: distance is the ranking.
pub fn near(
    cands: &[Candidate],
    valence: f32,
    arousal: f32,
    limit: usize,
    w: &Weights,
    feedback: &[Feedback],
) -> Vec<Pick> {
    let strength = w.feedback;
    let scored = cands
        .iter()
        .map(|c| {
            let dist = va_distance(&c.mood.reading, valence, arousal);
            let (adj, opinion) = feedback_nudge(&c.song.id, valence, arousal, feedback, strength);
            let mut reason = vec![format!("{dist:.2} from ({valence:.2}, {arousal:.2})")];
            reason.extend(
                c.mood
                    .reading
                    .top_emotion()
                    .map(|l| format!("mostly {}", l.label)),
            );
            reason.extend(opinion);
            Scored::new(c, va_similarity(dist) + adj, reason)
        })
        .collect();
    arrange(scored, limit)
}

/// Songs like `seed`, in their lyrics and in their mood. Empty when the seed has no analysis. The blend is
/// fixed for this mode; `w.feedback` sets how far likes and dislikes move a song.
pub fn like(
    cands: &[Candidate],
    seed: &SongId,
    limit: usize,
    w: &Weights,
    feedback: &[Feedback],
) -> Vec<Pick> {
    let Some(seed) = cands.iter().find(|c| &c.song.id == seed) else {
        return Vec::new();
    };
    let strength = w.feedback;
    let w = LIKE_WEIGHTS;
    let seed_title = title_key(&seed.song.title);
    let (v, a) = (seed.mood.reading.valence, seed.mood.reading.arousal);
    let scored = cands
        .iter()
        .filter(|c| c.song.id != seed.song.id && title_key(&c.song.title) != seed_title)
        .map(|c| {
            let emo = cosine(&c.mood.reading.emotions, &seed.mood.reading.emotions).max(0.0);
            let dist = va_distance(&c.mood.reading, v, a);
            let lyr = lyric_similarity(&c.mood.embedding, &seed.mood.embedding);
            let base = blend(&w, emo, va_similarity(dist), lyr);
            let (adj, opinion) = feedback_nudge(&c.song.id, v, a, feedback, strength);
            let mut reason = vec![
                emotion_phrase(&c.mood.reading, &seed.mood.reading),
                format!("{dist:.2} from \"{}\"", seed.song.title),
            ];
            if let Some(l) = lyr {
                reason.push(format!("lyrics {:.0}% alike", l * 100.0));
            }
            reason.extend(opinion);
            Scored::new(c, base + adj, reason)
        })
        .collect();
    let mut picks = arrange(scored, limit);
    // The seed's own artist may follow the seed in a player queue; the list itself starts after the seed.
    picks.truncate(limit);
    picks
}

/// A playlist that starts near `from` and moves step by step to `to` (the iso principle of music therapy): one
/// waypoint per song on the straight line between the two points of the plane, each song the best fit for its
/// waypoint and close to the song before, the last one in the target's quadrant.
pub fn journey(
    cands: &[Candidate],
    from: &TextMood,
    to: &Target,
    steps: usize,
    w: &Weights,
    feedback: &[Feedback],
) -> Vec<Pick> {
    // Longer than the library it cannot be, and a huge request must not allocate or loop for it.
    let steps = steps.clamp(2, MAX_JOURNEY_STEPS);
    let (v0, a0) = (from.reading.valence, from.reading.arousal);
    let (v1, a1) = to.point();
    let step_len = ((v1 - v0).hypot(a1 - a0)) / (steps - 1) as f32;
    let end_quadrant = to.quadrant();
    let (target_emotions, target_embedding) = match to {
        Target::Mood(m) => (Some(&m.reading.emotions), Some(&m.embedding)),
        Target::Quadrant(_) => (None, None),
    };

    let mut used = vec![false; cands.len()];
    let mut titles: HashSet<String> = HashSet::new();
    let mut out: Vec<Pick> = Vec::with_capacity(steps.min(cands.len()));
    let mut prev: Option<(f32, f32, String)> = None;
    for i in 0..steps {
        if out.len() == cands.len() {
            break;
        }
        let t = i as f32 / (steps - 1) as f32;
        let (wv, wa) = (v0 + (v1 - v0) * t, a0 + (a1 - a0) * t);
        let last = i + 1 == steps;
        let open: Vec<usize> = (0..cands.len())
            .filter(|&j| {
                let c = &cands[j];
                !used[j]
                    && !titles.contains(&title_key(&c.song.title))
                    && prev
                        .as_ref()
                        .is_none_or(|p| p.2 != artist_key(&c.song.artist))
            })
            .collect();
        // The last song must arrive; if the library has nothing open there, the closest one has to do.
        let arriving: Vec<usize> = open
            .iter()
            .copied()
            .filter(|&j| cands[j].mood.reading.quadrant() == end_quadrant)
            .collect();
        let pool = if last && !arriving.is_empty() {
            arriving
        } else {
            open
        };
        let best = pool
            .into_iter()
            .map(|j| {
                let c = &cands[j];
                let r = &c.mood.reading;
                let dist = va_distance(r, wv, wa);
                // The emotion and the words of the start fade out as the journey goes; a target mood's fade in.
                let emo_from = cosine(&r.emotions, &from.reading.emotions).max(0.0);
                let emo_to = target_emotions.map_or(0.0, |e| cosine(&r.emotions, e).max(0.0));
                let emo = emo_from * (1.0 - t) + emo_to * t;
                let lyr = lyric_similarity(&c.mood.embedding, &from.embedding).map(|l| {
                    let to = target_embedding
                        .and_then(|e| lyric_similarity(&c.mood.embedding, e))
                        .unwrap_or(0.0);
                    l * (1.0 - t) + to * t
                });
                // Being at the waypoint matters most; a sharper scale than `match` keeps the steps even.
                let at_waypoint = 1.0 - (dist / 1.0).min(1.0);
                let mut score = 0.6 * at_waypoint + 0.4 * blend(w, emo, va_similarity(dist), lyr);
                let jump = prev
                    .as_ref()
                    .map(|p| (r.valence - p.0).hypot(r.arousal - p.1));
                // A jump longer than a step (or than a near neighbour, for short journeys) costs more than being
                // off the waypoint gains, so the journey stays smooth when songs are sparse.
                if let Some(jump) = jump {
                    score -= 1.0 * (jump - step_len.max(MIN_STEP)).max(0.0);
                }
                let (adj, opinion) = feedback_nudge(&c.song.id, wv, wa, feedback, w.feedback);
                (j, score + adj, dist, opinion)
            })
            .max_by(|x, y| {
                x.1.total_cmp(&y.1)
                    .then_with(|| cands[y.0].song.id.cmp(&cands[x.0].song.id))
            });
        let Some((j, score, dist, opinion)) = best else {
            break;
        };
        let c = &cands[j];
        used[j] = true;
        titles.insert(title_key(&c.song.title));
        let mut reason = vec![if i == 0 {
            format!("start · {dist:.2} from your mood")
        } else if last && c.mood.reading.quadrant() == end_quadrant {
            format!(
                "arrive in {} {} · step {}/{steps}",
                end_quadrant.code(),
                end_quadrant.name(),
                i + 1
            )
        } else if last {
            format!(
                "the closest to {} {} in your library · step {}/{steps}",
                end_quadrant.code(),
                end_quadrant.name(),
                i + 1
            )
        } else {
            format!(
                "step {}/{steps} · {dist:.2} from waypoint ({wv:.2}, {wa:.2})",
                i + 1
            )
        }];
        reason.extend(
            c.mood
                .reading
                .top_emotion()
                .map(|l| format!("mostly {}", l.label)),
        );
        reason.extend(opinion);
        prev = Some((
            c.mood.reading.valence,
            c.mood.reading.arousal,
            artist_key(&c.song.artist),
        ));
        out.push(Scored::new(c, score, reason).into_pick());
    }
    out
}

/// A scored song before it is placed in the playlist.
struct Scored<'a> {
    cand: &'a Candidate,
    score: f32,
    reason: Vec<String>,
}

impl<'a> Scored<'a> {
    fn new(cand: &'a Candidate, score: f32, reason: Vec<String>) -> Scored<'a> {
        Scored {
            cand,
            score,
            reason,
        }
    }

    fn into_pick(self) -> Pick {
        let r = &self.cand.mood.reading;
        Pick {
            song: self.cand.song.clone(),
            valence: r.valence,
            arousal: r.arousal,
            quadrant: r.quadrant(),
            score: self.score,
            reason: self
                .reason
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" · "),
        }
    }
}

/// Best first, ties to the smaller id; near-duplicate titles keep only their best song, and a song never follows
/// one by the same artist (when only that artist is left, the list ends).
fn arrange(mut scored: Vec<Scored>, limit: usize) -> Vec<Pick> {
    scored.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then_with(|| x.cand.song.id.cmp(&y.cand.song.id))
    });
    let mut titles = HashSet::new();
    scored.retain(|s| titles.insert(title_key(&s.cand.song.title)));
    let mut out: Vec<Pick> = Vec::with_capacity(limit.min(scored.len()));
    let mut last_artist: Option<String> = None;
    while out.len() < limit {
        let next = scored
            .iter()
            .position(|s| last_artist.as_deref() != Some(artist_key(&s.cand.song.artist).as_str()));
        let Some(i) = next else { break };
        let s = scored.remove(i);
        last_artist = Some(artist_key(&s.cand.song.artist));
        out.push(s.into_pick());
    }
    out
}

/// The weighted mean of the signals; lyrics drop out of the mean for songs or texts without an embedding.
fn blend(w: &Weights, emotion: f32, va: f32, lyrics: Option<f32>) -> f32 {
    let (lw, lv) = lyrics.map_or((0.0, 0.0), |l| (w.lyrics, l));
    let total = w.emotion + w.va + lw;
    if total <= f32::EPSILON {
        return va;
    }
    (w.emotion * emotion + w.va * va + lw * lv) / total
}

/// Up to `strength` more (likes) or less (dislikes) for a song with feedback given for moods near (v, a); the
/// nudge fades with the distance between the moods and never removes the song.
fn feedback_nudge(
    song: &SongId,
    v: f32,
    a: f32,
    feedback: &[Feedback],
    strength: f32,
) -> (f32, Option<String>) {
    let sum: f32 = feedback
        .iter()
        .filter(|f| &f.song_id == song)
        .map(|f| {
            let near = (1.0 - (f.valence - v).hypot(f.arousal - a) / FEEDBACK_RADIUS).max(0.0);
            if f.liked {
                near
            } else {
                -near
            }
        })
        .sum();
    let adj = sum.clamp(-1.0, 1.0) * strength;
    let note = if adj > 0.005 {
        Some("you liked it for a similar mood".to_string())
    } else if adj < -0.005 {
        Some("you disliked it for a similar mood".to_string())
    } else {
        None
    };
    (adj, note)
}

/// "shares sadness, grief" when the song and the mood have strong emotions in common, else the song's own.
fn emotion_phrase(song: &MoodReading, mood: &MoodReading) -> String {
    let strong = |r: &MoodReading| -> Vec<String> {
        r.top(4)
            .into_iter()
            .filter(|l| l.label != "neutral" && l.score >= 0.05)
            .take(3)
            .map(|l| l.label)
            .collect()
    };
    let theirs = strong(mood);
    let shared: Vec<String> = strong(song)
        .into_iter()
        .filter(|l| theirs.contains(l))
        .take(2)
        .collect();
    if !shared.is_empty() {
        format!("shares {}", shared.join(", "))
    } else {
        song.top_emotion()
            .map(|l| format!("mostly {}", l.label))
            .unwrap_or_default()
    }
}

fn va_distance(r: &MoodReading, v: f32, a: f32) -> f32 {
    (r.valence - v).hypot(r.arousal - a)
}

fn va_similarity(dist: f32) -> f32 {
    1.0 - (dist / VA_SCALE).min(1.0)
}

fn lyric_similarity(a: &[f32], b: &[f32]) -> Option<f32> {
    (!a.is_empty() && !b.is_empty()).then(|| cosine(a, b).max(0.0))
}

/// Cosine similarity; 0 when either vector is empty or all zeros.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for i in 0..n {
        dot += a[i] * b[i];
        na += a[i] * a[i];
        nb += b[i] * b[i];
    }
    if na <= f32::EPSILON || nb <= f32::EPSILON {
        return 0.0;
    }
    dot / (na.sqrt() * nb.sqrt())
}

/// The comparable core of a title: "Song (Live)", "Song [2011 Remaster]" and "Song - Remastered" are one song.
pub fn title_key(title: &str) -> String {
    let mut core = title;
    if let Some(i) = core.find(['(', '[']).filter(|&i| i > 0) {
        core = &core[..i];
    }
    if let Some(i) = core.find(" - ").filter(|&i| i > 0) {
        core = &core[..i];
    }
    let key = normalize_name(core);
    if key.is_empty() {
        normalize_name(title)
    } else {
        key
    }
}

fn artist_key(artist: &str) -> String {
    normalize_name(artist)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_keys_fold_versions() {
        assert_eq!(title_key("Song (Live)"), "song");
        assert_eq!(title_key("Song [2011 Remaster]"), "song");
        assert_eq!(title_key("Song - Remastered 2009"), "song");
        assert_eq!(title_key("(What's the Story)"), "what s the story");
        assert_eq!(title_key("Hey-Ho"), "hey ho");
    }

    #[test]
    fn cosine_handles_zeros() {
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn feedback_is_bounded_and_local() {
        let id = SongId("a".into());
        let fb: Vec<Feedback> = (0..5)
            .map(|i| Feedback {
                song_id: id.clone(),
                liked: true,
                valence: -0.5,
                arousal: -0.5,
                mood_text: String::new(),
                at: i,
            })
            .collect();
        let (adj, note) = feedback_nudge(&id, -0.5, -0.5, &fb, 0.15);
        assert!((adj - 0.15).abs() < 1e-6);
        assert!(note.is_some());
        let (far, _) = feedback_nudge(&id, 0.6, 0.6, &fb, 0.15);
        assert_eq!(far, 0.0);
    }
}
