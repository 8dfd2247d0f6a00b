//! Typed values from the merged tables, read through the unknown-key check:
//! every problem with its key path, one wrong type not hiding the others.

use super::*;

/// Keys no struct takes on purpose, with the sentence that says why; `*`
/// stands for one name.
pub(super) const REFUSED_KEYS: [(&str, &str); 1] = [(
    "http.tokens.*.token",
    "a token is never written in the configuration; put it in a file and name that file in token_file",
)];

/// `unknown key "path" (did you mean "x"?) (set by environment variable Y)`,
/// or the reason a refused key is refused.
pub(super) fn unknown(
    what: &str,
    path: &str,
    known: &[&str],
    leaf: &str,
    env_names: &BTreeMap<String, String>,
) -> String {
    if let Some((_, why)) = REFUSED_KEYS
        .iter()
        .find(|(pattern, _)| path_matches(pattern, path))
    {
        return format!("{path}: {why}");
    }
    let mut text = format!("unknown {what} \"{path}\"");
    text.push_str(&did_you_mean(leaf, known));
    if let Some(name) = env_source(path, env_names) {
        text.push_str(&format!(" (set by environment variable {name})"));
    }
    text
}

pub(super) fn path_matches(pattern: &str, path: &str) -> bool {
    let (pattern, path): (Vec<&str>, Vec<&str>) =
        (pattern.split('.').collect(), path.split('.').collect());
    pattern.len() == path.len()
        && pattern
            .iter()
            .zip(&path)
            .all(|(want, got)| *want == "*" || want == got)
}

/// Every unknown key `found`, once each and in key order (a table's keys come
/// in no particular order), as problems: a table the top level does not take
/// is a section.
pub(super) fn unknown_key_problems(
    found: Vec<UnknownKey>,
    top_tables: &BTreeSet<String>,
    env_names: &BTreeMap<String, String>,
) -> Vec<String> {
    let found: BTreeMap<String, UnknownKey> = found
        .into_iter()
        .map(|key| (key.path.clone(), key))
        .collect();
    found
        .into_values()
        .map(|key| {
            let what = if top_tables.contains(&key.path) {
                "section"
            } else {
                "key"
            };
            unknown(what, &key.path, key.known, &key.leaf, env_names)
        })
        .collect()
}

pub(super) fn sorted_keys(table: &Map<String, Value>) -> Vec<String> {
    let keys: BTreeSet<String> = table.keys().cloned().collect();
    keys.into_iter().collect()
}

pub(super) const MISSING_KEY: &str = "missing required key";

/// Whether `path` is `table` or lies inside it.
pub(super) fn is_within(path: &str, table: &str) -> bool {
    path.strip_prefix(table)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}

/// `a.b` of `a.b.c` and of `a.b[2]`; `None` at the top.
pub(super) fn parent(path: &str) -> Option<&str> {
    let cut = if path.ends_with(']') {
        path.rfind('[')
    } else {
        path.rfind('.')
    }?;
    (cut > 0).then(|| &path[..cut])
}

/// More type problems than this in one file are not worth reading one by one.
pub(super) const MAX_TYPE_PROBLEMS: usize = 64;

/// The whole file at once, through the unknown-key check. A wrong type is
/// reported, its key taken out and the rest read again, so one wrong type
/// does not hide the others. `[channels]` is typed apart, kind first.
pub(super) fn typed_settings(
    mut root: Map<String, Value>,
    env_names: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> Settings {
    let channels = root.remove("channels");
    let top_tables: BTreeSet<String> = root
        .iter()
        .filter(|(_, value)| matches!(value.kind, ValueKind::Table(_)))
        .map(|(key, _)| key.clone())
        .collect();
    let mut root = Value::new(None, ValueKind::Table(root));
    let mut unknown_keys = Vec::new();
    let mut type_problems = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    let mut settings = None;
    for _ in 0..MAX_TYPE_PROBLEMS {
        let found = Found::default();
        let attempt = deserialize_checked::<Settings, _>(root.clone(), "", &found);
        unknown_keys.extend(found.into_inner());
        match attempt {
            Ok(typed) => {
                settings = Some(typed);
                break;
            }
            Err(error) => {
                let (key, message) = split_error(error);
                let key = key.unwrap_or_default();
                let already_told = removed.iter().any(|taken| is_within(&key, taken));
                let missing = message == MISSING_KEY;
                if !already_told {
                    type_problems.push(type_problem(&key, message));
                }
                // A missing key is fixed by taking out the table that lacks
                // it; whatever cannot be taken out takes its parent with it.
                let mut target = if missing {
                    parent(&key)
                } else {
                    Some(key.as_str())
                };
                let taken = loop {
                    match target {
                        Some(path) if remove_path(&mut root, path) => break Some(path.to_string()),
                        Some(path) => target = parent(path),
                        None => break None,
                    }
                };
                match taken {
                    Some(path) => removed.push(path),
                    None => break,
                }
            }
        }
    }
    problems.extend(unknown_key_problems(unknown_keys, &top_tables, env_names));
    problems.extend(type_problems);
    let mut settings = settings.unwrap_or_default();
    if let Some(value) = channels {
        settings.channels = typed_channels(value, env_names, problems);
    }
    settings
}

/// `key: message`, with the hint durations need.
pub(super) fn type_problem(key: &str, mut message: String) -> String {
    if message.ends_with("expected a duration") {
        message.push_str(": durations are strings with a unit, like \"300s\", \"5m\" or \"1h\"");
    }
    if key.is_empty() {
        message
    } else {
        format!("{key}: {message}")
    }
}

/// Takes the value at `path` (`a.b[2].c`, the config crate's spelling) out of
/// `root`, so the next read leaves it at its default. An element of a list is
/// emptied rather than removed, so the indices of the others stay as written.
pub(super) fn remove_path(root: &mut Value, path: &str) -> bool {
    let mut segments = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                segments.push(Segment::Key(&rest[..open]));
            }
            rest = &rest[open..];
            while let Some(inner) = rest.strip_prefix('[') {
                let Some(close) = inner.find(']') else {
                    return false;
                };
                let Ok(index) = inner[..close].parse() else {
                    return false;
                };
                segments.push(Segment::Index(index));
                rest = &inner[close + 1..];
            }
        } else {
            segments.push(Segment::Key(rest));
        }
    }
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut value = root;
    for segment in parents {
        value = match (segment, &mut value.kind) {
            (Segment::Key(key), ValueKind::Table(table)) => match table.get_mut(*key) {
                Some(value) => value,
                None => return false,
            },
            (Segment::Index(index), ValueKind::Array(items)) => match items.get_mut(*index) {
                Some(value) => value,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, &mut value.kind) {
        (Segment::Key(key), ValueKind::Table(table)) => table.remove(*key).is_some(),
        (Segment::Index(index), ValueKind::Array(items)) => match items.get_mut(*index) {
            Some(item) if !matches!(&item.kind, ValueKind::Table(table) if table.is_empty()) => {
                *item = Value::new(None, ValueKind::Table(Map::new()));
                true
            }
            _ => false,
        },
        _ => false,
    }
}

pub(super) enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

pub(super) fn typed<T: DeserializeOwned>(
    value: Value,
    path: &str,
    env_names: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> Option<T> {
    typed_with(value, path, env_names, problems, |checked| {
        T::deserialize(checked)
    })
}

/// `read` applied to `value` through the unknown-key check: each unknown key
/// and the type problem, if any, become problems under `path`.
pub(super) fn typed_with<T>(
    value: Value,
    path: &str,
    env_names: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
    read: impl FnOnce(Checked<'_, Value>) -> Result<T, ::config::ConfigError>,
) -> Option<T> {
    let found = Found::default();
    let result = read(Checked::new(value, path, &found));
    problems.extend(unknown_key_problems(
        found.into_inner(),
        &BTreeSet::new(),
        env_names,
    ));
    match result {
        Ok(typed) => Some(typed),
        Err(error) => {
            let (key, message) = split_error(error);
            problems.push(type_problem(&join_path(path, key.as_deref()), message));
            None
        }
    }
}

/// The config crate tracks the key of a deserialisation error; separating it from
/// the message lets the problem start with the full key path.
pub(super) fn split_error(error: ::config::ConfigError) -> (Option<String>, String) {
    let (key, message) = split_error_raw(error);
    (key.map(|key| dotted(&key)), message)
}

/// `rules[0].events`: the config crate writes a field after an index without
/// its dot (`rules[0]events`).
pub(super) fn dotted(key: &str) -> String {
    let mut text = String::with_capacity(key.len() + 4);
    let mut after_index = false;
    for c in key.chars() {
        if after_index && c != '.' && c != '[' {
            text.push('.');
        }
        after_index = c == ']';
        text.push(c);
    }
    text
}

pub(super) fn split_error_raw(error: ::config::ConfigError) -> (Option<String>, String) {
    match error {
        ::config::ConfigError::Type {
            unexpected,
            expected,
            key,
            ..
        } => (
            key,
            format!("invalid type: {unexpected}, expected {expected}"),
        ),
        ::config::ConfigError::At { error, key, .. } => {
            let (inner_key, message) = split_error_raw(*error);
            let key = match (key, inner_key) {
                (Some(outer), Some(inner)) => Some(join_path(&outer, Some(&inner))),
                (outer, inner) => outer.or(inner),
            };
            (key, message)
        }
        ::config::ConfigError::NotFound(key) => (Some(key), MISSING_KEY.to_string()),
        ::config::ConfigError::Message(message) => (None, message),
        other => (None, other.to_string()),
    }
}

pub(super) fn join_path(base: &str, key: Option<&str>) -> String {
    match key {
        None | Some("") => base.to_string(),
        Some(key) if key.starts_with('[') => format!("{base}{key}"),
        Some(key) => format!("{base}.{key}"),
    }
}
