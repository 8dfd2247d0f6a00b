//! The layers hold (docs/architecture.md): every `crate::` and `super::` path in
//! `src/`, in `use` lines and written inline in code alike, names only a
//! top-level module that its own top-level module may import.
//!
//! The scan works on the source text with comments and string literals blanked
//! out, so a doc link or a message is not an import, and follows `#[path]`
//! attributes and inline `mod x { .. }` blocks so that `super::` resolves to the
//! module it really names. A path through a re-export (`pub use`, `pub(crate)
//! use`, groups and renames alike) also imports the module the item comes
//! from: `crate::config::ChannelSettings` names `deliver` when `config`
//! re-exports it from there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The shared leaves: data types and helpers every layer may use.
const LEAVES: &[&str] = &[
    "fixtures",
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
    "alert",
    "state",
    "setting",
    "window",
];

/// Top-level module → the top-level modules it may import, besides itself.
/// `leaves: true` adds every [`LEAVES`] module. Keep in step with the table in
/// docs/architecture.md.
const MAY_IMPORT: &[(&str, bool, &[&str])] = &[
    // The shared leaves, bottom up.
    ("observe", false, &[]),
    // Builders the unit tests share (`#[cfg(test)]` only).
    ("fixtures", false, &["event", "observe", "render", "state"]),
    ("event", false, &["observe"]),
    // The sanitisers for API text, one per destination: they know no crate type.
    ("text", false, &[]),
    ("telemetry", false, &["text"]),
    ("crash", false, &[]),
    ("backoff", false, &[]),
    ("pacing", false, &[]),
    // Every outgoing HTTP client and the secret scrubber; settings check URLs with it.
    ("outbound", false, &[]),
    ("metrics", false, &["event", "observe"]),
    ("render", false, &["event", "observe", "text"]),
    // What a condition is, its severity and colour, and which events start or
    // end one (its tests take render's sample events).
    ("alert", false, &["event", "observe", "render"]),
    // What the store keeps and the pure steps compute.
    ("state", false, &["event", "observe"]),
    // The pieces every part's settings are made of: bounds, secrets, URLs,
    // known keys, "did you mean".
    ("setting", false, &["outbound"]),
    // Weekly windows in a time zone (maintenance, calling hours) and how a
    // wall-clock time becomes an instant.
    ("window", false, &[]),
    // The pipeline: pure decisions (diff, route) name no store, client or channel.
    ("fetch", true, &["config"]),
    // Reminders ask the rules which of them remind.
    ("diff", true, &["route"]),
    ("route", true, &[]),
    ("commit", true, &["diff", "route"]),
    ("deliver", true, &["commit", "route"]),
    // Each part's settings live beside the part (a channel kind's in
    // deliver/<kind>/settings.rs, the heartbeat's in deliver/heartbeat.rs);
    // config assembles them into `Settings`, loads and validates them, so it
    // sits above the parts whose settings it assembles, and none of them
    // imports it.
    ("config", true, &["route", "deliver", "schedule"]),
    // The shell.
    ("lead", true, &["commit"]),
    (
        "watcher",
        true,
        &["fetch", "diff", "route", "commit", "deliver", "config"],
    ),
    (
        "reassert",
        true,
        &["diff", "route", "commit", "deliver", "config"],
    ),
    ("http", true, &["commit", "route", "config"]),
    ("systemd", true, &["http"]),
    // When cycles start: it only sends ticks. Its cron expression is parsed
    // when the settings are validated, so config builds it.
    ("schedule", true, &[]),
    (
        "daemon",
        true,
        &[
            "fetch", "diff", "route", "commit", "deliver", "config", "watcher", "reassert", "lead",
            "http", "systemd", "schedule",
        ],
    ),
    (
        "sim",
        true,
        &[
            "fetch", "diff", "route", "commit", "deliver", "config", "watcher", "daemon",
        ],
    ),
    (
        "cli",
        true,
        &[
            "fetch", "diff", "route", "commit", "deliver", "config", "watcher", "reassert", "lead",
            "http", "systemd", "schedule", "daemon", "sim",
        ],
    ),
];

/// Imports against the table that are known and on their way out:
/// `(from, to, item, why)`: an import of `to` from `from` whose path names
/// `item`.
const KNOWN_ELSEWHERE: &[(&str, &str, &str, &str)] = &[];

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
    let modules: BTreeSet<Vec<String>> = files.values().cloned().collect();
    let mut reexported = Reexports::new();
    for (file, module) in &files {
        let text = std::fs::read_to_string(file).expect("a source file is readable");
        for (name, target) in reexports(&text, module, &modules) {
            reexported
                .entry(module.clone())
                .or_default()
                .insert(name, target);
        }
    }
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
            // The module the path names, then each one a re-export on the way
            // takes the item from.
            let mut named = vec![(import.target.clone(), import.path.clone())];
            for through in resolve(&import.segments, &reexported).into_iter().skip(1) {
                if let Some(top) = through.first() {
                    named.push((
                        top.clone(),
                        format!(
                            "crate::{} = crate::{}",
                            import.segments.join("::"),
                            through.join("::")
                        ),
                    ));
                }
            }
            for (target, shown) in named {
                if !top_level.contains(&target) || target == *from {
                    continue;
                }
                let known = KNOWN_ELSEWHERE.iter().any(|(a, b, item, _)| {
                    a == from && *b == target && import.segments.iter().any(|s| s == item)
                });
                let allowed = table
                    .get(from.as_str())
                    .is_some_and(|allowed| allowed.contains(target.as_str()));
                if !allowed && !known {
                    problems.push(format!(
                        "src/{relative}:{}: `{from}` may not import `{target}` ({shown})",
                        import.line
                    ));
                }
                if target == "commit" && is_channel_file(&relative) {
                    problems.push(format!(
                        "src/{relative}:{}: a channel never touches the store ({shown})",
                        import.line
                    ));
                }
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

#[test]
fn a_path_through_a_re_export_names_the_module_it_comes_from() {
    let config = r#"
mod accounts;
pub use crate::deliver::kinds::{
    ChannelKind, ChannelSettings as Channels, KindSettings,
};
pub(crate) use accounts::DEFAULT_ACCOUNT;
pub use serde::Deserialize;
"#;
    let accounts = "pub use crate::event::DEFAULT_ACCOUNT;";
    let modules: BTreeSet<Vec<String>> = [
        vec!["config".into()],
        vec!["config".into(), "accounts".into()],
    ]
    .into_iter()
    .collect();
    let mut reexported = Reexports::new();
    for (module, text) in [
        (vec!["config".to_string()], config),
        (vec!["config".into(), "accounts".into()], accounts),
    ] {
        for (name, target) in reexports(text, &module, &modules) {
            reexported
                .entry(module.clone())
                .or_default()
                .insert(name, target);
        }
    }
    assert_eq!(
        reexported[&vec!["config".to_string()]]
            .keys()
            .collect::<Vec<_>>(),
        ["ChannelKind", "Channels", "DEFAULT_ACCOUNT", "KindSettings"]
    );
    // route/decide.rs naming a channel's settings through config: it names deliver.
    let decide = "use crate::config::Channels;\nfn f(_: &super::super::config::KindSettings) {}";
    let named: Vec<(usize, Vec<String>)> = imports(decide, &["route".into(), "decide".into()])
        .into_iter()
        .map(|import| {
            let tops = resolve(&import.segments, &reexported)
                .into_iter()
                .filter_map(|path| path.first().cloned())
                .collect();
            (import.line, tops)
        })
        .collect();
    assert_eq!(
        named,
        vec![
            (1, vec!["config".to_string(), "deliver".to_string()]),
            (2, vec!["config".to_string(), "deliver".to_string()]),
        ]
    );
    // Through two re-exports: config → config::accounts → event.
    let chain = resolve(&["config".into(), "DEFAULT_ACCOUNT".into()], &reexported);
    assert_eq!(
        chain.last().map(|path| path.join("::")).as_deref(),
        Some("event::DEFAULT_ACCOUNT")
    );
}

/// One `crate::`/`super::` path: the top-level module it names, and the
/// whole path from the crate root as far as it is written.
#[derive(Debug)]
struct Import {
    line: usize,
    target: String,
    path: String,
    segments: Vec<String>,
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

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn skip_space(code: &[char], mut at: usize) -> usize {
    while at < code.len() && code[at].is_whitespace() {
        at += 1;
    }
    at
}

fn word_at(code: &[char], at: usize) -> String {
    code[at.min(code.len())..]
        .iter()
        .take_while(|&&c| is_ident(c))
        .collect()
}

/// The paths of the use tree (or inline path) at `at`, each with the name it
/// binds: `a::b::{c, d::e as f, g::*}` gives `a::b::c` (`c`), `a::b::d::e`
/// (`f`) and `a::b::g::*` (`*`). An inline path ends where `::` does not
/// follow a name (`f::<T>()` gives `f`).
fn tree_paths(code: &[char], at: usize) -> Vec<(Vec<String>, String)> {
    let mut prefix = Vec::new();
    let mut at = skip_space(code, at);
    loop {
        if code.get(at) == Some(&'{') {
            let mut found = Vec::new();
            let mut depth = 0;
            let mut item_start = true;
            let mut k = at;
            while k < code.len() {
                match code[k] {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if depth == 1 && item_start && !c.is_whitespace() => {
                        item_start = false;
                        for (rest, name) in tree_paths(code, k) {
                            let mut path = prefix.clone();
                            path.extend(rest);
                            found.push((path, name));
                        }
                    }
                    _ => {}
                }
                k += 1;
            }
            return found;
        }
        if code.get(at) == Some(&'*') {
            prefix.push("*".to_string());
            return vec![(prefix, "*".to_string())];
        }
        let word = word_at(code, at);
        if word.is_empty() {
            break;
        }
        at = skip_space(code, at + word.len());
        prefix.push(word);
        if code[at.min(code.len())..].starts_with(&[':', ':']) {
            at = skip_space(code, at + 2);
            continue;
        }
        // `as name` renames the last segment.
        if word_at(code, at) == "as" {
            let alias_at = skip_space(code, at + 2);
            let alias = word_at(code, alias_at);
            if !alias.is_empty() {
                return vec![(prefix, alias)];
            }
        }
        break;
    }
    match prefix.last().cloned() {
        Some(name) => vec![(prefix, name)],
        None => Vec::new(),
    }
}

/// The items `text`, a file of module `module`, re-exports (`pub use`,
/// `pub(crate) use`, `pub(super) use`, `pub(in ..) use`): the name each is
/// known by here, and the path from the crate root it stands for. A path that
/// is not `crate::`, `super::`, `self::` or a child module (one of `modules`)
/// leaves the crate and is not kept.
fn reexports(
    text: &str,
    module: &[String],
    modules: &BTreeSet<Vec<String>>,
) -> Vec<(String, Vec<String>)> {
    let code = blank_non_code(text);
    let mut found = Vec::new();
    let mut i = 0;
    while i < code.len() {
        if !is_ident(code[i]) || (i > 0 && (is_ident(code[i - 1]) || code[i - 1] == '$')) {
            i += 1;
            continue;
        }
        let word = word_at(&code, i);
        i += word.len();
        if word != "pub" {
            continue;
        }
        let mut at = skip_space(&code, i);
        if code.get(at) == Some(&'(') {
            match code[at..].iter().position(|&c| c == ')') {
                Some(close) => at = skip_space(&code, at + close + 1),
                None => continue,
            }
        }
        if word_at(&code, at) != "use" {
            continue;
        }
        for (path, name) in tree_paths(&code, at + "use".len()) {
            let Some((first, rest)) = path.split_first() else {
                continue;
            };
            let mut base: Vec<String> = module.to_vec();
            let mut rest = rest.to_vec();
            match first.as_str() {
                "crate" => base.clear(),
                "self" => {}
                "super" => {
                    base.pop();
                    while rest.first().map(String::as_str) == Some("super") {
                        rest.remove(0);
                        base.pop();
                    }
                }
                child => {
                    let mut inner = module.to_vec();
                    inner.push(child.to_string());
                    if !modules.contains(&inner) {
                        continue;
                    }
                    rest.insert(0, child.to_string());
                }
            }
            base.extend(rest);
            if base.last().map(String::as_str) != Some("*") && !base.is_empty() {
                found.push((name, base));
            }
        }
    }
    found
}

/// Module path → re-exported name → the path it stands for.
type Reexports = BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>;

/// The paths `segments` goes through: itself, then what each re-export on
/// the way stands for (`config::ChannelSettings` → `deliver::kinds::
/// ChannelSettings`), until a path names no re-export.
fn resolve(segments: &[String], reexported: &Reexports) -> Vec<Vec<String>> {
    let mut chain = vec![segments.to_vec()];
    // A bound on the steps: re-exports never chain this deep.
    for _ in 0..8 {
        let current = chain.last().expect("the chain starts with the path");
        let step = (1..current.len()).find_map(|split| {
            let target = reexported.get(&current[..split])?.get(&current[split])?;
            let mut next = target.clone();
            next.extend_from_slice(&current[split + 1..]);
            Some(next)
        });
        match step {
            Some(next) if !chain.contains(&next) => chain.push(next),
            _ => break,
        }
    }
    chain
}

/// Every `crate::` and `super::` path in `text`, a file of module `module`,
/// with the top-level module it names.
fn imports(text: &str, module: &[String]) -> Vec<Import> {
    let code = blank_non_code(text);
    let word_at = |at: usize| word_at(&code, at);
    let skip_space = |at: usize| skip_space(&code, at);
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
            let mut targets = BTreeSet::new();
            for (rest, _) in tree_paths(&code, next) {
                let mut segments = base.clone();
                segments.extend(rest);
                let Some(target) = segments.first().cloned() else {
                    continue;
                };
                // One import per module a path (or a `{..}` group) names.
                if targets.insert(target.clone()) {
                    found.push(Import {
                        line: line_at(i),
                        path: format!("{path}::{target}"),
                        target,
                        segments,
                    });
                }
            }
            i = next;
            continue;
        }
        i = after;
    }
    found
}
