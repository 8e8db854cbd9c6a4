//! Now playing and the mood radio. A long-running session (the TUI, `serve`, a foreground `radio`) follows MPD on
//! a thread of its own: it waits on MPD's `idle`, reads the player's state when something changed (and at most
//! once a second otherwise: clients interpolate the elapsed time between reads), and publishes
//! [`Event::NowPlaying`] for every face, local or attached. When MPD goes away it says so and tries again with
//! backoff. The mood radio rides on the same thread: after each change it tops MPD's queue up to K songs ahead
//! of the current one with songs that fit the mood (or walk a journey), and counts quick skips as mild
//! dislikes.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::ensure;
use serde::{Deserialize, Serialize};

use super::calls::Destination;
use super::events::{lock, Event};
use super::Session;
use crate::player::mpd::Client;
use crate::player::{MpdTarget, PlayState, PlayerError, PlayerStatus};
use crate::recommend::{self as rec, Target};
use crate::records::{normalize_name, Location, Song, SongId, TextMood};
use crate::sanitize::clean_line;

/// The subsystems whose changes the watcher reads the player for.
const SUBSYSTEMS: &str = "player mixer playlist options";
/// How long one `idle` waits before the watcher looks at the clock (and at whether the session closes).
const IDLE_WAIT: Duration = Duration::from_secs(1);
/// Without a change, the player's state is read again this often, to correct the clients' interpolation.
const RESYNC: Duration = Duration::from_secs(5);
/// The longest wait between two tries to reach MPD.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A song played (or queued by the radio) this recently is not queued again.
const NO_REPEAT: Duration = Duration::from_secs(3600);
/// A song left before this many seconds counts as skipped.
const SKIP_WITHIN_S: f64 = 30.0;
/// Songs the radio ranks to pick from.
const RADIO_POOL: usize = 300;
/// The most songs a radio keeps ahead.
pub const MAX_AHEAD: usize = crate::config::MAX_RADIO_AHEAD;

/// What MPD plays, as the watcher last read it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NowPlaying {
    /// MPD's address, for messages.
    pub mpd: String,
    /// The player's state; `None` while MPD cannot be reached.
    pub status: Option<PlayerStatus>,
    /// The library's song for what MPD plays, when the library has it.
    pub song: Option<SongId>,
    /// Why MPD cannot be reached, and when the next try is.
    pub problem: Option<String>,
}

/// Where a radio goes: a mood, or a journey from it over some songs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RadioRequest {
    pub text: String,
    #[serde(default)]
    pub to: Option<Destination>,
    /// Songs a journey takes (default: config `recommend.journey_length`).
    #[serde(default)]
    pub over: Option<usize>,
    /// Songs kept in the queue after the current one (default: config `radio.ahead`).
    #[serde(default)]
    pub ahead: Option<usize>,
}

/// The radio's state, for status bars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RadioStatus {
    Off {
        /// Why it stopped (empty: it never ran).
        reason: String,
    },
    On {
        text: String,
        /// The journey's destination, in words.
        #[serde(default)]
        to: Option<String>,
        /// Songs queued so far.
        queued: usize,
        ahead: usize,
        /// Songs of the journey still to queue.
        #[serde(default)]
        journey_left: usize,
    },
}

/// A running radio.
pub(super) struct Radio {
    request: RadioRequest,
    mood: TextMood,
    /// The mood of a journey's destination text.
    to_mood: Option<TextMood>,
    /// The journey's songs not queued yet, in order.
    plan: VecDeque<SongId>,
    ahead: usize,
    queued: usize,
    /// Songs played or queued, and when: none is queued again within [`NO_REPEAT`].
    recent: HashMap<SongId, Instant>,
    /// The current song as last read: its queue id, library song, elapsed time and when that was read.
    current: Option<Current>,
    /// The queue held songs since the radio started (so an empty one means the user cleared it).
    had_queue: bool,
}

#[derive(Clone)]
struct Current {
    queue_id: u64,
    song: Option<SongId>,
    elapsed_s: f64,
    playing: bool,
    read_at: Instant,
    duration_s: Option<f64>,
}

pub(super) struct Watcher {
    thread: JoinHandle<()>,
}

impl Watcher {
    pub(super) fn is_running(&self) -> bool {
        !self.thread.is_finished()
    }
}

impl Session {
    /// Starts following MPD (see the module's comment); a second call does nothing.
    pub fn start_watch(self: &Arc<Self>) {
        let mut slot = lock(&self.watcher);
        if slot.as_ref().is_some_and(Watcher::is_running) {
            return;
        }
        let weak = Arc::downgrade(self);
        let closing = self.closing.clone();
        let target = self.settings.mpd.clone();
        match std::thread::Builder::new()
            .name("moodtape-mpd".into())
            .spawn(move || watch(&weak, &closing, &target))
        {
            Ok(thread) => *slot = Some(Watcher { thread }),
            Err(e) => tracing::warn!(error = %e, "cannot start the MPD watcher"),
        }
    }

    /// Whether this session follows MPD (and so can run a radio).
    pub fn watching(&self) -> bool {
        lock(&self.watcher)
            .as_ref()
            .is_some_and(Watcher::is_running)
    }

    /// Does what a player key asks of MPD.
    pub fn player_control(&self, op: crate::player::PlayerOp) -> anyhow::Result<()> {
        let mut mpd = Client::connect(&self.settings.mpd)?;
        mpd.control(op)?;
        mpd.close();
        Ok(())
    }

    /// Adds the song MPD has at `uri` to the library.
    pub fn import_from_mpd(&self, uri: &str) -> anyhow::Result<Song> {
        let song = crate::player::song_at(&self.settings.mpd, uri)?;
        if self.store.song(&song.id)?.is_none() {
            self.store.put_songs(&[(song.clone(), None)])?;
            self.store.flush()?;
        }
        lock(&self.uri_songs).remove(uri);
        self.forget_pool();
        self.publish(Event::LibraryChanged);
        self.kick_upkeep();
        Ok(song)
    }

    /// Starts the mood radio (replacing one that runs). Needs a session that follows MPD.
    pub fn start_radio(&self, request: RadioRequest) -> anyhow::Result<RadioStatus> {
        ensure!(
            self.watching(),
            "the radio runs in a moodtape that follows MPD: open the TUI or `moodtape serve`, or run `moodtape radio` on its own"
        );
        ensure!(
            !request.text.trim().is_empty(),
            "the mood text is empty; say how you feel, e.g. \"tired but hopeful\""
        );
        let ahead = request.ahead.unwrap_or(self.settings.radio_ahead);
        ensure!(
            (1..=MAX_AHEAD).contains(&ahead),
            "a radio keeps 1 to {MAX_AHEAD} songs ahead (--ahead)"
        );
        let mood = self.read_mood(&request.text)?;
        let pool = self.pool()?;
        ensure!(
            !pool.candidates.is_empty(),
            "no song has a mood analysis yet; import MPD's library (`moodtape scan --mpd`) and run `moodtape analyze`"
        );
        let mut plan = VecDeque::new();
        let mut to_mood = None;
        if let Some(to) = &request.to {
            let steps = request.over.unwrap_or(self.settings.journey_length);
            ensure!(
                (2..=crate::config::MAX_JOURNEY).contains(&steps),
                "a journey has 2 to {} songs (--over)",
                crate::config::MAX_JOURNEY
            );
            let target = match to {
                Destination::Quadrant(q) => Target::Quadrant(*q),
                Destination::Text(t) => {
                    let m = self.read_mood(t)?;
                    to_mood = Some(m.clone());
                    Target::Mood(m)
                }
            };
            let picks = rec::journey(
                &pool.candidates,
                &mood,
                &target,
                steps,
                &self.settings.weights,
                &pool.feedback,
            );
            plan = picks.into_iter().map(|p| p.song.id).collect();
        }
        let radio = Radio {
            request,
            mood,
            to_mood,
            plan,
            ahead,
            queued: 0,
            recent: HashMap::new(),
            current: None,
            had_queue: false,
        };
        let status = radio.status();
        *lock(&self.radio) = Some(radio);
        self.publish(Event::Radio {
            radio: status.clone(),
        });
        // The watcher fills the queue at its next look.
        self.radio_kick.store(true, Ordering::SeqCst);
        Ok(status)
    }

    /// Stops the radio; the songs it queued stay.
    pub fn stop_radio(&self, reason: &str) -> RadioStatus {
        let was = lock(&self.radio).take();
        let status = RadioStatus::Off {
            reason: if was.is_some() {
                reason.to_string()
            } else {
                String::new()
            },
        };
        self.publish(Event::Radio {
            radio: status.clone(),
        });
        status
    }

    pub fn radio_status(&self) -> RadioStatus {
        lock(&self.radio).as_ref().map_or(
            RadioStatus::Off {
                reason: String::new(),
            },
            Radio::status,
        )
    }

    /// The library's song for what MPD plays: imported from MPD, scanned from MPD's music folder, or with the
    /// same artist and title. Remembered per URI.
    fn library_song(&self, status: &PlayerStatus, mpd: &mut Client) -> Option<SongId> {
        let uri = status.uri.as_ref()?;
        if let Some(known) = lock(&self.uri_songs).get(uri) {
            return known.clone();
        }
        let mut ids = vec![SongId::for_location(&Location::Mpd(uri.clone()))];
        if let Some(dir) = mpd.music_dir() {
            ids.push(SongId::for_location(&Location::File(dir.join(uri))));
        }
        let mut found = ids
            .into_iter()
            .flatten()
            .find(|id| self.store.song(id).ok().flatten().is_some());
        if found.is_none() && !status.title.is_empty() {
            let (artist, title) = (
                normalize_name(&status.artist),
                normalize_name(&status.title),
            );
            found = self.store.all_songs().ok().and_then(|songs| {
                songs
                    .into_iter()
                    .find(|s| {
                        normalize_name(&s.artist) == artist && normalize_name(&s.title) == title
                    })
                    .map(|s| s.id)
            });
        }
        lock(&self.uri_songs).insert(uri.clone(), found.clone());
        found
    }

    /// One look of the radio after MPD's state was read: note a skip, stop when the queue was cleared, top the
    /// queue up.
    fn radio_step(&self, mpd: &mut Client, status: &PlayerStatus, song: Option<&SongId>) {
        let mut slot = lock(&self.radio);
        let Some(radio) = slot.as_mut() else { return };
        let now = Instant::now();
        // A skip: the song changed long before its end.
        if let Some(prev) = radio.current.take() {
            if status.song_id != Some(prev.queue_id) {
                let elapsed = prev.elapsed_s
                    + if prev.playing {
                        prev.read_at.elapsed().as_secs_f64()
                    } else {
                        0.0
                    };
                let before_end = prev.duration_s.is_none_or(|d| elapsed < d - 2.0);
                if self.settings.radio_skip_is_dislike && elapsed < SKIP_WITHIN_S && before_end {
                    if let Some(id) = &prev.song {
                        self.skipped(id, radio);
                    }
                }
            } else {
                radio.current = Some(prev);
            }
        }
        if let Some(queue_id) = status.song_id {
            radio.current = Some(Current {
                queue_id,
                song: song.cloned(),
                elapsed_s: status.elapsed_s,
                playing: status.state == PlayState::Play,
                read_at: now,
                duration_s: status.duration_s,
            });
            if let Some(id) = song {
                radio.recent.insert(id.clone(), now);
            }
        }
        if status.queue_len == 0 && radio.had_queue {
            drop(slot);
            self.stop_radio("the queue was cleared");
            return;
        }
        let ahead_now = match status.song_pos {
            Some(pos) => status.queue_len.saturating_sub(pos + 1),
            None => status.queue_len,
        };
        let mut added = 0;
        let mut first_pos = None;
        if ahead_now < radio.ahead {
            match self.fill(mpd, radio, status, radio.ahead - ahead_now) {
                Ok((n, pos)) => {
                    added = n;
                    first_pos = pos;
                }
                Err(e) => {
                    let reason = clean_line(&format!("{e:#}"));
                    drop(slot);
                    self.stop_radio(&reason);
                    return;
                }
            }
        }
        radio.had_queue |= status.queue_len + added > 0;
        if status.state == PlayState::Stop && status.song_pos.is_none() {
            if let Some(pos) = first_pos {
                let _ = mpd.control(crate::player::PlayerOp::PlayAt { pos });
            }
        }
        if added > 0 {
            let radio_status = radio.status();
            drop(slot);
            self.publish(Event::Radio {
                radio: radio_status,
            });
        }
    }

    /// Queues up to `want` songs; returns how many and the queue position of the first.
    fn fill(
        &self,
        mpd: &mut Client,
        radio: &mut Radio,
        status: &PlayerStatus,
        want: usize,
    ) -> anyhow::Result<(usize, Option<usize>)> {
        let now = Instant::now();
        radio
            .recent
            .retain(|_, at| now.duration_since(*at) < NO_REPEAT);
        let mut last_artist = match status.queue_len {
            0 => None,
            n => mpd.queued_song(n - 1)?.and_then(|r| {
                r.iter()
                    .find(|(k, _)| k == "Artist")
                    .map(|(_, v)| normalize_name(v))
            }),
        };
        let pool = self.pool()?;
        let mut choices: Vec<Song> = Vec::new();
        while let Some(id) = radio.plan.pop_front() {
            if let Some(c) = pool.candidates.iter().find(|c| c.song.id == id) {
                choices.push(c.song.clone());
            }
            if choices.len() >= want * 3 {
                break;
            }
        }
        // After the journey (or for a plain radio): songs that fit the mood, or the journey's end.
        let (w, fb) = (&self.settings.weights, &pool.feedback);
        let after_journey = radio.plan.is_empty() && radio.queued > 0;
        let ranked = match (&radio.request.to, &radio.to_mood, after_journey) {
            (_, Some(to), true) => rec::rank_match(&pool.candidates, to, w, fb, RADIO_POOL),
            (Some(Destination::Quadrant(q)), None, true) => {
                let (v, a) = q.center();
                rec::near(&pool.candidates, v, a, RADIO_POOL, w, fb)
            }
            _ => rec::rank_match(&pool.candidates, &radio.mood, w, fb, RADIO_POOL),
        };
        choices.extend(ranked.into_iter().map(|p| p.song));
        let mut added = 0;
        let mut first_pos = None;
        for song in choices {
            if added >= want {
                break;
            }
            if radio.recent.contains_key(&song.id) {
                continue;
            }
            let artist = normalize_name(&song.artist);
            if !artist.is_empty() && last_artist.as_deref() == Some(artist.as_str()) {
                continue;
            }
            let Some(uri) = mpd.uri_of(&song)? else {
                continue;
            };
            mpd.add(&uri)?;
            first_pos.get_or_insert(status.queue_len + added);
            added += 1;
            radio.queued += 1;
            radio.recent.insert(song.id.clone(), now);
            last_artist = Some(artist);
        }
        if added == 0 && want > 0 && status.queue_len == 0 {
            anyhow::bail!(
                "no song that fits is in MPD's database (or all were played in the last hour); import MPD's library with `moodtape scan --mpd`"
            );
        }
        Ok((added, first_pos))
    }

    /// A quick skip during the radio: a mild dislike of the song for the radio's mood.
    fn skipped(&self, id: &SongId, radio: &Radio) {
        let text = radio.request.text.clone();
        match rec::record_feedback(&self.store, id, false, &radio.mood.reading, &text) {
            Ok(feedback) => {
                self.forget_pool();
                self.publish(Event::Feedback { feedback });
            }
            Err(e) => tracing::warn!(error = %e, "cannot keep a skip as a dislike"),
        }
    }
}

impl Radio {
    fn status(&self) -> RadioStatus {
        RadioStatus::On {
            text: clean_line(&self.request.text),
            to: self.request.to.as_ref().map(|d| match d {
                Destination::Quadrant(q) => q.code().to_string(),
                Destination::Text(t) => clean_line(t),
            }),
            queued: self.queued,
            ahead: self.ahead,
            journey_left: self.plan.len(),
        }
    }
}

/// The watcher's loop: reach MPD, follow it until it goes away, say so, wait, try again.
fn watch(weak: &Weak<Session>, closing: &AtomicBool, target: &MpdTarget) {
    let mut backoff = Duration::from_secs(1);
    let mut was_connected = false;
    loop {
        if closing.load(Ordering::Relaxed) {
            return;
        }
        let problem = match Client::connect(target) {
            Ok(mut mpd) => {
                was_connected = true;
                backoff = Duration::from_secs(1);
                match follow(weak, &mut mpd, closing, target) {
                    Ok(()) => return,
                    Err(e) => e,
                }
            }
            Err(e) => e,
        };
        if was_connected || target.configured {
            let Some(session) = weak.upgrade() else {
                return;
            };
            session.publish(Event::NowPlaying {
                now: NowPlaying {
                    mpd: target.addr(),
                    status: None,
                    song: None,
                    problem: Some(clean_line(&format!(
                        "{}; trying again in {}s",
                        short_reason(&problem),
                        backoff.as_secs()
                    ))),
                },
            });
        }
        let until = Instant::now() + backoff;
        while Instant::now() < until {
            if closing.load(Ordering::Relaxed) || weak.strong_count() == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn short_reason(e: &PlayerError) -> String {
    match e {
        PlayerError::Connect { addr, reason } => format!("MPD at {addr}: {reason}"),
        PlayerError::Protocol { addr, detail } => format!("MPD at {addr}: {detail}"),
        other => other.to_string(),
    }
}

/// Follows MPD over one connection until it fails (the error) or the session closes.
fn follow(
    weak: &Weak<Session>,
    mpd: &mut Client,
    closing: &AtomicBool,
    target: &MpdTarget,
) -> Result<(), PlayerError> {
    let mut last: Option<(NowPlaying, Instant)> = None;
    let mut changed = true;
    let mut read_at = Instant::now();
    loop {
        if closing.load(Ordering::Relaxed) {
            return Ok(());
        }
        let Some(session) = weak.upgrade() else {
            return Ok(());
        };
        let kicked = session.radio_kick.swap(false, Ordering::SeqCst);
        if changed || kicked || read_at.elapsed() >= RESYNC {
            let status = mpd.status()?;
            read_at = Instant::now();
            let song = session.library_song(&status, mpd);
            let now = NowPlaying {
                mpd: target.addr(),
                status: Some(status.clone()),
                song: song.clone(),
                problem: None,
            };
            if last.as_ref().is_none_or(|(prev, at)| news(prev, at, &now)) {
                session.publish(Event::NowPlaying { now: now.clone() });
                last = Some((now, read_at));
            }
            session.radio_step(mpd, &status, song.as_ref());
        }
        drop(session);
        changed = !mpd.idle(SUBSYSTEMS, IDLE_WAIT)?.is_empty();
    }
}

/// Whether a new reading tells clients more than their interpolation of the last one.
fn news(prev: &NowPlaying, at: &Instant, now: &NowPlaying) -> bool {
    let (Some(a), Some(b)) = (&prev.status, &now.status) else {
        return prev != now;
    };
    let same_but_time = PlayerStatus {
        elapsed_s: b.elapsed_s,
        ..a.clone()
    } == *b
        && prev.song == now.song
        && prev.problem == now.problem;
    if !same_but_time {
        return true;
    }
    let expected = a.elapsed_s
        + if a.state == PlayState::Play {
            at.elapsed().as_secs_f64()
        } else {
            0.0
        };
    (expected - b.elapsed_s).abs() > 1.5
}

/// Starts a radio from the command line's words.
pub fn radio_request(
    text: &str,
    to: Option<&str>,
    over: Option<usize>,
    ahead: Option<usize>,
) -> anyhow::Result<RadioRequest> {
    ensure!(
        to.is_some() || over.is_none(),
        "--over is the length of a journey; give its destination with --to Q1..Q4 or --to \"TEXT\""
    );
    Ok(RadioRequest {
        text: text.to_string(),
        to: to.map(Destination::parse),
        over,
        ahead,
    })
}
