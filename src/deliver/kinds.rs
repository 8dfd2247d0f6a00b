//! The one list of channel kinds, and the settings of one configured channel.
//!
//! Adding a kind: `deliver/<kind>/mod.rs` (the channel, implementing
//! [`Deliver`], or `json_hook::JsonHook` for one JSON body per event) with
//! `deliver/<kind>/settings.rs` (its keys, implementing [`ChannelConfig`]),
//! one `pub mod <kind>;` line in `deliver/mod.rs`, and one line below.
//! An HTTP kind gets its client from `target::Target` (the one builder,
//! `crate::outbound::client_for`) and takes `allow_link_local`; see
//! docs/security.md.

use std::fmt;

use serde::Serialize;

use super::channel::{channel_kinds, ChannelConfig, Deliver};
pub use super::channel::{BuildContext, SharedSettings, TextSettings};
use super::{BatchOutcome, DeliverError, PayloadError, SendOutcome};
use crate::event::Event;
use crate::setting::secret::SecretFiles;

channel_kinds! {
    Webhook = "webhook" => super::webhook::WebhookSettings,
    Console = "console" => super::console::ConsoleSettings,
    Email = "email" => super::email::EmailSettings,
    Slack = "slack" => super::slack::SlackSettings,
    Discord = "discord" => super::discord::DiscordSettings,
    Teams = "teams" => super::teams::TeamsSettings,
    Pagerduty = "pagerduty" => super::pagerduty::PagerDutySettings,
    Alertmanager = "alertmanager" => super::alertmanager::AlertmanagerSettings,
    Ntfy = "ntfy" => super::ntfy::NtfySettings,
    Telegram = "telegram" => super::telegram::TelegramSettings,
    Opsgenie = "opsgenie" => super::opsgenie::OpsgenieSettings,
    GoogleChat = "google_chat" => super::google_chat::GoogleChatSettings,
    Mattermost = "mattermost" => super::mattermost::MattermostSettings,
    Http = "http" => super::http::HttpChannelSettings,
}

/// `[channels.NAME]`: the kind with its own keys, the keys every kind shares,
/// and (for kinds that render text) the text keys. One flat table in TOML;
/// the loader reads `kind` first and hands each struct its keys.
#[derive(Clone, Serialize)]
pub struct ChannelSettings {
    #[serde(flatten)]
    pub kind: KindSettings,
    #[serde(flatten)]
    pub text: TextSettings,
    #[serde(flatten)]
    pub shared: SharedSettings,
}

impl ChannelSettings {
    /// A channel of this kind with every shared default (for `demo` and tests).
    pub fn new(kind: impl Into<KindSettings>) -> Self {
        Self {
            kind: kind.into(),
            text: TextSettings::default(),
            shared: SharedSettings::default(),
        }
    }

    pub fn kind(&self) -> ChannelKind {
        self.kind.kind()
    }

    /// Every problem of this channel, each starting with `at`.
    pub fn check(&self, at: &str, problems: &mut Vec<String>) {
        self.kind.check(at, &self.text, problems);
        let refused = (!self.kind.holds_quiet_hours()).then(|| self.kind().as_str());
        self.shared.check(at, refused, problems);
    }

    /// The channel, named `name`, signing its messages with `instance`.
    pub fn build(&self, name: &str, instance: &str) -> Result<Channel, DeliverError> {
        self.kind.build(&BuildContext {
            name,
            instance,
            shared: &self.shared,
            text: &self.text,
        })
    }

    /// A copy safe to print (`check-config`, `Debug`).
    pub fn redacted(&self) -> Self {
        let mut shown = self.clone();
        shown.kind.redact();
        shown
    }
}

impl fmt::Debug for ChannelSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelSettings")
            .field("kind", &self.kind)
            .field("text", &self.text)
            .field("shared", &self.shared)
            .finish()
    }
}
