//! `CAMPAIGN_WATCHER__SECTION__KEY` overrides: which key each names (table
//! names keep the case and dashes the file gives them), and lists split on commas.

use super::*;

/// Keys whose environment value is a comma-separated list.
pub(super) const LIST_KEYS: [&str; 4] = [
    "watch.campaigns",
    "watch.statuses",
    "watch.include",
    "watch.exclude",
];

/// The same lists inside `[sigmamind.accounts.NAME]`.
pub(super) const ACCOUNT_LIST_KEYS: [&str; 4] = ["campaigns", "statuses", "include", "exclude"];

/// The names of the file's tables at `path` (`["channels"]`: its channels).
pub(super) fn file_table_names(config: &Config, path: &[&str]) -> Vec<String> {
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
pub(super) struct EnvOverrides {
    values: Map<String, Value>,
    /// Dotted key → the variable that set it, for error messages.
    pub(super) names: BTreeMap<String, String>,
}

impl Source for EnvOverrides {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, ::config::ConfigError> {
        Ok(self.values.clone())
    }
}

pub(super) fn env_overrides(
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
pub(super) fn match_section_name(key: &str, section: &str, file_names: &[String]) -> String {
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
pub(super) fn is_account_list_key(key: &str) -> bool {
    let parts: Vec<&str> = key.split('.').collect();
    matches!(parts.as_slice(), ["sigmamind", "accounts", _, leaf] if ACCOUNT_LIST_KEYS.contains(leaf))
}

pub(super) fn split_list(value: Value) -> Value {
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

pub(super) fn env_source<'a>(
    path: &str,
    env_names: &'a BTreeMap<String, String>,
) -> Option<&'a str> {
    let nested = format!("{path}.");
    env_names
        .iter()
        .find(|(key, _)| key.as_str() == path || key.starts_with(&nested))
        .map(|(_, name)| name.as_str())
}
