//! Step 6 of the pipeline: channels and the outbox dispatcher.
//!
//! The dispatcher reads due outbox rows from the store, sends each through its
//! channel, and records the outcome: sent, rescheduled with backoff, or dead.
//! Delivery is at-least-once; every message carries the event id (`webhook-id`)
//! so receivers can drop duplicates.
//!
//! Channels are an enum rather than trait objects: the set is closed, and each
//! kind is a plain struct built once from its own settings. A kind lives in
//! its own folder: `<kind>/mod.rs` (the channel), `<kind>/settings.rs` (its
//! keys) and `<kind>/tests.rs`; `kinds.rs` holds the one list of kinds,
//! `channel.rs` what every kind provides, `json_hook.rs` the sending of the
//! kinds that POST one JSON body per event.

pub mod alertmanager;
mod channel;
mod chat;
pub mod console;
pub mod discord;
mod dispatcher;
pub mod email;
pub mod google_chat;
pub mod heartbeat;
mod hook_url;
pub mod http;
mod incident;
mod json_hook;
pub mod kinds;
pub mod mattermost;
pub mod ntfy;
pub mod opsgenie;
mod outcome;
pub mod pagerduty;
pub mod signing;
pub mod slack;
mod target;
pub mod teams;
pub mod telegram;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub use crate::alert::SeverityMap;
pub use alertmanager::AlertmanagerChannel;
pub use channel::{ChannelConfig, Deliver};
pub use console::ConsoleChannel;
pub use discord::DiscordChannel;
pub use dispatcher::{Dispatcher, DrainReport, IDLE_WAIT};
pub use email::{EmailChannel, COMMAND_TIMEOUT as SMTP_COMMAND_TIMEOUT, EVENT_ID_HEADER};
pub use kinds::{BuildContext, Channel, ChannelKind, ChannelSettings, KindSettings};
pub use outcome::{BatchOutcome, SendOutcome};
pub use pagerduty::PagerDutyChannel;

pub use signing::SigningError;
pub use slack::SlackChannel;
pub use teams::TeamsChannel;
pub use webhook::WebhookChannel;

/// Why an event's payload, preview or request could not be made, or a
/// request did not reach its receiver. Never carries a url or secret: the
/// texts name the key that failed, so `render` and the outcome log can show them.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// Even the built-in templates could not render the event.
    #[error("{0}")]
    Template(#[from] crate::render::RenderError),
    /// An `http` channel's request template failed for this event.
    #[error("{0}")]
    RequestTemplate(#[from] http::TemplateError),
    #[error("method: \"{shown}\" is not one of {allowed}")]
    UnknownMethod { shown: String, allowed: String },
    #[error("method: {reason}")]
    Method { reason: String },
    // url::ParseError names the problem, never the input.
    #[error("url: does not render to a URL: {reason}")]
    Url { reason: String },
    #[error("url: renders to scheme \"{scheme}\"; use http:// or https:// with a host")]
    UrlScheme { scheme: String },
    #[error("{key}: renders a path segment \"{segment}\" for this event (a campaign id of . or .. printed as a segment), which would leave the url's path; this event cannot be sent with this template: put the id in the query instead")]
    PathSegment { key: String, segment: String },
    #[error("{key}: not a header name")]
    HeaderName { key: String },
    #[error("{key}: renders to a value that cannot be a header")]
    HeaderValue { key: String },
    #[error("body: renders to invalid JSON ({0}); quote the places values are printed, or print whole values with | tojson")]
    BodyJson(serde_json::Error),
    #[error("body: {size} bytes, over max_body_bytes ({limit}) even with the event's texts cut")]
    OverLimit { size: usize, limit: usize },
    #[error("cannot build the message: {0}")]
    Message(#[from] lettre::error::Error),
    /// The request did not reach the receiver (or no answer came back).
    #[error("{method} to {target} failed: {reason}")]
    Unreachable {
        method: String,
        target: String,
        reason: String,
    },
}

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
            initial_backoff: settings.shared.retry_initial_backoff,
            max_backoff: settings.shared.retry_max_backoff,
            max_age: settings.shared.max_age,
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
    /// Builds each channel from its settings ([`ChannelSettings::build`]).
    /// `*_file` keys are already resolved into their values by the config loader.
    pub fn build(settings: &BTreeMap<String, ChannelSettings>) -> Result<Self, DeliverError> {
        Self::build_for_instance(settings, &crate::render::default_instance_name())
    }

    /// [`ChannelSet::build`] with an explicit instance name.
    pub fn build_for_instance(
        settings: &BTreeMap<String, ChannelSettings>,
        instance: &str,
    ) -> Result<Self, DeliverError> {
        let mut channels = BTreeMap::new();
        for (name, channel_settings) in settings {
            let channel = channel_settings.build(name, instance)?;
            let quiet_hours = channel_settings
                .shared
                .quiet_hours
                .as_ref()
                .map(|quiet| quiet.parsed().cloned())
                .transpose()
                .map_err(|reason| DeliverError::InvalidQuietHours {
                    channel: name.clone(),
                    reason: reason.to_string(),
                })?;
            channels.insert(
                name.clone(),
                ConfiguredChannel {
                    name: name.clone(),
                    channel,
                    retry: RetryPolicy::from_settings(channel_settings),
                    quiet_hours,
                    max_per_minute: channel_settings.shared.max_per_minute,
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
