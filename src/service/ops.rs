//! The operations of a session. Each is written once here; [`dispatch`] maps a [`Call`] onto them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};

use super::calls::*;
use super::events::{Event, JobKind, JobStatus};
use super::Session;
use crate::emotion::analyze::{self, AnalyzeError, AnalyzeSummary, Which};
use crate::emotion::{model_key, stored_analysis, stored_mood};
use crate::library::import::{ColumnMap, ImportSummary};
use crate::library::scan::ScanSummary;
use crate::library::search;
use crate::lyrics::{FetchOptions, FetchSummary};
use crate::player::ImportReport;
use crate::recommend::{self as rec, Target};
use crate::records::{
    normalize_name, now_s, MoodNote, MoodReading, MoodSummary, Song, SongId, SongMood, TextMood,
    LABELS,
};
use crate::sanitize::clean_line;

/// How often a watcher checks whether its caller is still there.
const WATCH_POLL: Duration = Duration::from_millis(200);

pub(super) fn dispatch(
    s: &Session,
    call: Call,
    progress: &mut dyn FnMut(Progress),
    cancel: &AtomicBool,
) -> anyhow::Result<Answer> {
    Ok(match call {
        Call::Hello => Answer::Hello(Hello {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            database: s.settings.db_path.display().to_string(),
        }),
        Call::Songs { query, limit } => Answer::Songs {
            songs: s.songs(query.as_deref(), limit)?,
        },
        Call::Stats => Answer::Stats(s.stats()?),
        Call::Library => Answer::Library {
            songs: s.store.all_songs()?,
        },
        Call::MoodSummaries { ids } => {
            let (moods, skipped) = s.mood_summaries(&ids)?;
            Answer::MoodSummaries { moods, skipped }
        }
        Call::Detail { id } => Answer::Detail(s.detail(&id)?),
        Call::Resolve { query } => Answer::Song {
            song: s.resolve(&query)?,
        },
        Call::ReadMood { text } => Answer::Mood {
            mood: s.read_mood(&text)?,
        },
        Call::Recommend { request } => Answer::Playlist(s.recommend(&request, progress, cancel)?),
        Call::Deliver { songs, to } => Answer::Delivered(s.deliver(&songs, &to)?),
        Call::Feedback { song, liked, mood } => Answer::Feedback(s.feedback(&song, liked, mood)?),
        Call::FeedbackList => Answer::FeedbackList {
            entries: s.feedback_list()?,
        },
        Call::FeedbackClear => Answer::Count {
            count: s.feedback_clear()?,
        },
        Call::LyricsFetch { missing_only, jobs } => {
            let summary = s.fetch_lyrics(missing_only, jobs, progress, cancel)?;
            s.kick_upkeep();
            Answer::LyricsFetched(summary)
        }
        Call::Lyrics { query } => {
            let song = s.resolve(&query)?;
            let record = s.store.lyrics.get(song.id.as_str())?;
            let note = stored_analysis(&s.store, &model_key(), &song)?.map(|m| MoodNote::of(&m));
            Answer::Lyrics { song, record, note }
        }
        Call::Analyze { which } => {
            Answer::Analyzed(s.make_ready(false, None, which, false, progress, cancel)?)
        }
        Call::Scan { dirs } => {
            let summary = s.scan(&dirs, progress)?;
            s.kick_upkeep();
            Answer::Scanned(summary)
        }
        Call::ScanMpd => {
            let report = s.scan_mpd(progress)?;
            s.kick_upkeep();
            Answer::MpdImported(report)
        }
        Call::Import { request } => {
            let summary = s.import(&request, progress)?;
            s.kick_upkeep();
            Answer::Imported(summary)
        }
        Call::DbCheck => Answer::Checked(crate::store::check(&s.store)),
        Call::DbExport { path } => Answer::Exported {
            records: s.export(&path)?,
            path,
        },
        Call::Watch => {
            let rx = s.subscribe();
            while !cancel.load(Ordering::Relaxed) && !s.closing.load(Ordering::Relaxed) {
                match rx.recv_timeout(WATCH_POLL) {
                    Ok(ev) => progress(Progress::Event(ev)),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            Answer::Done
        }
        Call::Player { op } => {
            s.player_control(op)?;
            Answer::Done
        }
        Call::NowPlaying => Answer::NowPlaying {
            now: s.hub.current().into_iter().find_map(|e| match e {
                Event::NowPlaying { now } => Some(now),
                _ => None,
            }),
        },
        Call::ImportFromMpd { uri } => Answer::Song {
            song: s.import_from_mpd(&uri)?,
        },
        Call::RadioStart { request } => Answer::Radio {
            radio: s.start_radio(request)?,
        },
        Call::RadioStop => Answer::Radio {
            radio: s.stop_radio("stopped"),
        },
        Call::RadioStatus => Answer::Radio {
            radio: s.radio_status(),
        },
    })
}

/// Songs left unread for their language, with it.
type Skipped = Vec<(SongId, String)>;

impl Session {
    /// Every song with its reading, or the best fuzzy matches of `query`, at most `limit`.
    pub fn songs(
        &self,
        query: Option<&str>,
        limit: Option<usize>,
    ) -> anyhow::Result<Vec<SongInfo>> {
        let all = self.store.all_songs()?;
        let picked: Vec<&Song> = match query {
            Some(q) => search::search(&all, q)
                .iter()
                .map(|m| &all[m.index])
                .take(limit.unwrap_or(usize::MAX))
                .collect(),
            None => all.iter().take(limit.unwrap_or(usize::MAX)).collect(),
        };
        let key = model_key();
        picked
            .into_iter()
            .map(|song| {
                let analysis = stored_analysis(&self.store, &key, song)?;
                let note = analysis.as_ref().map(MoodNote::of).unwrap_or_default();
                let reading = analysis.filter(SongMood::is_read).map(|m| m.reading);
                Ok(SongInfo {
                    song: song.clone(),
                    reading,
                    note,
                })
            })
            .collect()
    }

    pub fn stats(&self) -> anyhow::Result<LibraryStats> {
        let songs = self.store.all_songs()?;
        let key = model_key();
        let mut by_quadrant = BTreeMap::new();
        let (mut analyzed, mut skipped_language) = (0, 0);
        for song in &songs {
            let Some(m) = stored_analysis(&self.store, &key, song)? else {
                continue;
            };
            if !m.is_read() {
                skipped_language += 1;
            } else {
                analyzed += 1;
                *by_quadrant
                    .entry(m.reading.quadrant().code().to_string())
                    .or_insert(0) += 1;
            }
        }
        Ok(LibraryStats {
            songs: songs.len(),
            with_lyrics: songs.iter().filter(|s| s.has_lyrics()).count(),
            instrumental: songs.iter().filter(|s| s.instrumental).count(),
            analyzed,
            skipped_language,
            by_quadrant,
            database: self.store.path().display().to_string(),
            model: key,
        })
    }

    /// The analyses of these songs, summed up, and the songs left unread for their language (with it); songs
    /// without an analysis are left out.
    pub fn mood_summaries(
        &self,
        ids: &[SongId],
    ) -> anyhow::Result<(Vec<(SongId, MoodSummary)>, Skipped)> {
        let key = model_key();
        let (mut moods, mut skipped) = (Vec::with_capacity(ids.len()), Vec::new());
        for id in ids {
            let Some(song) = self.store.song(id)? else {
                continue;
            };
            match stored_analysis(&self.store, &key, &song) {
                Ok(Some(m)) if m.is_read() => moods.push((id.clone(), MoodSummary::of_song(&m))),
                Ok(Some(m)) => skipped.push((id.clone(), m.language.unwrap_or_default())),
                Ok(None) => {}
                Err(e) => tracing::warn!(song = %id, error = %e, "unreadable analysis"),
            }
        }
        Ok((moods, skipped))
    }

    pub fn detail(&self, id: &SongId) -> anyhow::Result<Detail> {
        let lyrics = self.store.lyrics.get(id.as_str())?;
        let mood = match self.store.song(id)? {
            Some(song) => stored_analysis(&self.store, &model_key(), &song)?,
            None => None,
        };
        Ok(Detail { lyrics, mood })
    }

    /// A song by its id, or the best fuzzy match for an "artist - title" query.
    pub fn resolve(&self, query: &str) -> anyhow::Result<Song> {
        let query = query.trim();
        if !query.is_empty() {
            if let Some(song) = self.store.song(&SongId(query.to_ascii_lowercase()))? {
                return Ok(song);
            }
        }
        let songs = self.store.all_songs()?;
        // "Artist - Title": the dash is not in the text the search matches against.
        let words = query.replace(" - ", " ");
        match search::search(&songs, &words).first() {
            Some(hit) if !words.trim().is_empty() => Ok(songs[hit.index].clone()),
            _ => {
                let q = clean_line(query);
                bail!("no song matches {q:?}; try `moodtape library search {q:?}` to find its id")
            }
        }
    }

    /// The mood of a text (the model loads on first use).
    pub fn read_mood(&self, text: &str) -> anyhow::Result<TextMood> {
        ensure!(
            !text.trim().is_empty(),
            "the mood text is empty; say how you feel, e.g. \"tired but hopeful\""
        );
        let prompt = crate::emotion::mood_prompt(text).into_owned();
        let mut moods = self.model.read_texts(vec![prompt])?;
        moods.pop().context("the model gave no reading")
    }

    /// Makes songs ready to be recommended: with `lyrics`, missing lyrics are looked up first (for at most
    /// `budget`, after which what is there is used); then songs without an analysis (or all, with [`Which::All`])
    /// are analyzed, batch by batch. With `notes`, lines for the user say what is done first and why.
    pub fn make_ready(
        &self,
        lyrics: bool,
        budget: Option<Duration>,
        which: Which,
        notes: bool,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> anyhow::Result<AnalyzeSummary> {
        if lyrics {
            let missing = self
                .store
                .all_songs()?
                .iter()
                .filter(|s| !s.has_lyrics() && !s.instrumental)
                .count();
            if missing > 0 {
                if notes {
                    progress(Progress::Note {
                        text: format!("looking up lyrics for {missing} songs first…"),
                    });
                }
                let options = FetchOptions {
                    missing_only: true,
                    jobs: None,
                    deadline: budget.map(|b| Instant::now() + b),
                };
                match self.fetch_lyrics_with(&options, progress, cancel) {
                    Ok(s) if notes => {
                        progress(Progress::Note {
                            text: format!("lyrics: {}", s.line()),
                        });
                        if s.out_of_time {
                            progress(Progress::Note {
                                text: format!(
                                    "lyrics lookup cut short after {} s (config recommend.prefetch_budget_s): {} songs \
                                     not looked up yet, recommending from what is there; `moodtape lyrics fetch` \
                                     looks up the rest",
                                    budget.map_or(0.0, |b| b.as_secs_f64()),
                                    s.skipped
                                ),
                            });
                        }
                    }
                    Ok(_) => {}
                    // Recommendations from what is there beat none at all.
                    Err(e) if notes => progress(Progress::Note {
                        text: format!("moodtape: warning: lyrics lookup failed: {e:#}"),
                    }),
                    Err(_) => {}
                }
            }
        }
        self.analyze(which, notes, progress, cancel)
    }

    fn analyze(
        &self,
        which: Which,
        notes: bool,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> anyhow::Result<AnalyzeSummary> {
        let key = model_key();
        let mut started = false;
        let result = analyze::run_with(
            &self.store,
            &key,
            which,
            &mut |records| {
                let owned = records.iter().map(|r| (*r).clone()).collect();
                self.model
                    .analyze(owned, &key)
                    .map_err(|e| AnalyzeError::Model(e.0))
            },
            &mut |p, stored| {
                if p.total == 0 {
                    return;
                }
                if !started {
                    started = true;
                    if notes {
                        progress(Progress::Note {
                            text: format!(
                                "reading the mood of {} songs first (only needed once)…",
                                p.total
                            ),
                        });
                    }
                }
                progress(Progress::Analysis(p));
                self.publish(Event::Job {
                    kind: JobKind::Analysis,
                    status: JobStatus::Running {
                        done: p.done,
                        total: p.total,
                        rate: p.songs_per_s,
                        eta_s: p.eta_s,
                    },
                });
                if !stored.is_empty() {
                    self.forget_pool();
                    let (read, skipped): (Vec<_>, Vec<_>) =
                        stored.iter().partition(|(_, m)| m.is_read());
                    self.publish(Event::Moods {
                        moods: read
                            .into_iter()
                            .map(|(id, m)| (id.clone(), MoodSummary::of_song(m)))
                            .collect(),
                        skipped: skipped
                            .into_iter()
                            .map(|(id, m)| (id.clone(), m.language.clone().unwrap_or_default()))
                            .collect(),
                    });
                }
            },
            cancel,
        );
        let status = match &result {
            Ok(s) if s.interrupted => JobStatus::Done {
                summary: format!("stopped after {}", s.analyzed),
            },
            Ok(s) if s.analyzed == 0 => JobStatus::Done {
                summary: "all analyzed".into(),
            },
            Ok(s) => JobStatus::Done {
                summary: format!("{} analyzed", s.analyzed),
            },
            Err(e) => JobStatus::Failed {
                reason: clean_line(&e.to_string()),
            },
        };
        // The encoder's activations were kept in the heap for speed while the job ran (see `tune_allocator` in
        // main.rs); once it is over they go back to the system instead of staying resident all session.
        crate::store::release_freed_memory();
        self.publish(Event::Job {
            kind: JobKind::Analysis,
            status,
        });
        Ok(result?)
    }

    /// Looks up lyrics (of songs without any, with `missing_only`), as config `lyrics.sources` says.
    pub fn fetch_lyrics(
        &self,
        missing_only: bool,
        jobs: Option<usize>,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> anyhow::Result<FetchSummary> {
        let options = FetchOptions {
            missing_only,
            jobs,
            deadline: None,
        };
        self.fetch_lyrics_with(&options, progress, cancel)
    }

    fn fetch_lyrics_with(
        &self,
        options: &FetchOptions,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> anyhow::Result<FetchSummary> {
        let flags = |songs: Vec<Song>| -> HashMap<SongId, (bool, bool)> {
            songs
                .into_iter()
                .map(|s| {
                    let f = (s.has_lyrics(), s.instrumental);
                    (s.id, f)
                })
                .collect()
        };
        let before = flags(self.store.all_songs()?);
        let start = Instant::now();
        let result = crate::lyrics::fetch::fetch(
            &self.settings.lyrics,
            &self.store,
            options,
            &mut |p| {
                let rate = p.done as f64 / start.elapsed().as_secs_f64().max(1e-6);
                self.publish(Event::Job {
                    kind: JobKind::Lyrics,
                    status: JobStatus::Running {
                        done: p.done,
                        total: p.total,
                        rate,
                        eta_s: (rate > 0.0).then(|| p.total.saturating_sub(p.done) as f64 / rate),
                    },
                });
                progress(Progress::Lyrics(p));
            },
            cancel,
        );
        let changed: Vec<Song> = self
            .store
            .all_songs()?
            .into_iter()
            .filter(|s| before.get(&s.id) != Some(&(s.has_lyrics(), s.instrumental)))
            .collect();
        if !changed.is_empty() {
            self.publish(Event::Songs { songs: changed });
        }
        let status = match &result {
            Ok(s) => JobStatus::Done { summary: s.line() },
            Err(e) => JobStatus::Failed {
                reason: clean_line(&format!("{e:#}")),
            },
        };
        self.publish(Event::Job {
            kind: JobKind::Lyrics,
            status,
        });
        result
    }

    /// A playlist for `req`: validated first, then (with `prepare`) missing work done, then ranked.
    pub fn recommend(
        &self,
        req: &PlaylistRequest,
        progress: &mut dyn FnMut(Progress),
        cancel: &AtomicBool,
    ) -> anyhow::Result<Playlist> {
        // Bad input is reported before any slow first-use work.
        match &req.mode {
            Mode::Near { valence, arousal } => ensure!(
                (-1.0..=1.0).contains(valence) && (-1.0..=1.0).contains(arousal),
                "valence and arousal go from -1 to 1 (got {valence} {arousal})"
            ),
            Mode::Match { text, mood } | Mode::Journey { text, mood, .. } => ensure!(
                mood.is_some() || !text.trim().is_empty(),
                "the mood text is empty; say how you feel, e.g. \"tired but hopeful\""
            ),
            Mode::Like { .. } => {}
        }
        if let Some(limit) = req.limit {
            ensure!(
                (1..=crate::config::MAX_LIMIT).contains(&limit),
                "a playlist holds 1 to {} songs (--limit)",
                crate::config::MAX_LIMIT
            );
        }
        if let Mode::Journey { .. } = &req.mode {
            let steps = req.limit.unwrap_or(self.settings.journey_length);
            ensure!(
                (2..=crate::config::MAX_JOURNEY).contains(&steps),
                "a journey has 2 to {} songs (--limit)",
                crate::config::MAX_JOURNEY
            );
        }
        if req.prepare {
            let budget = self.settings.prefetch_budget;
            self.make_ready(
                self.settings.lyrics_online && budget.is_some(),
                budget,
                Which::Missing,
                true,
                progress,
                cancel,
            )?;
        }
        let pool = self.pool()?;
        let cands = &pool.candidates;
        ensure!(
            !cands.is_empty(),
            "no song has a mood analysis yet; add songs with lyrics (`moodtape scan DIR`, `moodtape lyrics fetch`) and run `moodtape analyze`"
        );
        let w = &self.settings.weights;
        let fb = &pool.feedback;
        let limit = req.limit.unwrap_or(self.settings.limit);
        let picks = match &req.mode {
            Mode::Match { text, mood } => {
                let mood = self.mood_of(text, mood)?;
                rec::rank_match(cands, &mood, w, fb, limit)
            }
            Mode::Journey { text, mood, to } => {
                let from = self.mood_of(text, mood)?;
                let target = match to {
                    Destination::Quadrant(q) => Target::Quadrant(*q),
                    Destination::Text(t) => Target::Mood(self.read_mood(t)?),
                };
                let steps = req.limit.unwrap_or(self.settings.journey_length);
                rec::journey(cands, &from, &target, steps, w, fb)
            }
            Mode::Near { valence, arousal } => rec::near(cands, *valence, *arousal, limit, w, fb),
            Mode::Like { song } => {
                let seed = self.resolve(song)?;
                if let Some(lang) = stored_analysis(&self.store, &model_key(), &seed)?
                    .filter(|m| !m.is_read())
                    .and_then(|m| m.language)
                {
                    bail!(
                        "{} has lyrics in {}, a language the model does not read, so it has no mood; pick another song",
                        seed.display_name(),
                        crate::emotion::language::name(&lang)
                    );
                }
                ensure!(
                    cands.iter().any(|c| c.song.id == seed.id),
                    "{} has no mood analysis (it needs lyrics); pick another song",
                    seed.display_name()
                );
                rec::like(cands, &seed.id, limit, w, fb)
            }
        };
        let mood_of: HashMap<&SongId, &SongMood> =
            cands.iter().map(|c| (&c.song.id, &c.mood)).collect();
        let entries = picks
            .into_iter()
            .map(|pick| {
                let mood = mood_of.get(&pick.song.id);
                let reading = mood.map_or_else(
                    || point_reading(pick.valence, pick.arousal),
                    |m| m.reading.clone(),
                );
                let note = mood.map(|m| MoodNote::of(m)).unwrap_or_default();
                Entry {
                    pick,
                    reading,
                    note,
                }
            })
            .collect();
        // Songs with no mood (no lyrics, not analyzed yet, or in a language the model does not read) are never
        // in a playlist; asked for, they are listed after it.
        let (mut unanalyzed, mut skipped) = (Vec::new(), BTreeMap::new());
        if req.include_unanalyzed {
            let have: HashSet<&SongId> = cands.iter().map(|c| &c.song.id).collect();
            let key = model_key();
            for song in self.store.all_songs()? {
                if have.contains(&song.id) {
                    continue;
                }
                if let Some(m) = stored_analysis(&self.store, &key, &song)? {
                    if let (false, Some(lang)) = (m.is_read(), m.language) {
                        skipped.insert(song.id.clone(), lang);
                    }
                }
                unanalyzed.push(song);
            }
        }
        Ok(Playlist {
            entries,
            unanalyzed,
            skipped,
        })
    }

    fn mood_of(&self, text: &str, mood: &Option<TextMood>) -> anyhow::Result<TextMood> {
        match mood {
            Some(m) => Ok(m.clone()),
            None => self.read_mood(text),
        }
    }

    /// Writes, exports or queues the songs with these ids, in this order.
    pub fn deliver(&self, ids: &[SongId], to: &Delivery) -> anyhow::Result<Delivered> {
        let mut songs = Vec::with_capacity(ids.len());
        for id in ids {
            match self.store.song(id)? {
                Some(song) => songs.push(song),
                None => bail!("song {id} is no longer in the library"),
            }
        }
        let mut done = Delivered {
            mpd_at: self.settings.mpd.addr(),
            ..Delivered::default()
        };
        let exported = to
            .export
            .as_ref()
            .map(|hint| self.settings.playlists_dir.join(export_name(hint, now_s())));
        let listable = crate::player::m3u::listable(&songs);
        let why = self.left_out_reasons(&songs, listable);
        if listable == 0 && !to.allow_empty && (to.out.is_some() || exported.is_some()) {
            bail!(
                "no playlist written: none of the {} songs can be listed: {why}. (on the command line, --allow-empty writes it anyway)",
                songs.len()
            );
        }
        for path in to.out.iter().chain(exported.iter()) {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("cannot create {}", clean_line(&dir.display().to_string()))
                })?;
            }
            let written = crate::player::write_m3u8(path, &songs).with_context(|| {
                format!(
                    "cannot write the playlist {}",
                    clean_line(&path.display().to_string())
                )
            })?;
            done.written_note = format!(
                "wrote {written} of {} songs to {}{}",
                songs.len(),
                clean_line(&path.display().to_string()),
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {why}")
                }
            );
            done.written = Some((path.clone(), written));
        }
        if let Some(replace) = to.mpd {
            let report = crate::player::queue(&self.settings.mpd, &songs, replace, true)?;
            self.publish(Event::Queued {
                songs: report.queued,
                at: done.mpd_at.clone(),
            });
            done.queue = Some(report);
        }
        Ok(done)
    }

    /// Why the songs a playlist cannot list are left out ("6 have no audio file (the demo library has none)").
    fn left_out_reasons(&self, songs: &[Song], listable: usize) -> String {
        let no_file = songs
            .iter()
            .filter(|s| matches!(s.location, crate::records::Location::None))
            .count();
        let other = songs.len().saturating_sub(listable + no_file);
        let count = |n: usize| {
            if n == 1 {
                "1 has".to_string()
            } else {
                format!("{n} have")
            }
        };
        let mut parts = Vec::new();
        if no_file > 0 {
            let demo = if self.settings.demo {
                " (the demo library has none)"
            } else {
                ""
            };
            parts.push(format!("{} no audio file{demo}", count(no_file)));
        }
        if other > 0 {
            parts.push(format!(
                "{} a location no playlist can hold (a control character, or a stream name starting with #)",
                count(other)
            ));
        }
        parts.join("; ")
    }

    /// Keeps a like or dislike of a song (an id or a query) for a mood.
    pub fn feedback(
        &self,
        query: &str,
        liked: bool,
        mood: FeedbackFor,
    ) -> anyhow::Result<FeedbackGiven> {
        let song = self.resolve(query)?;
        let (reading, text) = match mood {
            FeedbackFor::Song => {
                let m = stored_mood(&self.store, &model_key(), &song)?.with_context(|| {
                    format!(
                        "{} has no mood analysis; say which mood it was for with --mood TEXT",
                        song.display_name()
                    )
                })?;
                (m.reading, String::new())
            }
            FeedbackFor::Text(text) => (self.read_mood(&text)?.reading, text),
            FeedbackFor::Reading { reading, text } => (reading, text),
        };
        let feedback = rec::record_feedback(&self.store, &song.id, liked, &reading, &text)?;
        self.forget_pool();
        self.publish(Event::Feedback { feedback });
        Ok(FeedbackGiven {
            song,
            liked,
            reading,
        })
    }

    pub fn feedback_list(&self) -> anyhow::Result<Vec<FeedbackEntry>> {
        rec::load_feedback(&self.store)?
            .into_iter()
            .map(|feedback| {
                let song = self.store.song(&feedback.song_id)?;
                Ok(FeedbackEntry { feedback, song })
            })
            .collect()
    }

    pub fn feedback_clear(&self) -> anyhow::Result<usize> {
        let n = rec::clear_feedback(&self.store)?;
        self.forget_pool();
        self.publish(Event::FeedbackCleared);
        Ok(n)
    }

    pub fn scan(
        &self,
        dirs: &[PathBuf],
        progress: &mut dyn FnMut(Progress),
    ) -> anyhow::Result<ScanSummary> {
        let summary = crate::library::scan::scan(&self.store, dirs, self.settings.scan, &mut |p| {
            progress(Progress::Scan(p))
        });
        self.library_changed();
        Ok(summary?)
    }

    pub fn scan_mpd(&self, progress: &mut dyn FnMut(Progress)) -> anyhow::Result<ImportReport> {
        let report = crate::player::import_library(&self.settings.mpd, &self.store, &mut |songs| {
            progress(Progress::MpdListed { songs })
        });
        self.library_changed();
        Ok(report?)
    }

    pub fn import(
        &self,
        req: &ImportRequest,
        progress: &mut dyn FnMut(Progress),
    ) -> anyhow::Result<ImportSummary> {
        let map = ColumnMap::parse(&req.map)?;
        let summary = crate::library::import::import_file(
            &self.store,
            &req.file,
            req.format,
            &map,
            req.header,
            &mut |p| progress(Progress::Import(p)),
        );
        self.library_changed();
        Ok(summary?)
    }

    /// Writes a full backup as JSONL; returns the number of records.
    pub fn export(&self, path: &Path) -> anyhow::Result<usize> {
        crate::files::write_atomic(path, |out| {
            crate::store::export_jsonl(&self.store, out).map_err(anyhow::Error::from)
        })
    }

    fn library_changed(&self) {
        self.forget_pool();
        self.publish(Event::LibraryChanged);
    }
}

/// A reading with only a place on the map.
fn point_reading(valence: f32, arousal: f32) -> MoodReading {
    MoodReading {
        emotions: vec![0.0; LABELS.len()],
        valence,
        arousal,
    }
}

/// `moodtape-<words>-<time>.m3u8`, from the first words of the mood.
pub fn export_name(hint: &str, now: u64) -> String {
    let words: Vec<String> = normalize_name(hint)
        .split_whitespace()
        .take(5)
        .map(str::to_string)
        .collect();
    let slug = if words.is_empty() {
        "playlist".to_string()
    } else {
        words.join("-")
    };
    format!("moodtape-{slug}-{now}.m3u8")
}
