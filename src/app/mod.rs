//! The application: state, actions, `update()`, key routing, the worker threads and the main loop that ties them
//! to the terminal.

pub mod action;
pub mod editor;
pub mod keymap;
pub mod state;
pub mod stats;
pub mod worker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crossterm::event::{self, Event as TermEvent, KeyEventKind, MouseButton, MouseEventKind};

use crate::cli::Context;
use crate::store::Store;
use crate::ui::Theme;
use action::Action;
use keymap::Keymap;
use state::{App, AppOptions, Effect};
use worker::{Event, ModelRequest, PlayerRequest, WorkerSetup, Workers};

/// How long quitting waits for a job to finish the batch it is storing.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// Opens the TUI on the library.
pub fn run_tui(ctx: &Context) -> anyhow::Result<i32> {
    // Everything that can fail on bad settings fails here, before the terminal changes.
    let theme = Theme::load(&ctx.theme, &ctx.paths.config_dir, Theme::no_color_env())
        .map_err(anyhow::Error::msg)?;
    let keymap = Keymap::with_overrides(&ctx.config.keys)
        .map_err(|e| anyhow::anyhow!("config file {}: {e}", ctx.config_path.display()))?;
    let store = Arc::new(ctx.open_store()?);
    let songs = store.all_songs()?;
    let mut app = App::new(
        songs.clone(),
        AppOptions {
            keymap,
            database: short_path(&ctx.db_path),
            limit: ctx.config.recommend.limit,
            journey_length: ctx.config.recommend.journey_length,
            player_command: ctx.config.player.command.clone(),
        },
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let workers = Workers::start(
        WorkerSetup {
            store: store.clone(),
            engine: crate::emotion::EngineOptions::from_context(ctx, false),
            weights: crate::recommend::Weights::from_config(&ctx.config.recommend),
            songs,
            fetch_lyrics: (!ctx.demo && !ctx.offline)
                .then(|| crate::lyrics::fetch::FetchSettings::from_context(ctx)),
            mpd: crate::player::MpdTarget::from_context(ctx),
        },
        tx,
    )
    .context("cannot start the worker threads")?;

    let mouse = ctx.config.ui.mouse;
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            workers.shutdown(Duration::ZERO);
            return Err(anyhow::Error::new(e).context("cannot set up the terminal"));
        }
    };
    install_panic_hook(mouse);
    enable_extras(mouse);
    let fps = ctx.config.ui.max_fps.clamp(1, 240);
    let export_dir = ctx.paths.data_dir.join("playlists");
    let result = event_loop(
        &mut terminal,
        &mut app,
        &theme,
        &rx,
        &workers,
        &store,
        fps,
        &export_dir,
    );
    disable_extras(mouse);
    ratatui::restore();
    workers.shutdown(SHUTDOWN_WAIT);
    let _ = store.flush();
    result.map(|_| 0)
}

/// The path with the home dir written as `~`.
fn short_path(path: &std::path::Path) -> String {
    let text = path.display().to_string();
    match std::env::var("HOME") {
        Ok(home) if !home.is_empty() && text.starts_with(&home) => {
            format!("~{}", &text[home.len()..])
        }
        _ => text,
    }
}

fn enable_extras(mouse: bool) {
    use crossterm::execute;
    let mut out = std::io::stdout();
    if mouse {
        let _ = execute!(out, crossterm::event::EnableMouseCapture);
    }
    let _ = execute!(out, crossterm::event::EnableBracketedPaste);
}

fn disable_extras(mouse: bool) {
    use crossterm::execute;
    let mut out = std::io::stdout();
    if mouse {
        let _ = execute!(out, crossterm::event::DisableMouseCapture);
    }
    let _ = execute!(out, crossterm::event::DisableBracketedPaste);
}

/// Set by the panic hook; the main loop then ends, since the terminal is no longer in the TUI's hands.
static PANICKED: AtomicBool = AtomicBool::new(false);

/// ratatui's hook restores the screen; this one also turns mouse reporting and paste mode off first, so a panic
/// anywhere (the main loop or a worker) leaves a shell that works, then hands over to the hook before it.
fn install_panic_hook(mouse: bool) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICKED.store(true, Ordering::SeqCst);
        disable_extras(mouse);
        ratatui::restore();
        previous(info);
    }));
}

#[allow(clippy::too_many_arguments)]
fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    theme: &Theme,
    rx: &Receiver<Event>,
    workers: &Workers,
    store: &Store,
    fps: u32,
    export_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let frame = Duration::from_millis(u64::from(1000 / fps).max(1));
    let mut last_draw: Option<Instant> = None;
    loop {
        let since = last_draw.map_or(frame, |t| t.elapsed());
        if app.dirty && since >= frame {
            terminal.draw(|f| crate::ui::draw(f, app, theme))?;
            app.dirty = false;
            last_draw = Some(Instant::now());
        }
        // Wait for input at most a frame, less when a frame is due or there is filtering to do.
        let timeout = if app.busy() {
            Duration::ZERO
        } else if app.dirty {
            frame.saturating_sub(last_draw.map_or(frame, |t| t.elapsed()))
        } else {
            frame
        };
        if event::poll(timeout)? {
            let area = terminal.size()?;
            let area = ratatui::layout::Rect::new(0, 0, area.width, area.height);
            loop {
                on_terminal_event(app, area, event::read()?);
                if app.quit || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        for ev in rx.try_iter().take(10_000) {
            app.update(Action::Worker(ev));
        }
        app.tick();
        for effect in app.take_effects() {
            if let Err(reason) = dispatch(effect, app, workers, store, export_dir) {
                app.update(Action::Worker(Event::JobError(reason)));
            }
        }
        if app.quit {
            return Ok(());
        }
        if PANICKED.load(Ordering::SeqCst) {
            anyhow::bail!(
                "a background job crashed (its message is above); what was stored is kept"
            );
        }
    }
}

fn on_terminal_event(app: &mut App, area: ratatui::layout::Rect, ev: TermEvent) {
    match ev {
        TermEvent::Key(key) if key.kind == KeyEventKind::Press => app.handle_key(&key),
        TermEvent::Paste(text) if app.typing() => {
            app.update(Action::Edit(editor::EditOp::Paste(text)))
        }
        TermEvent::Mouse(m) => {
            let action = match m.kind {
                MouseEventKind::Down(MouseButton::Left) => {
                    crate::ui::click_action(area, app, m.column, m.row)
                }
                MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                    let delta = if m.kind == MouseEventKind::ScrollDown {
                        1
                    } else {
                        -1
                    };
                    crate::ui::pane_at(area, app, m.column, m.row)
                        .map(|(pane, _)| Action::Scroll { pane, delta })
                }
                _ => None,
            };
            if let Some(a) = action {
                app.update(a);
            }
        }
        TermEvent::Resize(..) => app.dirty = true,
        _ => {}
    }
}

/// Hands an effect to the worker that does it; an error says why it could not be handed over.
fn dispatch(
    effect: Effect,
    app: &mut App,
    workers: &Workers,
    store: &Store,
    export_dir: &std::path::Path,
) -> Result<(), String> {
    let gone = |what: &str| format!("the {what} worker has stopped; restart moodtape");
    match effect {
        Effect::ReadMood { id, text } => workers
            .model
            .send(ModelRequest::Read { id, text })
            .map_err(|_| gone("model")),
        Effect::Recommend(req) => workers.recommend.send(req).map_err(|_| gone("recommend")),
        Effect::Export { songs, hint } => {
            let path = export_dir.join(export_name(&hint, crate::store::now_s()));
            workers
                .player
                .send(PlayerRequest::Export { path, songs })
                .map_err(|_| gone("player"))
        }
        Effect::SendMpd(songs) => workers
            .player
            .send(PlayerRequest::Mpd { songs })
            .map_err(|_| gone("player")),
        Effect::SendPlayer { template, songs } => workers
            .player
            .send(PlayerRequest::Command { template, songs })
            .map_err(|_| gone("player")),
        Effect::LoadDetail(id) => {
            // Two small reads from sled: quick enough for the main loop, and the pane never shows stale lyrics.
            let lyrics = store.lyrics.get(id.as_str()).map_err(|e| e.to_string())?;
            let mood = match app.song_index(&id) {
                Some(i) => {
                    crate::emotion::stored_mood(store, &crate::emotion::model_key(), &app.songs[i])
                        .map_err(|e| e.to_string())?
                }
                None => None,
            };
            app.update(Action::Worker(Event::Detail { id, lyrics, mood }));
            Ok(())
        }
    }
}

/// `moodtape-<words>-<time>.m3u8`, from the first words of the mood.
pub fn export_name(hint: &str, now: u64) -> String {
    let words: Vec<String> = crate::library::normalize_name(hint)
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
