//! What MPD plays: one row above the status bar (state, artist – title, elapsed/total and a progress bar, the
//! volume), the radio and a lost connection in the status bar, and the line of the lyrics being sung.

use std::time::Instant;

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::Theme;
use crate::player::PlayState;
use crate::sanitize::clean_line;
use crate::service::RadioStatus;
use crate::tui::action::Action;
use crate::tui::state::App;

/// `m:ss`, or `h:mm:ss` from an hour.
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).floor() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The now-playing row; drawn only while the app follows MPD.
pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme, at: Instant) {
    let Some(status) = app.playing.status() else {
        if let Some(problem) = app.playing.problem() {
            let text = format!("♪ {}", clean_line(problem));
            f.render_widget(
                Paragraph::new(Span::styled(text, theme.error())).style(theme.base()),
                area,
            );
        }
        return;
    };
    let (glyph, word) = match status.state {
        PlayState::Play => ("▶", ""),
        PlayState::Pause => ("⏸", " paused"),
        PlayState::Stop => ("■", " stopped"),
    };
    let accent = Style::default()
        .fg(theme.accent)
        .add_modifier(Modifier::BOLD);
    let mut spans = vec![Span::styled(format!("{glyph}{word} "), accent)];
    if status.song_id.is_none() {
        spans.push(Span::styled("nothing queued", theme.dim()));
        f.render_widget(Paragraph::new(Line::from(spans)).style(theme.base()), area);
        return;
    }
    let name = clean_line(&status.display_name());
    let known = app.playing.song().is_some();
    let elapsed = app.playing.elapsed_at(at).unwrap_or(0.0);
    let times = match status.duration_s {
        Some(d) => format!(" {}/{} ", clock(elapsed), clock(d)),
        None => format!(" {} ", clock(elapsed)),
    };
    let volume = status
        .volume
        .map(|v| format!(" vol {v}%"))
        .unwrap_or_default();
    let note = if known {
        String::new()
    } else {
        let key = app.options.keymap.keys_label(&Action::ImportPlaying);
        format!(
            "  not in the library: {} adds it",
            key.split(' ').next().unwrap_or("i")
        )
    };
    let width = area.width as usize;
    let fixed = 2 + word.chars().count() + times.chars().count() + volume.chars().count();
    let note_w = note.chars().count();
    // The bar takes a fifth of the row, the name what is left.
    let bar_w = if status.duration_s.is_some() {
        (width / 5).clamp(4, 30)
    } else {
        0
    };
    let name_w = width.saturating_sub(fixed + bar_w + note_w).max(8);
    spans.push(Span::styled(
        super::fit(
            &name,
            name_w.min(unicode_width::UnicodeWidthStr::width(name.as_str()).max(1)),
        ),
        Style::default().fg(theme.fg).add_modifier(Modifier::BOLD),
    ));
    spans.push(Span::styled(times, Style::default().fg(theme.fg)));
    if let Some(d) = status.duration_s {
        spans.push(Span::styled(
            super::bar((elapsed / d) as f32, bar_w),
            Style::default().fg(theme.accent),
        ));
    }
    spans.push(Span::styled(volume, theme.dim()));
    if !note.is_empty() {
        spans.push(Span::styled(
            note,
            theme.dim().add_modifier(Modifier::ITALIC),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)).style(theme.base()), area);
}

/// The radio's state and a lost MPD for the status bar, in a few words.
pub fn status_text(app: &App) -> Option<(String, bool)> {
    let mut parts = Vec::new();
    let mut error = false;
    if let Some(RadioStatus::On {
        text,
        to,
        queued,
        journey_left,
        ..
    }) = &app.playing.radio
    {
        let journey = match to {
            Some(to) if *journey_left > 0 => {
                format!(" → {} ({journey_left} to go)", clean_line(to))
            }
            Some(to) => format!(" → {}", clean_line(to)),
            None => String::new(),
        };
        parts.push(format!(
            "♫ radio \"{}\"{journey}, {queued} queued",
            clean_line(text)
        ));
    } else if let Some(RadioStatus::Off { reason }) = &app.playing.radio {
        if !reason.is_empty() {
            parts.push(format!("radio off: {}", clean_line(reason)));
        }
    }
    if app.playing.status().is_none() {
        if let Some(problem) = app.playing.problem() {
            parts.push(clean_line(problem));
            error = true;
        }
    }
    (!parts.is_empty()).then(|| (parts.join(" · "), error))
}

/// The line of the shown lyrics being sung, while the lyrics pane shows the playing song and follows it.
pub fn sung_line(app: &App, at: Instant) -> Option<usize> {
    let detail = app.lyrics.detail.as_ref()?;
    if app.playing.song() != Some(&detail.id) {
        return None;
    }
    let lyrics = detail.lyrics.as_ref()?;
    let elapsed = app.playing.elapsed_at(at)?;
    match lyrics.synced.as_deref() {
        Some(synced) => crate::lyrics::follow::synced_line(synced, &lyrics.text, elapsed),
        None => {
            let duration = app.playing.status()?.duration_s?;
            crate::lyrics::follow::plain_line(&lyrics.text, elapsed, duration)
        }
    }
}
