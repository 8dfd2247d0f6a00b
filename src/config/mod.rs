//! Configuration (design §4): a TOML file read with the `config` crate, then
//! `CAMPAIGN_WATCHER__SECTION__KEY` environment overrides, then `*_file` secrets.
//!
//! Every section builds its own clients elsewhere from these plain values;
//! [`Settings::validate`] reports every problem at once.
//!
//! Loading lives in `load` (file, environment, `*_file` secrets, unknown keys,
//! typed values), checking in `validate`, the `check-config` rendering in `redact`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod chat;
mod email;
mod load;
mod redact;
mod url;
mod validate;

pub(crate) use chat::alertmanager_urls;
pub use email::{parse_smtp_url, SmtpEndpoint, SmtpSecurity};
pub use load::ENV_PREFIX;
pub(crate) use redact::redact_url;

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

/// A secret value: never printed by `Debug`, `Display` or `Serialize`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The only way to read the value; call it where the secret is used, nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    #[serde(default)]
    pub heartbeat: HeartbeatSettings,
    #[serde(default)]
    pub channels: BTreeMap<String, ChannelSettings>,
    #[serde(default)]
    pub rules: Vec<RuleSettings>,
    /// Names this watcher in alert messages; defaults to the host name.
    #[serde(default)]
    pub instance: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchSettings {
    #[serde(default)]
    pub campaigns: Vec<String>,
    #[serde(default)]
    pub all: bool,
    /// With `all`: only campaigns in these statuses.
    #[serde(default)]
    pub statuses: Vec<String>,
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
}

/// `Debug` is written out by hand: a database URL can carry a password.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSettings {
    #[serde(default = "default_state_url")]
    pub url: String,
    #[serde(default, with = "humantime_serde")]
    pub lease_ttl: Option<Duration>,
}

/// `[heartbeat]`: a dead-man's switch. After every cycle that read the API the
/// watcher GETs `url` (Healthchecks.io, Cronitor, Uptime Kuma push, ...); when
/// the pings stop (the watcher died, hangs, or cannot read the API) that
/// service alerts, through a path that does not depend on this watcher.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatSettings {
    /// The ping URL; a secret (anyone holding it can fake a heartbeat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    #[serde(default = "default_heartbeat_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for HeartbeatSettings {
    fn default() -> Self {
        Self {
            url: None,
            url_file: None,
            timeout: default_heartbeat_timeout(),
        }
    }
}

fn default_heartbeat_timeout() -> Duration {
    Duration::from_secs(10)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    #[serde(default = "default_http_listen")]
    pub listen: String,
}

/// `[log]`: how the daemon writes its log lines (stderr; journald and container
/// runtimes collect them from there).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `text` (readable lines) or `json` (one object per line); `--log-format` wins.
    #[serde(default)]
    pub format: crate::telemetry::LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Webhook,
    Console,
    Email,
    Slack,
    Discord,
    Teams,
    Pagerduty,
    Alertmanager,
}

/// `Debug` is written out by hand: a webhook URL can itself be the credential.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSettings {
    pub kind: ChannelKind,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    /// `whsec_<base64>`: Standard Webhooks signing key.
    #[serde(default)]
    pub secret: Option<Secret>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// During a rotation, the old key also signs every message.
    #[serde(default)]
    pub previous_secret: Option<Secret>,
    #[serde(default = "default_send_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(default = "default_initial_backoff", with = "humantime_serde")]
    pub retry_initial_backoff: Duration,
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    pub retry_max_backoff: Duration,
    #[serde(default = "default_max_age", with = "humantime_serde")]
    pub max_age: Duration,
    /// email: `smtps://host[:465]`, `smtp://host:587?tls=required`, or plain
    /// `smtp://` to a loopback host. May carry `user:password@`.
    #[serde(default)]
    pub smtp_url: Option<String>,
    /// email: the sender, `Name <address>` or a bare address.
    #[serde(default)]
    pub from: Option<String>,
    /// email: recipients.
    #[serde(default)]
    pub to: Vec<String>,
    /// email: SMTP user, when not in `smtp_url`.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// email: PEM certificate(s) trusted in addition to the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// IANA zone (e.g. "Europe/Berlin") shown beside UTC in messages.
    #[serde(default)]
    pub timezone: Option<String>,
    /// email: the events of one cycle as one digest (default true for email).
    #[serde(default)]
    pub group: Option<bool>,
    /// minijinja files replacing the built-in templates.
    #[serde(default)]
    pub subject_template: Option<PathBuf>,
    #[serde(default)]
    pub text_template: Option<PathBuf>,
    #[serde(default)]
    pub html_template: Option<PathBuf>,
    /// Hold events during these hours and send them as one digest when they end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHoursSettings>,
    /// Sends per rolling minute; the excess waits in the outbox. Unset: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_minute: Option<u32>,
    /// pagerduty: the Events API v2 integration key (a secret).
    #[serde(default)]
    pub routing_key: Option<Secret>,
    #[serde(default)]
    pub routing_key_file: Option<PathBuf>,
    /// pagerduty, alertmanager, discord: severity per condition (`paused`,
    /// `upload_errors`, `not_found`, `api_unhealthy`, or the event type that
    /// starts it) → `critical` | `error` | `warning` | `info`.
    #[serde(default)]
    pub severity: Option<BTreeMap<String, String>>,
    /// alertmanager: extra labels on every alert (e.g. `team = "outreach"`).
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// alertmanager: active alerts are re-posted this often (default 1m).
    #[serde(default, with = "humantime_serde")]
    pub resend_interval: Option<Duration>,
    /// alertmanager: base URLs of every Alertmanager instance (with or instead of `url`).
    #[serde(default)]
    pub urls: Option<Vec<String>>,
}

/// `quiet_hours = { start = "22:00", end = "07:00", timezone = "Europe/Berlin", except = [...] }`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursSettings {
    /// Local `HH:MM` the quiet window starts at.
    pub start: String,
    /// Local `HH:MM` it ends at; before `start` means it spans midnight.
    pub end: String,
    /// IANA zone name, e.g. "Europe/Berlin".
    pub timezone: String,
    /// Event types that are sent at once even during quiet hours.
    #[serde(default)]
    pub except: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    #[serde(default)]
    pub name: Option<String>,
    /// Event types; empty means every type.
    #[serde(default)]
    pub events: Vec<String>,
    /// `from->to` with `*` for any; only constrains `campaign.status_changed`.
    #[serde(default)]
    pub transitions: Vec<String>,
    /// Globs on campaign id or name; empty means every campaign.
    #[serde(default)]
    pub campaigns: Vec<String>,
    /// Channel names; empty means every channel.
    #[serde(default)]
    pub channels: Vec<String>,
    /// While a campaign stays in the state this rule matched, send `campaign.reminder` this often.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub remind_every: Option<Duration>,
    /// Overrides `watch.confirm_polls` for the campaigns this rule names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_polls: Option<u32>,
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
fn default_state_url() -> String {
    "sqlite://state.db".into()
}
fn default_http_listen() -> String {
    "127.0.0.1:9464".into()
}
fn default_send_timeout() -> Duration {
    Duration::from_secs(15)
}
fn default_initial_backoff() -> Duration {
    Duration::from_secs(5)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(600)
}
fn default_max_age() -> Duration {
    Duration::from_secs(24 * 3600)
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
        }
    }
}

impl Default for StateSettings {
    fn default() -> Self {
        Self {
            url: default_state_url(),
            lease_ttl: None,
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: default_http_listen(),
        }
    }
}

impl fmt::Debug for StateSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateSettings")
            .field("url", &redact::redact_url(&self.url))
            .field("lease_ttl", &self.lease_ttl)
            .finish()
    }
}

impl fmt::Debug for ChannelSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.url.as_deref().map(|url| {
            if self.url_file.is_some() || self.kind.url_is_secret() {
                "<redacted>".to_string()
            } else {
                redact::redact_url(url)
            }
        });
        f.debug_struct("ChannelSettings")
            .field("kind", &self.kind)
            .field("url", &url)
            .field("url_file", &self.url_file)
            .field("secret", &self.secret)
            .field("secret_file", &self.secret_file)
            .field("previous_secret", &self.previous_secret)
            .field("timeout", &self.timeout)
            .field("retry_initial_backoff", &self.retry_initial_backoff)
            .field("retry_max_backoff", &self.retry_max_backoff)
            .field("max_age", &self.max_age)
            .field(
                "smtp_url",
                &self.smtp_url.as_deref().map(redact::redact_url),
            )
            .field("from", &self.from)
            .field("to", &self.to)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("password_file", &self.password_file)
            .field("ca_file", &self.ca_file)
            .field("timezone", &self.timezone)
            .field("group", &self.group)
            .field("subject_template", &self.subject_template)
            .field("text_template", &self.text_template)
            .field("html_template", &self.html_template)
            .field("quiet_hours", &self.quiet_hours)
            .field("max_per_minute", &self.max_per_minute)
            .field("routing_key", &self.routing_key)
            .field("routing_key_file", &self.routing_key_file)
            .field("severity", &self.severity)
            .field("labels", &self.labels)
            .field("resend_interval", &self.resend_interval)
            .field(
                "urls",
                &self.urls.as_ref().map(|urls| {
                    urls.iter()
                        .map(|url| redact::redact_url(url))
                        .collect::<Vec<_>>()
                }),
            )
            .finish()
    }
}

impl ChannelKind {
    /// Slack, Discord and Teams webhook URLs carry their token in the path: the
    /// whole URL is the credential and is never shown.
    pub fn url_is_secret(self) -> bool {
        matches!(self, Self::Slack | Self::Discord | Self::Teams)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Console => "console",
            Self::Email => "email",
            Self::Slack => "slack",
            Self::Discord => "discord",
            Self::Teams => "teams",
            Self::Pagerduty => "pagerduty",
            Self::Alertmanager => "alertmanager",
        }
    }
}

impl Settings {
    /// Every default, no file and no environment (for `demo` and tests).
    pub fn defaults() -> Settings {
        Settings::default()
    }
}

impl WatchSettings {
    /// The polling interval when no cron `schedule` is set.
    pub fn effective_interval(&self) -> Duration {
        self.interval.unwrap_or(Duration::from_secs(60))
    }
}

impl ChannelSettings {
    /// A channel with every default, for `demo` and tests.
    pub fn new(kind: ChannelKind) -> Self {
        Self {
            kind,
            url: None,
            url_file: None,
            secret: None,
            secret_file: None,
            previous_secret: None,
            timeout: default_send_timeout(),
            retry_initial_backoff: default_initial_backoff(),
            retry_max_backoff: default_max_backoff(),
            max_age: default_max_age(),
            smtp_url: None,
            from: None,
            to: vec![],
            username: None,
            password: None,
            password_file: None,
            ca_file: None,
            timezone: None,
            group: None,
            subject_template: None,
            text_template: None,
            html_template: None,
            quiet_hours: None,
            max_per_minute: None,
            routing_key: None,
            routing_key_file: None,
            severity: None,
            labels: None,
            resend_interval: None,
            urls: None,
        }
    }

    /// The template files of this channel, for [`crate::render::Templates::load`].
    pub fn template_files(&self) -> crate::render::TemplateFiles {
        crate::render::TemplateFiles {
            subject: self.subject_template.clone(),
            text: self.text_template.clone(),
            html: self.html_template.clone(),
        }
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
mod tests;
