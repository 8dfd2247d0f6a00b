//! The kinds that POST one JSON body per event to one hook and judge the
//! answer by their own rules (Discord, Mattermost, Teams, Google Chat,
//! Telegram, ntfy): each is its payload and its answer rules; sending and
//! previewing are written once here.

use crate::deliver::PayloadError;
use std::future::Future;

use serde_json::Value;

use super::channel::{each, Deliver};
use super::target::{Answer, Target};
use super::SendOutcome;
use crate::event::Event;

/// How a kind reads an answer: it matches its own special cases and leaves
/// the rest to [`super::target::outcome_for_status`].
pub(super) type Classify = fn(&str, &Answer) -> SendOutcome;

/// A kind that sends each event as one JSON body to one [`Target`].
pub(super) trait JsonHook: Sync {
    fn target(&self) -> &Target;

    /// The body for `event`; an error is dead (retrying cannot build it).
    fn payload(&self, event: &Event) -> Result<Value, PayloadError>;

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
        self.target()
            .deliver_json(self.payload(event), Self::CLASSIFY)
            .await
    }
}
