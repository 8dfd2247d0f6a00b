//! ntfy (<https://docs.ntfy.sh/publish/>), on ntfy.sh or a self-hosted server:
//! one message per event, published as JSON to the server's root with the
//! topic in the body (`topic`, `title`, `message`, `priority`, `tags`,
//! `click`), so no API text travels in a header.
//!
//! Priority per condition: a pause or an outage is `urgent` (5), upload
//! errors, a disappearance or an unreadable campaign `high` (4), the end of a
//! condition and plain news `default` (3); `priority` changes them. Text is
//! plain (ntfy shows it as it is): control characters removed, the title cut
//! at 250 characters, the message at ntfy's 4,096-byte limit (beyond it the
//! server turns a message into an attachment, or refuses it).
//!
//! Access: `token` (`Authorization: Bearer`) or `username`/`password`
//! (Basic), sent as sensitive headers and never logged. 2xx sent; 429 retried
//! (after `Retry-After` when given); 5xx retried; 401/403 and 413 dead.

use crate::deliver::PayloadError;
use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};

use super::channel::BuildContext;
use super::chat::{body_after_headline, headline};
use super::json_hook::{Classify, Hook, JsonHook};
use super::target::{answered, outcome_for_status, Answer, Target};
use super::{DeliverError, SendOutcome};
use crate::alert::{transitions, Condition, Transition};
use crate::event::{Event, EventType};
use crate::render::Rendered;

mod settings;
pub use settings::NtfySettings;

/// ntfy's default `message-size-limit`.
const MESSAGE_BYTES: usize = 4096;
const TITLE_CHARS: usize = 250;
const DEFAULT_PRIORITY: u8 = 3;

pub struct NtfyChannel {
    /// Posts to the server's root (the topic URL without its topic).
    hook: Hook,
    topic: String,
    priorities: BTreeMap<Condition, u8>,
    tags: Vec<String>,
    click: Option<String>,
}

impl std::fmt::Debug for NtfyChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NtfyChannel")
            .field("server", &self.hook.target)
            .field("topic", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// What a campaign id may keep unencoded in a `click` link: RFC 3986's unreserved.
const ID_IN_LINK: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `min`..`urgent` (`max` too) or `1`..`5`.
pub fn parse_priority(text: &str) -> Option<u8> {
    match text.trim() {
        "min" | "1" => Some(1),
        "low" | "2" => Some(2),
        "default" | "3" => Some(3),
        "high" | "4" => Some(4),
        "urgent" | "max" | "5" => Some(5),
        _ => None,
    }
}

/// The default priority of a message that starts `condition`.
pub fn default_priority(condition: Condition) -> u8 {
    match condition {
        Condition::Paused | Condition::ApiUnhealthy | Condition::StoreUnhealthy => 5,
        Condition::UploadErrors | Condition::NotFound | Condition::Unreadable => 4,
    }
}

/// `https://ntfy.sh/alerts` → (`https://ntfy.sh/`, `alerts`): ntfy topics are
/// the URL's last path segment, 1-64 of `A-Za-z0-9_-`.
pub(super) fn split_topic(url: &str) -> Option<(String, String)> {
    let mut parsed = reqwest::Url::parse(url.trim()).ok()?;
    let path = parsed.path().trim_end_matches('/').to_string();
    let (base, topic) = path.rsplit_once('/')?;
    let valid = (1..=64).contains(&topic.len())
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return None;
    }
    let topic = topic.to_string();
    parsed.set_path(&format!("{base}/"));
    parsed.set_query(None);
    Some((parsed.to_string(), topic))
}

impl NtfyChannel {
    pub fn new(settings: &NtfySettings, context: &BuildContext<'_>) -> Result<Self, DeliverError> {
        let url = settings
            .url
            .as_deref()
            .filter(|url| !url.trim().is_empty())
            .ok_or_else(|| DeliverError::MissingUrl {
                channel: context.name.to_string(),
            })?;
        let (root, topic) = split_topic(url).ok_or_else(|| {
            context.invalid("`url` must end in the topic: 1-64 letters, digits, `-` or `_`")
        })?;
        let mut headers = HeaderMap::new();
        let mut secrets: Vec<&str> = Vec::new();
        let credential = match (&settings.token, &settings.username, &settings.password) {
            (Some(token), _, _) => {
                secrets.push(token.expose());
                Some(format!("Bearer {}", token.expose()))
            }
            (None, Some(user), Some(password)) => {
                use base64::Engine;
                secrets.push(password.expose());
                let pair = format!("{user}:{}", password.expose());
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
            _ => None,
        };
        if let Some(credential) = credential {
            let mut value = HeaderValue::from_str(&credential).map_err(|_| {
                context.invalid("`token` or `password` holds a character a header cannot")
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let mut problems = Vec::new();
        let priorities = super::chat::condition_map(
            "priority",
            settings.priority.as_ref(),
            parse_priority,
            "min, low, default, high, urgent or 1-5",
            &mut problems,
        );
        if !problems.is_empty() {
            return Err(context.invalid(problems.join("; ")));
        }
        let target = Target::with_headers(
            context.name,
            &root,
            context.shared.timeout,
            settings.allow_link_local,
            headers,
        )?
        .scrubbing(&secrets)
        .scrubbing(&[topic.as_str()]);
        Ok(Self {
            hook: Hook::new(target, context)?,
            topic,
            priorities,
            tags: settings.tags.clone().unwrap_or_default(),
            click: settings.click.clone(),
        })
    }

    fn priority(&self, event: &Event) -> u8 {
        match transitions(event).first() {
            Some(Transition::Starts(condition)) => self
                .priorities
                .get(condition)
                .copied()
                .unwrap_or_else(|| default_priority(*condition)),
            _ => DEFAULT_PRIORITY,
        }
    }

    /// An emoji tag (ntfy shows tags that are emoji short codes as emoji),
    /// then `campaign-watcher`, the condition, and the configured tags.
    fn tags(&self, event: &Event) -> Vec<String> {
        let (emoji, condition) = match transitions(event).first() {
            Some(Transition::Starts(condition)) => ("warning", Some(condition.key())),
            Some(Transition::Ends(condition)) => ("white_check_mark", Some(condition.key())),
            None if event.kind == EventType::Test => ("test_tube", None),
            None => ("information_source", None),
        };
        let mut tags = vec![emoji.to_string(), "campaign-watcher".to_string()];
        tags.extend(condition.map(str::to_string));
        tags.extend(self.tags.iter().cloned());
        tags
    }

    /// `click` with `{campaign_id}` filled in (percent-encoded); none for a
    /// watcher event when the link needs a campaign.
    fn click(&self, event: &Event) -> Option<String> {
        let click = self.click.as_deref()?;
        if !click.contains("{campaign_id}") {
            return Some(click.to_string());
        }
        let id = &event.campaign.as_ref()?.id;
        let encoded = percent_encoding::utf8_percent_encode(id, ID_IN_LINK).to_string();
        Some(click.replace("{campaign_id}", &encoded))
    }
}

fn classify(display: &str, answer: &Answer) -> SendOutcome {
    let reason = answered(display, answer);
    match answer.status.as_u16() {
        401 | 403 => SendOutcome::Permanent {
            reason: format!("ntfy refused the credentials for this topic; check token or username/password: {reason}"),
        },
        413 => SendOutcome::Permanent {
            reason: format!("ntfy refused the message as too large: {reason}"),
        },
        other => outcome_for_status(other, reason, answer.retry_after),
    }
}

impl JsonHook for NtfyChannel {
    fn body(&self, event: &Event, rendered: &Rendered) -> Result<Value, PayloadError> {
        let title = crate::text::fit(&headline(rendered), TITLE_CHARS, crate::text::plain);
        let footer = crate::text::plain(&self.hook.text.footer(event));
        let body = body_after_headline(rendered);
        let body = if body.is_empty() {
            title.as_str()
        } else {
            body
        };
        let room = MESSAGE_BYTES.saturating_sub(footer.len() + 2);
        let message = format!(
            "{}\n\n{footer}",
            crate::text::fit_measured(body, room, str::len, crate::text::plain)
        );
        let mut payload = json!({
            "topic": self.topic,
            "title": title,
            "message": message,
            "priority": self.priority(event),
            "tags": self.tags(event),
        });
        if let Some(click) = self.click(event) {
            payload["click"] = json!(click);
        }
        Ok(payload)
    }

    /// The topic (a secret on a public server) hidden.
    fn shown(&self, mut body: Value) -> Value {
        body["topic"] = json!("<redacted>");
        body
    }

    fn hook(&self) -> &Hook {
        &self.hook
    }

    const CLASSIFY: Classify = classify;
}

#[cfg(test)]
mod tests;
