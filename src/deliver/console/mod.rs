//! The console channel: one readable line per event on stdout, for `demo` and trials.

use crate::deliver::PayloadError;
use std::io::Write;

use chrono::SecondsFormat;

use super::channel::Deliver;
use super::SendOutcome;
use crate::event::Event;

mod settings;
pub use settings::ConsoleSettings;

#[derive(Debug, Clone, Default)]
pub struct ConsoleChannel;

impl ConsoleChannel {
    pub fn new() -> Self {
        Self
    }

    /// `<occurred_at> <type> <summary> [<event id>]`, the summary after
    /// `<account> · ` for every account but `default`.
    pub fn line(event: &Event) -> String {
        let account = event
            .named_account()
            .map(|account| format!("{} · ", crate::text::terminal(account)))
            .unwrap_or_default();
        format!(
            "{} {} {account}{} [{}]",
            event.occurred_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            event.kind,
            // A summary carries API text: every control character shown as
            // an escape, so it stays on one line and cannot drive the terminal.
            crate::text::terminal(&event.summary),
            event.id
        )
    }
}

impl Deliver for ConsoleChannel {
    fn preview(&self, events: &[Event], _raw: bool) -> Result<String, PayloadError> {
        Ok(events
            .iter()
            .map(|event| Self::line(event) + "\n")
            .collect())
    }

    async fn send(&self, event: &Event) -> SendOutcome {
        let line = Self::line(event);
        let mut stdout = std::io::stdout().lock();
        match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
            Ok(()) => SendOutcome::Delivered {
                detail: "printed to stdout".into(),
            },
            Err(e) => SendOutcome::Retry {
                reason: format!("cannot write to stdout: {e}"),
                retry_after: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventType, UploadErrors};
    use chrono::TimeZone;

    #[test]
    fn one_line_per_event() {
        let event = Event {
            version: "1".into(),
            id: "evt_1".into(),
            kind: EventType::ApiRecovered,
            occurred_at: chrono::Utc
                .with_ymd_and_hms(2026, 11, 26, 9, 15, 2)
                .unwrap(),
            campaign: None,
            upload_errors: UploadErrors::default(),
            changes: vec![],
            hints: vec![],
            summary: "API back\nagain\u{1b}[2J".into(),
            account: crate::event::default_account(),
            incident: None,
            links: None,
        };
        assert_eq!(
            ConsoleChannel::line(&event),
            "2026-11-26T09:15:02Z watcher.api_recovered API back\\nagain\\x1b[2J [evt_1]"
        );
    }
}
