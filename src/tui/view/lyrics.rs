//! The lyrics of the selected song, each chunk shaded by its own quadrant and tagged with its top emotion, so a
//! reader sees which lines carry which mood.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::theme::{quadrant_glyph, unsure_glyph};
use super::{pane_block, Theme};
use crate::emotion::language;
use crate::records::ChunkMood;
use crate::records::LOW_CONFIDENCE;
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
    if let Some(m) = detail.and_then(|d| d.mood.as_ref().filter(|m| m.is_read())) {
        let q = m.reading.quadrant();
        let top = m.reading.top_emotion().map(|l| l.label).unwrap_or_default();
        let unsure = m.confidence < LOW_CONFIDENCE;
        let style = if unsure {
            theme.dim()
        } else {
            Style::default().fg(theme.quadrant(q))
        };
        let glyph = if unsure {
            unsure_glyph(q)
        } else {
            quadrant_glyph(q)
        };
        let doubt = if unsure { "(unsure) " } else { "" };
        extra.push(Span::styled(
            format!("{glyph} {} {top} {doubt}", q.code()),
            style,
        ));
    }
    let block = pane_block(Pane::Lyrics, extra, area.width, app, theme);
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
    let why_unread = match &detail.mood {
        None => Some("not analyzed yet: the shading comes with the analysis".to_string()),
        Some(m) if !m.is_read() => Some(format!(
            "not analyzed: lyrics in {}, a language the model does not read",
            m.language
                .as_deref()
                .map_or_else(|| "another language".into(), language::name)
        )),
        // A mixed song: only its English chunks were read (the others have no shading).
        Some(m) => m.language.as_deref().filter(|l| *l != "en").map(|l| {
            format!(
                "read from its English lines only; the rest is in {}",
                language::name(l)
            )
        }),
    };
    if let Some(why) = why_unread {
        lines.push(Line::from(Span::styled(
            why,
            theme.dim().add_modifier(Modifier::ITALIC),
        )));
    }
    let text = crate::sanitize::clean_multiline(&lyrics.text);
    // Lines are wrapped here rather than by the paragraph, so every row of a wrapped line keeps its chunk's bar.
    let room = (inner.width as usize).saturating_sub(1).max(1);
    // The first row of each lyric line, for following the song through wrapped lines.
    let mut first_row = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        first_row.push(lines.len());
        let line = crate::sanitize::clean_line(raw);
        let chunk = chunks
            .iter()
            .find(|c| c.first_line <= n && n <= c.last_line);
        let rows = wrap(&line, room);
        match chunk {
            Some(c) => {
                let q = c.reading.quadrant();
                let color = theme.quadrant(q);
                let mut text_style = Style::default().fg(color);
                if sung == Some(n) {
                    text_style = text_style.patch(sung_style);
                }
                let last = rows.len() - 1;
                for (i, row) in rows.into_iter().enumerate() {
                    let used = 1 + unicode_width::UnicodeWidthStr::width(row.as_str());
                    let mut spans = vec![
                        Span::styled("▌", Style::default().fg(color)),
                        Span::styled(row, text_style),
                    ];
                    if n == c.first_line && i == last {
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
            }
            None => {
                let mut style = Style::default().fg(theme.fg);
                if sung == Some(n) {
                    style = style.patch(sung_style);
                }
                for (i, row) in rows.into_iter().enumerate() {
                    let mark = if sung == Some(n) && i == 0 {
                        "▶"
                    } else {
                        " "
                    };
                    lines.push(Line::from(vec![Span::raw(mark), Span::styled(row, style)]));
                }
            }
        }
    }
    let scroll = match sung {
        // Following the song: its line a third of the way down.
        Some(n) if app.playing.follow_lyrics => first_row
            .get(n)
            .copied()
            .unwrap_or(0)
            .saturating_sub(inner.height as usize / 3),
        _ => app.lyrics.scroll,
    };
    let scroll = scroll.min(lines.len().saturating_sub(1));
    f.render_widget(
        Paragraph::new(lines).scroll((scroll.min(u16::MAX as usize) as u16, 0)),
        inner,
    );
}

/// `text` in rows of at most `width` columns, broken between words (a word longer than a row is cut); always at
/// least one row, so an empty line stays a line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    let width = width.max(1);
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut used = 0;
    for word in text.split(' ') {
        let w = word.width();
        let gap = usize::from(!row.is_empty());
        if used + gap + w <= width {
            if gap == 1 {
                row.push(' ');
            }
            row.push_str(word);
            used += gap + w;
            continue;
        }
        if !row.is_empty() {
            rows.push(std::mem::take(&mut row));
            used = 0;
        }
        for c in word.chars() {
            let cw = c.width().unwrap_or(0);
            if used + cw > width && !row.is_empty() {
                rows.push(std::mem::take(&mut row));
                used = 0;
            }
            row.push(c);
            used += cw;
        }
    }
    rows.push(row);
    rows
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_between_words_and_cuts_long_ones() {
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), [""]);
        assert_eq!(wrap("日本語の歌", 4), ["日本", "語の", "歌"]);
    }
}
