//! The application: state, actions, the main loop and key routing.

pub mod stats;

use crate::cli::Context;

/// Opens the TUI on the library.
pub fn run_tui(ctx: &Context) -> anyhow::Result<i32> {
    let store = ctx.open_store()?;
    let songs = store.all_songs()?;
    let mut terminal = ratatui::init();
    let result = basic_loop(&mut terminal, &songs);
    ratatui::restore();
    result.map(|_| 0)
}

fn basic_loop(
    terminal: &mut ratatui::DefaultTerminal,
    songs: &[crate::library::Song],
) -> anyhow::Result<()> {
    use crossterm::event::{self, Event, KeyCode, KeyEventKind};
    use ratatui::widgets::{Block, List, ListItem, ListState};
    let mut state = ListState::default().with_selected(Some(0));
    loop {
        terminal.draw(|f| {
            let items: Vec<ListItem> = songs
                .iter()
                .map(|s| ListItem::new(format!("{} - {}", s.artist, s.title)))
                .collect();
            let list = List::new(items)
                .block(
                    Block::bordered()
                        .title(format!(" moodtape — {} songs (q quits) ", songs.len())),
                )
                .highlight_symbol("> ");
            f.render_stateful_widget(list, f.area(), &mut state);
        })?;
        if let Event::Key(key) = event::read()? {
            if key.kind != KeyEventKind::Press {
                continue;
            }
            match key.code {
                KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                KeyCode::Down | KeyCode::Char('j') => state.select_next(),
                KeyCode::Up | KeyCode::Char('k') => state.select_previous(),
                _ => {}
            }
        }
    }
}
