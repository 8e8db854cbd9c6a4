//! Drawing only: the layout, the panes (mood, library, map, playlist, lyrics), the status bar, the help overlay and
//! the themes. Everything here reads the app's state and never changes it (scroll offsets aside, which are kept in
//! cells so a list keeps its selection in view). Every text drawn from outside (tags, lyrics, errors) is cleaned of
//! terminal escapes first.

pub mod help;
pub mod library;
pub mod lyrics;
pub mod map;
pub mod mood;
pub mod playing;
pub mod playlist;
pub mod status;
pub mod theme;
pub mod welcome;

use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Wrap};
use ratatui::Frame;
use unicode_width::UnicodeWidthChar;

use crate::tui::action::{Action, Pane};
use crate::tui::state::App;
pub use theme::Theme;

/// The smallest terminal moodtape draws its panes in.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// Where each pane goes on a screen of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub mood: Rect,
    pub library: Rect,
    pub map: Rect,
    /// The playlist and the lyrics share a place on small screens: the one focused last is shown.
    pub playlist: Option<Rect>,
    pub lyrics: Option<Rect>,
    /// What MPD plays, a row above the status bar, while the app follows MPD.
    pub now_playing: Option<Rect>,
    pub status: Rect,
}

/// Large screens get a taller mood pane with emotion bars, and room for both playlist and lyrics.
pub fn is_wide(area: Rect) -> bool {
    area.width >= 110 && area.height >= 32
}

/// The panes' places, or none when the screen is below the minimum size.
pub fn areas(area: Rect, app: &App) -> Option<Areas> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    let wide = is_wide(area);
    // Until a mood is read the pane holds only its input and one line (hint, progress or error); the room goes
    // to the library and the lyrics.
    let mood_rows = if app.mood.current.is_none() {
        4
    } else if wide {
        8
    } else {
        5
    };
    let playing_rows = u16::from(app.playing.visible());
    let [mood, body, now_playing, status] = Layout::vertical([
        Constraint::Length(mood_rows),
        Constraint::Min(8),
        Constraint::Length(playing_rows),
        Constraint::Length(1),
    ])
    .areas(area);
    let now_playing = (playing_rows > 0).then_some(now_playing);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
    if wide {
        let [library, lyrics] =
            Layout::vertical([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(left);
        let [map, playlist] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(right);
        Some(Areas {
            mood,
            library,
            map,
            playlist: Some(playlist),
            lyrics: Some(lyrics),
            now_playing,
            status,
        })
    } else {
        let [map, shared] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(right);
        let show_lyrics = app.focus == Pane::Lyrics;
        Some(Areas {
            mood,
            library: left,
            map,
            playlist: (!show_lyrics).then_some(shared),
            lyrics: show_lyrics.then_some(shared),
            now_playing,
            status,
        })
    }
}

/// Draws the whole screen.
pub fn draw(f: &mut Frame, app: &App, theme: &Theme) {
    let area = f.area();
    f.render_widget(Block::default().style(theme.base()), area);
    let Some(a) = areas(area, app) else {
        draw_too_small(f, area, theme);
        return;
    };
    mood::draw(f, a.mood, app, theme);
    library::draw(f, a.library, app, theme);
    map::draw(f, a.map, app, theme);
    if let Some(r) = a.playlist {
        playlist::draw(f, r, app, theme);
    }
    if let Some(r) = a.lyrics {
        lyrics::draw(f, r, app, theme);
    }
    if let Some(r) = a.now_playing {
        playing::draw(f, r, app, theme, std::time::Instant::now());
    }
    status::draw(f, a.status, app, theme);
    if app.layer() == crate::tui::layer::Layer::Help {
        help::draw(f, area, app, theme);
    }
    scrub(f.buffer_mut());
}

/// The last line of defence: whatever a pane drew, no cell reaches the terminal holding a control character, an
/// escape or an invisible/bidi mark (the panes clean their text too; this holds for text they forgot).
fn scrub(buf: &mut ratatui::buffer::Buffer) {
    for cell in buf.content.iter_mut() {
        if cell.symbol().chars().any(unsafe_in_cell) {
            let clean: String = cell
                .symbol()
                .chars()
                .filter(|c| !unsafe_in_cell(*c))
                .collect();
            cell.set_symbol(if clean.is_empty() { " " } else { &clean });
        }
    }
}

/// In a cell even a newline or a tab would move the cursor.
fn unsafe_in_cell(c: char) -> bool {
    c.is_control() || crate::sanitize::is_unsafe_for_terminal(c)
}

fn draw_too_small(f: &mut Frame, area: Rect, theme: &Theme) {
    let text = vec![
        Line::from(Span::styled(
            "moodtape needs a bigger terminal",
            theme.error(),
        )),
        Line::from(format!(
            "at least {MIN_WIDTH}x{MIN_HEIGHT}; this one is {}x{}",
            area.width, area.height
        )),
        Line::from(Span::styled(
            "enlarge the window, or press q to quit",
            theme.dim(),
        )),
    ];
    let top = area.height.saturating_sub(3) / 2;
    let rect = Rect::new(area.x, area.y + top, area.width, area.height - top);
    f.render_widget(
        Paragraph::new(text)
            .alignment(ratatui::layout::Alignment::Center)
            .wrap(Wrap { trim: true })
            .style(theme.base()),
        rect,
    );
}

/// The frame of a pane: thick and coloured when it has the focus, with its number key in the title.
/// A pane's frame with its title: the pane's name and key, then `extra` parts as far as they fit in `width`
/// columns. A part that does not fit whole is cut between words with an ellipsis, or left out when too little of
/// it would show.
pub fn pane_block<'a>(
    pane: Pane,
    extra: Vec<Span<'a>>,
    width: u16,
    app: &App,
    theme: &Theme,
) -> Block<'a> {
    let focused = app.focus == pane;
    let key = match pane {
        Pane::Mood => "m",
        Pane::Library => "1",
        Pane::Map => "2",
        Pane::Playlist => "3",
        Pane::Lyrics => "4",
    };
    let title_style = if focused {
        theme.border(true)
    } else {
        Style::default().fg(theme.fg)
    };
    let mut spans = vec![
        Span::styled(format!(" {} ", pane.title()), title_style),
        Span::styled(format!("[{key}] "), theme.dim()),
    ];
    // Two corners and a column of border to spare.
    let mut room = (width as usize).saturating_sub(3);
    for span in &spans {
        room = room.saturating_sub(span.width());
    }
    for span in extra {
        let w = span.width();
        if w <= room {
            room -= w;
            spans.push(span);
            continue;
        }
        let cut = cut_between_words(&span.content, room);
        if cut.chars().count() >= 6 {
            spans.push(Span::styled(cut, span.style));
        }
        break;
    }
    Block::bordered()
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(theme.border(focused))
        .title(Line::from(spans))
        .style(theme.base())
}

/// `text` cut to at most `width` columns at the last space that fits, with an ellipsis (empty when no word fits).
fn cut_between_words(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for word in text.split_inclusive(' ') {
        let w = unicode_width::UnicodeWidthStr::width(word.trim_end());
        if used + w + 1 > width {
            break;
        }
        out.push_str(word);
        used += unicode_width::UnicodeWidthStr::width(word);
    }
    // A dangling dash or separator reads as part of a name; the ellipsis says enough.
    let out = out.trim_end_matches([' ', '–', '-', '·', ',', ':']);
    if out.is_empty() {
        String::new()
    } else {
        format!("{out}… ")
    }
}

/// Cuts `text` to `width` columns, with an ellipsis when it had to cut, and pads it to `width`.
pub fn fit(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    let total: usize = text.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= width {
        out.push_str(text);
        used = total;
    } else if width > 0 {
        for c in text.chars() {
            let w = c.width().unwrap_or(0);
            if used + w + 1 > width {
                break;
            }
            out.push(c);
            used += w;
        }
        out.push('…');
        used += 1;
    }
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
    out
}

/// `text` cut and padded to `width`, with the characters at `positions` in `mark` style.
pub fn fit_marked<'a>(
    text: &str,
    width: usize,
    positions: &[usize],
    base: Style,
    mark: Style,
) -> Vec<Span<'a>> {
    let fitted = fit(text, width);
    if positions.is_empty() {
        return vec![Span::styled(fitted, base)];
    }
    let mut spans = Vec::new();
    let mut run = String::new();
    let mut run_marked = false;
    for (i, c) in fitted.chars().enumerate() {
        let marked = positions.contains(&i) && i < text.chars().count();
        if marked != run_marked && !run.is_empty() {
            spans.push(Span::styled(
                std::mem::take(&mut run),
                if run_marked { base.patch(mark) } else { base },
            ));
        }
        run_marked = marked;
        run.push(c);
    }
    if !run.is_empty() {
        spans.push(Span::styled(
            run,
            if run_marked { base.patch(mark) } else { base },
        ));
    }
    spans
}

/// A horizontal bar of `fraction` (0..1) in `width` cells, in eighths.
pub fn bar(fraction: f32, width: usize) -> String {
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let eighths = (fraction.clamp(0.0, 1.0) * (width * 8) as f32).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    s.push_str(PARTS[eighths % 8]);
    let used = eighths / 8 + usize::from(!eighths.is_multiple_of(8));
    s.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
    s
}

/// Keeps the row `selected` in a window of `height` rows starting at the stored offset; returns the new offset.
pub fn scroll_offset(offset: usize, selected: usize, height: usize, len: usize) -> usize {
    if height == 0 {
        return 0;
    }
    let mut o = offset.min(len.saturating_sub(height));
    if selected < o {
        o = selected;
    } else if selected >= o + height {
        o = selected + 1 - height;
    }
    o
}

/// The pane under a screen position.
pub fn pane_at(area: Rect, app: &App, column: u16, row: u16) -> Option<(Pane, Rect)> {
    let a = areas(area, app)?;
    let pos = Position::new(column, row);
    [
        (Pane::Mood, Some(a.mood)),
        (Pane::Library, Some(a.library)),
        (Pane::Map, Some(a.map)),
        (Pane::Playlist, a.playlist),
        (Pane::Lyrics, a.lyrics),
    ]
    .into_iter()
    .find_map(|(p, r)| r.filter(|r| r.contains(pos)).map(|r| (p, r)))
}

/// What a left click at a screen position does: focus a pane and pick its row, or pick a point on the map.
pub fn click_action(area: Rect, app: &App, column: u16, row: u16) -> Option<Action> {
    let (pane, rect) = pane_at(area, app, column, row)?;
    let inner = Block::bordered().inner(rect);
    let inside = inner.contains(Position::new(column, row));
    Some(match pane {
        Pane::Mood => Action::FocusMood,
        Pane::Map if inside => {
            let (v, a) = map::point_at(inner, app.map.range, column, row);
            Action::MapClick {
                valence: v,
                arousal: a,
            }
        }
        Pane::Library if inside => {
            let first = inner.y + library::header_rows(app);
            Action::Click {
                pane,
                row: (row >= first).then(|| usize::from(row - first)),
            }
        }
        Pane::Playlist if inside => Action::Click {
            pane,
            row: Some(usize::from(row - inner.y)),
        },
        _ => Action::Click { pane, row: None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_with_an_ellipsis_and_pads() {
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("日本語", 4), "日… ");
    }

    #[test]
    fn bars_use_eighths() {
        assert_eq!(bar(1.0, 3), "███");
        assert_eq!(bar(0.5, 3), "█▌ ");
        assert_eq!(bar(0.0, 2), "  ");
    }

    #[test]
    fn offset_keeps_the_selection_in_view() {
        assert_eq!(scroll_offset(0, 15, 10, 100), 6);
        assert_eq!(scroll_offset(6, 3, 10, 100), 3);
        assert_eq!(scroll_offset(95, 99, 10, 100), 90);
    }
}
