//! The kinds that POST one JSON body per event to one hook and judge the
//! answer by their own rules (Discord, Mattermost, Teams, Google Chat,
//! Telegram, ntfy): each is its payload and its answer rules; sending and
//! previewing are written once here.

use crate::deliver::PayloadError;
use std::future::Future;

use serde_json::Value;

use super::channel::{each, BuildContext, Deliver};
use super::chat::ChatText;
use super::target::{Answer, Target};
use super::{DeliverError, SendOutcome};
use crate::event::Event;
use crate::render::Rendered;

/// How a kind reads an answer: it matches its own special cases and leaves
/// the rest to [`super::target::outcome_for_status`].
pub(super) type Classify = fn(&str, &Answer) -> SendOutcome;

/// Where a chat kind posts and how it words an event.
#[derive(Debug)]
pub(super) struct Hook {
    pub target: Target,
    pub text: ChatText,
}

impl Hook {
    pub fn new(target: Target, context: &BuildContext<'_>) -> Result<Self, DeliverError> {
        Ok(Self {
            target,
            text: ChatText::new(context)?,
        })
    }
}

/// A kind that sends each event as one JSON body to one [`Target`].
pub(super) trait JsonHook: Sync {
    fn hook(&self) -> &Hook;

    /// The body for `event`, worded as `rendered`; an error is dead
    /// (retrying cannot build it).
    fn body(&self, event: &Event, rendered: &Rendered) -> Result<Value, PayloadError>;

    /// The body for `event` in the channel's words.
    fn payload(&self, event: &Event) -> Result<Value, PayloadError> {
        let rendered = self.hook().text.render_one(event)?;
        self.body(event, &rendered)
    }

    /// The kind's reading of an answer.
    const CLASSIFY: Classify;

    /// `payload` as `render CHANNEL` may show it: a kind whose body holds a
    /// secret hides it here.
    fn shown(&self, payload: Value) -> Value {
        payload
    }

    /// Waits until the target's rate limit lets one more message through.
    fn wait_turn(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

impl<T: JsonHook> Deliver for T {
    fn preview(&self, events: &[Event], _raw: bool) -> Result<String, PayloadError> {
        each(events, |event| {
            self.payload(event).map(|body| self.shown(body))
        })
    }

    async fn send(&self, event: &Event) -> SendOutcome {
        self.wait_turn().await;
        self.hook()
            .target
            .deliver_json(self.payload(event), Self::CLASSIFY)
            .await
    }
}
