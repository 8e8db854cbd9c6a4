//! The help overlay: every action with its keys from the active keymap, then the editing and mouse keys.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use super::{fit, Theme};
use crate::tui::action::Action;
use crate::tui::state::App;

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let width = area.width.saturating_sub(4).min(100);
    let height = area.height.saturating_sub(2);
    let rect = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    let block = ratatui::widgets::Block::bordered()
        .border_type(ratatui::widgets::BorderType::Double)
        .border_style(theme.border(true))
        .title(Line::from(vec![
            Span::styled(" Keys ", theme.border(true)),
            Span::styled("(esc or ? closes, j/k scroll) ", theme.dim()),
        ]))
        .style(theme.base());
    let inner = block.inner(rect);
    f.render_widget(Clear, rect);
    f.render_widget(block, rect);

    let km = &app.options.keymap;
    let entries: Vec<(String, &str)> = Action::BINDABLE
        .iter()
        .map(|(a, what)| (km.keys_label(a), *what))
        .collect();
    let columns = if inner.width >= 60 { 2 } else { 1 };
    let col_w = inner.width as usize / columns;
    let key_w = 13.min(col_w / 3);
    let rows = entries.len().div_ceil(columns);
    let key_style = Style::default()
        .fg(theme.accent)
        .add_modifier(Modifier::BOLD);
    let mut lines = Vec::new();
    for r in 0..rows {
        let mut spans = Vec::new();
        for c in 0..columns {
            if let Some((keys, what)) = entries.get(c * rows + r) {
                spans.push(Span::styled(fit(keys, key_w), key_style));
                spans.push(Span::raw(" "));
                spans.push(Span::styled(
                    fit(what, col_w.saturating_sub(key_w + 2)),
                    Style::default().fg(theme.fg),
                ));
                spans.push(Span::raw(" "));
            }
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::default());
    for (title, text) in [
        (
            "Typing",
            "←/→ ctrl-←/→ home/end move · ctrl-w word · ctrl-u/ctrl-k to start/end · ↑/↓ history · enter reads · esc leaves · tab next pane",
        ),
        (
            "Mouse",
            "click a pane to focus it and a row to select it · wheel scrolls · click the map to put the cursor there",
        ),
        (
            "Library",
            "▲ Q1 joyful/energetic · ◆ Q2 angry/tense · ▼ Q3 sad/bitter · ● Q4 calm/tender · △◇▽○ dim: unsure · · not analyzed · ≠ other language · ∅ no lyrics · ♪ instrumental",
        ),
    ] {
        lines.push(Line::from(vec![
            Span::styled(format!("{title}: "), key_style),
            Span::styled(text, Style::default().fg(theme.fg)),
        ]));
    }
    let max_scroll = lines.len().saturating_sub(inner.height as usize);
    let scroll = app.help_scroll().unwrap_or(0).min(max_scroll) as u16;
    f.render_widget(
        Paragraph::new(lines)
            .wrap(ratatui::widgets::Wrap { trim: true })
            .scroll((scroll, 0)),
        inner,
    );
}
