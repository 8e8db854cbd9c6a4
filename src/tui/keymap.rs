//! Key routing. The built-in keymap is compiled in; config `[keys]` replaces the keys of single actions. Keys go to
//! the focused text input first, so typing `q` into the mood box never quits.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::Action;
use super::editor::EditOp;

/// The built-in bindings, action name to keys.
pub const DEFAULT_KEYS: &[(&str, &[&str])] = &[
    ("focus_mood", &["m"]),
    ("focus_next", &["tab"]),
    ("focus_prev", &["shift-tab"]),
    ("focus_library", &["1"]),
    ("focus_map", &["2"]),
    ("focus_playlist", &["3"]),
    ("focus_lyrics", &["4"]),
    ("up", &["k", "up"]),
    ("down", &["j", "down"]),
    ("left", &["h", "left"]),
    ("right", &["l", "right"]),
    ("page_up", &["pageup", "ctrl-u"]),
    ("page_down", &["pagedown", "ctrl-d"]),
    ("top", &["g", "home"]),
    ("bottom", &["G", "end"]),
    ("select", &["enter"]),
    ("search", &["/"]),
    ("sort_next", &["s"]),
    ("sort_reverse", &["S"]),
    ("similar", &["r"]),
    ("journey", &["t"]),
    ("like", &["+"]),
    ("dislike", &["-"]),
    ("remove", &["x", "delete"]),
    ("move_up", &["K"]),
    ("move_down", &["J"]),
    ("export", &["e"]),
    ("send_mpd", &["p"]),
    ("send_player", &["o"]),
    ("scan_folder", &["a"]),
    ("import_mpd", &["M"]),
    ("open_demo", &["D"]),
    ("toggle_pause", &["space"]),
    ("next_song", &[">"]),
    ("previous_song", &["<"]),
    ("seek_forward", &["f"]),
    ("seek_back", &["b"]),
    ("volume_up", &["."]),
    ("volume_down", &[","]),
    ("jump_to_playing", &["c"]),
    ("radio", &["R"]),
    ("import_playing", &["i"]),
    ("help", &["?", "f1"]),
    ("back", &["esc"]),
    ("quit", &["q", "ctrl-c"]),
];

/// A key as the keymap compares it: character keys ignore Shift (the character already says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub fn from_event(ev: &KeyEvent) -> Key {
        let mut mods =
            ev.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match ev.code {
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                return Key {
                    code: KeyCode::BackTab,
                    mods,
                };
            }
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                // Terminals report Ctrl-letters in either case.
                if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            other => other,
        };
        Key { code, mods }
    }

    /// Reads a key written like "q", "G", "ctrl-w", "shift-tab", "enter", "f1".
    pub fn parse(text: &str) -> Result<Key, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("an empty key".into());
        }
        let mut mods = KeyModifiers::NONE;
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            let (prefix, flag) = if lower.starts_with("ctrl-") {
                ("ctrl-", KeyModifiers::CONTROL)
            } else if lower.starts_with("alt-") {
                ("alt-", KeyModifiers::ALT)
            } else if lower.starts_with("shift-") {
                ("shift-", KeyModifiers::SHIFT)
            } else {
                break;
            };
            if rest.len() == prefix.len() {
                break;
            }
            mods |= flag;
            rest = &rest[prefix.len()..];
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => {
                let c = if mods.contains(KeyModifiers::SHIFT) {
                    c.to_ascii_uppercase()
                } else if mods.contains(KeyModifiers::CONTROL) {
                    c.to_ascii_lowercase()
                } else {
                    c
                };
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::Char(c)
            }
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" if mods.contains(KeyModifiers::SHIFT) => {
                    mods.remove(KeyModifiers::SHIFT);
                    KeyCode::BackTab
                }
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "space" => KeyCode::Char(' '),
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "insert" => KeyCode::Insert,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pageup" | "pgup" => KeyCode::PageUp,
                "pagedown" | "pgdn" => KeyCode::PageDown,
                f if f.starts_with('f') => match f[1..].parse::<u8>() {
                    Ok(n) if (1..=24).contains(&n) => KeyCode::F(n),
                    _ => return Err(format!("unknown key {text:?}")),
                },
                _ => return Err(format!("unknown key {text:?}")),
            },
        };
        Ok(Key { code, mods })
    }

    /// The key as the help overlay shows it.
    pub fn label(&self) -> String {
        let mut out = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            out.push_str("ctrl-");
        }
        if self.mods.contains(KeyModifiers::ALT) {
            out.push_str("alt-");
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            out.push_str("shift-");
        }
        match self.code {
            KeyCode::Char(' ') => out.push_str("space"),
            KeyCode::Char(c) => out.push(c),
            KeyCode::Enter => out.push_str("enter"),
            KeyCode::Esc => out.push_str("esc"),
            KeyCode::Tab => out.push_str("tab"),
            KeyCode::BackTab => out.push_str("shift-tab"),
            KeyCode::Backspace => out.push_str("backspace"),
            KeyCode::Delete => out.push_str("del"),
            KeyCode::Up => out.push('↑'),
            KeyCode::Down => out.push('↓'),
            KeyCode::Left => out.push('←'),
            KeyCode::Right => out.push('→'),
            KeyCode::Home => out.push_str("home"),
            KeyCode::End => out.push_str("end"),
            KeyCode::PageUp => out.push_str("pgup"),
            KeyCode::PageDown => out.push_str("pgdn"),
            KeyCode::F(n) => out.push_str(&format!("f{n}")),
            other => out.push_str(&format!("{other:?}").to_lowercase()),
        }
        out
    }
}

/// The active keymap: each bindable action with its keys, in help order.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    pub bindings: Vec<(Action, Vec<Key>)>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::with_overrides(&BTreeMap::new()).unwrap_or(Keymap {
            bindings: Vec::new(),
        })
    }
}

impl Keymap {
    /// The built-in keymap with the actions in `overrides` rebound. Errors name the `keys.ACTION` entry and why.
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> Result<Keymap, String> {
        let mut table: BTreeMap<String, Vec<String>> = DEFAULT_KEYS
            .iter()
            .map(|(a, ks)| (a.to_string(), ks.iter().map(|k| k.to_string()).collect()))
            .collect();
        for (action, keys) in overrides {
            if Action::from_name(action).is_none() {
                let known: Vec<&str> = DEFAULT_KEYS.iter().map(|(a, _)| *a).collect();
                return Err(format!(
                    "key `keys.{action}`: unknown action; use one of {}",
                    known.join(", ")
                ));
            }
            table.insert(action.clone(), keys.clone());
        }
        let mut bindings = Vec::new();
        for (action, _) in Action::BINDABLE {
            let name = action.name();
            let mut keys = Vec::new();
            for text in table.get(&name).map(Vec::as_slice).unwrap_or(&[]) {
                let key = Key::parse(text).map_err(|e| {
                    format!("key `keys.{name}`: {e}; write keys like \"q\", \"ctrl-w\", \"shift-tab\", \"enter\"")
                })?;
                keys.push(key);
            }
            bindings.push((action, keys));
        }
        check_bindings(&bindings)?;
        Ok(Keymap { bindings })
    }

    /// The action bound to a key press, outside text inputs.
    pub fn action_for(&self, ev: &KeyEvent) -> Option<Action> {
        let key = Key::from_event(ev);
        self.bindings
            .iter()
            .find(|(_, keys)| keys.contains(&key))
            .map(|(a, _)| a.clone())
    }

    /// The keys of an action, as the help and the hints show them ("j ↓").
    pub fn keys_label(&self, action: &Action) -> String {
        self.bindings
            .iter()
            .find(|(a, _)| a == action)
            .map(|(_, keys)| keys.iter().map(Key::label).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }
}

/// A keymap must keep a way out, and a key must mean one thing (else the first action silently wins).
fn check_bindings(bindings: &[(Action, Vec<Key>)]) -> Result<(), String> {
    if bindings
        .iter()
        .any(|(a, keys)| *a == Action::Quit && keys.is_empty())
    {
        return Err(
            "key `keys.quit`: no key left to quit moodtape; bind at least one, such as [\"q\"]"
                .into(),
        );
    }
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (action, keys) in bindings {
        for key in keys {
            let label = key.label();
            if let Some(other) = seen.insert(label.clone(), action.name()) {
                if other != action.name() {
                    return Err(format!(
                        "key `keys.{}`: {label:?} is also bound to `{other}`; give each key one action",
                        action.name()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// What a key does while a text input has the focus: editing, leaving, or a few global keys.
pub fn editing_action(ev: &KeyEvent) -> Option<Action> {
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    let alt = ev.modifiers.contains(KeyModifiers::ALT);
    let op = match ev.code {
        KeyCode::Char('c') if ctrl => return Some(Action::Quit),
        KeyCode::Char('w') | KeyCode::Char('h') if ctrl => EditOp::DeleteWord,
        KeyCode::Char('u') if ctrl => EditOp::DeleteToStart,
        KeyCode::Char('k') if ctrl => EditOp::DeleteToEnd,
        KeyCode::Char('a') if ctrl => EditOp::Home,
        KeyCode::Char('e') if ctrl => EditOp::End,
        KeyCode::Char('b') if ctrl => EditOp::Left,
        KeyCode::Char('f') if ctrl => EditOp::Right,
        KeyCode::Char('b') if alt => EditOp::WordLeft,
        KeyCode::Char('f') if alt => EditOp::WordRight,
        KeyCode::Char('p') if ctrl => EditOp::HistoryPrev,
        KeyCode::Char('n') if ctrl => EditOp::HistoryNext,
        KeyCode::Backspace if ctrl || alt => EditOp::DeleteWord,
        KeyCode::Char(_) if ctrl || alt => return None,
        KeyCode::Char(c) => EditOp::Insert(c),
        KeyCode::Backspace => EditOp::Backspace,
        KeyCode::Delete => EditOp::Delete,
        KeyCode::Left if ctrl => EditOp::WordLeft,
        KeyCode::Right if ctrl => EditOp::WordRight,
        KeyCode::Left => EditOp::Left,
        KeyCode::Right => EditOp::Right,
        KeyCode::Home => EditOp::Home,
        KeyCode::End => EditOp::End,
        KeyCode::Up => EditOp::HistoryPrev,
        KeyCode::Down => EditOp::HistoryNext,
        KeyCode::Enter => EditOp::Submit,
        KeyCode::Esc => EditOp::Cancel,
        KeyCode::Tab => return Some(Action::FocusNext),
        KeyCode::BackTab => return Some(Action::FocusPrev),
        KeyCode::F(1) => return Some(Action::Help),
        _ => return None,
    };
    Some(Action::Edit(op))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn parses_and_labels_keys() {
        assert_eq!(
            Key::parse("ctrl-w").ok(),
            Some(Key {
                code: KeyCode::Char('w'),
                mods: KeyModifiers::CONTROL
            })
        );
        assert_eq!(
            Key::parse("shift-tab").map(|k| k.code),
            Ok(KeyCode::BackTab)
        );
        assert_eq!(Key::parse("G").map(|k| k.code), Ok(KeyCode::Char('G')));
        assert_eq!(Key::parse("-").map(|k| k.code), Ok(KeyCode::Char('-')));
        assert_eq!(Key::parse("f1").map(|k| k.code), Ok(KeyCode::F(1)));
        assert!(Key::parse("hyper-x").is_err());
        assert_eq!(Key::parse("ctrl-w").map(|k| k.label()), Ok("ctrl-w".into()));
    }

    #[test]
    fn default_keymap_routes_vim_keys_and_shifted_characters() {
        let km = Keymap::default();
        assert_eq!(km.bindings.len(), Action::BINDABLE.len());
        assert!(km.bindings.iter().all(|(_, keys)| !keys.is_empty()));
        assert_eq!(
            km.action_for(&press(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Action::Down)
        );
        assert_eq!(
            km.action_for(&press(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(Action::Help)
        );
        assert_eq!(
            km.action_for(&press(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            km.action_for(&press(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::FocusPrev)
        );
        assert_eq!(
            km.action_for(&press(KeyCode::Char('C'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
    }

    #[test]
    fn overrides_replace_single_actions_and_bad_entries_are_named() {
        let mut o = BTreeMap::new();
        o.insert("like".to_string(), vec!["L".to_string()]);
        let km = Keymap::with_overrides(&o).unwrap();
        assert_eq!(
            km.action_for(&press(KeyCode::Char('L'), KeyModifiers::SHIFT)),
            Some(Action::Like)
        );
        assert_eq!(
            km.action_for(&press(KeyCode::Char('+'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(km.keys_label(&Action::Down), "j ↓");
        o.insert("dance".to_string(), vec!["d".to_string()]);
        assert!(Keymap::with_overrides(&o)
            .unwrap_err()
            .contains("keys.dance"));
        let mut o = BTreeMap::new();
        o.insert("quit".to_string(), vec!["hyper-q".to_string()]);
        assert!(Keymap::with_overrides(&o)
            .unwrap_err()
            .contains("keys.quit"));
    }

    #[test]
    fn a_keymap_keeps_a_quit_key_and_one_action_per_key() {
        let mut o = BTreeMap::new();
        o.insert("quit".to_string(), Vec::new());
        assert!(Keymap::with_overrides(&o)
            .unwrap_err()
            .contains("keys.quit"));
        let mut o = BTreeMap::new();
        o.insert("like".to_string(), vec!["q".to_string()]);
        let e = Keymap::with_overrides(&o).unwrap_err();
        assert!(e.contains("also bound"), "{e}");
        assert!(Keymap::with_overrides(&BTreeMap::new()).is_ok());
    }

    #[test]
    fn typing_q_edits_instead_of_quitting() {
        assert_eq!(
            editing_action(&press(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Action::Edit(EditOp::Insert('q')))
        );
        assert_eq!(
            editing_action(&press(KeyCode::Char('w'), KeyModifiers::CONTROL)),
            Some(Action::Edit(EditOp::DeleteWord))
        );
        assert_eq!(
            editing_action(&press(KeyCode::Tab, KeyModifiers::NONE)),
            Some(Action::FocusNext)
        );
    }
}
