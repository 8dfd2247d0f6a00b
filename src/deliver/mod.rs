//! Step 6 of the pipeline: channels and the outbox dispatcher.
//!
//! The dispatcher reads due outbox rows from the store, sends each through its
//! channel, and records the outcome: sent, rescheduled with backoff, or dead.
//! Delivery is at-least-once; every message carries the event id (`webhook-id`)
//! so receivers can drop duplicates.
//!
//! Channels are an enum rather than trait objects: the set is closed, and each
//! kind is a plain struct built once from its settings.

pub mod alertmanager;
mod chat;
mod console;
mod discord;
mod dispatcher;
mod email;
pub mod heartbeat;
mod pagerduty;
pub mod signing;
mod slack;
mod teams;
mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub use crate::route::condition::SeverityMap;
pub use alertmanager::AlertmanagerChannel;
pub use console::ConsoleChannel;
pub use discord::DiscordChannel;
pub use dispatcher::{Dispatcher, DrainReport};
pub use email::{
    BatchOutcome, EmailChannel, COMMAND_TIMEOUT as SMTP_COMMAND_TIMEOUT, EVENT_ID_HEADER,
};
pub use pagerduty::PagerDutyChannel;
pub use signing::SigningError;
pub use slack::SlackChannel;
pub use teams::TeamsChannel;
pub use webhook::WebhookChannel;

use crate::config::{ChannelKind, ChannelSettings, Settings};
use crate::event::Event;

/// Why the channels could not be built. Never carries a url or secret.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
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
    #[error("channel \"{channel}\": {reason}")]
    Chat { channel: String, reason: String },
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
    Slack(Box<SlackChannel>),
    Discord(Box<DiscordChannel>),
    Teams(Box<TeamsChannel>),
    Pagerduty(Box<PagerDutyChannel>),
    /// Shared with its re-asserter task.
    Alertmanager(Arc<AlertmanagerChannel>),
}

impl Channel {
    pub async fn send(&self, event: &Event) -> SendOutcome {
        match self {
            Self::Webhook(channel) => channel.send(event).await,
            Self::Console(channel) => channel.send(event).await,
            Self::Email(channel) => channel.send(event).await,
            Self::Slack(channel) => channel.send(event).await,
            Self::Discord(channel) => channel.send(event).await,
            Self::Teams(channel) => channel.send(event).await,
            Self::Pagerduty(channel) => channel.send(event).await,
            Self::Alertmanager(channel) => channel.send(event).await,
        }
    }

    /// Channels that send messages rather than rows: the dispatcher hands them
    /// their due rows in batches (one cycle's rows together when [`Channel::groups`]).
    pub fn sends_batches(&self) -> bool {
        matches!(self, Self::Email(_) | Self::Slack(_))
    }

    /// Whether the events of one cycle go out as one digest message.
    pub fn groups(&self) -> bool {
        match self {
            Self::Email(channel) => channel.groups(),
            Self::Slack(channel) => channel.groups(),
            _ => false,
        }
    }

    /// One message for `events` on a batching channel; any other channel sends
    /// them one by one and reports the first failure.
    pub async fn send_batch(&self, events: &[Event]) -> BatchOutcome {
        match self {
            Self::Email(channel) => channel.send_batch(events).await,
            Self::Slack(channel) => BatchOutcome {
                outcome: channel.send_batch(events).await,
                auth_failure: false,
            },
            other => {
                let mut details = Vec::new();
                for event in events {
                    match Box::pin(other.send(event)).await {
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
    pub quiet_hours: Option<crate::route::quiet::QuietHours>,
    /// Messages per rolling minute; the rest wait in the outbox.
    pub max_per_minute: Option<u32>,
}

/// Every configured channel, by name.
#[derive(Debug, Default)]
pub struct ChannelSet {
    channels: BTreeMap<String, ConfiguredChannel>,
}

impl ChannelSet {
    /// Builds each channel from its settings (webhook: url required, http/https only;
    /// secret must be whsec_<base64>; console: nothing; the chat and incident
    /// kinds: their url or routing key). `*_file` keys are already resolved into
    /// `url`/`secret`/`routing_key` by the config loader.
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
                ChannelKind::Slack => Channel::Slack(Box::new(SlackChannel::new(
                    name,
                    channel_settings,
                    instance,
                )?)),
                ChannelKind::Discord => Channel::Discord(Box::new(DiscordChannel::new(
                    name,
                    channel_settings,
                    instance,
                )?)),
                ChannelKind::Teams => Channel::Teams(Box::new(TeamsChannel::new(
                    name,
                    channel_settings,
                    instance,
                )?)),
                ChannelKind::Pagerduty => Channel::Pagerduty(Box::new(PagerDutyChannel::new(
                    name,
                    channel_settings,
                    instance,
                )?)),
                ChannelKind::Alertmanager => Channel::Alertmanager(Arc::new(
                    AlertmanagerChannel::new(name, channel_settings, instance)?,
                )),
            };
            let quiet_hours = channel_settings
                .quiet_hours
                .as_ref()
                .map(crate::route::quiet::QuietHours::from_settings)
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

    /// Every alertmanager channel by name, for the re-asserter.
    pub fn alertmanagers(&self) -> Vec<(String, Arc<AlertmanagerChannel>)> {
        self.channels
            .values()
            .filter_map(|configured| match &configured.channel {
                Channel::Alertmanager(channel) => Some((configured.name.clone(), channel.clone())),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
