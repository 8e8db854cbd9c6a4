//! Folder paths typed in the TUI: `~` expansion, turning what was typed into the folder to scan, and completing
//! folder names. Reading folders touches the disk, so the workers call these, never `update()`; the matching
//! itself ([`complete_among`]) is pure.

use std::path::{Path, PathBuf};

/// Candidates a completion keeps for the prompt line; more are only counted.
pub const MAX_CANDIDATES: usize = 8;

/// What Tab made of a typed path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completion {
    /// The text as it was typed when Tab was pressed: the answer is dropped if the text has changed since.
    pub typed: String,
    /// The text completed as far as every match agrees (a lone match ends in `/`).
    pub text: String,
    /// Folder names that still match, when more than one does (at most [`MAX_CANDIDATES`]).
    pub candidates: Vec<String>,
    /// Matches left out of `candidates`.
    pub more: usize,
    /// Why nothing was completed (no folder matches, the parent cannot be read).
    pub problem: Option<String>,
}

/// `~` and `~/...` with the home folder put in; anything else as it is.
pub fn expand_home(path: &Path, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) if rest.as_os_str().is_empty() => home.to_path_buf(),
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

/// The home folder, from `$HOME`.
pub fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// The folder a typed path names: `~` expanded, made absolute against the current folder (a moodtape this TUI is
/// attached to may run elsewhere, so it gets an absolute path, as the CLI gives it).
pub fn resolve(typed: &Path) -> PathBuf {
    let path = expand_home(typed, home().as_deref());
    std::path::absolute(&path).unwrap_or(path)
}

/// Completes the last part of `typed` among the folders of its parent (hidden ones only when the part starts with
/// a dot), reading the disk.
pub fn complete(typed: &str) -> Completion {
    let home = home();
    if typed == "~" && home.is_some() {
        return Completion {
            typed: typed.to_string(),
            text: "~/".to_string(),
            ..Completion::default()
        };
    }
    let (parent, _) = split_last(typed);
    let dir = if parent.is_empty() {
        PathBuf::from(".")
    } else {
        expand_home(Path::new(parent), home.as_deref())
    };
    match folder_names(&dir) {
        Ok(names) => complete_among(typed, &names),
        Err(e) => Completion {
            typed: typed.to_string(),
            text: typed.to_string(),
            problem: Some(crate::sanitize::clean_line(&format!(
                "cannot read {}: {e}",
                if parent.is_empty() { "." } else { parent }
            ))),
            ..Completion::default()
        },
    }
}

/// The text before the last `/` (with it) and the part after it.
fn split_last(typed: &str) -> (&str, &str) {
    match typed.rfind('/') {
        Some(i) => typed.split_at(i + 1),
        None => ("", typed),
    }
}

/// The names of the folders in `dir` (links to folders too), sorted; names that are not plain text are left out,
/// since they could not be typed or shown as they are.
fn folder_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let is_dir = entry
            .file_type()
            .map(|t| t.is_dir() || (t.is_symlink() && entry.path().is_dir()))
            .unwrap_or(false);
        if !is_dir {
            continue;
        }
        if let Some(name) = entry.file_name().to_str() {
            if crate::sanitize::clean_line(name) == name {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Completes the last part of `typed` among `names`, the folders of its parent.
pub fn complete_among(typed: &str, names: &[String]) -> Completion {
    let (parent, part) = split_last(typed);
    let matches: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with(part) && (part.starts_with('.') || !n.starts_with('.')))
        .collect();
    let mut out = Completion {
        typed: typed.to_string(),
        text: typed.to_string(),
        ..Completion::default()
    };
    match matches.as_slice() {
        [] => out.problem = Some("no folder matches".to_string()),
        [only] => out.text = format!("{parent}{only}/"),
        many => {
            out.text = format!("{parent}{}", common_prefix(many));
            out.candidates = many
                .iter()
                .take(MAX_CANDIDATES)
                .map(|n| n.to_string())
                .collect();
            out.more = many.len().saturating_sub(MAX_CANDIDATES);
        }
    }
    out
}

/// The longest start every name shares, in whole characters.
fn common_prefix(names: &[&String]) -> String {
    let Some(first) = names.first() else {
        return String::new();
    };
    let mut end = first.len();
    for name in &names[1..] {
        end = first
            .char_indices()
            .zip(name.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8())
            .min(end);
    }
    first[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn completes_the_common_start_and_a_lone_match_whole() {
        let n = names(&["Music", "Musicals", "Mutter", ".music"]);
        let c = complete_among("~/Mu", &n);
        assert_eq!(c.text, "~/Mu");
        assert_eq!(c.candidates, ["Music", "Musicals", "Mutter"]);
        let c = complete_among("~/Mus", &n);
        assert_eq!(c.text, "~/Music");
        assert_eq!(c.candidates.len(), 2);
        assert_eq!(complete_among("~/Mut", &n).text, "~/Mutter/");
        assert_eq!(complete_among("/srv/.m", &n).text, "/srv/.music/");
        let c = complete_among("x/Z", &n);
        assert_eq!(c.text, "x/Z");
        assert_eq!(c.problem.as_deref(), Some("no folder matches"));
    }

    #[test]
    fn common_prefix_keeps_whole_characters() {
        let (a, b) = ("Déjà".to_string(), "Déjeuner".to_string());
        assert_eq!(common_prefix(&[&a, &b]), "Déj");
    }

    #[test]
    fn home_is_expanded_only_at_the_start() {
        let home = Path::new("/home/ann");
        let expand = |p: &str| expand_home(Path::new(p), Some(home));
        assert_eq!(expand("~/Music"), PathBuf::from("/home/ann/Music"));
        assert_eq!(expand("~"), PathBuf::from("/home/ann"));
        assert_eq!(expand("a/~/b"), PathBuf::from("a/~/b"));
        assert_eq!(expand("~bob/x"), PathBuf::from("~bob/x"));
        assert_eq!(expand_home(Path::new("~/x"), None), PathBuf::from("~/x"));
    }
}
