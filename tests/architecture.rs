//! The layers of `src/` hold: every top-level module uses only modules of earlier layers, so there is no import
//! cycle and the faces (CLI, TUI) never use each other. Read from the source, as the README's architecture
//! section describes it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may use the modules of any earlier layer, none of its own or a later one.
const LAYERS: &[&[&str]] = &[
    &["sanitize", "paths"],
    &["files"],
    &["records"],
    &["store"],
    &["library"],
    &["lyrics"],
    &["emotion"],
    &["recommend"],
    &["player"],
    &["config"],
    &["service"],
    &["lab"],
    &["server"],
    &["cli", "tui"],
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/tui/view/map.rs` → `tui`); `None` for the crate roots.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()?
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// The code of a line without its comment (string literals are rare enough in `use` paths to ignore).
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Every top-level module a piece of code names through `prefix::`, also inside `prefix::{a, b::c}` groups.
fn named_modules(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let needle = format!("{prefix}::");
    let mut rest = text;
    while let Some(i) = rest.find(&needle) {
        let before = rest[..i].chars().last();
        rest = &rest[i + needle.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// Which top-level modules each module uses, with one place where it does.
fn graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut uses: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in files {
        let Some(from) = module_of(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for to in named_modules(code(line), "crate") {
                if to != from {
                    uses.entry(from.clone())
                        .or_default()
                        .entry(to)
                        .or_insert_with(|| {
                            format!("{}:{}", file.strip_prefix(&src).unwrap().display(), n + 1)
                        });
                }
            }
        }
        uses.entry(from).or_default();
    }
    uses
}

#[test]
fn every_module_has_a_layer() {
    for module in graph().keys() {
        assert!(
            rank(module).is_some(),
            "src/{module} is in no layer; add it to LAYERS here and to the README's architecture section"
        );
    }
}

#[test]
fn modules_use_only_earlier_layers() {
    let mut wrong = Vec::new();
    for (from, uses) in graph() {
        let Some(r) = rank(&from) else { continue };
        for (to, place) in uses {
            match rank(&to) {
                Some(t) if t < r => {}
                _ => wrong.push(format!("{from} uses {to} ({place})")),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn there_is_no_cycle() {
    // Implied by the layers, and checked on its own so a change to LAYERS cannot hide one.
    let g = graph();
    fn visit(
        node: &str,
        g: &BTreeMap<String, BTreeMap<String, String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(i) = path.iter().position(|p| p == node) {
            panic!("import cycle: {} → {node}", path[i..].join(" → "));
        }
        if done.contains(node) {
            return;
        }
        path.push(node.to_string());
        for next in g
            .get(node)
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            visit(&next, g, path, done);
        }
        path.pop();
        done.insert(node.to_string());
    }
    let mut done = BTreeSet::new();
    for node in g.keys() {
        visit(node, &g, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_reader_finds_imports_in_every_form() {
    let found = named_modules(
        "use crate::{records::Song, store};\nlet x = crate::emotion::model_key(); // crate::tui",
        "crate",
    );
    let want: BTreeSet<String> = ["records", "store", "emotion", "tui"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(found, want);
    assert_eq!(code("let a = 1; // crate::tui"), "let a = 1; ");
    assert!(named_modules("mycrate::x", "crate").is_empty());
}
