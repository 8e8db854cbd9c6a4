//! The mood pane: the input line, and what the model read from it (top emotions as bars, valence, arousal and
//! the quadrant).

use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::theme::quadrant_glyph;
use super::{bar, fit, pane_block, Theme};
use crate::tui::action::{Action, Pane};
use crate::tui::state::{App, ModelState, MoodState};

const PROMPT: &str = "› ";

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let block = pane_block(Pane::Mood, Vec::new(), area.width, app, theme);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let [input, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    draw_input(f, input, app, theme);
    if rest.height == 0 {
        return;
    }
    if let Some(line) = state_line(app, theme) {
        f.render_widget(Paragraph::new(line), rest);
        return;
    }
    let Some((text, mood)) = &app.mood.current else {
        let key = |a: Action| {
            let label = app.options.keymap.keys_label(&a);
            label.split(' ').next().unwrap_or_default().to_string()
        };
        let hint = format!(
            "{} type how you feel, Enter reads it · {} help · {} quit",
            key(Action::FocusMood),
            key(Action::Help),
            key(Action::Quit),
        );
        f.render_widget(Paragraph::new(Span::styled(hint, theme.dim())), rest);
        return;
    };
    let reading = &mood.reading;
    let q = reading.quadrant();
    let qstyle = Style::default()
        .fg(theme.quadrant(q))
        .add_modifier(Modifier::BOLD);
    let va = vec![
        Span::styled(
            format!("{} {} {}", quadrant_glyph(q), q.code(), q.name()),
            qstyle,
        ),
        Span::styled(
            format!(
                "  valence {:+.2}  arousal {:+.2}",
                reading.valence, reading.arousal
            ),
            Style::default().fg(theme.fg),
        ),
    ];
    if rest.height >= 4 {
        // Tall: one bar per emotion on the left, the place on the map on the right.
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(rest);
        let top = reading.top(rest.height as usize);
        let bar_w = (left.width as usize).saturating_sub(15 + 6).clamp(4, 32);
        let lines: Vec<Line> = top
            .iter()
            .map(|l| {
                Line::from(vec![
                    Span::styled(fit(&l.label, 15), Style::default().fg(theme.fg)),
                    Span::styled(bar(l.score, bar_w), Style::default().fg(theme.bar)),
                    Span::styled(format!(" {:.2}", l.score), theme.dim()),
                ])
            })
            .collect();
        f.render_widget(Paragraph::new(lines), left);
        let lines = vec![
            Line::from(va[0].clone()),
            Line::from(va[1].clone().content.trim().to_string()),
            Line::from(Span::styled(
                fit(&format!("\"{text}\""), right.width as usize),
                theme.dim(),
            )),
        ];
        f.render_widget(Paragraph::new(lines), right);
    } else {
        let mut spans = Vec::new();
        for (i, l) in reading.top(3).iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(" · ", theme.dim()));
            }
            spans.push(Span::styled(l.label.clone(), Style::default().fg(theme.fg)));
            spans.push(Span::raw(" "));
            spans.push(Span::styled(
                bar(l.score, 5).trim_end().to_string(),
                Style::default().fg(theme.bar),
            ));
            spans.push(Span::styled(format!(" {:.2}", l.score), theme.dim()));
        }
        let mut lines = vec![Line::from(spans)];
        if rest.height >= 2 {
            lines.push(Line::from(va));
        }
        f.render_widget(Paragraph::new(lines), rest);
    }
}

/// The line that replaces the reading while one is under way or failed.
fn state_line<'a>(app: &App, theme: &Theme) -> Option<Line<'a>> {
    match &app.mood.state {
        MoodState::Idle => None,
        MoodState::Reading { .. } => Some(Line::from(Span::styled(
            match &app.jobs.model {
                ModelState::Loading => "reading your mood… (the model is still loading)",
                _ => "reading your mood…",
            },
            Style::default().fg(theme.accent),
        ))),
        MoodState::Failed(reason) => Some(Line::from(Span::styled(
            format!(
                "cannot read the mood: {}",
                crate::sanitize::clean_line(reason)
            ),
            theme.error(),
        ))),
    }
}

fn draw_input(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.layer() == crate::tui::layer::Layer::MoodInput;
    let editor = &app.mood.input;
    let text = editor.text();
    let prompt_style = if focused {
        Style::default()
            .fg(theme.accent)
            .add_modifier(Modifier::BOLD)
    } else {
        theme.dim()
    };
    if text.is_empty() && !focused {
        let line = Line::from(vec![
            Span::styled(PROMPT, prompt_style),
            Span::styled("how do you feel? (press m)", theme.dim()),
        ]);
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    // Scroll sideways so the cursor stays in view.
    let room = (area.width as usize)
        .saturating_sub(PROMPT.width() + 1)
        .max(1);
    let chars: Vec<char> = text.chars().collect();
    let cursor = editor.cursor().min(chars.len());
    let mut start = 0;
    while UnicodeWidthStr::width(chars[start..cursor].iter().collect::<String>().as_str()) > room {
        start += 1;
    }
    let visible: String = chars[start..].iter().collect();
    let line = Line::from(vec![
        Span::styled(PROMPT, prompt_style),
        Span::styled(visible, Style::default().fg(theme.fg)),
    ]);
    f.render_widget(Paragraph::new(line), area);
    if focused {
        let before: String = chars[start..cursor].iter().collect();
        let x = area.x + (PROMPT.width() + before.width()) as u16;
        f.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
    }
}
