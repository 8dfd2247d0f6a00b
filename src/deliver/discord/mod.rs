//! Discord webhooks: `content` (the headline, what notifications show) and one
//! embed with the rendered text (its `Label: value` lines as embed fields),
//! coloured by severity (green when a condition
//! ends). `allowed_mentions: {"parse": []}` so no campaign name or upload error
//! can ping @everyone.
//!
//! A 429 is retried after the body's `retry_after` (float seconds), else the
//! `Retry-After` header. A 404 means the webhook was deleted: the row is dead
//! and the reason says so. Discord bans IPs that collect many 401/403/429
//! answers, so 401/403 are not retried either.

use crate::deliver::PayloadError;
use serde_json::{json, Value};

use super::channel::BuildContext;
use super::chat::{
    body_after_headline, clip, headline, json_seconds, paragraphs, severities, Paragraph,
};
use super::json_hook::{Classify, Hook, JsonHook};
use super::target::{answered, outcome_for_status, Answer};
use super::{DeliverError, SendOutcome};
use crate::alert::SeverityMap;
use crate::event::Event;
use crate::render::Rendered;

mod settings;
pub use settings::DiscordSettings;

const CONTENT_CHARS: usize = 2000;
const DESCRIPTION_CHARS: usize = 4096;
const FOOTER_CHARS: usize = 2048;
/// An embed holds at most 25 fields, names of 256 and values of 1,024.
const MAX_FIELDS: usize = 25;
const FIELD_NAME_CHARS: usize = 256;
const FIELD_VALUE_CHARS: usize = 1024;
/// Discord refuses an embed whose title, description and footer together pass
/// 6,000 characters; the footer gets what the other two leave.
const EMBED_CHARS: usize = 6000;

#[derive(Debug)]
pub struct DiscordChannel {
    hook: Hook,
    severities: SeverityMap,
}

impl DiscordChannel {
    pub fn new(
        settings: &DiscordSettings,
        context: &BuildContext<'_>,
    ) -> Result<Self, DeliverError> {
        let severities = severities(context.name, settings.severity.as_ref())?;
        Ok(Self {
            hook: Hook::new(settings.hook_url().target(context)?, context)?,
            severities,
        })
    }
}

fn classify(display: &str, answer: &Answer) -> SendOutcome {
    let status = answer.status.as_u16();
    let reason = answered(display, answer);
    match status {
        200..=299 => SendOutcome::Delivered { detail: reason },
        429 => SendOutcome::Retry {
            retry_after: json_seconds(&answer.body, "retry_after").or(answer.retry_after),
            reason,
        },
        404 => SendOutcome::Permanent {
            reason: format!("the Discord webhook is gone (deleted or wrong url); replace this channel's url: {reason}"),
        },
        401 | 403 => SendOutcome::Permanent {
            reason: format!("Discord rejected the webhook token; replace this channel's url: {reason}"),
        },
        other => outcome_for_status(other, reason, answer.retry_after),
    }
}

impl JsonHook for DiscordChannel {
    fn body(&self, event: &Event, rendered: &Rendered) -> Result<Value, PayloadError> {
        // The headline once, as the message's content (what notifications
        // show); the embed carries the body, coloured by severity.
        let title = headline(rendered);
        // Markdown escaped (no masked links, headings or code blocks from API
        // text), cut first so no escape is cut in half.
        let mut prose: Vec<&str> = Vec::new();
        let mut facts = Vec::new();
        for paragraph in paragraphs(body_after_headline(rendered)) {
            match paragraph {
                Paragraph::Prose(text) => prose.push(text),
                Paragraph::Facts(block) => facts.extend(block),
            }
        }
        let description =
            crate::text::fit(&prose.join("\n\n"), DESCRIPTION_CHARS, crate::text::discord);
        let footer = self.hook.text.footer(event);
        // Fields take what the description leaves, the footer's room kept:
        // its event id is what people dedupe on.
        let mut room = EMBED_CHARS
            .saturating_sub(description.chars().count())
            .saturating_sub(footer.chars().count().min(FOOTER_CHARS));
        let mut fields = Vec::new();
        for fact in facts.iter().take(MAX_FIELDS) {
            let name = crate::text::fit(&fact.label, FIELD_NAME_CHARS, crate::text::discord);
            let value = crate::text::fit(&fact.value, FIELD_VALUE_CHARS, crate::text::discord);
            let size = name.chars().count() + value.chars().count();
            if size > room {
                break;
            }
            room -= size;
            fields.push(json!({"name": name, "value": value, "inline": true}));
        }
        let footer_room = (room + footer.chars().count().min(FOOTER_CHARS)).min(FOOTER_CHARS);
        Ok(json!({
            "content": crate::text::fit(&title, CONTENT_CHARS, crate::text::discord),
            "embeds": [{
                "description": description,
                "fields": fields,
                "color": crate::alert::colour(&self.severities, event),
                "timestamp": event.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "footer": {"text": clip(&footer, footer_room)},
            }],
            "allowed_mentions": {"parse": []},
        }))
    }

    fn hook(&self) -> &Hook {
        &self.hook
    }

    const CLASSIFY: Classify = classify;
}

#[cfg(test)]
mod tests;
