//! What the store keeps between cycles and the pure steps compute: a
//! campaign's confirmed state, the API's health and reminders. Plain
//! values: how they change lives in `diff`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::Hint;
use crate::observe::{CampaignStatus, Snapshot};

/// What the store keeps per campaign: the last confirmed snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignState {
    pub snapshot: Snapshot,
    /// Bumped on every stored change; part of every event id derived from it.
    pub seq: u64,
    /// The last direct GET answered 404.
    pub not_found: bool,
    /// When this state was first recorded (the last time something changed).
    pub changed_at: DateTime<Utc>,
    /// A differing observation waiting for `confirm_polls` (see `diff::debounce`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Boxed: a pending candidate is rare, and every remembered state carries the field.
    pub pending: Option<Box<PendingChange>>,
    /// Consecutive failed reads (see `diff::unreadable`). Left out of the stored JSON
    /// while clear, so states written before it existed load as readable and
    /// an upgrade announces nothing.
    #[serde(default, skip_serializing_if = "Reads::is_clear")]
    pub reads: Reads,
    /// The hints of the change that wrote this state (see `diff::hints`), so that
    /// reminders and re-posted alerts show the ones first sent. Left out of
    /// the stored JSON when empty, as states written before them have none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<Hint>,
}

/// An observation differing from the confirmed state, not yet confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingChange {
    pub snapshot: Snapshot,
    /// Consecutive polls that saw exactly this snapshot.
    pub seen: u32,
    pub first_seen_at: DateTime<Utc>,
}

/// How the reads of one campaign have gone lately.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reads {
    /// Consecutive cycles it could not be read; 0 once read.
    #[serde(default)]
    pub failed: u32,
    /// When `campaign.unreadable` was announced; `None` while it is readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable_since: Option<DateTime<Utc>>,
    /// The last reason it could not be read, for `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Reads {
    /// Read last cycle, nothing announced: the stored JSON leaves it out.
    pub fn is_clear(&self) -> bool {
        *self == Self::default()
    }
}

/// What the watcher remembers about the API's health across cycles.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApiHealth {
    pub consecutive_failures: u32,
    pub unhealthy: bool,
    /// Bumped on every unhealthy/recovered transition; part of their event ids.
    pub seq: u64,
}

/// The state a reminder is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "status", rename_all = "snake_case")]
pub enum ReminderCondition {
    /// The campaign entered this status through a transition the rule matched.
    Status(CampaignStatus),
    /// The campaign gained upload errors the rule matched.
    UploadErrors,
}

/// One (campaign, rule) reminder, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    pub condition: ReminderCondition,
    /// When the condition started (the matched event).
    pub since: DateTime<Utc>,
    /// The last reminder, or `since` before the first.
    pub last_at: DateTime<Utc>,
    /// Reminders sent so far; part of each reminder's id.
    pub sent: u32,
}

/// One episode of a condition, as the `incidents` table keeps it: opened in
/// the transaction that commits its start, told channels added with each
/// reminder, closed in the one that commits its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    /// `inc_` and 12 hex digits from the start event's id ([`crate::event::incident_id`]).
    pub id: String,
    /// The account; none for the whole watcher.
    pub account: Option<String>,
    /// The campaign id, or the account for the API's health.
    pub subject: String,
    /// The condition's key (`paused`, `upload_errors`, ...).
    pub condition: String,
    pub started_at: DateTime<Utc>,
    pub start_event_id: String,
    /// Every channel given an outbox row for the start or a reminder: the
    /// end goes to each of them.
    pub channels_told: std::collections::BTreeSet<String>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Filled by acknowledgements and storms; kept as read.
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_note: Option<String>,
    pub storm_id: Option<String>,
}

impl Incident {
    /// A new open episode started by `start_event_id` at `started_at`.
    pub fn open(
        account: Option<String>,
        subject: String,
        condition: &str,
        start_event_id: &str,
        started_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: crate::event::incident_id(start_event_id),
            account,
            subject,
            condition: condition.to_string(),
            started_at,
            start_event_id: start_event_id.to_string(),
            channels_told: Default::default(),
            ended_at: None,
            acknowledged_by: None,
            acknowledged_at: None,
            acknowledged_note: None,
            storm_id: None,
        }
    }

    /// The payload's `incident` object for a start or a reminder of this
    /// episode, or (once `ended_at` is set) for its end.
    pub fn info(&self) -> crate::event::IncidentInfo {
        let mut info = crate::event::IncidentInfo::started(&self.start_event_id, self.started_at);
        info.storm = self.storm_id.clone();
        info.acknowledged = match (&self.acknowledged_by, self.acknowledged_at) {
            (Some(by), Some(at)) => Some(crate::event::Acknowledgement {
                by: by.clone(),
                at,
                note: self.acknowledged_note.clone(),
            }),
            _ => None,
        };
        match self.ended_at {
            Some(ended_at) => info.ended(ended_at),
            None => info,
        }
    }
}
