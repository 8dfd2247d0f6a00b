//! Slack incoming webhooks: `text` (the fallback shown in notifications) and
//! `blocks` (a header, the rendered text in sections, its `Label: value` lines
//! as section fields, a context line with the event ids). The events of one cycle go out as one digest message.
//!
//! Slack allows about one message per second per webhook: the channel spaces
//! its own posts one second apart, and a 429 is retried after `Retry-After`.

use crate::deliver::PayloadError;
use serde_json::{json, Value};

use super::channel::{each, pretty, BuildContext, Deliver};
use super::chat::{body_after_headline, clip, headline, paragraphs, Paragraph};
use super::json_hook::Hook;
use super::target::{answered, outcome_for_status, Answer};
use super::{BatchOutcome, DeliverError, SendOutcome};
use crate::event::Event;
use crate::pacing::RequestBudget;

mod settings;
pub use settings::SlackSettings;

/// Slack's limits: header text 150, section text 3000, 50 blocks per message.
const HEADER_CHARS: usize = 150;
const SECTION_CHARS: usize = 3000;
const MAX_SECTIONS: usize = 45;
/// A section holds at most 10 fields of at most 2000 characters each; the
/// label takes a few of them.
const FIELDS_PER_SECTION: usize = 10;
const FIELD_CHARS: usize = 1900;
/// Fallback `text` is shown in notifications; keep it short (Slack's own
/// limit is 40,000).
const FALLBACK_CHARS: usize = 1000;

#[derive(Debug)]
pub struct SlackChannel {
    hook: Hook,
    group: bool,
    pacing: RequestBudget,
}

impl SlackChannel {
    pub fn new(settings: &SlackSettings, context: &BuildContext<'_>) -> Result<Self, DeliverError> {
        Ok(Self {
            hook: Hook::new(settings.hook_url().target(context)?, context)?,
            group: settings.group.unwrap_or(true),
            pacing: RequestBudget::new(1.0),
        })
    }

    /// The JSON body for `events` (one message; a digest when there are several).
    pub fn payload(&self, events: &[Event]) -> Result<Value, PayloadError> {
        let rendered = self.hook.text.render(events)?;
        let title = headline(&rendered);
        let mut blocks = vec![json!({
            "type": "header",
            "text": {"type": "plain_text", "text": clip(&title, HEADER_CHARS)},
        })];
        let body = body_blocks(body_after_headline(&rendered));
        let cut = body.len() > MAX_SECTIONS;
        blocks.extend(body.into_iter().take(MAX_SECTIONS));
        if cut {
            blocks.push(json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": "_… message cut to fit Slack's limits; `campaign-watcher status` lists every event._"},
            }));
        }
        let ids: Vec<&str> = events.iter().map(|event| event.id.as_str()).collect();
        blocks.push(json!({
            "type": "context",
            "elements": [{
                "type": "mrkdwn",
                "text": crate::text::fit(&format!("campaign-watcher on {} · {}", self.hook.text.instance(), ids.join(", ")), SECTION_CHARS, escape),
            }],
        }));
        Ok(json!({
                        // Notifications show this one: mentions (`<!channel>`) inert here too.
            "text": crate::text::fit(&title, FALLBACK_CHARS, escape),
            "blocks": blocks,
        }))
    }

    /// One message for `events`.
    async fn post(&self, events: &[Event]) -> SendOutcome {
        let body = match self.payload(events) {
            Ok(body) => body,
            Err(reason) => {
                return SendOutcome::Permanent {
                    reason: reason.to_string(),
                }
            }
        };
        self.pacing.wait_turn().await;
        let answer = match self.hook.target.post_json(&body).await {
            Ok(answer) => answer,
            Err(reason) => {
                return SendOutcome::Retry {
                    reason: reason.to_string(),
                    retry_after: None,
                }
            }
        };
        classify(self.hook.target.display(), &answer)
    }
}

impl Deliver for SlackChannel {
    /// A digest when the channel groups, else one body per event.
    fn preview(&self, events: &[Event], _raw: bool) -> Result<String, PayloadError> {
        if self.group {
            self.payload(events).map(|body| pretty(&body))
        } else {
            each(events, |event| self.payload(std::slice::from_ref(event)))
        }
    }

    fn sends_batches(&self) -> bool {
        true
    }

    /// Whether the events of one cycle go out as one digest (default true).
    fn groups(&self) -> bool {
        self.group
    }

    async fn send(&self, event: &Event) -> SendOutcome {
        self.post(std::slice::from_ref(event)).await
    }

    async fn send_batch(&self, events: &[Event]) -> BatchOutcome {
        BatchOutcome {
            outcome: self.post(events).await,
            auth_failure: false,
        }
    }
}

/// 2xx: delivered. 429: retry after `Retry-After`. 5xx (and 408): retry.
/// Other 4xx (`invalid_payload`, `no_service`, `channel_is_archived`, …) will
/// not get better by themselves: dead, with Slack's reason.
fn classify(display: &str, answer: &Answer) -> SendOutcome {
    outcome_for_status(
        answer.status.as_u16(),
        answered(display, answer),
        answer.retry_after,
    )
}

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters; campaign names
/// and upload errors are API text.
fn escape(text: &str) -> String {
    crate::text::slack(text)
}

/// The body as blocks: prose paragraphs cut and escaped
/// ([`crate::text::fit`]) and packed into sections of at most
/// [`SECTION_CHARS`]; each fact block a section of fields, bold label over
/// value, at most [`FIELDS_PER_SECTION`] to a section.
fn body_blocks(text: &str) -> Vec<Value> {
    let mut blocks: Vec<Value> = Vec::new();
    let mut prose = String::new();
    let flush = |prose: &mut String, blocks: &mut Vec<Value>| {
        if !prose.is_empty() {
            blocks.push(json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": std::mem::take(prose)},
            }));
        }
    };
    for paragraph in paragraphs(text) {
        match paragraph {
            Paragraph::Prose(paragraph) => {
                let paragraph = crate::text::fit(paragraph, SECTION_CHARS, escape);
                if !prose.is_empty()
                    && prose.chars().count() + 2 + paragraph.chars().count() > SECTION_CHARS
                {
                    flush(&mut prose, &mut blocks);
                }
                if !prose.is_empty() {
                    prose.push_str("\n\n");
                }
                prose.push_str(&paragraph);
            }
            Paragraph::Facts(facts) => {
                flush(&mut prose, &mut blocks);
                for chunk in facts.chunks(FIELDS_PER_SECTION) {
                    let fields: Vec<Value> = chunk
                        .iter()
                        .map(|fact| {
                            json!({
                                "type": "mrkdwn",
                                "text": format!(
                                    "*{}*\n{}",
                                    escape(&fact.label),
                                    crate::text::fit(&fact.value, FIELD_CHARS, escape)
                                ),
                            })
                        })
                        .collect();
                    blocks.push(json!({"type": "section", "fields": fields}));
                }
            }
        }
    }
    flush(&mut prose, &mut blocks);
    blocks
}

#[cfg(test)]
mod tests;
