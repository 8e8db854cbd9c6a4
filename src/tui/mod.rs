//! The TUI: the state of each pane and `update()` (`state`), the input layers (`layer`), actions and keys
//! (`action`, `keymap`, `editor`), drawing (`view`), the main loop that ties them to the terminal (`runtime`) and
//! the worker threads that call the core (`workers`); `bench` measures the TUI for `moodtape bench ui`.

pub mod action;
pub mod bench;
pub mod editor;
pub mod keymap;
pub mod layer;
pub mod paths;
pub mod runtime;
pub mod state;
pub mod view;
pub mod workers;

use crate::service::{Context, Flags};

/// Opens the TUI on the library; returns the exit code.
pub fn main(flags: &Flags) -> anyhow::Result<i32> {
    let ctx = Context::new(flags)?;
    let _log = ctx.init_logging();
    runtime::run(&ctx)
}

/// Checks the TUI's own settings (key bindings, theme) the way the TUI reads them, for `config check`.
pub fn check_config(ctx: &Context) -> anyhow::Result<()> {
    keymap::Keymap::with_overrides(&ctx.config.keys)
        .map_err(|e| anyhow::anyhow!("config file {}: {e}", ctx.config_path.display()))?;
    view::theme::Theme::load(&ctx.theme, &ctx.paths.config_dir, false)
        .map_err(anyhow::Error::msg)?;
    Ok(())
}
