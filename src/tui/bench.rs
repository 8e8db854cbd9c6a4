//! The TUI measuring itself for `moodtape bench ui`: the startup the real TUI goes through (core, library, app,
//! first frame) on a ratatui `TestBackend`, then the stored analyses read in as the background worker reads them,
//! then the library filter typed a key at a time with each matcher.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::action::Action;
use super::editor::EditOp;
use super::keymap::Keymap;
use super::state::Reply;
use super::view::Theme;
use crate::lab::bench_ui::{FilterBench, Latency, Memory, Step, UiBench};
use crate::library::search::{self, Engine};
use crate::server::Core;
use crate::service::Context;

/// A typical terminal.
pub const WIDTH: u16 = 160;
pub const HEIGHT: u16 = 48;

/// What a user might type into the filter of a big library.
pub fn queries() -> Vec<String> {
    [
        "love",
        "night rain",
        "the blue",
        "heart",
        "sun",
        "city lights",
    ]
    .map(String::from)
    .to_vec()
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Measures the TUI on the database `ctx` names (which `bench ui` has filled with a generated library). The model
/// and the upkeep are not started: in the TUI they run on threads of their own and never hold up a frame.
pub fn measure(ctx: &Context) -> anyhow::Result<UiBench> {
    let start = Instant::now();
    let theme = Theme::load(&ctx.theme, &ctx.paths.config_dir, Theme::no_color_env())
        .map_err(anyhow::Error::msg)?;
    let keymap = Keymap::with_overrides(&ctx.config.keys).map_err(anyhow::Error::msg)?;
    let core = Core::open_interactive(ctx)?;
    let opened = (ms(start), Memory::now());
    let mut app = super::runtime::open_app(ctx, &core, keymap)?;
    // As the TUI does once the library is read.
    if let Some(session) = core.session() {
        session.store().start_verification();
    }
    let built = (ms(start), Memory::now());
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT))?;
    terminal.draw(|f| super::view::draw(f, &app, &theme))?;
    let first_frame_ms = ms(start);
    let after_first_frame = Memory::now();
    let steps = vec![
        Step::new("open the database", opened.0, opened.1),
        Step::new(
            "read the library, build the app",
            built.0 - opened.0,
            built.1,
        ),
        Step::new(
            "draw the first frame",
            first_frame_ms - built.0,
            after_first_frame,
        ),
    ];

    let start = Instant::now();
    let ids: Vec<_> = app.songs.iter().map(|s| s.id.clone()).collect();
    // The TUI's own worker code on a thread of its own, its replies applied here as the main loop applies them.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let core = &core;
        scope.spawn(move || super::workers::load_moods(core, ids, &tx, &AtomicBool::new(false)));
        for action in rx {
            if let Action::Reply(Reply::Failed(why)) = &action {
                anyhow::bail!("{why}");
            }
            app.update(action);
        }
        Ok(())
    })?;
    app.settle();
    terminal.draw(|f| super::view::draw(f, &app, &theme))?;
    let moods_loaded_ms = ms(start);
    let after_moods = Memory::now();
    let analyzed = app.moods.iter().filter(|m| m.is_some()).count();

    let queries = queries();
    let mut filter = Vec::new();
    for engine in [Engine::Skim, Engine::Nucleo] {
        app.library.engine = engine;
        let mut samples = Vec::new();
        let mut found = Vec::new();
        for query in &queries {
            app.update(Action::Search);
            for c in query.chars() {
                let t = Instant::now();
                app.update(Action::Edit(EditOp::Insert(c)));
                app.settle();
                terminal.draw(|f| super::view::draw(f, &app, &theme))?;
                samples.push(ms(t));
            }
            found.push(app.library.rows.len());
            app.update(Action::Edit(EditOp::Cancel));
            app.settle();
        }
        let top = queries
            .iter()
            .map(|q| {
                search::search_with(engine, &app.songs, q)
                    .iter()
                    .take(5)
                    .map(|m| app.songs[m.index].display_name())
                    .collect()
            })
            .collect();
        filter.push(FilterBench {
            matcher: engine.name().to_string(),
            keystroke: Latency::of(&samples),
            found,
            top,
        });
    }
    app.library.engine = Engine::default();
    core.close(std::time::Duration::from_secs(3));
    Ok(UiBench {
        songs: app.songs.len(),
        analyzed,
        terminal: format!("{WIDTH}x{HEIGHT}"),
        first_frame_ms,
        first_frame_steps: steps,
        after_first_frame,
        moods_loaded_ms,
        after_moods,
        queries,
        filter,
        generated: false,
        library: ctx.db_path.display().to_string(),
    })
}
