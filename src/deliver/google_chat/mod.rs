//! Google Chat incoming webhooks
//! (<https://developers.google.com/workspace/chat/quickstart/webhooks>): one
//! message per event, a `cardsV2` card (header: the headline and the instance;
//! a paragraph with the rendered text; the event id) or, with `card = false`,
//! `text` only. A campaign's messages form one thread: `thread.threadKey` is
//! `campaign-watcher-<campaign>` (`...-watcher` for the watcher's own events)
//! and the URL asks `messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD`.
//!
//! The webhook URL's `key` and `token` query parameters are its credential:
//! the URL is a secret, shown as its host only. Card text is HTML (escaped
//! with [`crate::text::html`]); message text has no escapes, so `<` and `>`
//! become look-alikes ([`crate::text::google_chat`]) and no API text becomes a
//! mention (`<users/all>`) or a link. Google Chat takes about one message per
//! second per space: the channel spaces its posts, and a 429 is retried after
//! `Retry-After`; 5xx retried; other 4xx dead.

use crate::deliver::PayloadError;
use serde_json::{json, Value};

use super::channel::BuildContext;
use super::chat::{body_after_headline, campaign_key, headline};
use super::json_hook::{Classify, Hook, JsonHook};
use super::target::{answered, outcome_for_status, Answer};
use super::{DeliverError, SendOutcome};
use crate::event::Event;
use crate::pacing::RequestBudget;
use crate::render::Rendered;
use crate::text::{fit, fit_measured};

mod settings;
pub use settings::GoogleChatSettings;

/// A message's `text`: 4,096 characters.
const TEXT_CHARS: usize = 4096;
/// A whole message may be 32,000 bytes; the card's paragraph gets most of it.
const PARAGRAPH_BYTES: usize = 24_000;
const TITLE_CHARS: usize = 200;
const INSTANCE_CHARS: usize = 200;
pub const REPLY_OPTION: &str = "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD";

#[derive(Debug)]
pub struct GoogleChatChannel {
    hook: Hook,
    card: bool,
    thread: bool,
    pacing: RequestBudget,
}

/// The thread of `event`'s campaign (or of the watcher's own events).
pub fn thread_key(event: &Event) -> String {
    format!("campaign-watcher-{}", campaign_key(event))
}

/// Card text: HTML, line breaks as `<br>`.
fn card_html(text: &str) -> String {
    crate::text::html(text).replace('\n', "<br>")
}

impl GoogleChatChannel {
    pub fn new(
        settings: &GoogleChatSettings,
        context: &BuildContext<'_>,
    ) -> Result<Self, DeliverError> {
        let thread = settings.thread.unwrap_or(true);
        let mut target = settings.hook_url().target(context)?;
        if thread {
            target
                .url
                .query_pairs_mut()
                .append_pair("messageReplyOption", REPLY_OPTION);
        }
        Ok(Self {
            hook: Hook::new(target, context)?,
            card: settings.card.unwrap_or(true),
            thread,
            pacing: RequestBudget::new(1.0),
        })
    }
}

fn classify(display: &str, answer: &Answer) -> SendOutcome {
    let reason = answered(display, answer);
    match answer.status.as_u16() {
        401 | 403 | 404 => SendOutcome::Permanent {
            reason: format!("Google Chat refused the webhook (deleted, or its key or token is wrong); replace this channel's url: {reason}"),
        },
        other => outcome_for_status(other, reason, answer.retry_after),
    }
}

impl JsonHook for GoogleChatChannel {
    fn body(&self, event: &Event, rendered: &Rendered) -> Result<Value, PayloadError> {
        let title = headline(rendered);
        let body = body_after_headline(rendered);
        let instance = crate::text::cap(self.hook.text.instance(), INSTANCE_CHARS);
        let mut payload = if self.card {
            let mut sections = Vec::new();
            if !body.is_empty() {
                let paragraph = fit_measured(body, PARAGRAPH_BYTES, str::len, card_html);
                sections.push(json!({"widgets": [{"textParagraph": {"text": paragraph}}]}));
            }
            sections.push(json!({"widgets": [{"textParagraph": {
                "text": format!("<i>{}</i>", crate::text::html(&event.id)),
            }}]}));
            json!({
                "cardsV2": [{
                    "cardId": "campaign-watcher",
                    "card": {
                        "header": {
                            "title": fit(&title, TITLE_CHARS, crate::text::plain),
                            "subtitle": crate::text::plain(&format!("campaign-watcher on {instance}")),
                        },
                        "sections": sections,
                    },
                }],
            })
        } else {
            let footer =
                crate::text::google_chat(&format!("campaign-watcher on {instance} · {}", event.id));
            let head = format!(
                "*{}*\n\n",
                fit(&title, TITLE_CHARS, crate::text::google_chat)
            );
            let room = TEXT_CHARS.saturating_sub(head.chars().count() + footer.chars().count() + 4);
            let body = fit(body, room, crate::text::google_chat);
            json!({"text": format!("{head}{body}\n\n_{footer}_")})
        };
        if self.thread {
            payload["thread"] = json!({"threadKey": thread_key(event)});
        }
        Ok(payload)
    }

    fn wait_turn(&self) -> impl std::future::Future<Output = ()> + Send {
        self.pacing.wait_turn()
    }

    fn hook(&self) -> &Hook {
        &self.hook
    }

    const CLASSIFY: Classify = classify;
}

#[cfg(test)]
mod tests;
