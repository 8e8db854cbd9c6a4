//! Colour themes. The shipped ones are compiled in from `themes/*.toml`; a user theme in the config dir's
//! `themes/` folder (or a path given to `--theme`) overrides single colours of the default. `NO_COLOR` turns every
//! colour off and leaves bold and reverse video to mark focus and selection.

use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use crate::records::Quadrant;

/// The shipped themes: name and file text.
pub const SHIPPED: [(&str, &str); 6] = [
    ("default", include_str!("../../../themes/default.toml")),
    ("light", include_str!("../../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../../themes/high-contrast.toml"),
    ),
    ("gruvbox", include_str!("../../../themes/gruvbox.toml")),
    (
        "catppuccin",
        include_str!("../../../themes/catppuccin.toml"),
    ),
    ("nord", include_str!("../../../themes/nord.toml")),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    /// No colours at all (`NO_COLOR`): focus and selection are shown with bold and reverse video.
    pub plain: bool,
    pub fg: Color,
    pub bg: Color,
    pub dim: Color,
    pub accent: Color,
    pub border: Color,
    pub border_focus: Color,
    pub selection_fg: Color,
    pub selection_bg: Color,
    /// Matched characters of the library filter.
    pub highlight: Color,
    pub q1: Color,
    pub q2: Color,
    pub q3: Color,
    pub q4: Color,
    /// The user's mood on the map.
    pub mood: Color,
    pub cursor: Color,
    /// The playlist's path on the map.
    pub path: Color,
    pub bar: Color,
    pub error: Color,
    pub ok: Color,
}

impl Default for Theme {
    /// The compiled-in default; `themes/default.toml` says the same (a test keeps them equal).
    fn default() -> Self {
        Theme {
            name: "default".into(),
            plain: false,
            fg: Color::Rgb(0xd8, 0xd8, 0xd8),
            bg: Color::Reset,
            dim: Color::Rgb(0x80, 0x80, 0x80),
            accent: Color::Rgb(0x5f, 0xaf, 0xff),
            border: Color::Rgb(0x58, 0x58, 0x58),
            border_focus: Color::Rgb(0x5f, 0xaf, 0xff),
            selection_fg: Color::Rgb(0xff, 0xff, 0xff),
            selection_bg: Color::Rgb(0x30, 0x40, 0x60),
            highlight: Color::Rgb(0xff, 0xd7, 0x00),
            q1: Color::Rgb(0xff, 0xd7, 0x5f),
            q2: Color::Rgb(0xff, 0x5f, 0x5f),
            q3: Color::Rgb(0x5f, 0x87, 0xff),
            q4: Color::Rgb(0x5f, 0xd7, 0x87),
            mood: Color::Rgb(0xff, 0x87, 0xff),
            cursor: Color::Rgb(0xff, 0xff, 0xff),
            path: Color::Rgb(0xaf, 0xaf, 0xd7),
            bar: Color::Rgb(0x87, 0xaf, 0xd7),
            error: Color::Rgb(0xff, 0x5f, 0x5f),
            ok: Color::Rgb(0x87, 0xd7, 0x87),
        }
    }
}

/// A theme file: a name and some colours; colours left out keep the default's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    #[serde(default)]
    colors: Colors,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Colors {
    fg: Option<String>,
    bg: Option<String>,
    dim: Option<String>,
    accent: Option<String>,
    border: Option<String>,
    border_focus: Option<String>,
    selection_fg: Option<String>,
    selection_bg: Option<String>,
    highlight: Option<String>,
    q1: Option<String>,
    q2: Option<String>,
    q3: Option<String>,
    q4: Option<String>,
    mood: Option<String>,
    cursor: Option<String>,
    path: Option<String>,
    bar: Option<String>,
    error: Option<String>,
    ok: Option<String>,
}

impl Theme {
    /// No colours, for `NO_COLOR`.
    pub fn plain() -> Theme {
        let r = Color::Reset;
        Theme {
            name: "plain".into(),
            plain: true,
            fg: r,
            bg: r,
            dim: r,
            accent: r,
            border: r,
            border_focus: r,
            selection_fg: r,
            selection_bg: r,
            highlight: r,
            q1: r,
            q2: r,
            q3: r,
            q4: r,
            mood: r,
            cursor: r,
            path: r,
            bar: r,
            error: r,
            ok: r,
        }
    }

    /// Reads theme text over `base`. `strict` requires every colour (shipped themes must be complete).
    pub fn parse(text: &str, base: &Theme, strict: bool) -> Result<Theme, String> {
        let file: ThemeFile = toml::from_str(text).map_err(|e| e.message().trim().to_string())?;
        let mut t = base.clone();
        if let Some(name) = file.name {
            t.name = name;
        }
        let c = file.colors;
        let slots: [(&str, Option<String>, &mut Color); 19] = [
            ("fg", c.fg, &mut t.fg),
            ("bg", c.bg, &mut t.bg),
            ("dim", c.dim, &mut t.dim),
            ("accent", c.accent, &mut t.accent),
            ("border", c.border, &mut t.border),
            ("border_focus", c.border_focus, &mut t.border_focus),
            ("selection_fg", c.selection_fg, &mut t.selection_fg),
            ("selection_bg", c.selection_bg, &mut t.selection_bg),
            ("highlight", c.highlight, &mut t.highlight),
            ("q1", c.q1, &mut t.q1),
            ("q2", c.q2, &mut t.q2),
            ("q3", c.q3, &mut t.q3),
            ("q4", c.q4, &mut t.q4),
            ("mood", c.mood, &mut t.mood),
            ("cursor", c.cursor, &mut t.cursor),
            ("path", c.path, &mut t.path),
            ("bar", c.bar, &mut t.bar),
            ("error", c.error, &mut t.error),
            ("ok", c.ok, &mut t.ok),
        ];
        for (key, value, slot) in slots {
            match value {
                Some(v) => {
                    *slot = Color::from_str(v.trim()).map_err(|_| {
                        format!("colors.{key}: {v:?} is not a colour; use \"#rrggbb\", a name such as \"red\", a number 0-255 or \"reset\"")
                    })?;
                }
                None if strict => return Err(format!("colors.{key} is missing")),
                None => {}
            }
        }
        Ok(t)
    }

    /// A shipped theme by name.
    pub fn shipped(name: &str) -> Option<Result<Theme, String>> {
        SHIPPED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| Theme::parse(text, &Theme::default(), true))
    }

    /// The theme called `name`: a `.toml` path, the config dir's `themes/NAME.toml`, or a shipped theme. With
    /// `no_color` set (the `NO_COLOR` variable), the plain theme.
    pub fn load(name: &str, config_dir: &Path, no_color: bool) -> Result<Theme, String> {
        if no_color {
            return Ok(Theme::plain());
        }
        let name = name.trim();
        let name = if name.is_empty() { "default" } else { name };
        let path = if name.ends_with(".toml") || name.contains('/') {
            Some(Path::new(name).to_path_buf())
        } else {
            let p = config_dir.join("themes").join(format!("{name}.toml"));
            p.exists().then_some(p)
        };
        if let Some(path) = path {
            let text =
                crate::files::read_text_bounded(&path, crate::files::MAX_CONFIG_BYTES, "a theme")
                    .map_err(|e| format!("cannot read the theme: {e}"))?;
            return Theme::parse(&text, &Theme::default(), false)
                .map_err(|e| format!("theme file {}: {e}", path.display()));
        }
        match Theme::shipped(name) {
            Some(t) => t,
            None => {
                let mut names: Vec<String> = SHIPPED.iter().map(|(n, _)| n.to_string()).collect();
                if let Ok(dir) = std::fs::read_dir(config_dir.join("themes")) {
                    for entry in dir.flatten() {
                        let p = entry.path();
                        if p.extension().is_some_and(|e| e == "toml") {
                            if let Some(stem) = p.file_stem() {
                                names.push(stem.to_string_lossy().into_owned());
                            }
                        }
                    }
                }
                Err(format!(
                    "unknown theme {name:?}; use one of {} (or put NAME.toml in {})",
                    names.join(", "),
                    config_dir.join("themes").display()
                ))
            }
        }
    }

    /// Whether `NO_COLOR` asks for no colours (set and not empty, as no-color.org says).
    pub fn no_color_env() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    pub fn quadrant(&self, q: Quadrant) -> Color {
        match q {
            Quadrant::Q1 => self.q1,
            Quadrant::Q2 => self.q2,
            Quadrant::Q3 => self.q3,
            Quadrant::Q4 => self.q4,
        }
    }

    pub fn base(&self) -> Style {
        Style::default().fg(self.fg).bg(self.bg)
    }

    pub fn dim(&self) -> Style {
        if self.plain {
            Style::default().add_modifier(Modifier::DIM)
        } else {
            Style::default().fg(self.dim)
        }
    }

    pub fn border(&self, focused: bool) -> Style {
        match (focused, self.plain) {
            (true, true) => Style::default().add_modifier(Modifier::BOLD),
            (true, false) => Style::default()
                .fg(self.border_focus)
                .add_modifier(Modifier::BOLD),
            (false, _) => Style::default().fg(self.border),
        }
    }

    pub fn selection(&self) -> Style {
        if self.plain {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
                .fg(self.selection_fg)
                .bg(self.selection_bg)
                .add_modifier(Modifier::BOLD)
        }
    }

    pub fn highlight(&self) -> Style {
        Style::default()
            .fg(self.highlight)
            .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    pub fn error(&self) -> Style {
        Style::default().fg(self.error).add_modifier(Modifier::BOLD)
    }
}

/// A glyph for each quadrant, so the quadrant reads without colour too.
/// The hollow glyph of a quadrant, for a song read with low confidence.
pub fn unsure_glyph(q: Quadrant) -> &'static str {
    match q {
        Quadrant::Q1 => "△",
        Quadrant::Q2 => "◇",
        Quadrant::Q3 => "▽",
        Quadrant::Q4 => "○",
    }
}

pub fn quadrant_glyph(q: Quadrant) -> &'static str {
    match q {
        Quadrant::Q1 => "▲",
        Quadrant::Q2 => "◆",
        Quadrant::Q3 => "▼",
        Quadrant::Q4 => "●",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_theme_parses_completely() {
        for (name, text) in SHIPPED {
            let t = Theme::parse(text, &Theme::default(), true)
                .unwrap_or_else(|e| panic!("themes/{name}.toml: {e}"));
            assert_eq!(t.name, name);
        }
    }

    #[test]
    fn default_file_equals_compiled_default() {
        assert_eq!(
            Theme::shipped("default").unwrap().unwrap(),
            Theme::default()
        );
    }

    #[test]
    fn user_theme_overrides_single_colours_and_errors_name_the_key() {
        let t = Theme::parse("[colors]\nq1 = \"red\"\n", &Theme::default(), false).unwrap();
        assert_eq!(t.q1, Color::Red);
        assert_eq!(t.q2, Theme::default().q2);
        let e = Theme::parse("[colors]\nq1 = \"reddish\"\n", &Theme::default(), false).unwrap_err();
        assert!(e.contains("colors.q1"), "{e}");
        assert!(Theme::parse("[colors]\nq9 = \"red\"\n", &Theme::default(), false).is_err());
    }

    #[test]
    fn themes_are_found_in_the_config_dir_and_unknown_names_list_the_known() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("themes")).unwrap();
        std::fs::write(
            dir.path().join("themes/mine.toml"),
            "name = \"mine\"\n[colors]\naccent = \"#010203\"\n",
        )
        .unwrap();
        let t = Theme::load("mine", dir.path(), false).unwrap();
        assert_eq!(t.accent, Color::Rgb(1, 2, 3));
        assert_eq!(
            Theme::load("gruvbox", dir.path(), false).unwrap().name,
            "gruvbox"
        );
        let e = Theme::load("nope", dir.path(), false).unwrap_err();
        assert!(e.contains("gruvbox") && e.contains("mine"), "{e}");
        assert!(Theme::load("gruvbox", dir.path(), true).unwrap().plain);
    }
}
