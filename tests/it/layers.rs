//! The layers hold (docs/architecture.md): every `crate::` and `super::` path in
//! `src/`, in `use` lines and written inline in code alike, names only a
//! top-level module that its own top-level module may import.
//!
//! The scan works on the source text with comments and string literals blanked
//! out, so a doc link or a message is not an import, and follows `#[path]`
//! attributes and inline `mod x { .. }` blocks so that `super::` resolves to the
//! module it really names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The shared leaves: data types and helpers every layer may use.
const LEAVES: &[&str] = &[
    "observe",
    "event",
    "text",
    "telemetry",
    "crash",
    "backoff",
    "pacing",
    "outbound",
    "metrics",
    "render",
    "config",
];

/// Top-level module → the top-level modules it may import, besides itself.
/// `leaves: true` adds every [`LEAVES`] module. Keep in step with the table in
/// docs/architecture.md.
const MAY_IMPORT: &[(&str, bool, &[&str])] = &[
    // The shared leaves, bottom up.
    ("observe", false, &[]),
    ("event", false, &["observe"]),
    // The sanitisers for API text, one per destination: they know no crate type.
    ("text", false, &[]),
    ("telemetry", false, &["text"]),
    ("crash", false, &[]),
    ("backoff", false, &[]),
    ("pacing", false, &[]),
    // Every outgoing HTTP client and the secret scrubber; config checks URLs with it.
    ("outbound", false, &[]),
    ("metrics", false, &["event", "observe"]),
    ("render", false, &["event", "observe", "text"]),
    // Validation reuses the parsers of what it validates: templates (render),
    // quiet hours and severities (route). Each channel kind's settings live
    // beside its channel (deliver/<kind>/settings.rs) and build it; config
    // assembles them into `Settings`.
    (
        "config",
        false,
        &[
            "event",
            "observe",
            "telemetry",
            "render",
            "route",
            "deliver",
            "outbound",
        ],
    ),
    // The pipeline: pure decisions (diff, route) name no store, client or channel.
    ("fetch", true, &[]),
    // Reminders ask the rules which of them remind.
    ("diff", true, &["route"]),
    ("route", true, &[]),
    ("commit", true, &["diff", "route"]),
    ("deliver", true, &["commit", "route"]),
    // The shell.
    ("lead", true, &["commit"]),
    (
        "watcher",
        true,
        &["fetch", "diff", "route", "commit", "deliver"],
    ),
    ("reassert", true, &["diff", "route", "commit", "deliver"]),
    ("http", true, &["commit", "route"]),
    ("systemd", true, &["http"]),
    // When cycles start: it only sends ticks.
    ("schedule", true, &[]),
    (
        "daemon",
        true,
        &[
            "fetch", "diff", "route", "commit", "deliver", "watcher", "reassert", "lead", "http",
            "systemd", "schedule",
        ],
    ),
    (
        "sim",
        true,
        &[
            "fetch", "diff", "route", "commit", "deliver", "watcher", "daemon",
        ],
    ),
    (
        "cli",
        true,
        &[
            "fetch", "diff", "route", "commit", "deliver", "watcher", "reassert", "lead", "http",
            "systemd", "schedule", "daemon", "sim",
        ],
    ),
];

/// Imports against the table that are known and on their way out:
/// `(from, to, why)`. Empty: every import follows the table.
const KNOWN_ELSEWHERE: &[(&str, &str, &str)] = &[];

/// Channel files may not touch the store: only the dispatcher reads the outbox.
fn is_channel_file(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("deliver/") else {
        return false;
    };
    !(rest == "mod.rs"
        || rest == "tests.rs"
        || rest.starts_with("dispatcher")
        || rest.ends_with("_tests.rs"))
}

#[test]
fn every_import_follows_the_layer_table() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let table: BTreeMap<&str, BTreeSet<&str>> = MAY_IMPORT
        .iter()
        .map(|(module, leaves, more)| {
            let mut allowed: BTreeSet<&str> = more.iter().copied().collect();
            if *leaves {
                allowed.extend(LEAVES);
            }
            (*module, allowed)
        })
        .collect();
    let files = module_files(&src);
    let top_level: BTreeSet<String> = files
        .values()
        .filter_map(|module| module.first().cloned())
        .collect();
    let mut problems = Vec::new();
    for name in &top_level {
        if !table.contains_key(name.as_str()) {
            problems.push(format!(
                "module `{name}` is not in the layer table (tests/it/layers.rs, docs/architecture.md)"
            ));
        }
    }
    for (file, module) in &files {
        let Some(from) = module.first() else {
            continue; // lib.rs: only `mod` lines
        };
        let relative = file
            .strip_prefix(&src)
            .unwrap_or(file)
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(file).expect("a source file is readable");
        for import in imports(&text, module) {
            if !top_level.contains(&import.target) || import.target == *from {
                continue;
            }
            let known = KNOWN_ELSEWHERE
                .iter()
                .any(|(a, b, _)| a == from && *b == import.target);
            let allowed = table
                .get(from.as_str())
                .is_some_and(|allowed| allowed.contains(import.target.as_str()));
            if !allowed && !known {
                problems.push(format!(
                    "src/{relative}:{}: `{from}` may not import `{}` ({})",
                    import.line, import.target, import.path
                ));
            }
            if import.target == "commit" && is_channel_file(&relative) {
                problems.push(format!(
                    "src/{relative}:{}: a channel never touches the store ({})",
                    import.line, import.path
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "imports against the layers (docs/architecture.md):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_scan_sees_inline_paths_and_resolves_super() {
    let text = r#"
use crate::{config::Settings, event::Event};
// crate::commentary::Ignored
/// [`crate::docs::Ignored`]
const TEXT: &str = "crate::string::Ignored";
fn f() -> crate::http::Metrics { let _ = 'x'; crate::metrics::Metrics::default() }
pub(super) fn g<'a>(_: &'a str) {}
mod tests {
    use super::*;
    use super::super::watcher::CycleReport;
}
"#;
    let found: Vec<(usize, String)> = imports(text, &["fetch".into(), "client".into()])
        .into_iter()
        .map(|import| (import.line, import.target))
        .collect();
    assert_eq!(
        found,
        vec![
            (2, "config".to_string()),
            (2, "event".to_string()),
            (6, "http".to_string()),
            (6, "metrics".to_string()),
            (9, "fetch".to_string()),
            (10, "fetch".to_string()),
        ]
    );
    // From a top-level file, `super::` reaches the crate root.
    let found: Vec<String> = imports("fn f() { super::http::serve(); }", &["systemd".into()])
        .into_iter()
        .map(|import| import.target)
        .collect();
    assert_eq!(found, vec!["http".to_string()]);
}

/// One `crate::`/`super::` path: the top-level module it names.
#[derive(Debug)]
struct Import {
    line: usize,
    target: String,
    path: String,
}

/// Every `.rs` file under `src` with its module path, following `#[path]`.
/// `main.rs` is the binary's own crate and is left out.
fn module_files(src: &Path) -> BTreeMap<PathBuf, Vec<String>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![src.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") && path != src.join("main.rs")
            {
                let relative = path
                    .strip_prefix(src)
                    .expect("under src")
                    .with_extension("");
                let mut module: Vec<String> = relative
                    .iter()
                    .map(|part| part.to_string_lossy().into_owned())
                    .collect();
                if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                    module.pop();
                }
                files.insert(path, module);
            }
        }
    }
    // `#[path = "x_tests.rs"] mod tests;` makes x_tests.rs the module `x::tests`.
    let declared: Vec<(PathBuf, Vec<String>)> = files
        .iter()
        .flat_map(|(file, module)| {
            let text = std::fs::read_to_string(file).expect("a source file is readable");
            let dir = file.parent().expect("a file has a folder").to_path_buf();
            path_attributes(&text)
                .into_iter()
                .map(|(target, name)| {
                    let mut inner = module.clone();
                    inner.push(name);
                    (dir.join(target), inner)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    for (file, module) in declared {
        if let Some(entry) = files.get_mut(&file) {
            *entry = module;
        }
    }
    files
}

/// `(file, module name)` of every `#[path = "file"] mod name;`.
fn path_attributes(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(target) = line
            .strip_prefix("#[path = \"")
            .and_then(|rest| rest.strip_suffix("\"]"))
        else {
            continue;
        };
        if let Some(name) = lines
            .next()
            .and_then(|next| next.strip_prefix("mod "))
            .and_then(|rest| rest.strip_suffix(';'))
        {
            found.push((target.to_string(), name.trim().to_string()));
        }
    }
    found
}

/// Comments and the insides of string and char literals replaced by spaces
/// (newlines kept, so line numbers stay right).
fn blank_non_code(text: &str) -> Vec<char> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = chars.clone();
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for c in &mut out[from..to.min(chars.len())] {
            if *c != '\n' {
                *c = ' ';
            }
        }
    };
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        let rest = &chars[i..];
        if rest.starts_with(&['/', '/']) {
            let end = (i..chars.len())
                .find(|&j| chars[j] == '\n')
                .unwrap_or(chars.len());
            blank(&mut out, i, end);
            i = end;
        } else if rest.starts_with(&['/', '*']) {
            let (mut depth, mut j) = (1, i + 2);
            while j < chars.len() && depth > 0 {
                if chars[j..].starts_with(&['/', '*']) {
                    depth += 1;
                    j += 1;
                } else if chars[j..].starts_with(&['*', '/']) {
                    depth -= 1;
                    j += 1;
                }
                j += 1;
            }
            blank(&mut out, i, j);
            i = j;
        } else if chars[i] == 'r'
            && (i == 0 || !is_ident(chars[i - 1]))
            && matches!(rest.get(1), Some('"' | '#'))
        {
            let hashes = rest[1..].iter().take_while(|&&c| c == '#').count();
            if rest.get(1 + hashes) != Some(&'"') {
                i += 1;
                continue;
            }
            let start = i + 2 + hashes;
            let closing: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat('#').take(hashes))
                .collect();
            let end = (start..chars.len())
                .find(|&j| chars[j..].starts_with(&closing))
                .unwrap_or(chars.len());
            blank(&mut out, start, end);
            i = end + closing.len();
        } else if chars[i] == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, j);
            i = j + 1;
        } else if chars[i] == '\'' {
            // A char literal ('x', '\n'), or else a lifetime ('a) left as it is.
            if rest.get(1) == Some(&'\\') {
                let end = (i + 2..chars.len())
                    .find(|&j| chars[j] == '\'')
                    .unwrap_or(chars.len());
                blank(&mut out, i + 1, end);
                i = end + 1;
            } else if rest.get(2) == Some(&'\'') {
                blank(&mut out, i + 1, i + 2);
                i += 3;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Every `crate::` and `super::` path in `text`, a file of module `module`,
/// with the top-level module it names.
fn imports(text: &str, module: &[String]) -> Vec<Import> {
    let code = blank_non_code(text);
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let word_at =
        |at: usize| -> String { code[at..].iter().take_while(|&&c| is_ident(c)).collect() };
    let skip_space = |mut at: usize| {
        while at < code.len() && code[at].is_whitespace() {
            at += 1;
        }
        at
    };
    // After `prefix::`: the first segment, or each item of a `{..}` group.
    let segments_at = |at: usize| -> Vec<String> {
        let at = skip_space(at);
        if code.get(at) != Some(&'{') {
            return vec![word_at(at)];
        }
        let (mut depth, mut item_start, mut items) = (0, true, Vec::new());
        for (offset, &c) in code[at..].iter().enumerate() {
            match c {
                '{' => {
                    depth += 1;
                    if depth == 1 {
                        item_start = true;
                        continue;
                    }
                }
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ',' if depth == 1 => {
                    item_start = true;
                    continue;
                }
                _ => {}
            }
            if depth == 1 && item_start && is_ident(c) {
                items.push(word_at(at + offset));
                item_start = false;
            } else if depth == 1 && !c.is_whitespace() {
                item_start = false;
            }
        }
        items
    };
    let mut found = Vec::new();
    let line_at = |at: usize| 1 + code[..at].iter().filter(|&&c| c == '\n').count();
    // Inline `mod name {` blocks open here: `(brace depth inside, name)`.
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < code.len() {
        let c = code[i];
        match c {
            '{' => depth += 1,
            '}' => {
                if inline.last().is_some_and(|(open, _)| *open == depth) {
                    inline.pop();
                }
                depth -= 1;
            }
            _ => {}
        }
        if !is_ident(c) || (i > 0 && (is_ident(code[i - 1]) || code[i - 1] == '$')) {
            i += 1;
            continue;
        }
        let word = word_at(i);
        let after = i + word.len();
        if word == "mod" {
            let name_at = skip_space(after);
            let name = word_at(name_at);
            if code.get(skip_space(name_at + name.len())) == Some(&'{') {
                inline.push((depth + 1, name));
            }
        }
        let mut next = skip_space(after);
        if (word == "crate" || word == "super") && code[next..].starts_with(&[':', ':']) {
            let mut base: Vec<String> = match word.as_str() {
                "crate" => Vec::new(),
                _ => module
                    .iter()
                    .cloned()
                    .chain(inline.iter().map(|(_, name)| name.clone()))
                    .collect(),
            };
            let mut path = word.clone();
            if word == "super" {
                base.pop();
                loop {
                    next = skip_space(next + 2);
                    if word_at(next) != "super" {
                        break;
                    }
                    path.push_str("::super");
                    base.pop();
                    next = skip_space(next + "super".len());
                    if !code[next..].starts_with(&[':', ':']) {
                        break;
                    }
                }
            } else {
                next += 2;
            }
            let targets = match base.first() {
                Some(top) => vec![top.clone()],
                None => segments_at(next),
            };
            for target in targets.into_iter().filter(|target| !target.is_empty()) {
                found.push(Import {
                    line: line_at(i),
                    path: format!("{path}::{target}"),
                    target,
                });
            }
            i = next;
            continue;
        }
        i = after;
    }
    found
}
