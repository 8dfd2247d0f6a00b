//! Opsgenie Alert API v2 (<https://docs.opsgenie.com/docs/alert-api>), or the
//! same requests to Jira Service Management Operations' integration API
//! (`service = "jsm"`: `…/jsm/ops/integration/v2/alerts`, the same `GenieKey`,
//! create and close by alias alike; one kind, because only the base differs,
//! and a channel moves from Opsgenie to JSM by one key, its aliases intact): an event
//! that starts a condition creates an alert (`POST /v2/alerts`), one that ends
//! it closes the alert by the same alias (`POST
//! /v2/alerts/{alias}/close?identifierType=alias`). The alias is deterministic
//! per (campaign, condition), `campaign-watcher:<campaign>:<condition>`
//! (`campaign-watcher:watcher:api_unhealthy` for the API), so retries and
//! reminders land on the open alert (Opsgenie counts them) and the close finds it.
//!
//! Events that neither start nor end a condition are skipped, as for
//! PagerDuty; `test-notify` creates a test alert and closes it at once.
//! Opsgenie answers 202 (accepted, processed later): sent. 429 and 5xx are
//! retried; 401/403 (the key) and other 4xx are dead. The `GenieKey` is a
//! sensitive header, never logged, and scrubbed from every answer.

use crate::deliver::PayloadError;
use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};

use super::channel::{BuildContext, Deliver};
use super::chat::{campaign_key, headline, ChatText};
use super::incident::{preview_each, send_each, with_action};
use super::target::{answered, outcome_for_status, Answer, Target};
use super::{DeliverError, SendOutcome};
use crate::alert::{transitions, Condition, Transition};
use crate::event::{Event, EventType};
use crate::text::{fit, plain};

mod settings;
pub use settings::OpsgenieSettings;

pub const US_API_URL: &str = "https://api.opsgenie.com";
pub const EU_API_URL: &str = "https://api.eu.opsgenie.com";
/// Jira Service Management Operations' integration API (the watcher adds `/v2/alerts`).
pub const JSM_API_URL: &str = "https://api.atlassian.com/jsm/ops/integration";

/// Which service receives the alerts: only the base URL and the wording of
/// errors differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Opsgenie,
    Jsm,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Self::Opsgenie => "Opsgenie",
            Self::Jsm => "JSM Operations",
        }
    }

    /// Where the key comes from, for the sentence of a 401/403.
    fn key_hint(self) -> &'static str {
        match self {
            Self::Opsgenie => "check api_key (and the region)",
            Self::Jsm => "check api_key: the key of an API integration in Jira Service Management (Operations → Integrations)",
        }
    }
}
/// The Alert API's field limits.
const MESSAGE_CHARS: usize = 130;
const DESCRIPTION_CHARS: usize = 15_000;
const ENTITY_CHARS: usize = 512;
const SOURCE_CHARS: usize = 100;
const NOTE_CHARS: usize = 25_000;
const TAG_CHARS: usize = 50;
const MAX_TAGS: usize = 20;
/// `details` may hold 8,000 characters in all: seven values of at most 1,000.
const DETAIL_CHARS: usize = 1000;

pub struct OpsgenieChannel {
    /// The API's base URL (`https://api.opsgenie.com`).
    target: Target,
    service: Service,
    priorities: BTreeMap<Condition, String>,
    tags: Vec<String>,
    text: ChatText,
}

impl std::fmt::Debug for OpsgenieChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsgenieChannel")
            .field("api", &self.target)
            .field("api_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// `P1` .. `P5`.
pub fn parse_priority(text: &str) -> Option<String> {
    let text = text.trim().to_ascii_uppercase();
    matches!(text.as_str(), "P1" | "P2" | "P3" | "P4" | "P5").then_some(text)
}

pub fn default_priority(condition: Condition) -> &'static str {
    match condition {
        Condition::ApiUnhealthy | Condition::StoreUnhealthy => "P1",
        Condition::NotFound => "P2",
        Condition::Paused | Condition::UploadErrors | Condition::Unreadable => "P3",
    }
}

/// The alias of `condition` for `event`'s campaign (or the watcher).
pub fn alias(event: &Event, condition: Condition) -> String {
    format!(
        "campaign-watcher:{}:{}",
        campaign_key(event),
        condition.key()
    )
}

/// One request of an event: create or close, the alias, and the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub action: Action,
    pub alias: String,
    pub body: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Close,
}

impl OpsgenieChannel {
    pub fn new(
        settings: &OpsgenieSettings,
        context: &BuildContext<'_>,
    ) -> Result<Self, DeliverError> {
        let key = settings
            .api_key
            .as_ref()
            .map(|key| key.expose().trim())
            .filter(|key| !key.is_empty())
            .ok_or_else(|| context.invalid("`api_key` (or api_key_file) is missing"))?;
        let mut header = HeaderValue::from_str(&format!("GenieKey {key}"))
            .map_err(|_| context.invalid("`api_key` holds a character a header cannot"))?;
        header.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, header);
        let mut problems = Vec::new();
        let priorities = super::chat::condition_map(
            "priority",
            settings.priority.as_ref(),
            parse_priority,
            "P1 to P5",
            &mut problems,
        );
        if !problems.is_empty() {
            return Err(context.invalid(problems.join("; ")));
        }
        Ok(Self {
            target: Target::with_headers(
                context.name,
                settings.base_url(),
                context.shared.timeout,
                settings.allow_link_local,
                headers,
            )?
            .scrubbing(&[key]),
            service: settings.service(),
            priorities,
            tags: settings.tags.clone().unwrap_or_default(),
            text: ChatText::new(context)?,
        })
    }

    /// The requests for one event, in sending order.
    pub fn requests(&self, event: &Event) -> Result<Vec<Request>, PayloadError> {
        if event.kind == EventType::Test {
            let alias = format!("campaign-watcher:test:{}", event.id);
            return Ok(vec![
                self.create(event, &alias, "P5", "test")?,
                self.close(event, &alias),
            ]);
        }
        let mut requests = Vec::new();
        for transition in transitions(event) {
            requests.push(match transition {
                Transition::Starts(condition) => {
                    let priority = self
                        .priorities
                        .get(&condition)
                        .map_or(default_priority(condition), String::as_str);
                    self.create(event, &alias(event, condition), priority, condition.key())?
                }
                Transition::Ends(condition) => self.close(event, &alias(event, condition)),
            });
        }
        Ok(requests)
    }

    fn source(&self) -> String {
        fit(self.text.instance(), SOURCE_CHARS, plain)
    }

    fn create(
        &self,
        event: &Event,
        alias: &str,
        priority: &str,
        condition: &str,
    ) -> Result<Request, PayloadError> {
        let rendered = self.text.render_one(event)?;
        let campaign = event.campaign.as_ref();
        let detail = |text: &str| fit(text, DETAIL_CHARS, plain);
        let mut tags = vec!["campaign-watcher".to_string(), condition.to_string()];
        tags.extend(self.tags.iter().map(|tag| fit(tag, TAG_CHARS, plain)));
        tags.truncate(MAX_TAGS);
        let mut details = json!({
            "event_id": event.id,
            "event_type": event.kind.as_str(),
        });
        if let Some(campaign) = campaign {
            details["campaign_id"] = json!(detail(&campaign.id));
            details["campaign_name"] = json!(detail(&campaign.name));
            details["status"] = json!(campaign.status.to_string());
        }
        if !event.hints.is_empty() {
            // The sixth value of the budget above.
            details["hints"] = json!(detail(&super::chat::hint_lines(&event.hints)));
        }
        if let Some(links) = &event.links {
            // The seventh value of the budget above.
            details["board"] = json!(detail(&links.board));
        }
        Ok(Request {
            action: Action::Create,
            alias: alias.to_string(),
            body: json!({
                "message": fit(&headline(&rendered), MESSAGE_CHARS, plain),
                "alias": alias,
                "description": fit(rendered.text.trim(), DESCRIPTION_CHARS, plain),
                "tags": tags,
                "details": details,
                "entity": campaign.map_or_else(
                    || "sigmamind-api".to_string(),
                    |c| fit(&c.id, ENTITY_CHARS, plain),
                ),
                "source": self.source(),
                "priority": priority,
            }),
        })
    }

    fn close(&self, event: &Event, alias: &str) -> Request {
        let note = format!("{} ({})", event.summary, event.id);
        Request {
            action: Action::Close,
            alias: alias.to_string(),
            body: json!({
                "source": self.source(),
                "note": fit(&note, NOTE_CHARS, plain),
            }),
        }
    }

    /// Where `request` goes: the alias is letters, digits and `_-.:` only
    /// ([`campaign_key`]), so it sits in the path as it is.
    fn target_for(&self, request: &Request) -> Target {
        match request.action {
            Action::Create => self.target.clone().join_path("/v2/alerts"),
            Action::Close => {
                let mut target = self
                    .target
                    .clone()
                    .join_path(&format!("/v2/alerts/{}/close", request.alias));
                target.url.set_query(Some("identifierType=alias"));
                target
            }
        }
    }
}

impl Deliver for OpsgenieChannel {
    fn preview(&self, events: &[Event], _raw: bool) -> Result<String, PayloadError> {
        preview_each(
            events,
            |event| self.requests(event),
            "sent",
            |request| {
                let line = match request.action {
                    Action::Create => "POST /v2/alerts".to_string(),
                    Action::Close => {
                        format!(
                            "POST /v2/alerts/{}/close?identifierType=alias",
                            request.alias
                        )
                    }
                };
                format!("# {line}\n{}", super::channel::pretty(&request.body))
            },
        )
    }

    async fn send(&self, event: &Event) -> SendOutcome {
        let requests = self.requests(event);
        let target_name = format!("an {} alert", self.service.name());
        send_each(event, &target_name, requests, |request| async move {
            let action = match request.action {
                Action::Create => "create",
                Action::Close => "close",
            };
            let target = self.target_for(&request);
            match target.post_json(&request.body).await {
                Ok(answer) => {
                    with_action(action, classify(self.service, target.display(), &answer))
                }
                Err(reason) => SendOutcome::Retry {
                    reason: reason.to_string(),
                    retry_after: None,
                },
            }
        })
        .await
    }
}

pub(super) fn classify(service: Service, display: &str, answer: &Answer) -> SendOutcome {
    let reason = answered(display, answer);
    let name = service.name();
    match answer.status.as_u16() {
        401 | 403 => SendOutcome::Permanent {
            reason: format!(
                "{name} rejected the API key; {}: {reason}",
                service.key_hint()
            ),
        },
        400 | 422 => SendOutcome::Permanent {
            reason: format!("{name} refused the request as invalid: {reason}"),
        },
        other => outcome_for_status(other, reason, answer.retry_after),
    }
}

#[cfg(test)]
mod tests;
