//! Step 6 of the pipeline: channels and the outbox dispatcher.
//!
//! The dispatcher reads due outbox rows from the store, sends each through its
//! channel, and records the outcome: sent, rescheduled with backoff, or dead.
//! Delivery is at-least-once; every message carries the event id (`webhook-id`)
//! so receivers can drop duplicates.
//!
//! Channels are an enum rather than trait objects: the set is closed, and each
//! kind is a plain struct built once from its settings.

mod console;
mod dispatcher;
mod email;
pub mod signing;
mod webhook;

use std::collections::BTreeMap;
use std::time::Duration;

pub use console::ConsoleChannel;
pub use dispatcher::{Dispatcher, DrainReport};
pub use email::{
    BatchOutcome, EmailChannel, COMMAND_TIMEOUT as SMTP_COMMAND_TIMEOUT, EVENT_ID_HEADER,
};
pub use signing::SigningError;
pub use webhook::WebhookChannel;

use crate::config::{ChannelKind, ChannelSettings, Settings};
use crate::event::Event;

/// Why the channels could not be built. Never carries a url or secret.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("channel \"{channel}\": kind \"{kind}\" is not built yet; use kind = \"webhook\", \"email\" or \"console\" for now")]
    NotBuiltYet { channel: String, kind: String },
    #[error("channel \"{channel}\": a webhook needs `url` (or `url_file`)")]
    MissingUrl { channel: String },
    #[error("channel \"{channel}\": `url` is not usable: {reason}")]
    InvalidUrl { channel: String, reason: String },
    #[error("channel \"{channel}\": `{key}` is not usable: {source}; generate one as whsec_ followed by 24-64 random bytes in base64")]
    InvalidSecret {
        channel: String,
        key: &'static str,
        source: SigningError,
    },
    #[error("channel \"{channel}\": quiet_hours: {reason}")]
    InvalidQuietHours { channel: String, reason: String },
    #[error("channel \"{channel}\": cannot build the HTTP client: {reason}")]
    Client { channel: String, reason: String },
    #[error("channel \"{channel}\": {reason}")]
    Email { channel: String, reason: String },
}

/// What one attempt to send one event came to.
#[derive(Debug, Clone)]
pub enum SendOutcome {
    Delivered {
        detail: String,
    },
    /// Worth trying again later; `retry_after` is the receiver's own request.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Trying again cannot help.
    Permanent {
        reason: String,
    },
}

#[derive(Debug)]
pub enum Channel {
    Webhook(WebhookChannel),
    Console(ConsoleChannel),
    /// Boxed: its transport and templates dwarf the other variants.
    Email(Box<EmailChannel>),
}

impl Channel {
    pub async fn send(&self, event: &Event) -> SendOutcome {
        match self {
            Self::Webhook(channel) => channel.send(event).await,
            Self::Console(channel) => channel.send(event).await,
            Self::Email(channel) => channel.send(event).await,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// A row older than this that still fails is dead.
    pub max_age: Duration,
}

impl RetryPolicy {
    fn from_settings(settings: &ChannelSettings) -> Self {
        Self {
            initial_backoff: settings.retry_initial_backoff,
            max_backoff: settings.retry_max_backoff,
            max_age: settings.max_age,
        }
    }
}

#[derive(Debug)]
pub struct ConfiguredChannel {
    pub name: String,
    pub channel: Channel,
    pub retry: RetryPolicy,
    /// Held rows go out as one digest when the window ends.
    pub quiet_hours: Option<crate::quiet::QuietHours>,
    /// Messages per rolling minute; the rest wait in the outbox.
    pub max_per_minute: Option<u32>,
}

/// Every configured channel, by name.
#[derive(Debug, Default)]
pub struct ChannelSet {
    channels: BTreeMap<String, ConfiguredChannel>,
}

fn kind_name(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Webhook => "webhook",
        ChannelKind::Console => "console",
        ChannelKind::Email => "email",
        ChannelKind::Slack => "slack",
        ChannelKind::Discord => "discord",
        ChannelKind::Teams => "teams",
        ChannelKind::Pagerduty => "pagerduty",
        ChannelKind::Alertmanager => "alertmanager",
    }
}

impl ChannelSet {
    /// Builds each channel from its settings (webhook: url required, http/https only;
    /// secret must be whsec_<base64>; console: nothing). Other kinds →
    /// [`DeliverError::NotBuiltYet`] naming the channel. `*_file` keys are already
    /// resolved into `url`/`secret` by the config loader.
    pub fn build(settings: &BTreeMap<String, ChannelSettings>) -> Result<Self, DeliverError> {
        Self::build_for_instance(settings, &crate::render::default_instance_name())
    }

    /// [`ChannelSet::build`] for the whole configuration: messages name
    /// `settings.instance` (default: the host name).
    pub fn from_settings(settings: &Settings) -> Result<Self, DeliverError> {
        Self::build_for_instance(&settings.channels, &settings.instance_name())
    }

    /// [`ChannelSet::build`] with an explicit instance name.
    pub fn build_for_instance(
        settings: &BTreeMap<String, ChannelSettings>,
        instance: &str,
    ) -> Result<Self, DeliverError> {
        let mut channels = BTreeMap::new();
        for (name, channel_settings) in settings {
            let channel = match channel_settings.kind {
                ChannelKind::Webhook => {
                    Channel::Webhook(WebhookChannel::new(name, channel_settings)?)
                }
                ChannelKind::Console => Channel::Console(ConsoleChannel::new()),
                ChannelKind::Email => Channel::Email(Box::new(EmailChannel::new(
                    name,
                    channel_settings,
                    instance,
                )?)),
                other => {
                    return Err(DeliverError::NotBuiltYet {
                        channel: name.clone(),
                        kind: kind_name(other).to_string(),
                    })
                }
            };
            let quiet_hours = channel_settings
                .quiet_hours
                .as_ref()
                .map(crate::quiet::QuietHours::from_settings)
                .transpose()
                .map_err(|reason| DeliverError::InvalidQuietHours {
                    channel: name.clone(),
                    reason,
                })?;
            channels.insert(
                name.clone(),
                ConfiguredChannel {
                    name: name.clone(),
                    channel,
                    retry: RetryPolicy::from_settings(channel_settings),
                    quiet_hours,
                    max_per_minute: channel_settings.max_per_minute,
                },
            );
        }
        Ok(Self { channels })
    }

    pub fn names(&self) -> Vec<String> {
        self.channels.keys().cloned().collect()
    }

    pub fn get(&self, name: &str) -> Option<&ConfiguredChannel> {
        self.channels.get(name)
    }
}

#[cfg(test)]
mod tests;
