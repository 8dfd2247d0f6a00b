//! What the Slack, Discord, Teams, PagerDuty and Alertmanager channels share
//! besides their HTTP target (`target.rs`): the event→text rendering and the
//! small text helpers their payloads use.

use std::time::Duration;

use super::DeliverError;
use crate::config::ChannelSettings;
use crate::event::Event;
use crate::render::{RenderContext, Rendered, Templates};

/// The shared event→text rendering with this channel's template overrides.
#[derive(Debug)]
pub(super) struct ChatText {
    templates: Templates,
    pub context: RenderContext,
}

impl ChatText {
    pub fn new(
        channel: &str,
        settings: &ChannelSettings,
        instance: &str,
    ) -> Result<Self, DeliverError> {
        let invalid = |reason: String| DeliverError::Chat {
            channel: channel.to_string(),
            reason,
        };
        let timezone =
            match &settings.timezone {
                Some(zone) => Some(zone.parse::<chrono_tz::Tz>().map_err(|_| {
                    invalid(format!("`timezone` \"{zone}\" is not an IANA time zone"))
                })?),
                None => None,
            };
        let templates =
            Templates::load(&settings.template_files()).map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            templates,
            context: RenderContext {
                instance: instance.to_string(),
                timezone,
            },
        })
    }

    /// As email does: the built-in templates stand in if a custom one fails at
    /// send time, so an alert still goes out.
    pub fn render(&self, events: &[Event]) -> Result<Rendered, String> {
        match self.templates.render(events, &self.context) {
            Ok(rendered) => Ok(rendered),
            Err(error) => {
                tracing::error!(error = %error, "custom template failed; using the built-in one for this message");
                Templates::builtin()
                    .render(events, &self.context)
                    .map_err(|e| e.to_string())
            }
        }
    }

    pub fn instance(&self) -> &str {
        &self.context.instance
    }
}

/// At most `max` characters, with `…` when cut (targets reject longer fields).
pub(super) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(max.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

/// The template's subject without the `[campaign-watcher]` mail-filter prefix,
/// which a chat message does not need.
pub(super) fn headline(rendered: &Rendered) -> String {
    rendered
        .subject
        .strip_prefix(crate::render::SUBJECT_PREFIX)
        .unwrap_or(&rendered.subject)
        .trim()
        .to_string()
}

/// `1.5` seconds from a JSON body (Discord's `retry_after`).
pub(super) fn json_seconds(body: &str, field: &str) -> Option<Duration> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let seconds = value.get(field)?.as_f64()?;
    (seconds.is_finite() && seconds >= 0.0)
        .then(|| Duration::try_from_secs_f64(seconds).ok())
        .flatten()
}

#[cfg(test)]
#[path = "chat_tests.rs"]
mod tests;
