//! The quadrant map: valence across, arousal up, every analyzed song a braille dot in its quadrant's colour, the
//! selected song, the user's mood, the playlist's path and the cursor that picks a point. The map shows ±`range`
//! on both axes (fitted to the library, shown in the title); everything it reports is in real valence/arousal, and
//! what lies beyond the range is drawn on the edge.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as Segment, Points};
use ratatui::Frame;

use super::{pane_block, Theme};
use crate::records::Quadrant;
use crate::tui::action::Pane;
use crate::tui::state::App;

pub const MOOD_MARK: &str = "★";
pub const SELECTED_MARK: &str = "◉";
/// The song MPD plays.
pub const PLAYING_MARK: &str = "♫";
pub const CURSOR_MARK: &str = "✛";

/// The valence and arousal of a cell inside a map that shows ±`range` (its centre).
pub fn point_at(inner: Rect, range: f32, column: u16, row: u16) -> (f32, f32) {
    let w = f32::from(inner.width.max(1));
    let h = f32::from(inner.height.max(1));
    let x = (f32::from(column.saturating_sub(inner.x)) + 0.5) / w;
    let y = (f32::from(row.saturating_sub(inner.y)) + 0.5) / h;
    let round = |v: f32| ((v * range * 100.0).round() / 100.0).clamp(-range, range);
    (round(-1.0 + 2.0 * x), round(1.0 - 2.0 * y))
}

/// The song nearest the cursor, for the title.
fn nearest(app: &App) -> Option<usize> {
    let (cv, ca) = app.map.cursor;
    app.moods
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.map(|m| (i, (m.valence - cv).hypot(m.arousal - ca))))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|(_, d)| *d < 0.15 * app.map.range)
        .map(|(i, _)| i)
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let (cv, ca) = app.map.cursor;
    let range = f64::from(app.map.range);
    let mut extra = vec![
        Span::styled(format!("±{range:.2} "), Style::default().fg(theme.fg)),
        Span::styled(format!("{CURSOR_MARK} V{cv:+.2} A{ca:+.2} "), theme.dim()),
    ];
    if let Some(i) = nearest(app).filter(|_| app.focus == Pane::Map) {
        let s = &app.songs[i];
        extra.push(Span::styled(
            format!(
                "· {} – {} ",
                crate::sanitize::clean_line(&s.artist),
                crate::sanitize::clean_line(&s.title)
            ),
            Style::default().fg(theme.fg),
        ));
    }
    let block = pane_block(Pane::Map, extra, area.width, app, theme);
    let inner = block.inner(area);
    let cell_w = 2.0 * range / f64::from(inner.width.max(1));
    let on_map = |v: f32, a: f32| {
        (
            f64::from(v).clamp(-range, range),
            f64::from(a).clamp(-range, range),
        )
    };
    let wide = inner.width >= 44;

    let mut by_quadrant: [Vec<(f64, f64)>; 4] = Default::default();
    // Songs read with low confidence are drawn dim, under the others.
    let mut unsure = Vec::new();
    for m in app.moods.iter().flatten() {
        if m.is_unsure() {
            unsure.push(on_map(m.valence, m.arousal));
            continue;
        }
        let slot = match m.quadrant {
            Quadrant::Q1 => 0,
            Quadrant::Q2 => 1,
            Quadrant::Q3 => 2,
            Quadrant::Q4 => 3,
        };
        by_quadrant[slot].push(on_map(m.valence, m.arousal));
    }
    let path: Vec<(f64, f64)> = app
        .playlist
        .entries
        .iter()
        .map(|e| on_map(e.valence, e.arousal))
        .collect();
    let selected = app
        .current_song()
        .and_then(|i| app.moods[i])
        .map(|m| on_map(m.valence, m.arousal));
    let user = app.mood.point().map(|(v, a)| on_map(v, a));
    let playing = app
        .playing
        .song()
        .and_then(|id| app.song_index(id))
        .and_then(|i| app.moods[i])
        .map(|m| on_map(m.valence, m.arousal));

    let canvas = Canvas::default()
        .block(block)
        .marker(Marker::Braille)
        .background_color(theme.bg)
        .x_bounds([-range, range])
        .y_bounds([-range, range])
        .paint(|ctx| {
            let axis = theme.dim;
            ctx.draw(&Segment::new(-range, 0.0, range, 0.0, axis));
            ctx.draw(&Segment::new(0.0, -range, 0.0, range, axis));
            ctx.layer();
            for pair in path.windows(2) {
                ctx.draw(&Segment::new(
                    pair[0].0, pair[0].1, pair[1].0, pair[1].1, theme.path,
                ));
            }
            ctx.layer();
            ctx.draw(&Points {
                coords: &unsure,
                color: theme.dim,
            });
            for (slot, q) in Quadrant::ALL.iter().enumerate() {
                ctx.draw(&Points {
                    coords: &by_quadrant[slot],
                    color: theme.quadrant(*q),
                });
            }
            // Labels in the corners, each in its quadrant's colour.
            for q in Quadrant::ALL {
                let text = if wide {
                    format!("{} {}", q.code(), q.name())
                } else {
                    q.code().to_string()
                };
                let (cx, cy) = q.center();
                let len = text.chars().count() as f64 * cell_w;
                let x = if cx < 0.0 { -range } else { range - len };
                let y = if cy > 0.0 { range } else { -range };
                ctx.print(
                    x,
                    y,
                    Span::styled(text, Style::default().fg(theme.quadrant(q))),
                );
            }
            if let Some((x, y)) = selected {
                ctx.print(
                    x,
                    y,
                    Span::styled(
                        SELECTED_MARK,
                        Style::default()
                            .fg(theme.highlight)
                            .add_modifier(Modifier::BOLD),
                    ),
                );
            }
            if let Some((x, y)) = playing {
                ctx.print(
                    x,
                    y,
                    Span::styled(
                        PLAYING_MARK,
                        Style::default()
                            .fg(theme.accent)
                            .add_modifier(Modifier::BOLD),
                    ),
                );
            }
            if let Some((x, y)) = user {
                ctx.print(
                    x,
                    y,
                    Span::styled(
                        MOOD_MARK,
                        Style::default().fg(theme.mood).add_modifier(Modifier::BOLD),
                    ),
                );
            }
            if app.focus == Pane::Map {
                let (x, y) = on_map(cv, ca);
                ctx.print(
                    x,
                    y,
                    Span::styled(
                        CURSOR_MARK,
                        Style::default()
                            .fg(theme.cursor)
                            .add_modifier(Modifier::BOLD),
                    ),
                );
            }
        });
    f.render_widget(canvas, area);
    // The legend sits on the bottom border.
    if area.height > 2 && area.width > 30 {
        let legend = Line::from(vec![
            Span::styled(
                format!(" {MOOD_MARK} you "),
                Style::default().fg(theme.mood),
            ),
            Span::styled(
                format!("{SELECTED_MARK} song "),
                Style::default().fg(theme.highlight),
            ),
            Span::styled(
                format!("{CURSOR_MARK} cursor "),
                Style::default().fg(theme.cursor),
            ),
        ]);
        let w = legend.width() as u16;
        let r = Rect::new(
            area.right().saturating_sub(w + 1),
            area.bottom() - 1,
            w.min(area.width),
            1,
        );
        f.render_widget(legend, r);
    }
}
