//! The welcome an empty library shows in its pane (what moodtape does, and the keys that fill the library), wrapped
//! between words to any width, and the folder prompt drawn in the status bar line.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::Theme;
use crate::tui::action::Action;
use crate::tui::state::App;

pub const TITLE: &str = "Welcome to moodtape";
/// What moodtape does, in a sentence.
pub const ABOUT: &str =
    "moodtape reads the lyrics of your songs, maps their moods, and makes playlists that fit how you feel.";
pub const EMPTY: &str = "Your library is empty. Press:";
/// How a scan goes, after the keys.
pub const AFTER: &str =
    "Scans run in the background, and songs appear here as they come. The same keys scan again later.";

/// The keys of the welcome, with what each does.
pub const KEYS: [(Action, &str); 3] = [
    (Action::ScanFolder, "scan a music folder"),
    (Action::ImportMpd, "import MPD's library"),
    (Action::OpenDemo, "open the demo library"),
];

/// `text` in lines of at most `width` columns, broken between words; only a word longer than a whole line is cut.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for word in text.split_whitespace() {
        let mut word = word.to_string();
        let mut w = word.width();
        if used > 0 && used + 1 + w > width {
            lines.push(std::mem::take(&mut line));
            used = 0;
        }
        while w > width {
            let (head, tail) = split_at_width(&word, width);
            line.push_str(&head);
            lines.push(std::mem::take(&mut line));
            used = 0;
            word = tail;
            w = word.width();
        }
        if used > 0 {
            line.push(' ');
            used += 1;
        }
        line.push_str(&word);
        used += w;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The first characters of `word` that fit in `width` columns, and the rest.
fn split_at_width(word: &str, width: usize) -> (String, String) {
    let mut used = 0;
    let mut head = String::new();
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.peek() {
        let w = c.width().unwrap_or(0);
        if used + w > width && !head.is_empty() {
            break;
        }
        used += w;
        head.push(*c);
        chars.next();
    }
    (head, chars.collect())
}

/// The welcome, in the library pane's inner area.
pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let width = area.width as usize;
    let text = Style::default().fg(theme.fg);
    let key_style = Style::default()
        .fg(theme.accent)
        .add_modifier(Modifier::BOLD);
    let mut lines = vec![Line::from(Span::styled(TITLE, key_style)), Line::default()];
    let para = |lines: &mut Vec<Line<'static>>, words: &str, style: Style| {
        for l in wrap(words, width) {
            lines.push(Line::from(Span::styled(l, style)));
        }
    };
    para(&mut lines, ABOUT, text);
    lines.push(Line::default());
    para(&mut lines, EMPTY, text);
    let km = &app.options.keymap;
    let keys: Vec<(String, &str)> = KEYS
        .iter()
        .filter_map(|(action, what)| {
            let label = km.keys_label(action);
            let first = label.split(' ').next().unwrap_or_default().to_string();
            (!first.is_empty()).then_some((first, *what))
        })
        .collect();
    let key_w = keys.iter().map(|(k, _)| k.width()).max().unwrap_or(0);
    // Descriptions hang under their first word, so a wrapped one stays beside its key.
    let indent = 2 + key_w + 2;
    for (key, what) in &keys {
        for (n, l) in wrap(what, width.saturating_sub(indent))
            .into_iter()
            .enumerate()
        {
            let lead = if n == 0 {
                Span::styled(format!("  {key:<key_w$}  "), key_style)
            } else {
                Span::raw(" ".repeat(indent))
            };
            lines.push(Line::from(vec![lead, Span::styled(l, text)]));
        }
    }
    lines.push(Line::default());
    para(&mut lines, AFTER, theme.dim());
    f.render_widget(Paragraph::new(lines).style(theme.base()), area);
}

/// The folder prompt, in the status bar's line: the path being typed with the cursor in it, then the folders
/// that still match (or why none does) and the keys, as far as they fit.
pub fn draw_prompt(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let key_style = Style::default()
        .fg(theme.accent)
        .add_modifier(Modifier::BOLD);
    let label = "scan folder: ";
    let input = &app.imports.prompt;
    let chars: Vec<char> = crate::sanitize::clean_line(&input.text()).chars().collect();
    let cursor = input.cursor().min(chars.len());
    // Long paths scroll so the cursor stays in view; an ellipsis says the start is hidden.
    let room = (area.width as usize)
        .saturating_sub(label.width() + 2)
        .max(1);
    let mut start = 0;
    let col = |from: usize, to: usize| {
        chars[from..to]
            .iter()
            .filter_map(|c| c.width())
            .sum::<usize>()
    };
    while start < cursor && col(start, cursor) + usize::from(start > 0) >= room {
        start += 1;
    }
    let mut shown: String = if start > 0 {
        "…".into()
    } else {
        String::new()
    };
    shown.extend(&chars[start..]);
    let cursor_x = label.width() + usize::from(start > 0) + col(start, cursor);
    let mut spans = vec![
        Span::styled(label, key_style),
        Span::styled(shown, Style::default().fg(theme.fg)),
    ];
    match &app.imports.completion {
        Some(c) if c.problem.is_some() => {
            let problem = c.problem.clone().unwrap_or_default();
            spans.push(Span::styled(
                format!("  {}", crate::sanitize::clean_line(&problem)),
                theme.error(),
            ));
        }
        Some(c) if !c.candidates.is_empty() => {
            let mut list: Vec<String> = c
                .candidates
                .iter()
                .map(|n| format!("{}/", crate::sanitize::clean_line(n)))
                .collect();
            if c.more > 0 {
                list.push(format!("+{}", c.more));
            }
            spans.push(Span::styled(format!("  {}", list.join(" ")), theme.dim()));
        }
        _ => {
            spans.push(Span::styled("  tab", key_style));
            spans.push(Span::styled(" completes · ", theme.dim()));
            spans.push(Span::styled("enter", key_style));
            spans.push(Span::styled(" scans · ", theme.dim()));
            spans.push(Span::styled("esc", key_style));
            spans.push(Span::styled(" cancels", theme.dim()));
        }
    }
    f.render_widget(Paragraph::new(Line::from(spans)).style(theme.base()), area);
    let x = area.x + (cursor_x as u16).min(area.width.saturating_sub(1));
    f.set_cursor_position((x, area.y));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_between_words_and_cuts_only_words_longer_than_a_line() {
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
        assert_eq!(wrap("one two three", 100), ["one two three"]);
        assert_eq!(wrap("abcdefghij xy", 4), ["abcd", "efgh", "ij", "xy"]);
        assert_eq!(wrap("", 10), [""]);
        for width in 10..60 {
            for line in wrap(ABOUT, width) {
                assert!(line.width() <= width, "{line:?} wider than {width}");
            }
        }
    }
}
