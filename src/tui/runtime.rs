//! The main loop: the terminal, the app, the workers and the core tied together. The core is this process's own
//! session (which then serves other moodtapes), or the running moodtape that holds the database, which this TUI
//! attaches to as a client.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crossterm::event::{self, Event as TermEvent, KeyEventKind, MouseButton, MouseEventKind};

use super::action::Action;
use super::keymap::Keymap;
use super::state::{App, AppOptions};
use super::view::Theme;
use super::workers::Workers;
use crate::server::{Core, Link};
use crate::service::{Answer, Call, Context};

/// How long quitting waits for a job to finish the batch it is storing.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// Runs the TUI until the user quits.
pub fn run(ctx: &Context) -> anyhow::Result<i32> {
    // Everything that can fail on bad settings fails here, before the terminal changes.
    let theme = Theme::load(&ctx.theme, &ctx.paths.config_dir, Theme::no_color_env())
        .map_err(anyhow::Error::msg)?;
    let keymap = Keymap::with_overrides(&ctx.config.keys)
        .map_err(|e| anyhow::anyhow!("config file {}: {e}", ctx.config_path.display()))?;
    let core = Arc::new(Core::open_interactive(ctx)?);
    if let Some(session) = core.session() {
        session.model().warm();
        session.start_upkeep();
        session.start_watch();
    }
    let mut app = open_app(ctx, &core, keymap)?;
    // The library is read: the check of the database against its manifest may have the disk now.
    if let Some(session) = core.session() {
        session.store().start_verification();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let workers = Workers::start(core.clone(), tx).context("cannot start the worker threads")?;
    workers.load_moods(&app.songs);

    let mouse = ctx.config.ui.mouse;
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            workers.shutdown(Duration::ZERO);
            close(core);
            return Err(anyhow::Error::new(e).context("cannot set up the terminal"));
        }
    };
    install_panic_hook(mouse);
    enable_extras(mouse);
    let stop = stop_on_signals();
    let fps = ctx.config.ui.max_fps.clamp(1, 240);
    let result = event_loop(
        &mut terminal,
        &mut app,
        &theme,
        &rx,
        &workers,
        Loop { fps, mouse, stop },
    );
    disable_extras(mouse);
    ratatui::restore();
    workers.shutdown(SHUTDOWN_WAIT);
    close(core);
    result.map(|_| 0)
}

/// The app on the library as the core has it: what the first frame shows. Analyses come later, from a worker.
pub fn open_app(ctx: &Context, core: &Core, keymap: Keymap) -> anyhow::Result<App> {
    let songs = match core.call(Call::Library, &mut |_| {}, &AtomicBool::new(false))? {
        Answer::Library { songs } => songs,
        other => return Err(other.unexpected("library").into()),
    };
    let mut app = App::new(
        songs,
        AppOptions {
            keymap,
            database: short_path(&ctx.db_path),
            player_command: ctx.config.player.command.clone(),
            demo: ctx.demo,
        },
    );
    if let Link::Remote(client) = &core.link {
        app.jobs.attached_to = Some(client.hello.pid);
    }
    crate::store::release_freed_memory();
    Ok(app)
}

/// Closes the core once the workers let go of it (they were given up to the shutdown wait).
fn close(core: Arc<Core>) {
    match Arc::try_unwrap(core) {
        Ok(core) => core.close(SHUTDOWN_WAIT),
        Err(shared) => {
            if let Some(session) = shared.session() {
                session.close(SHUTDOWN_WAIT);
            }
        }
    }
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

/// SIGTERM, SIGHUP (the SSH session closed) and SIGINT from outside end the TUI the way `q` does: the loop
/// sees the flag within a frame, then the terminal is restored and the database flushed and released.
fn stop_on_signals() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
    ] {
        if let Err(e) = signal_hook::flag::register(signal, stop.clone()) {
            tracing::warn!(signal, error = %e, "cannot watch the signal");
        }
    }
    stop
}

/// Ctrl-Z: hand the terminal back, stop until the shell's `fg`, then take it again and redraw everything.
#[cfg(unix)]
fn suspend(terminal: &mut ratatui::DefaultTerminal, mouse: bool) -> anyhow::Result<()> {
    disable_extras(mouse);
    ratatui::restore();
    // SAFETY: raise only sends a signal to this process; SIGTSTP's default action stops it until SIGCONT.
    unsafe {
        libc::raise(libc::SIGTSTP);
    }
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
    enable_extras(mouse);
    terminal.clear()?;
    Ok(())
}

/// How the main loop runs.
struct Loop {
    fps: u32,
    mouse: bool,
    /// Set by a signal that ends the TUI.
    stop: Arc<AtomicBool>,
}

fn is_suspend(ev: &TermEvent) -> bool {
    matches!(
        ev,
        TermEvent::Key(k) if k.kind == KeyEventKind::Press
            && k.code == crossterm::event::KeyCode::Char('z')
            && k.modifiers.contains(crossterm::event::KeyModifiers::CONTROL)
    )
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    theme: &Theme,
    rx: &Receiver<Action>,
    workers: &Workers,
    how: Loop,
) -> anyhow::Result<()> {
    let Loop { fps, mouse, stop } = how;
    let frame = Duration::from_millis(u64::from(1000 / fps).max(1));
    let mut last_draw: Option<Instant> = None;
    loop {
        let since = last_draw.map_or(frame, |t| t.elapsed());
        if app.dirty && since >= frame {
            terminal.draw(|f| super::view::draw(f, app, theme))?;
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
                let ev = event::read()?;
                if is_suspend(&ev) {
                    #[cfg(unix)]
                    suspend(terminal, mouse)?;
                    app.dirty = true;
                } else {
                    on_terminal_event(app, area, ev);
                }
                if app.quit || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        for action in rx.try_iter().take(10_000) {
            app.update(action);
        }
        app.tick();
        for effect in app.take_effects() {
            if let Err(reason) = workers.send(effect) {
                app.update(Action::Reply(super::state::Reply::Failed(reason)));
            }
        }
        if app.quit || stop.load(Ordering::SeqCst) {
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
            app.update(Action::Edit(super::editor::EditOp::Paste(text)))
        }
        TermEvent::Mouse(m) => {
            let action = match m.kind {
                MouseEventKind::Down(MouseButton::Left) => {
                    super::view::click_action(area, app, m.column, m.row)
                }
                MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                    let delta = if m.kind == MouseEventKind::ScrollDown {
                        1
                    } else {
                        -1
                    };
                    super::view::pane_at(area, app, m.column, m.row)
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
