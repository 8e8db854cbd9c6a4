//! Who gets a key: the input layer on top. Key routing and `update()` both read [`Layer`], so a key can never be
//! taken by one part while another thinks it owns it.

use super::action::Pane;

/// The input layers, top first: an overlay, then a text input, then the focused pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The key help: it scrolls, closes, or quits.
    Help,
    /// The journey prompt: 1-4 pick where the journey goes; any other key closes it.
    JourneyPrompt,
    /// The folder prompt of a scan: keys are text, Tab completes a folder.
    ScanPrompt,
    /// The library filter input: keys are text.
    Filter,
    /// The mood input: keys are text.
    MoodInput,
    /// A pane has the keys, through the keymap.
    Pane(Pane),
}

impl Layer {
    /// A text input has the keys: `q` is a letter there.
    pub fn typing(self) -> bool {
        matches!(self, Layer::Filter | Layer::MoodInput | Layer::ScanPrompt)
    }
}

/// What sits over the panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    Help { scroll: usize },
    JourneyPrompt,
    ScanPrompt,
}
