//! Configuration (design §4): a TOML file read with the `config` crate, then
//! `CAMPAIGN_WATCHER__SECTION__KEY` environment overrides, then `*_file` secrets.
//!
//! Every section builds its own clients elsewhere from these plain values;
//! [`Settings::validate`] reports every problem at once.
//!
//! Loading lives in `load` (file, environment, `*_file` secrets, unknown keys,
//! typed values; `[channels]` in `load/channels.rs`), checking in `validate`, the
//! `check-config` rendering in `redact`. A channel's settings are defined beside
//! the channel (vector's habit): the shared keys in `deliver/channel.rs`, each
//! kind's own in `deliver/<kind>/settings.rs`, re-exported here.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::observe::{CampaignStatus, UndocumentedStatus};

mod accounts;
mod http;
mod load;
mod redact;
mod validate;

pub use crate::deliver::heartbeat::HeartbeatSettings;
pub use crate::deliver::kinds::{
    ChannelKind, ChannelSettings, KindSettings, SharedSettings, TextSettings,
};
pub use crate::route::quiet::QuietHoursSettings;
pub use crate::route::RuleSettings;
pub use accounts::{account_name_problem, check_account_pattern, Account, AccountSettings};
pub use http::{
    external_origin, HttpSettings, Role, TokenSettings, TokenValue, UserSettings, MIN_TOKEN_CHARS,
};
pub use load::ENV_PREFIX;

use crate::setting::secret::Secret;
use crate::setting::url::redact_url;
pub use validate::Built;

/// Why the configuration could not be used; `Display` is the sentence shown to
/// the operator (exit code 2), and never contains a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is missing or cannot be read.
    #[error("{}", unreadable_sentence(path, error))]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is not valid TOML; `message` carries the parser's line and column.
    #[error("{origin}: TOML syntax error: {message}")]
    Syntax { origin: String, message: String },
    /// Unknown keys, wrong types, unreadable secret files or failed validation.
    #[error("{}", invalid_sentence(origin, problems))]
    Invalid {
        origin: String,
        problems: Vec<String>,
    },
}

impl ConfigError {
    /// Wraps [`Settings::validate`] problems for the caller.
    pub fn invalid(origin: impl Into<String>, problems: Vec<String>) -> Self {
        Self::Invalid {
            origin: origin.into(),
            problems,
        }
    }
}

fn unreadable_sentence(path: &std::path::Path, error: &std::io::Error) -> String {
    let hint = "pass --config PATH (or set CAMPAIGN_WATCHER_CONFIG) or create it";
    if error.kind() == std::io::ErrorKind::NotFound {
        format!("configuration file {} not found: {hint}", path.display())
    } else {
        format!(
            "cannot read configuration file {}: {error}: {hint}",
            path.display()
        )
    }
}

fn invalid_sentence(origin: &str, problems: &[String]) -> String {
    let count = problems.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    let mut text = format!("{origin}: {count} {noun} in the configuration:");
    for problem in problems {
        text.push_str("\n  - ");
        text.push_str(problem);
    }
    text
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub sigmamind: SigmaMindSettings,
    #[serde(default)]
    pub watch: WatchSettings,
    #[serde(default)]
    pub state: StateSettings,
    #[serde(default)]
    pub http: HttpSettings,
    #[serde(default)]
    pub log: LogSettings,
    /// Left out of `check-config` when no heartbeat is set.
    #[serde(default, skip_serializing_if = "HeartbeatSettings::is_unset")]
    pub heartbeat: HeartbeatSettings,
    /// Each channel's table is typed by its `kind` (see `load`).
    #[serde(default, deserialize_with = "load::channels_from_tables")]
    pub channels: BTreeMap<String, ChannelSettings>,
    #[serde(default)]
    pub rules: Vec<RuleSettings>,
    /// Names this watcher in alert messages; defaults to the host name.
    #[serde(default)]
    pub instance: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigmaMindSettings {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    #[serde(default)]
    pub api_key: Option<Secret>,
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    /// Total time for one request, connect included.
    #[serde(default = "default_api_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// 0 means no budget.
    #[serde(default = "default_max_rps")]
    pub max_requests_per_second: f64,
    /// Retries after the first attempt, for connect errors, timeouts, 429 and 5xx.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// First backoff step; full jitter up to this doubled per retry.
    #[serde(default = "default_retry_base", with = "humantime_serde")]
    pub retry_base: Duration,
    /// Longest wait between retries; a `Retry-After` above it gives up for this cycle.
    #[serde(default = "default_retry_cap", with = "humantime_serde")]
    pub retry_max: Duration,
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    /// `[sigmamind.accounts.NAME]`; empty: one account `default` (see `accounts.rs`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accounts: BTreeMap<String, AccountSettings>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WatchSettings {
    #[serde(default)]
    pub campaigns: Vec<String>,
    #[serde(default)]
    pub all: bool,
    /// With `all`: only campaigns in these statuses.
    #[serde(default, deserialize_with = "statuses_as_written")]
    pub statuses: Vec<CampaignStatus>,
    /// With `all`: only campaigns whose id or name matches one of these globs (empty: every one).
    #[serde(default)]
    pub include: Vec<String>,
    /// With `all`: never campaigns whose id or name matches one of these globs.
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// More explicit `campaigns` than this are read by listing whenever the
    /// listing takes fewer requests than one GET per campaign.
    #[serde(default = "default_list_threshold")]
    pub list_threshold: usize,
    /// Poll every this long (default 60s); exclusive with `schedule`.
    #[serde(default, with = "humantime_serde")]
    pub interval: Option<Duration>,
    /// Cron expression with seconds first, e.g. "0 */5 * * * *".
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default = "default_confirm_polls")]
    pub confirm_polls: u32,
    /// Consecutive unreadable cycles before `watcher.api_unhealthy`.
    #[serde(default = "default_unhealthy_after")]
    pub unhealthy_after: u32,
    /// The live lane: when one listing of everything does not fit in an
    /// interval's request budget, live campaigns are listed every cycle and the
    /// rest swept with what the budget leaves (docs/configuration.md).
    #[serde(default = "default_lanes")]
    pub lanes: bool,
}

/// `Debug` is written out by hand: a database URL can carry a password.
#[derive(Clone, Serialize, Deserialize)]
pub struct StateSettings {
    #[serde(default = "default_state_url")]
    pub url: String,
    #[serde(default, with = "humantime_serde")]
    pub lease_ttl: Option<Duration>,
    /// How long the event history, finished outbox rows, ended silences and
    /// the state of campaigns no longer watched are kept; `"0"` keeps
    /// everything (docs/retention.md says what always stays).
    #[serde(default = "default_retention", with = "humantime_serde")]
    pub retention: Duration,
}

impl StateSettings {
    /// The retention, or none when everything is kept (`retention = "0"`).
    pub fn retention(&self) -> Option<Duration> {
        (!self.retention.is_zero()).then_some(self.retention)
    }
}

/// 90 days: a quarter of history for `history` and the board, and a file of a
/// few hundred MB for a busy account (docs/retention.md).
fn default_retention() -> Duration {
    Duration::from_secs(90 * 24 * 3600)
}

/// `[log]`: how the daemon writes its log lines (stderr; journald and container
/// runtimes collect them from there).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogSettings {
    /// `text` (readable lines) or `json` (one object per line); `--log-format` wins.
    #[serde(default)]
    pub format: crate::telemetry::LogFormat,
}

/// A documented spelling becomes its status; anything else is kept verbatim
/// so that `validate` reports it with its index.
fn statuses_as_written<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<CampaignStatus>, D::Error> {
    let written = Vec::<String>::deserialize(deserializer)?;
    Ok(written
        .into_iter()
        .map(|text| {
            text.parse()
                .unwrap_or_else(|UndocumentedStatus(text)| CampaignStatus::Unknown(text))
        })
        .collect())
}

/// [`statuses_as_written`] for a key an account may leave to `[watch]`.
fn optional_statuses_as_written<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<CampaignStatus>>, D::Error> {
    statuses_as_written(deserializer).map(Some)
}

fn default_base_url() -> String {
    "https://api.sigmamind.ai".into()
}
fn default_api_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_max_in_flight() -> usize {
    8
}
fn default_max_rps() -> f64 {
    10.0
}
fn default_max_retries() -> u32 {
    3
}
fn default_retry_base() -> Duration {
    Duration::from_millis(250)
}
fn default_retry_cap() -> Duration {
    Duration::from_secs(30)
}
fn default_max_response_bytes() -> usize {
    4 * 1024 * 1024
}
fn default_page_size() -> u32 {
    100
}
fn default_list_threshold() -> usize {
    100
}
fn default_confirm_polls() -> u32 {
    1
}
fn default_unhealthy_after() -> u32 {
    3
}
fn default_lanes() -> bool {
    true
}
fn default_state_url() -> String {
    "sqlite://state.db".into()
}
impl Default for SigmaMindSettings {
    fn default() -> Self {
        Self {
            base_url: default_base_url(),
            api_key: None,
            api_key_file: None,
            timeout: default_api_timeout(),
            connect_timeout: default_connect_timeout(),
            max_in_flight: default_max_in_flight(),
            max_requests_per_second: default_max_rps(),
            max_retries: default_max_retries(),
            retry_base: default_retry_base(),
            retry_max: default_retry_cap(),
            max_response_bytes: default_max_response_bytes(),
            accounts: BTreeMap::new(),
        }
    }
}

impl Default for WatchSettings {
    fn default() -> Self {
        Self {
            campaigns: vec![],
            all: false,
            statuses: vec![],
            include: vec![],
            exclude: vec![],
            page_size: default_page_size(),
            list_threshold: default_list_threshold(),
            interval: None,
            schedule: None,
            confirm_polls: default_confirm_polls(),
            unhealthy_after: default_unhealthy_after(),
            lanes: default_lanes(),
        }
    }
}

impl Default for StateSettings {
    fn default() -> Self {
        Self {
            url: default_state_url(),
            lease_ttl: None,
            retention: default_retention(),
        }
    }
}

impl fmt::Debug for StateSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateSettings")
            .field("url", &redact_url(&self.url))
            .field("lease_ttl", &self.lease_ttl)
            .field("retention", &self.retention)
            .finish()
    }
}

impl WatchSettings {
    /// The polling interval when no cron `schedule` is set.
    pub fn effective_interval(&self) -> Duration {
        self.interval.unwrap_or(Duration::from_secs(60))
    }
}

impl Settings {
    /// `instance`, or the host name.
    pub fn instance_name(&self) -> String {
        match &self.instance {
            Some(name) if !name.trim().is_empty() => name.trim().to_string(),
            _ => crate::render::default_instance_name(),
        }
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
