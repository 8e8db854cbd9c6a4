//! A one-line text editor with a cursor, word deletion and history: the mood input and the library filter.

/// One editing operation; the key routing turns key presses into these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditOp {
    Insert(char),
    /// Pasted text: control characters are dropped and line breaks become spaces.
    Paste(String),
    Backspace,
    Delete,
    Left,
    Right,
    WordLeft,
    WordRight,
    Home,
    End,
    /// Ctrl-W: the word before the cursor.
    DeleteWord,
    /// Ctrl-U: everything before the cursor.
    DeleteToStart,
    /// Ctrl-K: everything after the cursor.
    DeleteToEnd,
    HistoryPrev,
    HistoryNext,
    /// Enter.
    Submit,
    /// Esc.
    Cancel,
    /// Tab in the folder prompt: complete the folder name.
    Complete,
}

/// Longest text kept, in characters; a mood is a sentence or two.
pub const MAX_CHARS: usize = 500;
const MAX_HISTORY: usize = 100;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineEditor {
    chars: Vec<char>,
    /// Cursor position in characters, 0..=len.
    cursor: usize,
    history: Vec<String>,
    /// Where in the history Up/Down is, with the text that was being typed before.
    browsing: Option<(usize, String)>,
}

impl LineEditor {
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    pub fn history(&self) -> &[String] {
        &self.history
    }

    pub fn set_text(&mut self, text: &str) {
        self.chars = text.chars().take(MAX_CHARS).collect();
        self.cursor = self.chars.len();
    }

    pub fn clear(&mut self) {
        self.chars.clear();
        self.cursor = 0;
        self.browsing = None;
    }

    /// Keeps `text` as the newest history entry (repeats and blanks are not stored twice).
    pub fn remember(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        self.history.retain(|h| h != text);
        self.history.push(text.to_string());
        if self.history.len() > MAX_HISTORY {
            self.history.remove(0);
        }
        self.browsing = None;
    }

    /// Applies `op`; returns whether the text changed. Submit and Cancel are the caller's to handle.
    pub fn apply(&mut self, op: &EditOp) -> bool {
        let before = self.chars.clone();
        match op {
            EditOp::Insert(c) => {
                if !c.is_control() && self.chars.len() < MAX_CHARS {
                    self.chars.insert(self.cursor, *c);
                    self.cursor += 1;
                }
            }
            EditOp::Paste(text) => {
                let text = crate::sanitize::clean_line(&text.replace(['\n', '\r', '\t'], " "));
                for c in text.chars() {
                    if self.chars.len() >= MAX_CHARS {
                        break;
                    }
                    self.chars.insert(self.cursor, c);
                    self.cursor += 1;
                }
            }
            EditOp::Backspace => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    self.chars.remove(self.cursor);
                }
            }
            EditOp::Delete => {
                if self.cursor < self.chars.len() {
                    self.chars.remove(self.cursor);
                }
            }
            EditOp::Left => self.cursor = self.cursor.saturating_sub(1),
            EditOp::Right => self.cursor = (self.cursor + 1).min(self.chars.len()),
            EditOp::WordLeft => self.cursor = self.word_start(),
            EditOp::WordRight => {
                let mut i = self.cursor;
                while i < self.chars.len() && self.chars[i].is_whitespace() {
                    i += 1;
                }
                while i < self.chars.len() && !self.chars[i].is_whitespace() {
                    i += 1;
                }
                self.cursor = i;
            }
            EditOp::Home => self.cursor = 0,
            EditOp::End => self.cursor = self.chars.len(),
            EditOp::DeleteWord => {
                let start = self.word_start();
                self.chars.drain(start..self.cursor);
                self.cursor = start;
            }
            EditOp::DeleteToStart => {
                self.chars.drain(..self.cursor);
                self.cursor = 0;
            }
            EditOp::DeleteToEnd => self.chars.truncate(self.cursor),
            EditOp::HistoryPrev => return self.browse(-1),
            EditOp::HistoryNext => return self.browse(1),
            EditOp::Submit | EditOp::Cancel | EditOp::Complete => {}
        }
        let changed = before != self.chars;
        if changed {
            self.browsing = None;
        }
        changed
    }

    /// The start of the word before the cursor (spaces right before the cursor belong to it).
    fn word_start(&self) -> usize {
        let mut i = self.cursor;
        while i > 0 && self.chars[i - 1].is_whitespace() {
            i -= 1;
        }
        while i > 0 && !self.chars[i - 1].is_whitespace() {
            i -= 1;
        }
        i
    }

    fn browse(&mut self, step: i32) -> bool {
        if self.history.is_empty() {
            return false;
        }
        let (pos, draft) = match self.browsing.take() {
            Some(b) => b,
            None if step < 0 => (self.history.len(), self.text()),
            None => return false,
        };
        let next = pos as i64 + i64::from(step);
        if next < 0 {
            self.browsing = Some((pos, draft));
            return false;
        }
        let next = next as usize;
        if next >= self.history.len() {
            self.set_text(&draft);
            return true;
        }
        let text = self.history[next].clone();
        self.set_text(&text);
        self.browsing = Some((next, draft));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(text: &str) -> LineEditor {
        let mut e = LineEditor::default();
        for c in text.chars() {
            e.apply(&EditOp::Insert(c));
        }
        e
    }

    #[test]
    fn cursor_moves_and_inserts_in_place() {
        let mut e = typed("helo");
        e.apply(&EditOp::Left);
        e.apply(&EditOp::Insert('l'));
        assert_eq!(e.text(), "hello");
        assert_eq!(e.cursor(), 4);
        e.apply(&EditOp::Home);
        e.apply(&EditOp::Delete);
        assert_eq!(e.text(), "ello");
        e.apply(&EditOp::End);
        e.apply(&EditOp::Backspace);
        assert_eq!(e.text(), "ell");
    }

    #[test]
    fn ctrl_w_deletes_the_word_before_the_cursor() {
        let mut e = typed("I feel so empty  ");
        e.apply(&EditOp::DeleteWord);
        assert_eq!(e.text(), "I feel so ");
        e.apply(&EditOp::DeleteWord);
        assert_eq!(e.text(), "I feel ");
        e.apply(&EditOp::WordLeft);
        assert_eq!(e.cursor(), 2);
        e.apply(&EditOp::DeleteToEnd);
        assert_eq!(e.text(), "I ");
        e.apply(&EditOp::DeleteToStart);
        assert_eq!(e.text(), "");
    }

    #[test]
    fn history_walks_back_and_restores_the_draft() {
        let mut e = LineEditor::default();
        e.remember("first");
        e.remember("second");
        e.remember("first");
        assert_eq!(e.history(), ["second", "first"]);
        e.set_text("draft");
        e.apply(&EditOp::HistoryPrev);
        assert_eq!(e.text(), "first");
        e.apply(&EditOp::HistoryPrev);
        assert_eq!(e.text(), "second");
        e.apply(&EditOp::HistoryPrev);
        assert_eq!(e.text(), "second");
        e.apply(&EditOp::HistoryNext);
        assert_eq!(e.text(), "first");
        e.apply(&EditOp::HistoryNext);
        assert_eq!(e.text(), "draft");
    }

    #[test]
    fn paste_drops_control_characters() {
        let mut e = LineEditor::default();
        e.apply(&EditOp::Paste("a\u{1b}[31mb\nc".into()));
        assert_eq!(e.text(), "ab c");
    }
}
