//! Reading the configuration: TOML file, `CAMPAIGN_WATCHER__*` overrides,
//! typed values read through the unknown-key check (`keys.rs`: every table's
//! keys against the fields of the struct it becomes, so a new settings table
//! is checked without being listed anywhere), then `*_file` secrets.
//!
//! Problems from every stage are gathered into one [`ConfigError::Invalid`], so an
//! operator fixes the file in one pass instead of one error per run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ::config::{Config, Environment, File, FileFormat, Map, Source, Value, ValueKind};
use serde::de::DeserializeOwned;

use crate::setting::suggest::did_you_mean;

mod channels;
mod keys;
use super::{ConfigError, Settings};
use crate::setting::secret::{read_secret_file, Secret, SecretFiles};
pub(super) use channels::channels_from_tables;
use channels::{is_channel_list_key, typed_channels};
use keys::{deserialize_checked, Checked, Found, UnknownKey};

/// Prefix of environment overrides: `CAMPAIGN_WATCHER__SECTION__KEY`.
pub const ENV_PREFIX: &str = "CAMPAIGN_WATCHER";
const ENV_SEPARATOR: &str = "__";
/// Fallback for the API key when neither `api_key` nor `api_key_file` is set.
const API_KEY_ENV: &str = "SIGMAMIND_API_KEY";
/// Set by systemd for units with `LoadCredential=`.
const CREDENTIALS_DIR_ENV: &str = "CREDENTIALS_DIRECTORY";
/// Keys whose environment value is a comma-separated list.
const LIST_KEYS: [&str; 4] = [
    "watch.campaigns",
    "watch.statuses",
    "watch.include",
    "watch.exclude",
];
/// The same lists inside `[sigmamind.accounts.NAME]`.
const ACCOUNT_LIST_KEYS: [&str; 4] = ["campaigns", "statuses", "include", "exclude"];

type Env = BTreeMap<String, String>;

impl Settings {
    /// Loads `path`, then the process environment (overrides, `SIGMAMIND_API_KEY`,
    /// `CREDENTIALS_DIRECTORY`). Does not call [`Settings::validate`].
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        Self::load_with_env(path, process_env())
    }

    /// [`Settings::load`] with an explicit environment instead of the process's,
    /// so tests never mutate (and race on) the real one.
    pub fn load_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        // Checked up front so a missing file gets its own sentence rather than the
        // config crate's generic "not found" wording.
        let readable = std::fs::metadata(path).and_then(|meta| {
            if meta.is_dir() {
                Err(std::io::Error::other("it is a directory"))
            } else {
                std::fs::File::open(path).map(drop)
            }
        });
        if let Err(error) = readable {
            return Err(ConfigError::Unreadable {
                path: path.to_path_buf(),
                error,
            });
        }
        let origin = path.display().to_string();
        let source = File::from(path).format(FileFormat::Toml).required(true);
        pipeline(source, &origin, &env.into_iter().collect())
    }

    /// Loads TOML text through the same pipeline as a file, with NO environment:
    /// no overrides, no `SIGMAMIND_API_KEY`, no `CREDENTIALS_DIRECTORY`. That keeps
    /// `demo` and tests independent of whatever the shell exports. `origin` names
    /// the text in error messages.
    pub fn load_from_str(toml: &str, origin: &str) -> Result<Settings, ConfigError> {
        Self::load_from_str_with_env(toml, origin, std::iter::empty())
    }

    /// [`Settings::load_from_str`] with an explicit environment.
    pub fn load_from_str_with_env(
        toml: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let source = File::from_str(toml, FileFormat::Toml);
        pipeline(source, origin, &env.into_iter().collect())
    }
}

/// The process environment; non-Unicode variables cannot be ours, so they are skipped.
fn process_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
}

fn pipeline<S>(file: S, origin: &str, env: &Env) -> Result<Settings, ConfigError>
where
    S: Source + Send + Sync + 'static,
{
    let mut problems = Vec::new();

    let file_config = Config::builder()
        .add_source(file)
        .build()
        .map_err(|error| syntax_error(origin, error))?;

    let overrides = env_overrides(
        env,
        &file_table_names(&file_config, &["channels"]),
        &file_table_names(&file_config, &["sigmamind", "accounts"]),
        &mut problems,
    );
    let env_names = overrides.names.clone();
    let merged = Config::builder()
        .add_source(file_config)
        .add_source(overrides)
        .build()
        .map_err(|error| syntax_error(origin, error))?;

    let root = match merged.cache.kind {
        ValueKind::Table(table) => table,
        // A TOML document is always a table; an empty one stands in defensively.
        _ => Map::new(),
    };
    let mut settings = typed_settings(root, &env_names, &mut problems);
    resolve_secrets(&mut settings, env, &mut problems);

    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigError::invalid(origin, problems))
    }
}

fn syntax_error(origin: &str, error: ::config::ConfigError) -> ConfigError {
    let message = match error {
        ::config::ConfigError::FileParse { cause, .. } => cause.to_string(),
        other => other.to_string(),
    };
    ConfigError::Syntax {
        origin: origin.to_string(),
        message: strip_source_excerpt(&message),
    }
}

/// The TOML parser quotes the offending source line, which may hold a secret
/// (`api_key = sk_live_...` without quotes is a syntax error); keep only its
/// position and explanation.
fn strip_source_excerpt(message: &str) -> String {
    let is_excerpt = |line: &str| {
        let trimmed = line.trim_start();
        let after_number = trimmed.trim_start_matches(|c: char| c.is_ascii_digit());
        after_number.trim_start().starts_with('|')
    };
    message
        .lines()
        .filter(|line| !line.trim().is_empty() && !is_excerpt(line))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(": ")
}

/// The names of the file's tables at `path` (`["channels"]`: its channels).
fn file_table_names(config: &Config, path: &[&str]) -> Vec<String> {
    let mut kind = &config.cache.kind;
    for part in path {
        let ValueKind::Table(table) = kind else {
            return Vec::new();
        };
        let Some(value) = table.get(*part) else {
            return Vec::new();
        };
        kind = &value.kind;
    }
    match kind {
        ValueKind::Table(names) => names.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Environment overrides after the config crate's `Environment` has parsed them,
/// with channel names mapped back to the file's spelling and lists split.
#[derive(Debug, Clone)]
struct EnvOverrides {
    values: Map<String, Value>,
    /// Dotted key → the variable that set it, for error messages.
    names: BTreeMap<String, String>,
}

impl Source for EnvOverrides {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, ::config::ConfigError> {
        Ok(self.values.clone())
    }
}

fn env_overrides(
    env: &Env,
    file_channels: &[String],
    file_accounts: &[String],
    problems: &mut Vec<String>,
) -> EnvOverrides {
    let prefix = format!("{ENV_PREFIX}{ENV_SEPARATOR}");
    let ours: Map<String, String> = env
        .iter()
        .filter(|(name, _)| name.to_ascii_uppercase().starts_with(&prefix))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    // The same key derivation as `Environment`, kept to name the variable in errors.
    let mut original_names: BTreeMap<String, String> = BTreeMap::new();
    for name in ours.keys() {
        let key = name[prefix.len()..]
            .to_lowercase()
            .replace(ENV_SEPARATOR, ".");
        original_names.insert(key, name.clone());
    }

    // No `try_parsing`: it turns "0123" into 123 and "1e3" into 1000 for string keys
    // such as api_key; the config crate converts strings to numbers and booleans
    // itself where a field needs one.
    let collected = Environment::with_prefix(ENV_PREFIX)
        .prefix_separator(ENV_SEPARATOR)
        .separator(ENV_SEPARATOR)
        .source(Some(ours))
        .collect();
    let collected = match collected {
        Ok(collected) => collected,
        Err(error) => {
            problems.push(format!("environment overrides: {error}"));
            Map::new()
        }
    };

    let mut values = Map::new();
    let mut names = BTreeMap::new();
    for (key, value) in collected {
        if key.is_empty() {
            continue;
        }
        let name = original_names.get(&key).cloned().unwrap_or_default();
        let key = match_section_name(&key, "channels", file_channels);
        let key = match_section_name(&key, "sigmamind.accounts", file_accounts);
        let value = if LIST_KEYS.contains(&key.as_str())
            || is_channel_list_key(&key)
            || is_account_list_key(&key)
        {
            split_list(value)
        } else {
            value
        };
        names.insert(key.clone(), name);
        values.insert(key, value);
    }
    EnvOverrides { values, names }
}

/// Environment variable names are upper-case and often cannot contain `-`, so
/// `CAMPAIGN_WATCHER__CHANNELS__OPS_HOOK__URL` overrides `[channels.ops-hook]` (or
/// `[channels.OpsHook]`), and `CAMPAIGN_WATCHER__SIGMAMIND__ACCOUNTS__ACME_EU__API_KEY`
/// overrides `[sigmamind.accounts.acme-eu]`, when exactly one name of the file's
/// `section` (`channels`, `sigmamind.accounts`) matches that way.
fn match_section_name(key: &str, section: &str, file_names: &[String]) -> String {
    let Some(after) = key
        .strip_prefix(section)
        .and_then(|after| after.strip_prefix('.'))
    else {
        return key.to_string();
    };
    let (name, rest) = match after.split_once('.') {
        Some((name, rest)) => (name, Some(rest)),
        None => (after, None),
    };
    if file_names.iter().any(|known| known == name) {
        return key.to_string();
    }
    let fold = |text: &str| text.to_lowercase().replace('-', "_");
    let candidates: Vec<&String> = file_names
        .iter()
        .filter(|known| fold(known) == fold(name))
        .collect();
    let name = match candidates.as_slice() {
        [only] => only.as_str(),
        _ => name,
    };
    match rest {
        Some(rest) => format!("{section}.{name}.{rest}"),
        None => format!("{section}.{name}"),
    }
}

/// `sigmamind.accounts.NAME.campaigns` and the other selection lists.
fn is_account_list_key(key: &str) -> bool {
    let parts: Vec<&str> = key.split('.').collect();
    matches!(parts.as_slice(), ["sigmamind", "accounts", _, leaf] if ACCOUNT_LIST_KEYS.contains(leaf))
}

fn split_list(value: Value) -> Value {
    let origin = value.origin().map(str::to_string);
    match value.kind {
        ValueKind::String(text) => {
            let items: Vec<Value> = text
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Value::new(origin.as_ref(), item.to_string()))
                .collect();
            Value::new(origin.as_ref(), items)
        }
        kind => Value::new(origin.as_ref(), kind),
    }
}

/// Keys no struct takes on purpose, with the sentence that says why; `*`
/// stands for one name.
const REFUSED_KEYS: [(&str, &str); 1] = [(
    "http.tokens.*.token",
    "a token is never written in the configuration; put it in a file and name that file in token_file",
)];

/// `unknown key "path" (did you mean "x"?) (set by environment variable Y)`,
/// or the reason a refused key is refused.
fn unknown(
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

fn path_matches(pattern: &str, path: &str) -> bool {
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
fn unknown_key_problems(
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

fn sorted_keys(table: &Map<String, Value>) -> Vec<String> {
    let keys: BTreeSet<String> = table.keys().cloned().collect();
    keys.into_iter().collect()
}

fn env_source<'a>(path: &str, env_names: &'a BTreeMap<String, String>) -> Option<&'a str> {
    let nested = format!("{path}.");
    env_names
        .iter()
        .find(|(key, _)| key.as_str() == path || key.starts_with(&nested))
        .map(|(_, name)| name.as_str())
}

const MISSING_KEY: &str = "missing required key";

/// Whether `path` is `table` or lies inside it.
fn is_within(path: &str, table: &str) -> bool {
    path.strip_prefix(table)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}

/// `a.b` of `a.b.c` and of `a.b[2]`; `None` at the top.
fn parent(path: &str) -> Option<&str> {
    let cut = if path.ends_with(']') {
        path.rfind('[')
    } else {
        path.rfind('.')
    }?;
    (cut > 0).then(|| &path[..cut])
}

/// More type problems than this in one file are not worth reading one by one.
const MAX_TYPE_PROBLEMS: usize = 64;

/// The whole file at once, through the unknown-key check. A wrong type is
/// reported, its key taken out and the rest read again, so one wrong type
/// does not hide the others. `[channels]` is typed apart, kind first.
fn typed_settings(
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
fn type_problem(key: &str, mut message: String) -> String {
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
fn remove_path(root: &mut Value, path: &str) -> bool {
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

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn typed<T: DeserializeOwned>(
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
fn typed_with<T>(
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
fn split_error(error: ::config::ConfigError) -> (Option<String>, String) {
    let (key, message) = split_error_raw(error);
    (key.map(|key| dotted(&key)), message)
}

/// `rules[0].events`: the config crate writes a field after an index without
/// its dot (`rules[0]events`).
fn dotted(key: &str) -> String {
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

fn split_error_raw(error: ::config::ConfigError) -> (Option<String>, String) {
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

fn join_path(base: &str, key: Option<&str>) -> String {
    match key {
        None | Some("") => base.to_string(),
        Some(key) if key.starts_with('[') => format!("{base}{key}"),
        Some(key) => format!("{base}.{key}"),
    }
}

/// Applies the `*_file` keys and `SIGMAMIND_API_KEY`. An explicit value wins over
/// its file, and the file is then not read at all (it may not exist on this host).
fn resolve_secrets(settings: &mut Settings, env: &Env, problems: &mut Vec<String>) {
    let credentials_dir = env
        .get(CREDENTIALS_DIR_ENV)
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from);
    let dir = credentials_dir.as_deref();

    let sigmamind = &mut settings.sigmamind;
    if sigmamind.api_key.is_none() {
        if let Some(file) = &sigmamind.api_key_file {
            match read_secret_file(file, dir) {
                Ok(key) => sigmamind.api_key = Some(Secret::new(key)),
                Err(problem) => problems.push(format!("sigmamind.api_key_file: {problem}")),
            }
        } else if let Some(key) = env
            .get(API_KEY_ENV)
            // With named accounts each has its own key; one shared variable
            // would silently give them all the same one.
            .filter(|_| sigmamind.accounts.is_empty())
        {
            let key = key.trim();
            if !key.is_empty() {
                sigmamind.api_key = Some(Secret::new(key));
            }
        }
    }

    for (name, account) in &mut settings.sigmamind.accounts {
        if account.api_key.is_none() {
            if let Some(file) = &account.api_key_file {
                match read_secret_file(file, dir) {
                    Ok(key) => account.api_key = Some(Secret::new(key)),
                    Err(problem) => {
                        problems.push(format!("sigmamind.accounts.{name}.api_key_file: {problem}"))
                    }
                }
            }
        }
    }

    settings.http.read_token_files(dir);

    let heartbeat = &mut settings.heartbeat;
    let mut files = SecretFiles {
        at: "heartbeat".to_string(),
        credentials_dir: dir,
        problems,
    };
    files.fill(
        "url_file",
        heartbeat.url_file.as_deref(),
        &mut heartbeat.url,
    );

    for (name, channel) in &mut settings.channels {
        files.at = format!("channels.{name}");
        channel.kind.read_secret_files(&mut files);
    }
}
