//! What the incident kinds (PagerDuty, Opsgenie, Alertmanager) share: an event
//! becomes zero or more requests (none when it neither starts nor ends a
//! condition), each is sent in turn, and the first failure is the outcome.

use crate::deliver::PayloadError;
use std::future::Future;

use super::SendOutcome;
use crate::event::Event;

/// Sends each of `requests` through `post`; `target` names what the event
/// would have started or ended (`a PagerDuty incident`) when it makes none.
/// A retry sends every request again: each kind's dedup key makes that harmless.
pub(super) async fn send_each<R, Sent>(
    event: &Event,
    target: &str,
    requests: Result<Vec<R>, PayloadError>,
    post: impl Fn(R) -> Sent,
) -> SendOutcome
where
    Sent: Future<Output = SendOutcome>,
{
    let requests = match requests {
        Ok(requests) => requests,
        Err(reason) => {
            return SendOutcome::Permanent {
                reason: reason.to_string(),
            }
        }
    };
    if requests.is_empty() {
        return SendOutcome::Delivered {
            detail: format!("skipped: {} neither starts nor ends {target}", event.kind),
        };
    }
    let mut details = Vec::new();
    for request in requests {
        match post(request).await {
            SendOutcome::Delivered { detail } => details.push(detail),
            failed => return failed,
        }
    }
    SendOutcome::Delivered {
        detail: details.join("; "),
    }
}

/// `render`'s text for `events`: each request as `show` writes it, or a line
/// saying the event makes none (`nothing` is what would have happened).
pub(super) fn preview_each<R>(
    events: &[Event],
    requests: impl Fn(&Event) -> Result<Vec<R>, PayloadError>,
    nothing: &str,
    show: impl Fn(R) -> String,
) -> Result<String, PayloadError> {
    let mut out = String::new();
    for event in events {
        let requests = requests(event)?;
        if requests.is_empty() {
            out.push_str(&format!(
                "# {} ({}): neither starts nor ends a condition; nothing is {nothing}\n",
                event.kind, event.id
            ));
        }
        for request in requests {
            out.push_str(&show(request));
        }
    }
    Ok(out)
}

/// A delivered request's detail led by what it did (`trigger`, `close`).
pub(super) fn with_action(action: &str, outcome: SendOutcome) -> SendOutcome {
    match outcome {
        SendOutcome::Delivered { detail } => SendOutcome::Delivered {
            detail: format!("{action} {detail}"),
        },
        failed => failed,
    }
}
