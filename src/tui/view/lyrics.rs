//! The lyrics of the selected song, each chunk shaded by its own quadrant and tagged with its top emotion, so a
//! reader sees which lines carry which mood.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::theme::quadrant_glyph;
use super::{pane_block, Theme};
use crate::records::ChunkMood;
use crate::tui::action::Pane;
use crate::tui::state::App;

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let song = app.current_song().map(|i| &app.songs[i]);
    let detail = app
        .lyrics
        .detail
        .as_ref()
        .filter(|d| song.is_some_and(|s| s.id == d.id));
    let mut extra = Vec::new();
    if let Some(s) = song {
        extra.push(Span::styled(
            format!(
                "{} – {} ",
                crate::sanitize::clean_line(&s.artist),
                crate::sanitize::clean_line(&s.title)
            ),
            Style::default().fg(theme.fg),
        ));
    }
    if let Some(m) = detail.and_then(|d| d.mood.as_ref()) {
        let q = m.reading.quadrant();
        let top = m.reading.top_emotion().map(|l| l.label).unwrap_or_default();
        extra.push(Span::styled(
            format!("{} {} {} ", quadrant_glyph(q), q.code(), top),
            Style::default().fg(theme.quadrant(q)),
        ));
    }
    let block = pane_block(Pane::Lyrics, extra, app, theme);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let note = |text: &str| Paragraph::new(Span::styled(text.to_string(), theme.dim()));
    let Some(song) = song else {
        f.render_widget(note("Select a song to read its lyrics."), inner);
        return;
    };
    let Some(detail) = detail else {
        f.render_widget(note("…"), inner);
        return;
    };
    let Some(lyrics) = detail.lyrics.as_ref().filter(|l| l.has_words()) else {
        let text = if song.instrumental || detail.lyrics.as_ref().is_some_and(|l| l.instrumental) {
            "♪ instrumental"
        } else {
            "No lyrics yet (`moodtape lyrics fetch` looks them up)."
        };
        f.render_widget(note(text), inner);
        return;
    };
    let chunks: &[ChunkMood] = detail.mood.as_ref().map_or(&[], |m| m.chunks.as_slice());
    // The line being sung, while this is the playing song.
    let sung = super::playing::sung_line(app, std::time::Instant::now());
    let sung_style = Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED);
    let mut lines = Vec::new();
    if detail.mood.is_none() {
        lines.push(Line::from(Span::styled(
            "not analyzed yet: the shading comes with the analysis",
            theme.dim().add_modifier(Modifier::ITALIC),
        )));
    }
    let text = crate::sanitize::clean_multiline(&lyrics.text);
    for (n, raw) in text.lines().enumerate() {
        let line = crate::sanitize::clean_line(raw);
        let chunk = chunks
            .iter()
            .find(|c| c.first_line <= n && n <= c.last_line);
        match chunk {
            Some(c) => {
                let q = c.reading.quadrant();
                let color = theme.quadrant(q);
                let used = 1 + unicode_width::UnicodeWidthStr::width(line.as_str());
                let mut text_style = Style::default().fg(color);
                if sung == Some(n) {
                    text_style = text_style.patch(sung_style);
                }
                let mut spans = vec![
                    Span::styled("▌", Style::default().fg(color)),
                    Span::styled(line, text_style),
                ];
                if n == c.first_line {
                    if let Some(top) = c.reading.top_emotion() {
                        // The chunk's tag, where it fits beside its first line.
                        let tag = format!("  ‹{} {}›", quadrant_glyph(q), top.label);
                        if used + unicode_width::UnicodeWidthStr::width(tag.as_str())
                            <= inner.width as usize
                        {
                            spans.push(Span::styled(
                                tag,
                                theme.dim().add_modifier(Modifier::ITALIC),
                            ));
                        }
                    }
                }
                lines.push(Line::from(spans));
            }
            None => {
                let mut style = Style::default().fg(theme.fg);
                if sung == Some(n) {
                    style = style.patch(sung_style);
                }
                lines.push(Line::from(vec![
                    Span::raw(if sung == Some(n) { "▶" } else { " " }),
                    Span::styled(line, style),
                ]))
            }
        }
    }
    let header = usize::from(detail.mood.is_none());
    let scroll = match sung {
        // Following the song: its line a third of the way down.
        Some(n) if app.playing.follow_lyrics => {
            (n + header).saturating_sub(inner.height as usize / 3)
        }
        _ => app.lyrics.scroll,
    };
    let scroll = scroll.min(lines.len().saturating_sub(1));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll.min(u16::MAX as usize) as u16, 0)),
        inner,
    );
}
