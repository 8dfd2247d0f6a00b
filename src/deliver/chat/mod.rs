//! What the Slack, Discord, Teams, PagerDuty and Alertmanager channels share
//! besides their HTTP target (`target.rs`): the event→text rendering and the
//! small text helpers their payloads use.

use crate::deliver::PayloadError;
use std::collections::BTreeMap;
use std::time::Duration;

use super::channel::BuildContext;
use super::{DeliverError, SeverityMap};
use crate::alert::{Condition, SeverityTable};
use crate::event::Event;
use crate::render::{RenderContext, Rendered, Templates};

/// The instance name in a footer, so the event id after it always fits.
const INSTANCE_CHARS: usize = 200;

/// The shared event→text rendering with this channel's template overrides.
#[derive(Debug)]
pub(super) struct ChatText {
    templates: Templates,
    pub context: RenderContext,
}

impl ChatText {
    pub fn new(context: &BuildContext<'_>) -> Result<Self, DeliverError> {
        let invalid = |reason: String| context.invalid(reason);
        let timezone =
            match &context.text.timezone {
                Some(zone) => Some(zone.parse::<chrono_tz::Tz>().map_err(|_| {
                    invalid(format!("`timezone` \"{zone}\" is not an IANA time zone"))
                })?),
                None => None,
            };
        let templates = Templates::load(&context.text.template_files(None))
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            templates,
            context: RenderContext {
                instance: context.instance.to_string(),
                timezone,
            },
        })
    }

    /// The built-in templates stand in for a custom one that fails.
    pub fn render(&self, events: &[Event]) -> Result<Rendered, PayloadError> {
        Ok(self.templates.render_or_builtin(events, &self.context)?)
    }

    /// One event's text, as a channel that sends one message per event needs it.
    pub fn render_one(&self, event: &Event) -> Result<Rendered, PayloadError> {
        self.render(std::slice::from_ref(event))
    }

    /// The line that says which watcher sent the message and which event it
    /// is (the id an operator looks up with `history`), unescaped.
    pub fn footer(&self, event: &Event) -> String {
        format!(
            "campaign-watcher on {} · {}",
            crate::text::cap(&self.context.instance, INSTANCE_CHARS),
            event.id
        )
    }

    pub fn instance(&self) -> &str {
        &self.context.instance
    }
}

/// At most `max` characters, with `…` when cut (targets reject longer fields).
pub(super) fn clip(text: &str, max: usize) -> String {
    crate::text::cap(text, max).into_owned()
}

/// The template's subject without the `[campaign-watcher]` mail-filter prefix,
/// which a chat message does not need.
pub(super) fn headline(rendered: &Rendered) -> String {
    rendered
        .subject
        .strip_prefix(crate::render::SUBJECT_PREFIX)
        .unwrap_or(&rendered.subject)
        .trim()
        .to_string()
}

/// The rendered text without its first paragraph when that only repeats the
/// headline (the built-in text starts with it, for email): a chat message
/// shows its headline once, as the platform's own title.
pub(super) fn body_after_headline(rendered: &Rendered) -> &str {
    let text = rendered.text.trim();
    let title = headline(rendered);
    match text.split_once("\n\n") {
        Some((first, rest)) if first.trim() == title => rest.trim_start(),
        None if text == title => "",
        _ => text,
    }
}

/// The hints' sentences for a receiver's own field (the Alertmanager
/// `hints` annotation, PagerDuty custom details, Opsgenie details): one line
/// each, API text flattened as in every message (`render`).
pub(super) fn hint_lines(hints: &[crate::event::Hint]) -> String {
    hints
        .iter()
        .map(|hint| crate::text::header(&hint.text, crate::render::ITEM_CHARS))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One paragraph of a rendered chat body: prose, or the `Label:   value`
/// lines of a fact block, which each platform shows as its own fields (Slack
/// section fields, Discord embed fields, a Teams FactSet) instead of text
/// aligned with spaces that proportional fonts misalign.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Paragraph<'a> {
    Prose(&'a str),
    Facts(Vec<Fact>),
}

#[derive(Debug, PartialEq, Eq)]
pub(super) struct Fact {
    pub label: String,
    pub value: String,
}

/// The body's paragraphs, in order. API text cannot forge a fact line: the
/// templates see campaign values flattened to one line (`render`).
pub(super) fn paragraphs(body: &str) -> Vec<Paragraph<'_>> {
    body.split("\n\n")
        .map(str::trim_end)
        .filter(|paragraph| !paragraph.trim().is_empty())
        .map(|paragraph| match facts(paragraph) {
            Some(facts) => Paragraph::Facts(facts),
            None => Paragraph::Prose(paragraph),
        })
        .collect()
}

/// A fact block: at least two `Label: value` lines (one alone is more likely
/// a sentence with a colon); an indented line continues the value above it.
fn facts(paragraph: &str) -> Option<Vec<Fact>> {
    let mut facts: Vec<Fact> = Vec::new();
    for line in paragraph.lines().filter(|line| !line.trim().is_empty()) {
        if line.starts_with(char::is_whitespace) {
            let last = facts.last_mut()?;
            last.value.push('\n');
            last.value.push_str(line.trim());
            continue;
        }
        let (label, value) = line.split_once(':')?;
        if !is_fact_label(label) || !value.starts_with(' ') || value.trim().is_empty() {
            return None;
        }
        facts.push(Fact {
            label: label.to_string(),
            value: value.trim().to_string(),
        });
    }
    (facts.len() >= 2).then_some(facts)
}

/// `Campaign`, `Event id`: a short capitalised name of letters and spaces.
fn is_fact_label(text: &str) -> bool {
    let length = text.chars().count();
    (1..=24).contains(&length)
        && text.starts_with(|c: char| c.is_uppercase())
        && text.chars().all(|c| c.is_alphanumeric() || c == ' ')
}

/// The campaign part of every key a target groups messages by (Opsgenie
/// aliases, Google Chat thread keys): the campaign id, `watcher` for watcher
/// events. An id of anything but ASCII letters, digits, `_`, `-` and `.`, or
/// longer than 100, is replaced by `h` and 16 bytes of its SHA-256 in hex, so a
/// hostile id still gives a short key that is safe in a URL path or query,
/// and the same one every time.
///
/// This is the one place the SigmaMind account joins those keys: every
/// account but `default` (whose keys stay those of single-account releases)
/// is put in front, `<account>~<id>`; `~` is in no safe id, so no account's
/// key can equal another's.
pub(super) fn campaign_key(event: &Event) -> String {
    match event.named_account() {
        Some(account) => format!("{account}~{}", campaign_part(event)),
        None => campaign_part(event),
    }
}

fn campaign_part(event: &Event) -> String {
    use sha2::{Digest, Sha256};
    let Some(campaign) = &event.campaign else {
        return "watcher".to_string();
    };
    let id = campaign.id.as_str();
    let safe = !id.is_empty()
        && id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if safe {
        id.to_string()
    } else {
        let digest = Sha256::digest(id.as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("h{hex}")
    }
}

/// A per-condition map of a target's own levels (ntfy priorities, Opsgenie
/// P1–P5): `key = value` with the condition's name (or the event type that
/// starts it) as key; every problem as `key: why`, under `at`.
pub(super) fn condition_map<T>(
    at: &str,
    configured: Option<&BTreeMap<String, String>>,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
    problems: &mut Vec<String>,
) -> BTreeMap<Condition, T> {
    let mut map = BTreeMap::new();
    for (key, value) in configured.into_iter().flatten() {
        let condition = Condition::parse(key);
        let level = parse(value);
        if condition.is_none() {
            let known: Vec<&str> = Condition::ALL.iter().map(|c| c.key()).collect();
            problems.push(format!(
                "{at}: \"{key}\" is not a condition (known: {}, or the event type that starts one)",
                known.join(", ")
            ));
        }
        if level.is_none() {
            problems.push(format!("{at}: \"{key}\" = \"{value}\": must be {expected}"));
        }
        if let (Some(condition), Some(level)) = (condition, level) {
            map.insert(condition, level);
        }
    }
    map
}

/// `1.5` seconds from a JSON body (Discord's `retry_after`).
pub(super) fn json_seconds(body: &str, field: &str) -> Option<Duration> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let seconds = value.get(field)?.as_f64()?;
    (seconds.is_finite() && seconds >= 0.0)
        .then(|| Duration::try_from_secs_f64(seconds).ok())
        .flatten()
}

/// `severity`: condition → level, each problem under `{at}.severity`.
pub(super) fn check_severity(
    at: &str,
    severity: Option<&SeverityTable>,
    problems: &mut Vec<String>,
) {
    for problem in severity.map(SeverityTable::problems).unwrap_or_default() {
        problems.push(format!("{at}.severity: {problem}"));
    }
}

/// The `severity` map for a builder; an error names the key.
pub(super) fn severities(
    name: &str,
    severity: Option<&SeverityTable>,
) -> Result<SeverityMap, DeliverError> {
    match severity.map(SeverityTable::map) {
        None => Ok(SeverityMap::default()),
        Some(Ok(map)) => Ok(map.clone()),
        Some(Err(problems)) => Err(DeliverError::Chat {
            channel: name.to_string(),
            reason: format!("`severity`: {}", problems.join("; ")),
        }),
    }
}

#[cfg(test)]
mod tests;
