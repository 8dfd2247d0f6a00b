//! What a channel kind is (vector's `SinkConfig` habit): its settings say which
//! keys they take, check themselves and build the channel ([`ChannelConfig`]);
//! the channel sends ([`Deliver`]). The keys every kind takes are
//! [`SharedSettings`], the keys of every kind that renders text [`TextSettings`].
//!
//! `channel_kinds!` turns the one list in `kinds.rs` into the `ChannelKind`,
//! `KindSettings` and `Channel` enums and their dispatch, so nothing else
//! lists the kinds.

use crate::deliver::PayloadError;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{BatchOutcome, DeliverError, SendOutcome};
use crate::event::Event;
use crate::render::TemplateFiles;
use crate::route::quiet::QuietHoursTable;
use crate::setting::secret::SecretFiles;

/// The settings of one kind: `[channels.NAME]` minus [`SharedSettings`] and
/// [`TextSettings`]. Implementers derive `Deserialize` without
/// `deny_unknown_fields` (the loader's unknown-key check reads serde's field
/// list and names every unknown key) and document each field: that is the
/// kind's reference.
pub trait ChannelConfig: Clone + Serialize + DeserializeOwned {
    /// What [`ChannelConfig::build`] makes.
    type Channel;
    /// Whether the kind renders text, and so takes the [`TextSettings`] keys.
    const RENDERS_TEXT: bool;
    /// Whether events held for quiet hours may go out as one digest later
    /// (not for incident targets: a digest cannot trigger or resolve them).
    const HOLDS_QUIET_HOURS: bool = true;
    /// Keys whose environment value is a comma-separated list.
    const LIST_KEYS: &'static [&'static str] = &[];

    /// Every problem at once, each starting with `at` (`channels.NAME`).
    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>);

    /// Doubtful but usable values, each starting with `at`.
    fn warnings(&self, _at: &str) -> Vec<String> {
        Vec::new()
    }

    /// Reads the `*_file` keys into their values (an explicit value wins).
    fn read_secret_files(&mut self, _files: &mut SecretFiles<'_>) {}

    /// Hides what `check-config` and `Debug` must not show (secrets are
    /// [`crate::setting::secret::Secret`] and hide themselves; this is for URLs).
    fn redact(&mut self) {}

    /// Every secret value this kind holds (keys, the secret parts of its URLs),
    /// scrubbed from what servers answer (`Settings::secret_values`).
    fn secrets(&self) -> Vec<String> {
        Vec::new()
    }

    /// The running channel; the settings are expected to have passed `check`,
    /// anything still wrong is an error naming the key, never a secret.
    fn build(&self, context: &BuildContext<'_>) -> Result<Self::Channel, DeliverError>;
}

/// What a channel does with events. The dispatcher drives every kind through
/// this; `render CHANNEL` shows [`Deliver::preview`].
pub trait Deliver: Sync {
    fn send(&self, event: &Event) -> impl Future<Output = SendOutcome> + Send;

    /// Channels that send messages rather than rows: the dispatcher hands them
    /// their due rows in batches (one cycle's rows together when [`Deliver::groups`]).
    fn sends_batches(&self) -> bool {
        false
    }

    /// Whether the events of one cycle go out as one digest message.
    fn groups(&self) -> bool {
        false
    }

    /// One message for `events` on a batching channel; any other channel sends
    /// them one by one and reports the first failure.
    fn send_batch(&self, events: &[Event]) -> impl Future<Output = BatchOutcome> + Send {
        async move {
            let mut details = Vec::new();
            for event in events {
                match self.send(event).await {
                    SendOutcome::Delivered { detail } => details.push(detail),
                    failed => {
                        return BatchOutcome {
                            outcome: failed,
                            auth_failure: false,
                        }
                    }
                }
            }
            BatchOutcome {
                outcome: SendOutcome::Delivered {
                    detail: details.join("; "),
                },
                auth_failure: false,
            }
        }
    }

    /// Exactly what would be sent for `events`, secrets hidden; `raw` asks for
    /// the wire format where it differs from the readable one (email).
    fn preview(&self, events: &[Event], raw: bool) -> Result<String, PayloadError>;
}

/// What building a channel needs besides its own settings.
#[derive(Debug, Clone, Copy)]
pub struct BuildContext<'a> {
    /// The channel's name, for errors.
    pub name: &'a str,
    /// Names this watcher in messages.
    pub instance: &'a str,
    pub shared: &'a SharedSettings,
    pub text: &'a TextSettings,
}

impl BuildContext<'_> {
    /// A setting of this channel that cannot be used, and why.
    pub fn invalid(&self, reason: impl Into<String>) -> DeliverError {
        DeliverError::Chat {
            channel: self.name.to_string(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
impl BuildContext<'static> {
    /// Every shared and text default, instance `host-1`, for unit tests.
    pub(crate) fn for_tests(name: &'static str) -> Self {
        static SHARED: std::sync::LazyLock<SharedSettings> =
            std::sync::LazyLock::new(SharedSettings::default);
        static TEXT: std::sync::LazyLock<TextSettings> =
            std::sync::LazyLock::new(TextSettings::default);
        Self {
            name,
            instance: "host-1",
            shared: &SHARED,
            text: &TEXT,
        }
    }
}

/// The keys every channel kind takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedSettings {
    /// Per send (email uses its own SMTP timeouts).
    #[serde(default = "default_send_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// First retry delay; doubles, with jitter, up to `retry_max_backoff`.
    #[serde(default = "default_initial_backoff", with = "humantime_serde")]
    pub retry_initial_backoff: Duration,
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    pub retry_max_backoff: Duration,
    /// A row older than this that still fails is dead.
    #[serde(default = "default_max_age", with = "humantime_serde")]
    pub max_age: Duration,
    /// Hold events during these hours and send them as one digest when they end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHoursTable>,
    /// Sends per rolling minute; the excess waits in the outbox. Unset: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_minute: Option<u32>,
    /// Whether the end of an episode whose start this channel got is sent to
    /// it even when no rule routes the end here. `false` keeps only the ends
    /// the rules route; refused on the incident kinds, whose incidents would
    /// stay open.
    #[serde(default = "sends_resolved", skip_serializing_if = "is_true")]
    pub send_resolved: bool,
}

fn sends_resolved() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

impl Default for SharedSettings {
    fn default() -> Self {
        Self {
            timeout: default_send_timeout(),
            retry_initial_backoff: default_initial_backoff(),
            retry_max_backoff: default_max_backoff(),
            max_age: default_max_age(),
            quiet_hours: None,
            max_per_minute: None,
            send_resolved: true,
        }
    }
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

fn human(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

impl SharedSettings {
    /// Every problem of the shared keys; `quiet_hours_refused_by` names a kind
    /// that cannot hold events for quiet hours. The window itself is parsed by
    /// `Settings::validate`, which keeps it.
    pub fn check(
        &self,
        at: &str,
        quiet_hours_refused_by: Option<&str>,
        problems: &mut Vec<String>,
    ) {
        use crate::setting::bounds::{duration_within, number_within, LONGEST};
        const HOUR: Duration = Duration::from_secs(3600);
        if self.timeout.is_zero() {
            problems.push(format!("{at}.timeout: must be longer than 0s"));
        } else {
            duration_within(
                problems,
                &format!("{at}.timeout"),
                self.timeout,
                Duration::ZERO..=HOUR,
            );
        }
        duration_within(
            problems,
            &format!("{at}.retry_max_backoff"),
            self.retry_max_backoff,
            Duration::ZERO..=24 * HOUR,
        );
        if self.retry_initial_backoff.is_zero() {
            problems.push(format!(
                "{at}.retry_initial_backoff: must be longer than 0s"
            ));
        } else if self.retry_initial_backoff > self.retry_max_backoff {
            problems.push(format!(
                "{at}.retry_initial_backoff: {} is longer than retry_max_backoff ({})",
                human(self.retry_initial_backoff),
                human(self.retry_max_backoff)
            ));
        }
        if self.max_age.is_zero() {
            problems.push(format!("{at}.max_age: must be longer than 0s"));
        } else {
            duration_within(
                problems,
                &format!("{at}.max_age"),
                self.max_age,
                Duration::ZERO..=LONGEST,
            );
        }
        if self.max_per_minute == Some(0) {
            problems.push(format!(
                "{at}.max_per_minute: must be at least 1 (leave it out for no limit)"
            ));
        } else if let Some(per_minute) = self.max_per_minute {
            number_within(
                problems,
                &format!("{at}.max_per_minute"),
                per_minute,
                1..=100_000,
            );
        }
        if let (Some(_), Some(kind)) = (&self.quiet_hours, quiet_hours_refused_by) {
            // A digest of held events cannot trigger or resolve incidents; the
            // targets schedule and silence notifications themselves.
            problems.push(format!(
                "{at}.quiet_hours: not supported for kind \"{kind}\": use the target's own schedules or silences"
            ));
        }
        if let (false, Some(kind)) = (self.send_resolved, quiet_hours_refused_by) {
            problems.push(format!(
                "{at}.send_resolved: false is not supported for kind \"{kind}\": its incidents would never resolve; remove the key"
            ));
        }
    }
}

/// The keys of every kind that renders text (all but `webhook` and `console`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextSettings {
    /// IANA zone (e.g. "Europe/Berlin") shown beside UTC in messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// minijinja file replacing the built-in subject (in chat: the headline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_template: Option<PathBuf>,
    /// minijinja file replacing the built-in plain-text body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_template: Option<PathBuf>,
}

impl TextSettings {
    /// The template files, with email's HTML one when it has one.
    pub fn template_files(&self, html: Option<&Path>) -> TemplateFiles {
        TemplateFiles {
            subject: self.subject_template.clone(),
            text: self.text_template.clone(),
            html: html.map(Path::to_path_buf),
        }
    }

    /// The time zone and the template files (rendered against every sample).
    pub fn check(&self, at: &str, html: Option<&Path>, problems: &mut Vec<String>) {
        if let Some(zone) = &self.timezone {
            if zone.parse::<chrono_tz::Tz>().is_err() {
                problems.push(format!(
                    "{at}.timezone: \"{zone}\" is not an IANA time zone such as \"Europe/Berlin\" or \"America/New_York\""
                ));
            }
        }
        let files = self.template_files(html);
        if !files.is_empty() {
            if let Err(error) = crate::render::Templates::load(&files) {
                problems.push(format!("{at}: {error}"));
            }
        }
    }
}

/// One pretty JSON body and a newline, for previews.
pub(super) fn pretty(body: &serde_json::Value) -> String {
    serde_json::to_string_pretty(body).unwrap_or_default() + "\n"
}

/// One JSON body per event, as a channel that sends events one by one would.
pub(super) fn each(
    events: &[Event],
    payload: impl Fn(&Event) -> Result<serde_json::Value, PayloadError>,
) -> Result<String, PayloadError> {
    events
        .iter()
        .map(|event| payload(event).map(|body| pretty(&body)))
        .collect()
}

/// Generates, from the one list of kinds, the enums that dispatch to them:
/// `ChannelKind` (the `kind = "..."` names), `KindSettings` (each kind's
/// settings) and `Channel` (each kind's running channel).
macro_rules! channel_kinds {
    ($($variant:ident = $name:literal => $settings:ty,)+) => {
        /// `kind = "..."` of a channel.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ChannelKind {
            $($variant,)+
        }

        impl ChannelKind {
            /// Every kind, in the order the documentation lists them.
            pub const ALL: &'static [ChannelKind] = &[$(Self::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }

            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|kind| kind.as_str() == name)
            }

            /// The keys of this kind's own settings (not the shared or text ones).
            pub fn own_keys(self) -> &'static [&'static str] {
                match self {
                    $(Self::$variant => crate::setting::fields::struct_fields::<$settings>(),)+
                }
            }

            /// Whether the kind takes the text keys.
            pub fn renders_text(self) -> bool {
                match self {
                    $(Self::$variant => <$settings as ChannelConfig>::RENDERS_TEXT,)+
                }
            }

            pub fn list_keys(self) -> &'static [&'static str] {
                match self {
                    $(Self::$variant => <$settings as ChannelConfig>::LIST_KEYS,)+
                }
            }

            /// This kind's settings from the keys that belong to it.
            pub fn deserialize<'de, D: serde::Deserializer<'de>>(self, table: D) -> Result<KindSettings, D::Error> {
                match self {
                    $(Self::$variant => <$settings as serde::Deserialize>::deserialize(table).map(KindSettings::$variant),)+
                }
            }
        }

        impl std::fmt::Display for ChannelKind {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// The settings of one channel's kind. `Debug` shows them redacted.
        #[derive(Clone, Serialize)]
        #[serde(tag = "kind")]
        pub enum KindSettings {
            $(#[serde(rename = $name)] $variant($settings),)+
        }

        $(impl From<$settings> for KindSettings {
            fn from(settings: $settings) -> Self {
                Self::$variant(settings)
            }
        })+

        impl KindSettings {
            pub fn kind(&self) -> ChannelKind {
                match self {
                    $(Self::$variant(_) => ChannelKind::$variant,)+
                }
            }

            /// The settings of kind `K`, when this channel is of that kind.
            pub fn get<K: std::any::Any>(&self) -> Option<&K> {
                match self {
                    $(Self::$variant(settings) => (settings as &dyn std::any::Any).downcast_ref(),)+
                }
            }

            /// See [`KindSettings::get`].
            pub fn get_mut<K: std::any::Any>(&mut self) -> Option<&mut K> {
                match self {
                    $(Self::$variant(settings) => (settings as &mut dyn std::any::Any).downcast_mut(),)+
                }
            }

            pub fn holds_quiet_hours(&self) -> bool {
                match self {
                    $(Self::$variant(_) => <$settings as ChannelConfig>::HOLDS_QUIET_HOURS,)+
                }
            }

            pub fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
                match self {
                    $(Self::$variant(settings) => settings.check(at, text, problems),)+
                }
            }

            pub fn warnings(&self, at: &str) -> Vec<String> {
                match self {
                    $(Self::$variant(settings) => settings.warnings(at),)+
                }
            }

            pub fn read_secret_files(&mut self, files: &mut SecretFiles<'_>) {
                match self {
                    $(Self::$variant(settings) => settings.read_secret_files(files),)+
                }
            }

            pub fn redact(&mut self) {
                match self {
                    $(Self::$variant(settings) => settings.redact(),)+
                }
            }

            pub fn secrets(&self) -> Vec<String> {
                match self {
                    $(Self::$variant(settings) => settings.secrets(),)+
                }
            }

            pub fn build(&self, context: &BuildContext<'_>) -> Result<Channel, DeliverError> {
                match self {
                    $(Self::$variant(settings) => settings.build(context).map(Channel::$variant),)+
                }
            }
        }

        impl std::fmt::Debug for KindSettings {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut shown = self.clone();
                shown.redact();
                let text = serde_json::to_string(&shown).unwrap_or_default();
                f.write_str(&text)
            }
        }

        /// A running channel of any kind.
        #[derive(Debug)]
        pub enum Channel {
            $($variant(<$settings as ChannelConfig>::Channel),)+
        }

        impl Channel {
            pub async fn send(&self, event: &Event) -> SendOutcome {
                match self {
                    $(Self::$variant(channel) => channel.send(event).await,)+
                }
            }

            /// See [`Deliver::sends_batches`].
            pub fn sends_batches(&self) -> bool {
                match self {
                    $(Self::$variant(channel) => channel.sends_batches(),)+
                }
            }

            /// See [`Deliver::groups`].
            pub fn groups(&self) -> bool {
                match self {
                    $(Self::$variant(channel) => channel.groups(),)+
                }
            }

            pub async fn send_batch(&self, events: &[Event]) -> BatchOutcome {
                match self {
                    $(Self::$variant(channel) => channel.send_batch(events).await,)+
                }
            }

            /// See [`Deliver::preview`].
            pub fn preview(&self, events: &[Event], raw: bool) -> Result<String, PayloadError> {
                match self {
                    $(Self::$variant(channel) => channel.preview(events, raw),)+
                }
            }
        }
    };
}
pub(super) use channel_kinds;
