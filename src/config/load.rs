//! Reading the configuration: TOML file, `CAMPAIGN_WATCHER__*` overrides,
//! unknown-key detection, typed values, then `*_file` secrets.
//!
//! Problems from every stage are gathered into one [`ConfigError::Invalid`], so an
//! operator fixes the file in one pass instead of one error per run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ::config::{Config, Environment, File, FileFormat, Map, Source, Value, ValueKind};
use serde::de::DeserializeOwned;

use crate::setting::fields::struct_fields;
use crate::setting::suggest::did_you_mean;

mod channels;
use super::{
    AccountSettings, ConfigError, HeartbeatSettings, HttpSettings, LogSettings, QuietHoursSettings,
    RuleSettings, Settings, SigmaMindSettings, StateSettings, TokenSettings, UserSettings,
    WatchSettings,
};
use crate::setting::secret::{read_secret_file, Secret, SecretFiles};
pub(super) use channels::channels_from_tables;
use channels::{is_channel_list_key, prune_channel, typed_channels};

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

    let mut root = match merged.cache.kind {
        ValueKind::Table(table) => table,
        // A TOML document is always a table; an empty one stands in defensively.
        _ => Map::new(),
    };
    prune_unknown_keys(&mut root, &env_names, &mut problems);
    let mut settings = typed_settings(root, &mut problems);
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

/// Removes every key the structs do not know, reporting each with its full path,
/// so typed deserialisation afterwards reports only type problems.
fn prune_unknown_keys(
    root: &mut Map<String, Value>,
    env_names: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) {
    let top = struct_fields::<Settings>();
    for key in sorted_keys(root) {
        if !top.contains(&key.as_str()) {
            let is_section = matches!(root.get(&key).map(|v| &v.kind), Some(ValueKind::Table(_)));
            let what = if is_section { "section" } else { "key" };
            problems.push(unknown(what, &key, top, &key, env_names));
            root.remove(&key);
        }
    }

    let prune =
        |table: &mut Map<String, Value>, path: &str, known: &[&str], problems: &mut Vec<String>| {
            for key in sorted_keys(table) {
                if !known.contains(&key.as_str()) {
                    problems.push(unknown(
                        "key",
                        &format!("{path}.{key}"),
                        known,
                        &key,
                        env_names,
                    ));
                    table.remove(&key);
                }
            }
        };
    let sections: [(&str, &[&str]); 6] = [
        ("sigmamind", struct_fields::<SigmaMindSettings>()),
        ("watch", struct_fields::<WatchSettings>()),
        ("state", struct_fields::<StateSettings>()),
        ("http", struct_fields::<HttpSettings>()),
        ("log", struct_fields::<LogSettings>()),
        ("heartbeat", struct_fields::<HeartbeatSettings>()),
    ];
    for (section, known) in sections {
        if let Some(ValueKind::Table(table)) = root.get_mut(section).map(|v| &mut v.kind) {
            prune(table, section, known, problems);
        }
    }
    if let Some(ValueKind::Table(sigmamind)) = root.get_mut("sigmamind").map(|v| &mut v.kind) {
        if let Some(ValueKind::Table(accounts)) = sigmamind.get_mut("accounts").map(|v| &mut v.kind)
        {
            let known = struct_fields::<AccountSettings>();
            for name in sorted_keys(accounts) {
                if let Some(ValueKind::Table(account)) =
                    accounts.get_mut(&name).map(|v| &mut v.kind)
                {
                    prune(
                        account,
                        &format!("sigmamind.accounts.{name}"),
                        known,
                        problems,
                    );
                }
            }
        }
    }
    if let Some(ValueKind::Table(http)) = root.get_mut("http").map(|v| &mut v.kind) {
        let nested: [(&str, &[&str]); 2] = [
            ("users", struct_fields::<UserSettings>()),
            ("tokens", struct_fields::<TokenSettings>()),
        ];
        for (map, known) in nested {
            if let Some(ValueKind::Table(entries)) = http.get_mut(map).map(|v| &mut v.kind) {
                for name in sorted_keys(entries) {
                    if let Some(ValueKind::Table(entry)) =
                        entries.get_mut(&name).map(|v| &mut v.kind)
                    {
                        if map == "tokens" && entry.remove("token").is_some() {
                            problems.push(format!(
                                "http.tokens.{name}.token: a token is never written in the configuration; put it in a file and name that file in token_file"
                            ));
                        }
                        prune(entry, &format!("http.{map}.{name}"), known, problems);
                    }
                }
            }
        }
    }
    if let Some(ValueKind::Table(channels)) = root.get_mut("channels").map(|v| &mut v.kind) {
        for name in sorted_keys(channels) {
            if let Some(ValueKind::Table(channel)) = channels.get_mut(&name).map(|v| &mut v.kind) {
                let at = format!("channels.{name}");
                prune_channel(channel, &at, env_names, problems);
                if let Some(ValueKind::Table(quiet)) =
                    channel.get_mut("quiet_hours").map(|v| &mut v.kind)
                {
                    prune(
                        quiet,
                        &format!("{at}.quiet_hours"),
                        struct_fields::<QuietHoursSettings>(),
                        problems,
                    );
                }
            }
        }
    }
    if let Some(ValueKind::Array(rules)) = root.get_mut("rules").map(|v| &mut v.kind) {
        let known = struct_fields::<RuleSettings>();
        for (index, rule) in rules.iter_mut().enumerate() {
            if let ValueKind::Table(rule) = &mut rule.kind {
                prune(rule, &format!("rules[{index}]"), known, problems);
            }
        }
    }
}

/// `unknown key "path" (did you mean "x"?) (set by environment variable Y)`
fn unknown(
    what: &str,
    path: &str,
    known: &[&str],
    leaf: &str,
    env_names: &BTreeMap<String, String>,
) -> String {
    let mut text = format!("unknown {what} \"{path}\"");
    text.push_str(&did_you_mean(leaf, known));
    if let Some(name) = env_source(path, env_names) {
        text.push_str(&format!(" (set by environment variable {name})"));
    }
    text
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

/// Section by section (and channel by channel, rule by rule) so that one wrong
/// type does not hide the others.
fn typed_settings(mut root: Map<String, Value>, problems: &mut Vec<String>) -> Settings {
    let mut settings = Settings::defaults();
    if let Some(value) = root.remove("sigmamind") {
        if let Some(section) = typed(value, "sigmamind", problems) {
            settings.sigmamind = section;
        }
    }
    if let Some(value) = root.remove("watch") {
        if let Some(section) = typed(value, "watch", problems) {
            settings.watch = section;
        }
    }
    if let Some(value) = root.remove("state") {
        if let Some(section) = typed(value, "state", problems) {
            settings.state = section;
        }
    }
    if let Some(value) = root.remove("http") {
        if let Some(section) = typed(value, "http", problems) {
            settings.http = section;
        }
    }
    if let Some(value) = root.remove("log") {
        if let Some(section) = typed(value, "log", problems) {
            settings.log = section;
        }
    }
    if let Some(value) = root.remove("heartbeat") {
        if let Some(section) = typed(value, "heartbeat", problems) {
            settings.heartbeat = section;
        }
    }
    if let Some(value) = root.remove("channels") {
        settings.channels = typed_channels(value, problems);
    }
    if let Some(value) = root.remove("rules") {
        match value.kind {
            ValueKind::Array(rules) => {
                for (index, rule) in rules.into_iter().enumerate() {
                    if let Some(rule) = typed(rule, &format!("rules[{index}]"), problems) {
                        settings.rules.push(rule);
                    }
                }
            }
            ValueKind::Nil => {}
            kind => {
                let value = Value::new(None, kind);
                if let Some(rules) = typed(value, "rules", problems) {
                    settings.rules = rules;
                }
            }
        }
    }
    if let Some(value) = root.remove("instance") {
        if let Some(instance) = typed(value, "instance", problems) {
            settings.instance = instance;
        }
    }
    settings
}

fn typed<T: DeserializeOwned>(value: Value, path: &str, problems: &mut Vec<String>) -> Option<T> {
    match T::deserialize(value) {
        Ok(typed) => Some(typed),
        Err(error) => {
            let (key, mut message) = split_error(error);
            if message.ends_with("expected a duration") {
                message.push_str(
                    ": durations are strings with a unit, like \"300s\", \"5m\" or \"1h\"",
                );
            }
            problems.push(format!("{}: {message}", join_path(path, key.as_deref())));
            None
        }
    }
}

/// The config crate tracks the key of a deserialisation error; separating it from
/// the message lets the problem start with the full key path.
fn split_error(error: ::config::ConfigError) -> (Option<String>, String) {
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
            let (inner_key, message) = split_error(*error);
            let key = match (key, inner_key) {
                (Some(outer), Some(inner)) => Some(join_path(&outer, Some(&inner))),
                (outer, inner) => outer.or(inner),
            };
            (key, message)
        }
        ::config::ConfigError::NotFound(key) => (Some(key), "missing required key".to_string()),
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
