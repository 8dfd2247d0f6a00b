//! Telegram Bot API `sendMessage` (<https://core.telegram.org/bots/api#sendmessage>):
//! one message per event to `chat_id` (and `message_thread_id`, a forum
//! topic), with `parse_mode: "HTML"`: the headline in `<b>`, the rendered
//! text, and a footer in `<i>` with the instance and the event id. Every
//! value is escaped for Telegram's HTML subset ([`crate::text::telegram_html`]),
//! and the message stays within Telegram's 4,096-character limit (counted in
//! UTF-16 code units, as Telegram does; the markup counts too, so the visible
//! text is shorter still).
//!
//! The bot token is part of the URL path (`/bot<token>/sendMessage`): the
//! target shows only `scheme://host`, and the token is scrubbed from every
//! answer. 429 is retried after the body's `parameters.retry_after` (else
//! `Retry-After`); 5xx retried; 400 (a chat that does not exist, a group that
//! became a supergroup: the reason names the new id), 401, 403 (the bot was
//! blocked or removed) and 404 (a wrong token) are dead.

use crate::deliver::PayloadError;
use serde_json::{json, Value};

use super::channel::BuildContext;
use super::chat::{body_after_headline, headline};
use super::json_hook::{Classify, Hook, JsonHook};
use super::target::{answered, outcome_for_status, Answer, Target};
use super::{DeliverError, SendOutcome};
use crate::event::Event;
use crate::render::Rendered;
use crate::text::{fit_measured, telegram_html, utf16_len};

mod settings;
pub use settings::TelegramSettings;

pub const DEFAULT_API_URL: &str = "https://api.telegram.org";
/// `sendMessage`: "1-4096 characters after entities parsing".
const MESSAGE_UNITS: usize = 4096;
const HEADLINE_UNITS: usize = 512;

#[derive(Debug)]
pub struct TelegramChannel {
    /// Posts to `{api_url}/bot<token>/sendMessage`, shown as its host only.
    hook: Hook,
    chat_id: Value,
    message_thread_id: Option<i64>,
}

/// A numeric chat id as a number, `@channelusername` as a string.
pub(super) fn chat_id_value(chat_id: &str) -> Option<Value> {
    let chat_id = chat_id.trim();
    if let Ok(number) = chat_id.parse::<i64>() {
        return Some(json!(number));
    }
    let name = chat_id.strip_prefix('@')?;
    let valid = (4..=32).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| json!(chat_id))
}

/// `123456789:AA...`: digits, a colon, then letters, digits, `_` and `-`.
pub(super) fn looks_like_a_bot_token(token: &str) -> bool {
    let Some((bot, secret)) = token.split_once(':') else {
        return false;
    };
    !bot.is_empty()
        && bot.chars().all(|c| c.is_ascii_digit())
        && secret.len() >= 20
        && secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl TelegramChannel {
    pub fn new(
        settings: &TelegramSettings,
        context: &BuildContext<'_>,
    ) -> Result<Self, DeliverError> {
        let token = settings
            .bot_token
            .as_ref()
            .filter(|token| looks_like_a_bot_token(token.expose().trim()))
            .ok_or_else(|| {
                context.invalid("`bot_token` (or bot_token_file) is missing or is not a bot token")
            })?;
        let chat_id = settings
            .chat_id
            .as_deref()
            .and_then(chat_id_value)
            .ok_or_else(|| {
                context.invalid("`chat_id` must be a chat's number or @channelusername")
            })?;
        let api = settings.api_url.as_deref().unwrap_or(DEFAULT_API_URL);
        let url = format!(
            "{}/bot{}/sendMessage",
            api.trim().trim_end_matches('/'),
            token.expose().trim()
        );
        let target = Target::new(
            context.name,
            &url,
            context.shared.timeout,
            settings.allow_link_local,
        )?
        .scrubbing(&[token.expose().trim()]);
        Ok(Self {
            hook: Hook::new(target, context)?,
            chat_id,
            message_thread_id: settings.message_thread_id,
        })
    }
}

/// Telegram's answers: `{"ok": false, "error_code": 429, "description": "...",
/// "parameters": {"retry_after": 5}}`.
pub(super) fn classify(display: &str, answer: &Answer) -> SendOutcome {
    let reason = answered(display, answer);
    let parameters = serde_json::from_str::<Value>(&answer.body)
        .ok()
        .map(|body| body["parameters"].clone())
        .unwrap_or(Value::Null);
    match answer.status.as_u16() {
        429 => SendOutcome::Retry {
            retry_after: parameters["retry_after"]
                .as_u64()
                .map(std::time::Duration::from_secs)
                .or(answer.retry_after),
            reason,
        },
        400 if parameters["migrate_to_chat_id"].is_i64() => SendOutcome::Permanent {
            reason: format!(
                "the group became a supergroup: set chat_id = {}: {reason}",
                parameters["migrate_to_chat_id"]
            ),
        },
        401 | 404 => SendOutcome::Permanent {
            reason: format!(
                "Telegram rejected the bot token; check bot_token (and api_url): {reason}"
            ),
        },
        403 => SendOutcome::Permanent {
            reason: format!(
                "the bot may not write to this chat (blocked, removed or not a member): {reason}"
            ),
        },
        other => outcome_for_status(other, reason, answer.retry_after),
    }
}

impl JsonHook for TelegramChannel {
    fn body(&self, event: &Event, rendered: &Rendered) -> Result<Value, PayloadError> {
        let title = fit_measured(
            &headline(rendered),
            HEADLINE_UNITS,
            utf16_len,
            telegram_html,
        );
        let footer = telegram_html(&self.hook.text.footer(event));
        let head = format!("<b>{title}</b>\n\n");
        let tail = format!("\n\n<i>{footer}</i>");
        let room = MESSAGE_UNITS.saturating_sub(utf16_len(&head) + utf16_len(&tail));
        let body = fit_measured(
            body_after_headline(rendered),
            room,
            utf16_len,
            telegram_html,
        );
        let text = if body.is_empty() {
            format!("<b>{title}</b>{tail}")
        } else {
            format!("{head}{body}{tail}")
        };
        let mut payload = json!({
            "chat_id": self.chat_id,
            "text": text,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true},
        });
        if let Some(thread) = self.message_thread_id {
            payload["message_thread_id"] = json!(thread);
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
