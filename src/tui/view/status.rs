//! The status bar: the model and its device, every background job with progress, rate and ETA, the latest notice
//! or error, and the database; while the journey prompt is open, the quadrants it can go to instead, and while
//! the folder prompt is open, the folder being typed (see `welcome`).

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

/// The one thing to do about a model that cannot load, short enough for the status bar; the details are in the
/// log and in `moodtape models info`.
pub fn model_problem(reason: &str) -> String {
    let reason = crate::sanitize::clean_multiline(reason);
    if reason.contains("is not available") {
        let offline = if reason.contains("--offline") {
            " (you are offline)"
        } else {
            ""
        };
        format!("model not downloaded: run `moodtape models fetch`{offline}")
    } else if reason.contains("sha256") {
        "model files damaged: run `moodtape models fetch`".to_string()
    } else {
        reason.lines().next().unwrap_or_default().trim().to_string()
    }
}

/// One part of the status bar. When the bar is too narrow, parts of lower rank go first, then the last part
/// standing is cut with an ellipsis: an error is never painted over.
struct Part {
    text: String,
    style: Style,
    rank: u8,
}

fn fit_parts(mut parts: Vec<Part>, width: usize) -> Vec<Part> {
    const SEP: usize = 3;
    let total = |parts: &[Part]| {
        parts
            .iter()
            .map(|p| unicode_width::UnicodeWidthStr::width(p.text.as_str()))
            .sum::<usize>()
            + SEP * parts.len().saturating_sub(1)
    };
    while parts.len() > 1 && total(&parts) > width {
        let Some(lowest) = parts
            .iter()
            .enumerate()
            .min_by_key(|(i, p)| (p.rank, std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
        else {
            break;
        };
        parts.remove(lowest);
    }
    let last_w = parts.last().map_or(0, |p| {
        unicode_width::UnicodeWidthStr::width(p.text.as_str())
    });
    let room = width.saturating_sub(total(&parts) - last_w);
    if let Some(last) = parts.last_mut() {
        last.text = super::fit(&last.text, room).trim_end().to_string();
    }
    parts
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    if app.layer() == crate::tui::layer::Layer::JourneyPrompt {
        f.render_widget(
            Paragraph::new(journey_prompt(area, theme)).style(theme.base()),
            area,
        );
        return;
    }
    if app.layer() == crate::tui::layer::Layer::ScanPrompt {
        super::welcome::draw_prompt(f, area, app, theme);
        return;
    }
    let mut parts = Vec::new();
    parts.push(match &app.jobs.model {
        ModelState::Loading => Part {
            text: "◌ loading model…".into(),
            style: Style::default().fg(theme.accent),
            rank: 3,
        },
        ModelState::Ready { device } => Part {
            text: format!("● model on {}", crate::sanitize::clean_line(device)),
            style: Style::default().fg(theme.ok),
            rank: 2,
        },
        ModelState::Failed(reason) => Part {
            text: format!("✗ {}", model_problem(reason)),
            style: theme.error(),
            rank: 5,
        },
    });
    if app.jobs.loading_moods {
        parts.push(Part {
            text: "reading analyses…".into(),
            style: theme.dim(),
            rank: 1,
        });
    }
    // A job's line: in the error style when it failed (and then kept longer than the others), else `color`.
    let job = |text: String, failed: bool, color| Part {
        text: crate::sanitize::clean_line(&text),
        style: if failed {
            theme.error()
        } else {
            Style::default().fg(color)
        },
        rank: if failed { 5 } else { 3 },
    };
    for (name, state) in [
        ("analysis", &app.jobs.analysis),
        ("lyrics", &app.jobs.lyrics),
    ] {
        if let Some((text, failed)) = job_text(name, state) {
            parts.push(job(text, failed, theme.fg));
        }
    }
    if let Some((text, failed)) = app.imports.job.text() {
        parts.push(job(text, failed, theme.fg));
    }
    if let Some((text, failed)) = super::playing::status_text(app) {
        parts.push(job(text, failed, theme.accent));
    }
    if let Some((error, text)) = &app.jobs.message {
        parts.push(Part {
            text: crate::sanitize::clean_line(text),
            style: if *error {
                theme.error()
            } else {
                Style::default().fg(theme.ok)
            },
            rank: if *error { 6 } else { 4 },
        });
    }
    let via = app
        .jobs
        .attached_to
        .map(|pid| format!(" via pid {pid}"))
        .unwrap_or_default();
    parts.push(Part {
        text: format!(
            "db {}{via}",
            crate::sanitize::clean_line(&app.options.database)
        ),
        style: theme.dim(),
        rank: 0,
    });
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
    let show_help = area.width > help_w + 20;
    let room = if show_help {
        area.width - help_w - 1
    } else {
        area.width
    };
    let mut spans = Vec::new();
    for (i, part) in fit_parts(parts, room as usize).into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" │ ", theme.dim()));
        }
        spans.push(Span::styled(part.text, part.style));
    }
    f.render_widget(Paragraph::new(Line::from(spans)).style(theme.base()), area);
    if show_help {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn part(text: &str, rank: u8) -> Part {
        Part {
            text: text.into(),
            style: Style::default(),
            rank,
        }
    }

    #[test]
    fn parts_of_low_rank_go_first_and_the_last_is_cut() {
        let parts = vec![
            part("model on cpu", 2),
            part("analysis 5/10 2.0/s ETA 5s", 3),
            part("cannot write the playlist: disk full", 6),
            part("db ~/.local/share/moodtape/library.db", 0),
        ];
        let kept = fit_parts(parts, 70);
        let texts: Vec<&str> = kept.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "analysis 5/10 2.0/s ETA 5s",
                "cannot write the playlist: disk full"
            ]
        );
        let kept = fit_parts(vec![part("x".repeat(50).as_str(), 6)], 20);
        assert_eq!(kept[0].text.chars().count(), 20);
        assert!(kept[0].text.ends_with('…'));
    }

    #[test]
    fn a_missing_model_says_the_one_thing_to_do() {
        let reason = "the encoder (x) is not available.\n  tried:\n    - the network: not used (--offline)\n  to fix: ...";
        assert_eq!(
            model_problem(reason),
            "model not downloaded: run `moodtape models fetch` (you are offline)"
        );
    }
}
