//! Mattermost incoming webhooks
//! (<https://developers.mattermost.com/integrate/webhooks/incoming/>), as a
//! kind of its own rather than the Slack kind pointed at Mattermost: the Slack
//! kind sends Block Kit `blocks`, which Mattermost ignores (only the headline
//! would arrive), and Slack's `&lt;` escaping does not stop Mattermost's
//! `@channel`/`@all` mentions or markdown. This kind sends what Mattermost
//! reads: `text` (the headline, bold) and one Slack-style attachment
//! (`fallback`, `color` by severity, `text` with the rendered body, `footer`
//! with the instance and the event id), plus the `channel`, `username`,
//! `icon_url` and `icon_emoji` overrides. Every API value is escaped with
//! [`crate::text::mattermost`], so no campaign name notifies anyone or
//! becomes a link, image or heading.
//!
//! 2xx sent; 429 retried after `Retry-After`; 5xx retried; 400, 403 (an
//! override the server disallows, a locked channel) and 404 (webhook deleted)
//! are dead.

use crate::deliver::PayloadError;
use serde_json::{json, Value};

use super::channel::BuildContext;
use super::chat::{body_after_headline, headline, severities};
use super::json_hook::{Classify, Hook, JsonHook};
use super::target::{answered, outcome_for_status, Answer};
use super::{DeliverError, SendOutcome};
use crate::alert::SeverityMap;
use crate::event::Event;
use crate::render::Rendered;
use crate::text::{fit, mattermost};

mod settings;
pub use settings::MattermostSettings;

/// Mattermost's default maximum post size is 16,383 characters: the headline
/// and the attachment's text share it.
const TEXT_CHARS: usize = 1000;
const ATTACHMENT_CHARS: usize = 14_000;
const FOOTER_CHARS: usize = 400;

#[derive(Debug)]
pub struct MattermostChannel {
    hook: Hook,
    severities: SeverityMap,
    overrides: Value,
}

impl MattermostChannel {
    pub fn new(
        settings: &MattermostSettings,
        context: &BuildContext<'_>,
    ) -> Result<Self, DeliverError> {
        let severities = severities(context.name, settings.severity.as_ref())?;
        let mut overrides = json!({});
        for (key, value) in [
            ("channel", &settings.channel),
            ("username", &settings.username),
            ("icon_url", &settings.icon_url),
            ("icon_emoji", &settings.icon_emoji),
        ] {
            if let Some(value) = value {
                overrides[key] = json!(value);
            }
        }
        Ok(Self {
            hook: Hook::new(settings.hook_url().target(context)?, context)?,
            severities,
            overrides,
        })
    }
}

fn classify(display: &str, answer: &Answer) -> SendOutcome {
    let reason = answered(display, answer);
    match answer.status.as_u16() {
        403 => SendOutcome::Permanent {
            reason: format!("Mattermost refused the post (an override it disallows, or a channel the hook may not post to): {reason}"),
        },
        404 => SendOutcome::Permanent {
            reason: format!("the Mattermost webhook is gone (deleted or wrong url); replace this channel's url: {reason}"),
        },
        other => outcome_for_status(other, reason, answer.retry_after),
    }
}

impl JsonHook for MattermostChannel {
    fn body(&self, event: &Event, rendered: &Rendered) -> Result<Value, PayloadError> {
        let title = headline(rendered);
        let footer = crate::text::plain(&self.hook.text.footer(event));
        let mut payload = json!({
            "text": format!("**{}**", fit(&title, TEXT_CHARS, mattermost)),
            "attachments": [{
                "fallback": fit(&title, TEXT_CHARS, crate::text::plain),
                "color": format!("#{:06X}", crate::alert::colour(&self.severities, event)),
                "text": fit(body_after_headline(rendered), ATTACHMENT_CHARS, mattermost),
                "footer": crate::text::cap(&footer, FOOTER_CHARS),
            }],
        });
        if let (Value::Object(payload), Value::Object(overrides)) = (&mut payload, &self.overrides)
        {
            payload.extend(overrides.clone());
        }
        Ok(payload)
    }

    fn hook(&self) -> &Hook {
        &self.hook
    }

    const CLASSIFY: Classify = classify;
}

#[cfg(test)]
mod tests;
