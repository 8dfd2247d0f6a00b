//! What the commands on the stored state share: opening the store named by the
//! configuration, the exit code of a failed read, and how times and JSON print.
//! An unreadable configuration or store exits 2; a failed read of an open store exits 1.
//!
//! They read the configuration without its secrets ([`Settings::load_without_secrets`]):
//! an admin's shell on the service's host has no `$CREDENTIALS_DIRECTORY`, and
//! none of them needs a channel's or the API's key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::failure::Failure;
use crate::commit::{Store, StoreError};
use crate::config::Settings;
use crate::text::terminal;

/// The configuration at `config` as the commands on the stored state need
/// it: every key checked, no secret read.
pub(super) fn store_settings(config: &Path) -> Result<Settings, Failure> {
    Ok(Settings::load_without_secrets(config)?)
}

/// The store that `[state] url` in the configuration at `config` names.
pub(super) async fn open_store(config: &Path) -> Result<Store, Failure> {
    open_store_of(&store_settings(config)?).await
}

/// The store `settings` name. A SQLite file named by a relative path that
/// does not exist is refused, not created: a command run from another
/// directory than the watcher's would otherwise act on a new, empty store of
/// its own. An absolute one is created, so that a silence can be made before
/// the watcher first starts.
pub(super) async fn open_store_of(settings: &Settings) -> Result<Store, Failure> {
    if let Some(file) = Store::file_of(&settings.state.url) {
        let working_dir = std::env::current_dir().ok();
        if let (false, Some(hint)) = (file.exists(), relative_hint(&file, working_dir.as_deref())) {
            return Err(Failure::usage(format!(
                "no state store at {}: {hint}; or no watcher has run there yet (its first cycle creates the store)",
                looked_for(&file, working_dir.as_deref())
            )));
        }
    }
    Store::open(&settings.state.url)
        .await
        .map_err(Failure::usage)
}

/// Where a SQLite state file is looked for: a relative path from the working directory.
pub(super) fn looked_for(file: &Path, working_dir: Option<&Path>) -> String {
    let path = match working_dir.filter(|_| file.is_relative()) {
        Some(dir) => dir.join(file),
        None => PathBuf::from(file),
    };
    terminal(&path.display().to_string()).to_string()
}

/// For a relative state file: why it may not be where the watcher keeps it,
/// and what to do. A relative `[state] url` is read from the working
/// directory, which is the service's (its systemd unit's
/// `WorkingDirectory=`) only when the command runs there.
pub(super) fn relative_hint(file: &Path, working_dir: Option<&Path>) -> Option<String> {
    let dir = working_dir.filter(|_| file.is_relative())?;
    Some(format!(
        "[state] url names a path relative to the working directory, {}; run this in the watcher's working directory (the systemd unit's is /var/lib/campaign-watcher: cd there first) or make [state] url absolute",
        terminal(&dir.display().to_string())
    ))
}

/// A read or write of an open store that failed.
pub(super) fn read(error: StoreError) -> Failure {
    Failure::runtime(error)
}

/// A command-line duration as a span of time; one too long to represent means "forever".
pub(super) fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

pub(super) fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// [`stamp`], or `-` for a time not known.
pub(super) fn stamp_or_dash(at: Option<DateTime<Utc>>) -> String {
    at.map(stamp).unwrap_or_else(|| "-".into())
}

pub(super) fn print_json(value: &impl serde::Serialize) {
    super::output::verbatim(&(serde_json::to_string_pretty(value).unwrap_or_default() + "\n"));
}

/// Who a CLI action is recorded as: `--author` if given, else the OS user
/// (`$USER`, then `$LOGNAME`), else "unknown".
pub(super) fn cli_actor(author: Option<String>) -> crate::commit::Actor {
    let name = author
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    crate::commit::Actor { name, via: "cli" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_store_says_where_it_was_looked_for_and_what_to_do() {
        let root = Some(Path::new("/root"));
        assert_eq!(looked_for(Path::new("state.db"), root), "/root/state.db");
        let hint = relative_hint(Path::new("state.db"), root).unwrap();
        assert!(hint.contains("working directory, /root;"), "{hint}");
        assert!(hint.contains("cd there first"), "{hint}");
        assert!(hint.contains("make [state] url absolute"), "{hint}");
        let absolute = Path::new("/var/lib/campaign-watcher/state.db");
        assert_eq!(relative_hint(absolute, root), None);
        assert_eq!(
            looked_for(absolute, root),
            "/var/lib/campaign-watcher/state.db"
        );
    }
}
