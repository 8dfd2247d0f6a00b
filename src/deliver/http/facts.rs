//! What the `http` kind's templates see for one event: the webhook payload,
//! the condition it starts or ends and its severity, cut to fit when a body
//! is too large.

use std::collections::BTreeMap;

use chrono::SecondsFormat;
use serde::Serialize;

use super::variant::Variant;
use crate::alert::{transitions, SeverityMap, Transition};
use crate::event::Event;

/// What every template sees (docs/http-channel.md lists it field by field).
#[derive(Debug, Serialize)]
struct Facts<'a> {
    /// The webhook payload v1 object.
    event: serde_json::Value,
    /// What changed, in a few words (the email subject without its prefix).
    headline: String,
    condition: ConditionFacts,
    /// The condition's severity (`critical`, `error`, `warning`, `info`);
    /// `info` for news.
    severity: &'static str,
    instance: &'a str,
    /// RFC 3339, UTC.
    occurred_at: String,
    secrets: &'a BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct ConditionFacts {
    /// `paused`, `upload_errors`, ...; none for news.
    name: Option<&'static str>,
    /// `start` or `end`; none for news.
    state: Option<&'static str>,
}

/// The variant and the template context for `event`, its texts cut to `shrink`.
pub(super) fn facts(
    event: &Event,
    instance: &str,
    severities: &SeverityMap,
    secrets: &BTreeMap<String, String>,
    (max_chars, max_items): (usize, usize),
) -> (Variant, minijinja::Value) {
    let transition = transitions(event).into_iter().next();
    let (variant, condition, state) = match transition {
        Some(Transition::Starts(condition)) => (Variant::Start, Some(condition), Some("start")),
        Some(Transition::Ends(condition)) => (Variant::End, Some(condition), Some("end")),
        None => (Variant::Plain, None, None),
    };
    let mut payload: serde_json::Value =
        serde_json::from_str(&crate::deliver::webhook::payload(event)).unwrap_or_default();
    shrink(&mut payload, max_chars, max_items);
    let facts = Facts {
        event: payload,
        headline: crate::text::cap(&crate::render::headline(event), max_chars.min(1024))
            .into_owned(),
        condition: ConditionFacts {
            name: condition.map(|c| c.key()),
            state,
        },
        severity: condition.map_or("info", |c| severities.get(c).as_str()),
        instance,
        occurred_at: event.occurred_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        secrets,
    };
    (variant, minijinja::Value::from_serialize(&facts))
}

/// Every string cut to `max_chars`, every list to `max_items`.
fn shrink(value: &mut serde_json::Value, max_chars: usize, max_items: usize) {
    match value {
        serde_json::Value::String(text) => {
            if let std::borrow::Cow::Owned(cut) = crate::text::cap(text, max_chars) {
                *text = cut;
            }
        }
        serde_json::Value::Array(items) => {
            items.truncate(max_items);
            for item in items {
                shrink(item, max_chars, max_items);
            }
        }
        serde_json::Value::Object(fields) => {
            for field in fields.values_mut() {
                shrink(field, max_chars, max_items);
            }
        }
        _ => {}
    }
}
