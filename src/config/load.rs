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
mod env;
mod keys;
mod typed;
use super::{ConfigError, Settings};
use crate::setting::secret::{read_secret_file, Secret, SecretFiles};
pub(super) use channels::channels_from_tables;
use channels::{is_channel_list_key, typed_channels};
use env::*;
use keys::{deserialize_checked, Checked, Found, UnknownKey};
use typed::*;

/// Prefix of environment overrides: `CAMPAIGN_WATCHER__SECTION__KEY`.
pub const ENV_PREFIX: &str = "CAMPAIGN_WATCHER";
const ENV_SEPARATOR: &str = "__";
/// Fallback for the API key when neither `api_key` nor `api_key_file` is set.
const API_KEY_ENV: &str = "SIGMAMIND_API_KEY";
/// Set by systemd for units with `LoadCredential=`.
const CREDENTIALS_DIR_ENV: &str = "CREDENTIALS_DIRECTORY";

type Env = BTreeMap<String, String>;

impl Settings {
    /// Loads `path`, then the process environment (overrides, `SIGMAMIND_API_KEY`,
    /// `CREDENTIALS_DIRECTORY`). Does not call [`Settings::validate`].
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        Self::load_with_env(path, process_env())
    }

    /// [`Settings::load`] for the commands that only read or act on the state
    /// store (`status`, `history`, `silence`, `outbox`, `state`) and for
    /// `healthcheck`: every key is read and checked as by `load`, but no
    /// `*_file` secret is read and `SIGMAMIND_API_KEY` is not looked at, so
    /// they run in an admin's shell on the service's host, which has neither
    /// `$CREDENTIALS_DIRECTORY` nor the credentials. The secrets stay unset:
    /// never hand these settings to a channel or the API client.
    pub fn load_without_secrets(path: &Path) -> Result<Settings, ConfigError> {
        Self::load_with_env_reading(path, process_env(), Secrets::Leave)
    }

    /// [`Settings::load`] with an explicit environment instead of the process's,
    /// so tests never mutate (and race on) the real one.
    pub fn load_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        Self::load_with_env_reading(path, env, Secrets::Read)
    }

    /// [`Settings::load_without_secrets`] with an explicit environment.
    pub fn load_without_secrets_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        Self::load_with_env_reading(path, env, Secrets::Leave)
    }

    fn load_with_env_reading(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
        secrets: Secrets,
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
        pipeline(source, &origin, &env.into_iter().collect(), secrets)
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
        pipeline(source, origin, &env.into_iter().collect(), Secrets::Read)
    }
}

/// The process environment; non-Unicode variables cannot be ours, so they are skipped.
fn process_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
}

/// Whether a load reads the `*_file` secrets (and `SIGMAMIND_API_KEY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Secrets {
    Read,
    /// Left unset, for the commands that need none.
    Leave,
}

fn pipeline<S>(file: S, origin: &str, env: &Env, secrets: Secrets) -> Result<Settings, ConfigError>
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
    if secrets == Secrets::Read {
        resolve_secrets(&mut settings, env, &mut problems);
    }

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
