//! What templates see: the facts of a message worked out in Rust (headline,
//! capped lists, times in UTC and the local zone), so an operator's template
//! can only lay them out.

use super::*;

/// What every template sees. Documented in docs/configuration.md; extend additively.
#[derive(Debug, Serialize)]
pub(super) struct MessageView {
    /// `[campaign-watcher]`.
    prefix: &'static str,
    instance: String,
    /// The subject without the prefix.
    headline: String,
    /// More than one event: a digest.
    digest: bool,
    /// Events in this message.
    count: usize,
    /// Distinct campaigns among them.
    campaign_count: usize,
    /// Only the `test-notify` event.
    test: bool,
    /// The first event (the only one unless `digest`).
    event: EventView,
    events: Vec<EventView>,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct EventView {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    headline: String,
    summary: String,
    campaign: Option<CampaignView>,
    errors_added: Capped,
    errors_removed: Capped,
    errors_current: usize,
    changes: Vec<ChangeView>,
    /// The hints' sentences, one line each (`diff::hints`; they quote API text).
    hints: Vec<String>,
    /// The SigmaMind account, for every account but `default` (whose messages
    /// look as they did before accounts existed).
    account: Option<String>,
    detected_utc: String,
    /// In the configured time zone, with its abbreviation; none without one.
    detected_local: Option<String>,
    /// The event's page on the board, when `[http] external_url` is set.
    board_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct CampaignView {
    id: String,
    name: String,
    status: String,
    previous_status: Option<String>,
    /// `name (id)`, or whichever of them the API gave.
    agent: Option<String>,
    caller_number: Option<String>,
}

/// A list cut at [`ERRORS_SHOWN`], with the number left out.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Capped {
    shown: Vec<String>,
    more: usize,
    total: usize,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct ChangeView {
    field: String,
    from: String,
    to: String,
}

impl MessageView {
    pub(super) fn new(events: &[Event], context: &RenderContext) -> Self {
        // Problems first: a digest's reader sees the pause before the resume.
        let views: Vec<EventView> = worst_first(events)
            .into_iter()
            .map(|event| EventView::new(event, context.timezone))
            .collect();
        let campaign_count = events
            .iter()
            .filter_map(|event| Some((event.account(), event.campaign.as_ref()?.id.as_str())))
            .collect::<BTreeSet<_>>()
            .len();
        let headline = if events.len() == 1 {
            views[0].headline.clone()
        } else {
            digest_headline(events)
        };
        Self {
            prefix: SUBJECT_PREFIX,
            instance: context.instance.clone(),
            headline,
            digest: events.len() > 1,
            count: events.len(),
            campaign_count,
            test: events.iter().all(|event| event.kind == EventType::Test),
            event: views[0].clone(),
            events: views,
        }
    }
}

impl EventView {
    fn new(event: &Event, timezone: Option<Tz>) -> Self {
        Self {
            id: event.id.clone(),
            kind: event.kind.as_str(),
            account: event.named_account().map(str::to_string),
            headline: headline(event),
            summary: one_line(&event.summary, SUMMARY_CHARS),
            campaign: event.campaign.as_ref().map(CampaignView::new),
            errors_added: Capped::new(&event.upload_errors.added),
            errors_removed: Capped::new(&event.upload_errors.removed),
            errors_current: event.upload_errors.current.len(),
            changes: event
                .changes
                .iter()
                .map(|change| ChangeView {
                    field: one_line(&change.field, ITEM_CHARS),
                    from: one_line(&json_text(&change.from), ITEM_CHARS),
                    to: one_line(&json_text(&change.to), ITEM_CHARS),
                })
                .collect(),
            hints: event
                .hints
                .iter()
                .map(|hint| one_line(&hint.text, ITEM_CHARS))
                .collect(),
            detected_utc: event
                .occurred_at
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
            detected_local: timezone.map(|zone| local_time(event.occurred_at, zone)),
            board_url: event.links.as_ref().map(|links| links.board.clone()),
        }
    }
}

impl CampaignView {
    fn new(campaign: &CampaignInfo) -> Self {
        Self {
            id: one_line(&campaign.id, ITEM_CHARS),
            name: one_line(&campaign.name, NAME_CHARS),
            status: one_line(&campaign.status.to_string(), ITEM_CHARS),
            previous_status: campaign
                .previous_status
                .as_ref()
                .map(|status| one_line(&status.to_string(), ITEM_CHARS)),
            agent: campaign
                .agent
                .as_ref()
                .and_then(agent_text)
                .map(|agent| one_line(&agent, ITEM_CHARS)),
            caller_number: campaign
                .caller_number
                .as_deref()
                .map(|number| one_line(number, ITEM_CHARS)),
        }
    }
}

impl Capped {
    fn new(items: &[String]) -> Self {
        Self {
            shown: items
                .iter()
                .take(ERRORS_SHOWN)
                .map(|item| one_line(item, ITEM_CHARS))
                .collect(),
            more: items.len().saturating_sub(ERRORS_SHOWN),
            total: items.len(),
        }
    }
}

/// API text as the templates see it: one line, cut. A campaign name with a
/// line break must not start a line of its own in a message (a forged
/// `Status:` line, or a fact a chat channel would show as a field).
pub(super) fn one_line(text: &str, max_chars: usize) -> String {
    crate::text::header(text, max_chars)
}

pub(super) fn agent_text(agent: &Agent) -> Option<String> {
    match (&agent.name, &agent.id) {
        (Some(name), Some(id)) => Some(format!("{name} ({id})")),
        (Some(only), None) | (None, Some(only)) => Some(only.clone()),
        (None, None) => None,
    }
}

pub(super) fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "(none)".into(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `2026-11-26 10:15:02 CET (Europe/Berlin)`
pub(super) fn local_time(at: DateTime<Utc>, zone: Tz) -> String {
    format!(
        "{} ({})",
        at.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S %Z"),
        zone.name()
    )
}

pub(super) fn campaign_name(event: &Event) -> String {
    match &event.campaign {
        Some(campaign) if !campaign.name.trim().is_empty() => one_line(&campaign.name, NAME_CHARS),
        Some(campaign) => one_line(&campaign.id, NAME_CHARS),
        None => "campaign".into(),
    }
}

pub(super) fn plural(count: usize, one: &str, many: &str) -> String {
    if count == 1 {
        format!("{count} {one}")
    } else {
        format!("{count} {many}")
    }
}
