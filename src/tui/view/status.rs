//! The status bar: the model and its device, every background job with progress, rate and ETA, the latest notice
//! or error, and the database; while the journey prompt is open, the quadrants it can go to instead.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::Theme;
use crate::records::Quadrant;
use crate::tui::action::Action;
use crate::tui::state::{App, JobState, ModelState};

fn eta(seconds: Option<f64>) -> String {
    match seconds {
        Some(s) if s.is_finite() && s >= 0.0 => {
            let s = s.round() as u64;
            if s >= 3600 {
                format!(" ETA {}h{:02}m", s / 3600, (s % 3600) / 60)
            } else if s >= 60 {
                format!(" ETA {}m{:02}s", s / 60, s % 60)
            } else {
                format!(" ETA {s}s")
            }
        }
        _ => String::new(),
    }
}

/// A job's state in a few words, or nothing when it never ran.
pub fn job_text(name: &str, job: &JobState) -> Option<(String, bool)> {
    match job {
        JobState::Idle => None,
        JobState::Running {
            done,
            total,
            rate,
            eta_s,
        } => Some((
            format!(
                "{name} {done}/{total}{}{}",
                if *rate > 0.0 {
                    format!(" {rate:.1}/s")
                } else {
                    String::new()
                },
                eta(*eta_s)
            ),
            false,
        )),
        JobState::Done(text) => Some((format!("{name}: {text}"), false)),
        JobState::Failed(reason) => Some((
            format!("{name} failed: {}", crate::sanitize::clean_line(reason)),
            true,
        )),
    }
}

/// The journey prompt: each quadrant with the key that picks it, in its colour (short names on narrow screens).
fn journey_prompt(area: Rect, theme: &Theme) -> Line<'static> {
    let key_style = Style::default()
        .fg(theme.accent)
        .add_modifier(Modifier::BOLD);
    let mut spans = vec![Span::styled("journey to: ", key_style)];
    for (i, q) in Quadrant::ALL.into_iter().enumerate() {
        let name = if area.width >= 100 {
            q.name()
        } else {
            q.name().split('/').next().unwrap_or_default()
        };
        spans.push(Span::styled(format!("{} ", i + 1), key_style));
        spans.push(Span::styled(
            format!("{} {name}  ", q.code()),
            Style::default().fg(theme.quadrant(q)),
        ));
    }
    spans.push(Span::styled("esc", key_style));
    spans.push(Span::styled(" cancels", theme.dim()));
    Line::from(spans)
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    if app.layer() == crate::tui::layer::Layer::JourneyPrompt {
        f.render_widget(
            Paragraph::new(journey_prompt(area, theme)).style(theme.base()),
            area,
        );
        return;
    }
    let sep = || Span::styled(" │ ", theme.dim());
    let mut spans = Vec::new();
    spans.push(match &app.jobs.model {
        ModelState::Loading => Span::styled("◌ loading model…", Style::default().fg(theme.accent)),
        ModelState::Ready { device } => Span::styled(
            format!("● model on {}", crate::sanitize::clean_line(device)),
            Style::default().fg(theme.ok),
        ),
        ModelState::Failed(reason) => Span::styled(
            format!("✗ model: {}", crate::sanitize::clean_line(reason)),
            theme.error(),
        ),
    });
    if app.jobs.loading_moods {
        spans.push(sep());
        spans.push(Span::styled("reading analyses…", theme.dim()));
    }
    for (name, job) in [
        ("analysis", &app.jobs.analysis),
        ("lyrics", &app.jobs.lyrics),
    ] {
        if let Some((text, failed)) = job_text(name, job) {
            spans.push(sep());
            spans.push(Span::styled(
                text,
                if failed {
                    theme.error()
                } else {
                    Style::default().fg(theme.fg)
                },
            ));
        }
    }
    if let Some((text, failed)) = super::playing::status_text(app) {
        spans.push(sep());
        spans.push(Span::styled(
            text,
            if failed {
                theme.error()
            } else {
                Style::default().fg(theme.accent)
            },
        ));
    }
    if let Some((error, text)) = &app.jobs.message {
        spans.push(sep());
        spans.push(Span::styled(
            crate::sanitize::clean_line(text),
            if *error {
                theme.error()
            } else {
                Style::default().fg(theme.ok)
            },
        ));
    }
    spans.push(sep());
    let via = app
        .jobs
        .attached_to
        .map(|pid| format!(" via pid {pid}"))
        .unwrap_or_default();
    spans.push(Span::styled(
        format!(
            "db {}{via}",
            crate::sanitize::clean_line(&app.options.database)
        ),
        theme.dim(),
    ));
    let help = format!(
        " {} help ",
        app.options
            .keymap
            .keys_label(&Action::Help)
            .split(' ')
            .next()
            .unwrap_or("?")
    );
    let help_w = help.chars().count() as u16;
    f.render_widget(Paragraph::new(Line::from(spans)).style(theme.base()), area);
    if area.width > help_w + 20 {
        let r = Rect::new(area.right() - help_w, area.y, help_w, 1);
        f.render_widget(
            Paragraph::new(Span::styled(
                help,
                Style::default()
                    .fg(theme.accent)
                    .add_modifier(Modifier::BOLD),
            ))
            .style(theme.base()),
            r,
        );
    }
}
