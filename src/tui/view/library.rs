//! The library pane: every song with its quadrant, names, duration and top emotion; the fuzzy filter line with the
//! matched characters highlighted; markers for songs without lyrics, not analyzed yet, read with low confidence
//! (a hollow, dim glyph) or left unread for their language.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::theme::{quadrant_glyph, unsure_glyph};
use super::{fit, fit_marked, pane_block, scroll_offset, Theme};
use crate::emotion::language;
use crate::library::search::Scorer;
use crate::records::format_duration;
use crate::tui::action::Pane;
use crate::tui::state::App;

/// The marker of a song whose lyrics are in a language the model does not read.
pub const OTHER_LANGUAGE_MARK: &str = "≠";

/// Rows above the list: the filter line (when a filter is on or being typed) and the column header.
pub fn header_rows(app: &App) -> u16 {
    1 + u16::from(show_filter(app))
}

fn show_filter(app: &App) -> bool {
    app.library.searching || !app.library.query.is_empty()
}

/// The marker of a song in the first column, and its style.
pub fn marker(app: &App, i: usize, theme: &Theme) -> (&'static str, Style) {
    let song = &app.songs[i];
    match app.moods[i] {
        Some(m) if m.is_unsure() => (unsure_glyph(m.quadrant), theme.dim()),
        Some(m) => (
            quadrant_glyph(m.quadrant),
            Style::default().fg(theme.quadrant(m.quadrant)),
        ),
        None if song.instrumental => ("♪", theme.dim()),
        None if !song.has_lyrics() => ("∅", theme.dim()),
        None if app.skipped.contains_key(&song.id) => (OTHER_LANGUAGE_MARK, theme.dim()),
        None => ("·", theme.dim()),
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let lib = &app.library;
    let total = app.songs.len();
    let mut extra = vec![Span::styled(
        if lib.rows.len() == total {
            format!("{total} songs ")
        } else {
            format!("{} of {total} ", lib.rows.len())
        },
        theme.dim(),
    )];
    extra.push(Span::styled(
        format!(
            "· {}{} ",
            lib.sort.name(),
            if lib.reverse { " ↑" } else { "" }
        ),
        theme.dim(),
    ));
    let block = pane_block(Pane::Library, extra, area.width, app, theme);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height == 0 || inner.width < 10 {
        return;
    }
    if total == 0 {
        super::welcome::draw(f, inner, app, theme);
        return;
    }
    let width = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    let query = lib.query.text();
    if show_filter(app) {
        let mut spans = vec![
            Span::styled(
                "/",
                Style::default()
                    .fg(theme.accent)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::styled(query.clone(), Style::default().fg(theme.fg)),
        ];
        if let Some(p) = lib.filtering() {
            spans.push(Span::styled(
                format!("  filtering {:.0}%", p * 100.0),
                theme.dim(),
            ));
        } else if lib.filter().is_some() {
            spans.push(Span::styled(
                format!("  {} found", lib.rows.len()),
                theme.dim(),
            ));
        }
        lines.push(Line::from(spans));
        if app.layer() == crate::tui::layer::Layer::Filter {
            let x = inner.x
                + 1
                + unicode_width::UnicodeWidthStr::width(
                    query
                        .chars()
                        .take(lib.query.cursor())
                        .collect::<String>()
                        .as_str(),
                ) as u16;
            f.set_cursor_position((x.min(inner.right().saturating_sub(1)), inner.y));
        }
    }

    // Columns: marker, artist, title, time, top emotion (when there is room).
    let emo_w = if width >= 56 { 12 } else { 0 };
    let time_w = 5;
    let names = width.saturating_sub(2 + time_w + 1 + if emo_w > 0 { emo_w + 1 } else { 0 });
    let artist_w = names * 2 / 5;
    let title_w = names.saturating_sub(artist_w + 1);
    let mut header = format!(
        "  {} {} {:>time_w$}",
        fit("Artist", artist_w),
        fit("Title", title_w),
        "Time"
    );
    if emo_w > 0 {
        header.push(' ');
        header.push_str(&fit("Mood", emo_w));
    }
    lines.push(Line::from(Span::styled(
        header,
        theme.dim().add_modifier(Modifier::BOLD),
    )));

    let body = (inner.height as usize).saturating_sub(lines.len());
    if lib.rows.is_empty() {
        let msg = format!(
            "No song matches \"{}\".",
            crate::sanitize::clean_line(&query)
        );
        lines.push(Line::from(Span::styled(msg, theme.dim())));
        f.render_widget(Paragraph::new(lines), inner);
        return;
    }
    let offset = scroll_offset(lib.offset.get(), lib.selected, body, lib.rows.len());
    lib.offset.set(offset);
    let mut marks = lib.filter().and_then(|q| Scorer::new(lib.engine, q));
    let mut positions = |text: &str| marks.as_mut().map_or_else(Vec::new, |m| m.positions(text));
    let focused = app.focus == Pane::Library;
    for (n, &song_i) in lib.rows.iter().enumerate().skip(offset).take(body) {
        let i = song_i as usize;
        let song = &app.songs[i];
        let selected = n == lib.selected;
        let base = if selected && focused {
            theme.selection()
        } else if selected {
            Style::default().fg(theme.fg).add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(theme.fg)
        };
        let (glyph, gstyle) = marker(app, i, theme);
        let mut spans = vec![
            Span::styled(glyph, if selected && focused { base } else { gstyle }),
            Span::styled(" ", base),
        ];
        let mark = theme.highlight();
        // Names are cleaned when stored; cleaning again costs little for the rows in view and guards the terminal.
        let (artist, title) = (
            crate::sanitize::clean_line(&song.artist),
            crate::sanitize::clean_line(&song.title),
        );
        spans.extend(fit_marked(
            &artist,
            artist_w,
            &positions(&artist),
            base,
            mark,
        ));
        spans.push(Span::styled(" ", base));
        spans.extend(fit_marked(&title, title_w, &positions(&title), base, mark));
        let dim = if selected && focused {
            base
        } else {
            base.patch(theme.dim())
        };
        spans.push(Span::styled(
            format!(" {:>time_w$}", format_duration(song.duration_s)),
            dim,
        ));
        if emo_w > 0 {
            let emo = match app.moods[i] {
                Some(m) => m.top().map(|t| t.0).unwrap_or("neutral").to_string(),
                None if song.instrumental => "instrumental".into(),
                None if !song.has_lyrics() => "no lyrics".into(),
                None => match app.skipped.get(&song.id) {
                    Some(lang) => format!("{} lyrics", language::name(lang)),
                    None => "not analyzed".into(),
                },
            };
            let style = match app.moods[i] {
                Some(m) if !(m.is_unsure() || selected && focused) => {
                    base.fg(theme.quadrant(m.quadrant))
                }
                _ => dim,
            };
            spans.push(Span::styled(" ", base));
            spans.push(Span::styled(fit(&emo, emo_w), style));
        }
        lines.push(Line::from(spans));
    }
    f.render_widget(Paragraph::new(lines), inner);
}
