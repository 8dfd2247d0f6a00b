//! PagerDuty Events API v2: `trigger` when an event starts a condition,
//! `resolve` when one ends, with a deterministic `dedup_key` per campaign and
//! condition (`campaign-watcher/<campaign id>/paused`), so retries and
//! reminders collapse into the open incident and the resolve finds it.
//!
//! Events that neither start nor end a condition (settings changed,
//! scheduled → live) open no incident: they are skipped and reported as such.
//! `test-notify` triggers a test incident and resolves it at once.
//!
//! 2xx (PagerDuty answers 202) is success; 400 is permanent; 429, 5xx and
//! network errors are retried. The routing key never appears in a log line.

use crate::deliver::PayloadError;
use serde_json::{json, Value};

use super::channel::{BuildContext, Deliver};
use super::chat::{clip, headline, severities, ChatText};
use super::incident::{preview_each, send_each, with_action};
use super::target::{answered, outcome_for_status, Answer, Target};
use super::{DeliverError, SendOutcome};
use crate::alert::{transitions, SeverityMap, Transition};
use crate::event::{Event, EventType};
use crate::setting::secret::Secret;

mod settings;
pub use settings::PagerDutySettings;

pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";
const SUMMARY_CHARS: usize = 1024;
const DETAILS_CHARS: usize = 8000;
/// Campaign ids and names in `custom_details` and `component`. With the
/// details cut too, a trigger stays far below the Events API's 512 KB.
const FIELD_CHARS: usize = 1024;

pub struct PagerDutyChannel {
    target: Target,
    routing_key: Secret,
    severities: SeverityMap,
    text: ChatText,
}

impl std::fmt::Debug for PagerDutyChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagerDutyChannel")
            .field("url", &self.target)
            .field("routing_key", &self.routing_key)
            .finish_non_exhaustive()
    }
}

impl PagerDutyChannel {
    pub fn new(
        settings: &PagerDutySettings,
        context: &BuildContext<'_>,
    ) -> Result<Self, DeliverError> {
        let routing_key = settings
            .routing_key
            .clone()
            .filter(|key| !key.expose().trim().is_empty())
            .ok_or_else(|| context.invalid("`routing_key` (or routing_key_file) is missing"))?;
        let severities = severities(context.name, settings.severity.as_ref())?;
        let url = settings.url.as_deref().unwrap_or(DEFAULT_URL);
        Ok(Self {
            target: Target::new(
                context.name,
                url,
                context.shared.timeout,
                settings.allow_link_local,
            )?
            .scrubbing(&[routing_key.expose()]),
            routing_key,
            severities,
            text: ChatText::new(context)?,
        })
    }

    /// The Events API messages for one event, in sending order.
    pub fn messages(&self, event: &Event) -> Result<Vec<Value>, PayloadError> {
        let campaign_id = event.campaign.as_ref().map(|c| c.id.as_str());
        let account = event.named_account();
        if event.kind == EventType::Test {
            let dedup_key = format!("campaign-watcher/test/{}", event.id);
            return Ok(vec![
                self.trigger(event, &dedup_key, "info", "test")?,
                self.resolve(&dedup_key),
            ]);
        }
        let mut messages = Vec::new();
        for transition in transitions(event) {
            messages.push(match transition {
                Transition::Starts(condition) => self.trigger(
                    event,
                    &condition.dedup_key(account, campaign_id),
                    self.severities.get(condition).as_str(),
                    condition.key(),
                )?,
                Transition::Ends(condition) => {
                    self.resolve(&condition.dedup_key(account, campaign_id))
                }
            });
        }
        Ok(messages)
    }

    fn trigger(
        &self,
        event: &Event,
        dedup_key: &str,
        severity: &str,
        condition: &str,
    ) -> Result<Value, PayloadError> {
        let rendered = self.text.render_one(event)?;
        let campaign = event.campaign.as_ref();
        Ok(json!({
            "routing_key": self.routing_key.expose(),
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "client": "campaign-watcher",
            "payload": {
                "summary": clip(&headline(&rendered), SUMMARY_CHARS),
                "source": self.text.instance(),
                "severity": severity,
                "timestamp": event.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "component": campaign.map_or_else(|| "sigmamind-api".into(), |c| clip(&c.id, FIELD_CHARS)),
                "group": "campaign-watcher",
                "class": condition,
                "custom_details": {
                    "event_id": event.id,
                    "event_type": event.kind.as_str(),
                    "campaign_id": campaign.map(|c| clip(&c.id, FIELD_CHARS)),
                    "campaign_name": campaign.map(|c| clip(&c.name, FIELD_CHARS)),
                    "status": campaign.map(|c| c.status.to_string()),
                    "details": clip(rendered.text.trim(), DETAILS_CHARS),
                    "hints": event.hints.iter().map(|hint| json!({
                        "code": clip(&hint.code, FIELD_CHARS),
                        "text": crate::text::header(&hint.text, FIELD_CHARS),
                    })).collect::<Vec<_>>(),
                },
            },
            "links": event.links.iter().map(|links| json!({
                "href": links.board,
                "text": "On the campaign-watcher board",
            })).collect::<Vec<_>>(),
        }))
    }

    fn resolve(&self, dedup_key: &str) -> Value {
        json!({
            "routing_key": self.routing_key.expose(),
            "event_action": "resolve",
            "dedup_key": dedup_key,
        })
    }

    fn classify(&self, answer: &Answer) -> SendOutcome {
        // PagerDuty does not echo the key, but a proxy in between might.
        let reason = answered(self.target.display(), answer)
            .replace(self.routing_key.expose(), "<redacted>");
        match answer.status.as_u16() {
            200..=299 => SendOutcome::Delivered { detail: reason },
            400 => SendOutcome::Permanent {
                reason: format!("PagerDuty refused the event as invalid: {reason}"),
            },
            other => outcome_for_status(other, reason, answer.retry_after),
        }
    }
}

impl Deliver for PagerDutyChannel {
    /// The messages with the routing key hidden, for `render`.
    fn preview(&self, events: &[Event], _raw: bool) -> Result<String, PayloadError> {
        preview_each(
            events,
            |event| self.messages(event),
            "sent",
            |mut message| {
                message["routing_key"] = json!("<redacted>");
                serde_json::to_string_pretty(&message).unwrap_or_default() + "\n"
            },
        )
    }

    async fn send(&self, event: &Event) -> SendOutcome {
        let messages = self.messages(event);
        send_each(
            event,
            "a PagerDuty incident",
            messages,
            |message| async move {
                let action = message["event_action"].as_str().unwrap_or_default();
                match self.target.post_json(&message).await {
                    Ok(answer) => with_action(action, self.classify(&answer)),
                    Err(reason) => SendOutcome::Retry {
                        reason: reason.to_string(),
                        retry_after: None,
                    },
                }
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests;
