//! Step 3 of the pipeline: a pure function from (stored state, observation) to
//! (new state, events). No I/O and no clock reads: the time is passed in.

pub mod debounce;
pub mod hints;
pub mod remind;
pub mod unreadable;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::event::{
    event_id, CampaignInfo, Change, Event, EventType, UploadErrors, PAYLOAD_VERSION,
};
use crate::observe::{Observation, Snapshot};
use crate::state::{ApiHealth, CampaignState};

/// The result of diffing one campaign. `state` is `None` when nothing needs writing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CampaignDiff {
    pub state: Option<CampaignState>,
    pub events: Vec<Event>,
}

/// Compare one observation with the stored state of the same campaign.
pub fn diff_campaign(
    campaign_id: &str,
    previous: Option<&CampaignState>,
    observation: &Observation,
    now: DateTime<Utc>,
) -> CampaignDiff {
    with_unrecorded_facts_learnt(previous, observation, |previous| {
        diff_known_facts(campaign_id, previous, observation, now)
    })
}

/// Runs `diff` on `previous` with the facts it never recorded taken from
/// `observation` ([`Snapshot::learn_unrecorded`]: a state written by an
/// older release), and stores what was learnt even when nothing changed, once,
/// without an event or a sequence bump.
pub(crate) fn with_unrecorded_facts_learnt(
    previous: Option<&CampaignState>,
    observation: &Observation,
    diff: impl FnOnce(Option<&CampaignState>) -> CampaignDiff,
) -> CampaignDiff {
    let upgraded = match (previous, observation) {
        (Some(prev), Observation::Found(seen)) => {
            let mut upgraded = prev.clone();
            let mut learnt = upgraded.snapshot.learn_unrecorded(seen);
            if let Some(pending) = upgraded.pending.as_mut() {
                learnt |= pending.snapshot.learn_unrecorded(seen);
            }
            learnt.then_some(upgraded)
        }
        _ => None,
    };
    let Some(upgraded) = upgraded else {
        return diff(previous);
    };
    let mut out = diff(Some(&upgraded));
    if out.state.is_none() {
        out.state = Some(upgraded);
    }
    out
}

fn diff_known_facts(
    campaign_id: &str,
    previous: Option<&CampaignState>,
    observation: &Observation,
    now: DateTime<Utc>,
) -> CampaignDiff {
    match (observation, previous) {
        // A failed read never changes what we know.
        (Observation::Failed(_), _) => CampaignDiff::default(),
        // Never seen and not there: nothing to baseline, nothing to announce.
        (Observation::NotFound, None) => CampaignDiff::default(),
        (Observation::NotFound, Some(prev)) if prev.not_found => CampaignDiff::default(),
        (Observation::NotFound, Some(prev)) => {
            let state = CampaignState {
                snapshot: prev.snapshot.clone(),
                seq: prev.seq + 1,
                not_found: true,
                changed_at: now,
                pending: None,
                hints: Vec::new(),
                reads: Default::default(),
            };
            let seq = state.seq.to_string();
            let snapshot = &prev.snapshot;
            let event = Event::about_standing_campaign(
                EventType::NotFound,
                event_id(&[
                    campaign_id,
                    EventType::NotFound.as_str(),
                    snapshot.status.as_str(),
                    &seq,
                ]),
                snapshot,
                now,
                format!(
                    "{} ({}) no longer exists: the API answers 404",
                    snapshot.name, campaign_id
                ),
            );
            CampaignDiff {
                state: Some(state),
                events: vec![event],
            }
        }
        (Observation::Found(snapshot), None) => CampaignDiff {
            state: Some(CampaignState {
                snapshot: snapshot.clone(),
                seq: 0,
                not_found: false,
                changed_at: now,
                pending: None,
                hints: Vec::new(),
                reads: Default::default(),
            }),
            events: vec![],
        },
        (Observation::Found(snapshot), Some(prev)) => diff_found(prev, snapshot, now),
    }
}

fn diff_found(prev: &CampaignState, snapshot: &Snapshot, now: DateTime<Utc>) -> CampaignDiff {
    if !prev.not_found && prev.snapshot == *snapshot {
        return CampaignDiff::default();
    }
    let old = &prev.snapshot;
    let status_news = prev.not_found || snapshot.status != old.status;
    // A change of status (or a return) is what hints explain; any other
    // change keeps the hints of the last one, which reminders and re-posted
    // alerts repeat.
    let hints = if !status_news {
        prev.hints.clone()
    } else if hints::explains(&snapshot.status) {
        hints::hints(Some(old), snapshot, now)
    } else {
        Vec::new()
    };
    let state = CampaignState {
        snapshot: snapshot.clone(),
        seq: prev.seq + 1,
        not_found: false,
        changed_at: now,
        pending: None,
        hints: hints.clone(),
        reads: Default::default(),
    };
    let id = snapshot.id.as_str();
    let seq = state.seq.to_string();
    let added: Vec<String> = snapshot
        .upload_errors
        .difference(&old.upload_errors)
        .cloned()
        .collect();
    let removed: Vec<String> = old
        .upload_errors
        .difference(&snapshot.upload_errors)
        .cloned()
        .collect();
    let upload_errors = UploadErrors {
        added: added.clone(),
        removed: removed.clone(),
        current: snapshot.upload_errors.iter().cloned().collect(),
    };
    let event =
        |kind: EventType, from: &str, to: &str, changes: Vec<Change>, summary: String| Event {
            version: PAYLOAD_VERSION.into(),
            id: event_id(&[id, kind.as_str(), from, to, &seq]),
            kind,
            occurred_at: now,
            campaign: Some(CampaignInfo::from_snapshot(snapshot, Some(&old.status))),
            upload_errors: upload_errors.clone(),
            changes,
            hints: match kind {
                EventType::StatusChanged | EventType::FoundAgain => hints.clone(),
                _ => vec![],
            },
            summary,
            account: crate::event::default_account(),
            incident: None,
            links: None,
        };
    let label = format!("{} ({})", snapshot.name, id);

    let mut events = Vec::new();
    if prev.not_found {
        events.push(event(
            EventType::FoundAgain,
            "not_found",
            snapshot.status.as_str(),
            vec![],
            format!(
                "{label} exists again ({}): the API answers it after a 404",
                snapshot.status
            ),
        ));
    }
    if snapshot.status != old.status {
        events.push(event(
            EventType::StatusChanged,
            old.status.as_str(),
            snapshot.status.as_str(),
            vec![],
            format!("{label}: {} -> {}", old.status, snapshot.status),
        ));
    }
    if !added.is_empty() {
        events.push(event(
            EventType::UploadErrorsAdded,
            &joined(&old.upload_errors),
            &joined(&snapshot.upload_errors),
            vec![],
            format!(
                "{label}: {} new upload error{} ({} in all)",
                added.len(),
                plural(added.len()),
                snapshot.upload_errors.len()
            ),
        ));
    }
    if snapshot.upload_errors.is_empty() && !old.upload_errors.is_empty() {
        events.push(event(
            EventType::UploadErrorsCleared,
            &joined(&old.upload_errors),
            "",
            vec![],
            format!("{label}: upload errors cleared ({} removed)", removed.len()),
        ));
    }
    let changes = settings_changes(old, snapshot);
    if !changes.is_empty() {
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        let fingerprint = serde_json::to_string(&changes).unwrap_or_default();
        events.push(event(
            EventType::SettingsChanged,
            "",
            &fingerprint,
            changes.clone(),
            format!("{label}: settings changed: {}", fields.join(", ")),
        ));
    }
    CampaignDiff {
        state: Some(state),
        events,
    }
}

/// The settings the design names: name, concurrentCalls, agent, caller number, schedule.
fn settings_changes(old: &Snapshot, new: &Snapshot) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut compare = |field: &str, from: serde_json::Value, to: serde_json::Value| {
        if from != to {
            changes.push(Change {
                field: field.into(),
                from,
                to,
            });
        }
    };
    compare("name", json!(old.name), json!(new.name));
    compare(
        "concurrent_calls",
        json!(old.concurrent_calls),
        json!(new.concurrent_calls),
    );
    let agent_key = |s: &Snapshot| {
        s.agent
            .as_ref()
            .map(|a| json!({"id": a.id, "name": a.name}))
            .unwrap_or(serde_json::Value::Null)
    };
    compare("agent", agent_key(old), agent_key(new));
    compare(
        "caller_number",
        json!(old.caller_number),
        json!(new.caller_number),
    );
    compare(
        "scheduled_date",
        json!(old.scheduled_date),
        json!(new.scheduled_date),
    );
    changes
}

fn joined(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join("\u{1f}")
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// How one cycle went as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CycleVerdict {
    /// The API answered (individual campaigns may still have failed).
    Readable,
    /// The API could not be read at all this cycle.
    Unreadable { reason: String, auth_rejected: bool },
}

impl CycleVerdict {
    /// `readable` or `unreadable`, for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Readable => "readable",
            Self::Unreadable { .. } => "unreadable",
        }
    }
}

/// Track consecutive failed cycles: `watcher.api_unhealthy` after `threshold` of them,
/// or at once when the key is rejected; `watcher.api_recovered` on the next good cycle.
pub fn assess_health(
    previous: &ApiHealth,
    verdict: &CycleVerdict,
    threshold: u32,
    now: DateTime<Utc>,
) -> (ApiHealth, Option<Event>) {
    let watcher_event = |kind: EventType, seq: u64, summary: String| {
        let id = event_id(&["watcher", kind.as_str(), &seq.to_string()]);
        Event::about_the_watcher(kind, id, now, summary)
    };
    match verdict {
        CycleVerdict::Readable if previous.unhealthy => {
            let health = ApiHealth {
                consecutive_failures: 0,
                unhealthy: false,
                seq: previous.seq + 1,
            };
            let event = watcher_event(
                EventType::ApiRecovered,
                health.seq,
                "SigmaMind API recovered: campaigns are being watched again".into(),
            );
            (health, Some(event))
        }
        CycleVerdict::Readable => (ApiHealth::default_with_seq(previous.seq), None),
        CycleVerdict::Unreadable {
            reason,
            auth_rejected,
        } => {
            let failures = previous.consecutive_failures.saturating_add(1);
            let trips = !previous.unhealthy && (*auth_rejected || failures >= threshold.max(1));
            if !trips {
                let health = ApiHealth {
                    consecutive_failures: failures,
                    ..previous.clone()
                };
                return (health, None);
            }
            let health = ApiHealth {
                consecutive_failures: failures,
                unhealthy: true,
                seq: previous.seq + 1,
            };
            let summary = if *auth_rejected {
                // The reason already says what was rejected; say it once.
                sentence_case(reason)
            } else {
                format!("SigmaMind API unreadable for {failures} consecutive cycles: {reason}")
            };
            let event = watcher_event(EventType::ApiUnhealthy, health.seq, summary);
            (health, Some(event))
        }
    }
}

/// "the SigmaMind API rejected…" → "The SigmaMind API rejected…".
fn sentence_case(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl ApiHealth {
    fn default_with_seq(seq: u64) -> Self {
        Self {
            seq,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests;
