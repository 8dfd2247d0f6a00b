//! Microsoft Teams through a Workflows "when a Teams webhook request is
//! received" trigger: a `message` with one Adaptive Card attachment (version
//! 1.4; Workflows accept nothing else): text blocks, and the rendered
//! `Label: value` lines as a FactSet. Legacy O365 connector URLs take the
//! same body.
//!
//! Teams can answer 200 and still have failed: the body then says so (e.g.
//! "Microsoft Teams endpoint returned HTTP error 429"). Such an answer is a
//! failure, retried unless the embedded code says retrying cannot help.

use crate::deliver::PayloadError;
use serde_json::{json, Value};

use super::channel::BuildContext;
use super::chat::{body_after_headline, clip, headline, paragraphs, Paragraph};
use super::json_hook::{Classify, Hook, JsonHook};
use super::target::{answered, outcome_for_status, Answer};
use super::{DeliverError, SendOutcome};
use crate::event::Event;
use crate::render::Rendered;

mod settings;
pub use settings::TeamsSettings;

const CARD_VERSION: &str = "1.4";
/// Teams refuses messages over about 28 KB
/// (learn.microsoft.com: "Send messages using Incoming Webhooks", limits).
const PAYLOAD_BYTES: usize = 27 * 1024;
/// The text's share of the payload, in bytes, before JSON escaping.
const TEXT_BYTES: usize = 20_000;
/// The bold headline: the subject is already one line of at most 200.
const HEADLINE_CHARS: usize = 500;

#[derive(Debug)]
pub struct TeamsChannel {
    hook: Hook,
}

impl TeamsChannel {
    pub fn new(settings: &TeamsSettings, context: &BuildContext<'_>) -> Result<Self, DeliverError> {
        Ok(Self {
            hook: Hook::new(settings.hook_url().target(context)?, context)?,
        })
    }

    fn card(&self, event: &Event, rendered: &Rendered, text_bytes: usize) -> Value {
        let text = crate::text::teams(body_after_headline(rendered));
        let mut body = vec![json!({
            "type": "TextBlock",
            "text": crate::text::teams(&clip(&headline(rendered), HEADLINE_CHARS)),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": true,
        })];
        // One block per paragraph (Teams shows a single "\n" as a line
        // break); `Label: value` lines as a FactSet, which Teams aligns.
        for paragraph in paragraphs(&crate::text::cap_bytes(&text, text_bytes)) {
            body.push(match paragraph {
                Paragraph::Prose(text) => {
                    json!({"type": "TextBlock", "text": text, "wrap": true, "spacing": "Medium"})
                }
                Paragraph::Facts(facts) => json!({
                    "type": "FactSet",
                    "spacing": "Medium",
                    "facts": facts
                        .iter()
                        .map(|fact| json!({"title": fact.label, "value": fact.value}))
                        .collect::<Vec<_>>(),
                }),
            });
        }
        // The event id, never cut: receivers and people dedupe on it.
        body.push(json!({
            "type": "TextBlock",
            "text": self.hook.text.footer(event),
            "isSubtle": true,
            "size": "Small",
            "wrap": true,
        }));
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": CARD_VERSION,
                    "body": body,
                    "msteams": {"width": "Full"},
                },
            }],
        })
    }
}

fn classify(display: &str, answer: &Answer) -> SendOutcome {
    let status = answer.status.as_u16();
    let reason = answered(display, answer);
    let effective = if answer.status.is_success() {
        match error_in_body(&answer.body) {
            None => return SendOutcome::Delivered { detail: reason },
            Some(code) => {
                let reason = format!("{reason} (a 2xx whose body reports an error)");
                return match code {
                    Some(400..=499) if code != Some(429) && code != Some(408) => {
                        SendOutcome::Permanent { reason }
                    }
                    _ => SendOutcome::Retry {
                        reason,
                        retry_after: answer.retry_after,
                    },
                };
            }
        }
    } else {
        status
    };
    outcome_for_status(effective, reason, answer.retry_after)
}

impl JsonHook for TeamsChannel {
    fn body(&self, event: &Event, rendered: &Rendered) -> Result<Value, PayloadError> {
        // JSON escaping can still grow the text (quotes, backslashes): halve
        // its share until the whole body is under Teams' limit.
        let mut text_bytes = TEXT_BYTES;
        loop {
            let payload = self.card(event, rendered, text_bytes);
            let size = serde_json::to_vec(&payload).map_or(0, |bytes| bytes.len());
            if size <= PAYLOAD_BYTES || text_bytes == 0 {
                return Ok(payload);
            }
            text_bytes /= 2;
        }
    }

    fn hook(&self) -> &Hook {
        &self.hook
    }

    const CLASSIFY: Classify = classify;
}

/// The HTTP code a 2xx body reports as its real outcome: `Some(None)` for an
/// error without a code, `None` when the body reports no error.
fn error_in_body(body: &str) -> Option<Option<u16>> {
    let lower = body.to_ascii_lowercase();
    if !lower.contains("error") {
        return None;
    }
    let code = lower.split("http error").nth(1).and_then(|rest| {
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    });
    Some(code)
}

#[cfg(test)]
mod tests;
