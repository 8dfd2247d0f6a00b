//! Reminders, pure: while a campaign stays in the state a rule with
//! `remind_every` matched (still paused, upload errors still present), a
//! `campaign.reminder` goes out every interval. The timestamps live in the store,
//! so reminders survive restarts and never fire twice for the same interval.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::event::{event_id, Event, EventType};
use crate::state::{CampaignState, Reminder, ReminderCondition as Condition};

impl Condition {
    pub fn holds(&self, state: &CampaignState) -> bool {
        !state.not_found
            && match self {
                Self::Status(status) => state.snapshot.status == *status,
                Self::UploadErrors => !state.snapshot.upload_errors.is_empty(),
            }
    }
}

/// What to store for one (campaign, rule) after this cycle, and whether a reminder is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `None`: no reminder (any stored one is deleted).
    pub reminder: Option<Reminder>,
    pub remind_now: bool,
}

/// Advance one (campaign, rule). `started` is the condition a committed event of
/// this cycle that the rule matched begins; `current` the campaign's state after
/// the cycle. One reminder at most per call: after downtime the next one is
/// sent once, not once per missed interval.
pub fn advance(
    existing: Option<&Reminder>,
    started: Option<Condition>,
    current: &CampaignState,
    every: Duration,
    now: DateTime<Utc>,
) -> Step {
    let keep = |reminder: Option<Reminder>| Step {
        reminder,
        remind_now: false,
    };
    if let Some(condition) = started {
        let continues =
            existing.filter(|old| old.condition == condition && condition.holds(current));
        // More upload errors while already reminding about errors: keep the clock.
        if let (Some(old), Condition::UploadErrors) = (continues, &condition) {
            return keep(Some(old.clone()));
        }
        let holds = condition.holds(current);
        return keep(holds.then_some(Reminder {
            condition,
            since: now,
            last_at: now,
            sent: 0,
        }));
    }
    let Some(old) = existing else {
        return keep(None);
    };
    if !old.condition.holds(current) {
        return keep(None);
    }
    let every = TimeDelta::from_std(every).unwrap_or(TimeDelta::MAX);
    if now.signed_duration_since(old.last_at) < every {
        return keep(Some(old.clone()));
    }
    Step {
        reminder: Some(Reminder {
            last_at: now,
            sent: old.sent.saturating_add(1),
            ..old.clone()
        }),
        remind_now: true,
    }
}

/// The `campaign.reminder` event for a reminder just advanced by [`advance`].
/// Its id is derived from the campaign, the rule, when the condition began and
/// the reminder's number, so a crash before sending resends the same id.
pub fn reminder_event(
    campaign_id: &str,
    rule: &str,
    reminder: &Reminder,
    state: &CampaignState,
    now: DateTime<Utc>,
) -> Event {
    let snapshot = &state.snapshot;
    let lasting = now.signed_duration_since(reminder.since);
    let minutes = lasting.num_minutes().max(0) as u64;
    let duration = humantime::format_duration(Duration::from_secs(minutes * 60)).to_string();
    let what = match &reminder.condition {
        Condition::Status(status) => format!("still {status}"),
        Condition::UploadErrors => format!(
            "still has {} upload error{}",
            snapshot.upload_errors.len(),
            if snapshot.upload_errors.len() == 1 {
                ""
            } else {
                "s"
            }
        ),
    };
    let mut event = Event::about_standing_campaign(
        EventType::Reminder,
        event_id(&[
            campaign_id,
            EventType::Reminder.as_str(),
            rule,
            &reminder.since.timestamp_millis().to_string(),
            &reminder.sent.to_string(),
        ]),
        snapshot,
        now,
        format!(
            "{} ({campaign_id}): {what} after {duration} (reminder {})",
            snapshot.name, reminder.sent
        ),
    );
    // The hints of the change it reminds of (none for a status no hint explains).
    if matches!(reminder.condition, Condition::Status(_)) {
        event.hints.clone_from(&state.hints);
    }
    event
}

#[cfg(test)]
mod tests;

/// One (campaign, rule) reminder that changed this cycle: stored anew, or
/// forgotten (`None`). A plain value; the cycle turns it into a store write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderChange {
    pub campaign_id: String,
    pub rule: String,
    pub reminder: Option<Reminder>,
}

/// Reminder work for one cycle: what to store and which reminders to send.
#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<ReminderChange>,
    /// Each reminder event with the channels of the rule that asked for it.
    pub events: Vec<(Event, Vec<String>)>,
}

/// Advance every (campaign, reminding rule) pair. `observed` are the campaigns
/// read this cycle with their state after it (a campaign that could not be read
/// keeps its reminders untouched); `sendable` the cycle's events that were not
/// silenced: only those start reminders, so a silenced pause is not nagged about
/// after the silence ends.
pub fn plan(
    router: &crate::route::Router,
    stored: &std::collections::HashMap<(String, String), Reminder>,
    observed: &[(&str, &CampaignState)],
    sendable: &[&Event],
    now: DateTime<Utc>,
) -> Plan {
    let mut plan = Plan::default();
    for (index, rule, every) in router.reminding_rules() {
        for (campaign_id, state) in observed {
            let started = sendable
                .iter()
                .filter(|event| {
                    event
                        .campaign
                        .as_ref()
                        .is_some_and(|c| c.id == *campaign_id)
                })
                .filter(|event| router.rule_matches(index, event))
                .filter_map(|event| match event.kind {
                    EventType::StatusChanged => {
                        Some(Condition::Status(event.campaign.as_ref()?.status.clone()))
                    }
                    EventType::UploadErrorsAdded => Some(Condition::UploadErrors),
                    _ => None,
                })
                // A status condition wins over an errors one from the same cycle.
                .min_by_key(|condition| matches!(condition, Condition::UploadErrors));
            let key = (campaign_id.to_string(), rule.to_string());
            let existing = stored.get(&key);
            let step = advance(existing, started, state, every, now);
            if step.remind_now {
                if let Some(reminder) = &step.reminder {
                    let event = reminder_event(campaign_id, rule, reminder, state, now);
                    plan.events.push((event, router.rule_channels(index)));
                }
            }
            if step.reminder.as_ref() != existing {
                plan.changes.push(ReminderChange {
                    campaign_id: key.0,
                    rule: key.1,
                    reminder: step.reminder,
                });
            }
        }
    }
    plan
}
