//! What the commands on the stored state share: opening the store named by the
//! configuration, the exit code of a failed read, and how times and JSON print.
//! An unreadable configuration or store exits 2; a failed read of an open store exits 1.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::failure::Failure;
use crate::commit::{Store, StoreError};
use crate::config::Settings;

/// The store that `[state] url` in the configuration at `config` names.
pub(super) async fn open_store(config: &Path) -> Result<Store, Failure> {
    let settings = Settings::load(config)?;
    Store::open(&settings.state.url)
        .await
        .map_err(Failure::usage)
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
