//! The playlist pane: the ranked songs with why each is there, likes and dislikes, and the keys that act on it.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::theme::quadrant_glyph;
use super::{fit, pane_block, scroll_offset, Theme};
use crate::tui::action::{Action, Pane};
use crate::tui::state::{App, MoodState};

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let pl = &app.playlist;
    let mut extra = Vec::new();
    if let Some(src) = &pl.source {
        extra.push(Span::styled(
            format!("{} ", crate::sanitize::clean_line(&src.describe())),
            theme.dim(),
        ));
    }
    if !pl.entries.is_empty() {
        extra.push(Span::styled(
            format!("· {} ", pl.entries.len()),
            theme.dim(),
        ));
    }
    if pl.pending.is_some() {
        extra.push(Span::styled(
            "· ranking… ",
            Style::default().fg(theme.accent),
        ));
    }
    let block = pane_block(Pane::Playlist, extra, area.width, app, theme);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height == 0 || inner.width < 10 {
        return;
    }
    let width = inner.width as usize;
    if pl.entries.is_empty() {
        let km = &app.options.keymap;
        let text = if let Some(err) = &pl.error {
            Line::from(Span::styled(
                crate::sanitize::clean_line(err),
                theme.error(),
            ))
        } else if matches!(app.mood.state, MoodState::Reading { .. }) {
            Line::from(Span::styled(
                "reading your mood…",
                Style::default().fg(theme.accent),
            ))
        } else if pl.pending.is_some() {
            Line::from(Span::styled(
                "ranking songs…",
                Style::default().fg(theme.accent),
            ))
        } else {
            Line::from(Span::styled(
                format!(
                    "Type a mood ({}), pick a point on the map ({}, then Enter), or press {} on a song.",
                    km.keys_label(&Action::FocusMood),
                    km.keys_label(&Action::FocusMap),
                    km.keys_label(&Action::Similar),
                ),
                theme.dim(),
            ))
        };
        f.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), inner);
        return;
    }
    let focused = app.focus == Pane::Playlist;
    // The selected song's whole reason gets a line of its own, and with more room the keys get one too.
    let why_rows = usize::from(inner.height >= 4 && focused);
    let hint_rows = usize::from(inner.height >= 10 && focused);
    let body = (inner.height as usize).saturating_sub(hint_rows + why_rows);
    let offset = scroll_offset(pl.offset.get(), pl.selected, body, pl.entries.len());
    pl.offset.set(offset);
    let mut lines = Vec::new();
    for (n, e) in pl.entries.iter().enumerate().skip(offset).take(body) {
        let selected = n == pl.selected;
        let base = if selected && focused {
            theme.selection()
        } else {
            Style::default().fg(theme.fg)
        };
        let dim = if selected && focused {
            base
        } else {
            base.patch(theme.dim())
        };
        let feedback = match e.feedback {
            Some(true) => "♥",
            Some(false) => "✗",
            None => " ",
        };
        let name = format!(
            "{} – {}",
            crate::sanitize::clean_line(&e.song.artist),
            crate::sanitize::clean_line(&e.song.title)
        );
        let lead = format!("{:>2} ", n + 1);
        let room = width.saturating_sub(lead.len() + 4);
        // Narrow panes show the names only; the reason is on the line below the list.
        let name_w = if room >= 46 { room * 11 / 20 } else { room };
        let reason_w = room.saturating_sub(name_w + 1);
        let mut spans = vec![
            Span::styled(lead, dim),
            Span::styled(
                quadrant_glyph(e.quadrant),
                if selected && focused {
                    base
                } else {
                    Style::default().fg(theme.quadrant(e.quadrant))
                },
            ),
            Span::styled(" ", base),
            Span::styled(
                feedback,
                base.fg(if e.feedback == Some(false) {
                    theme.error
                } else {
                    theme.ok
                }),
            ),
            Span::styled(" ", base),
            Span::styled(fit(&name, name_w), base),
        ];
        if reason_w > 3 {
            spans.push(Span::styled(" ", base));
            spans.push(Span::styled(
                fit(&crate::sanitize::clean_line(&e.reason), reason_w),
                dim,
            ));
        }
        lines.push(Line::from(spans));
    }
    while lines.len() < body {
        lines.push(Line::default());
    }
    if why_rows > 0 {
        if let Some(e) = pl.entries.get(pl.selected) {
            lines.push(Line::from(vec![
                Span::styled("why: ", Style::default().fg(theme.accent)),
                Span::styled(
                    fit(
                        &crate::sanitize::clean_line(&e.reason),
                        width.saturating_sub(5),
                    ),
                    Style::default().fg(theme.fg),
                ),
            ]));
        }
    }
    if hint_rows > 0 {
        let km = &app.options.keymap;
        let hint = format!(
            "{}/{} like/dislike · {} remove · {}/{} move · {} export · {} mpd · {} player",
            km.keys_label(&Action::Like),
            km.keys_label(&Action::Dislike),
            first(&km.keys_label(&Action::Remove)),
            km.keys_label(&Action::MoveUp),
            km.keys_label(&Action::MoveDown),
            km.keys_label(&Action::Export),
            km.keys_label(&Action::SendMpd),
            km.keys_label(&Action::SendPlayer),
        );
        lines.push(Line::from(Span::styled(
            fit(&hint, width),
            theme.dim().add_modifier(Modifier::ITALIC),
        )));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

fn first(label: &str) -> &str {
    label.split(' ').next().unwrap_or(label)
}
