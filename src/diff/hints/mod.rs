//! Probable-cause hints, pure: facts the API already returned that often
//! explain why a campaign paused (or completed, or sits scheduled), each with
//! a stable `code` and one sentence worded as a possible cause, never as a
//! diagnosis. The API documents no pause reason; these are only its facts.
//!
//! Which events carry them (see docs/events.md, "Hints"): `campaign.status_changed`
//! to any status but `live`, `campaign.found_again` of a campaign that is not
//! live, and `campaign.reminder` (the hints of the change it reminds of). The
//! state stores the hints of its last change, so the Alertmanager re-asserter
//! and reminders show the same ones.
//!
//! The sentences quote API text (numbers, agent names and statuses, dates):
//! each value is cut here to [`QUOTED_CHARS`], and every channel escapes the
//! sentence for where it goes, as it does campaign names.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

use crate::event::Hint;
use crate::observe::{CampaignStatus, Snapshot};

/// A value quoted from the API is cut to this many characters.
pub const QUOTED_CHARS: usize = 80;

/// The widest offset from UTC of any time zone: a date or time sent without a
/// zone (the API's `scheduledTimezone` is not echoed) is only called passed or
/// in the future when it is, wherever the campaign's zone is.
const WIDEST_OFFSET_HOURS: i64 = 14;

/// Every hint's stable code (receivers may switch on them; never renamed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HintCode {
    CallerNumberInactive,
    CallerNumberChanged,
    AgentNotLive,
    AgentChanged,
    UploadErrorsAdded,
    SchedulePassed,
    ScheduleInFuture,
    CompletedBeforeSchedule,
    ConcurrentCallsZero,
    ConcurrentCallsDropped,
}

impl HintCode {
    pub const ALL: [HintCode; 10] = [
        Self::CallerNumberInactive,
        Self::CallerNumberChanged,
        Self::AgentNotLive,
        Self::AgentChanged,
        Self::UploadErrorsAdded,
        Self::SchedulePassed,
        Self::ScheduleInFuture,
        Self::CompletedBeforeSchedule,
        Self::ConcurrentCallsZero,
        Self::ConcurrentCallsDropped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CallerNumberInactive => "caller_number_inactive",
            Self::CallerNumberChanged => "caller_number_changed",
            Self::AgentNotLive => "agent_not_live",
            Self::AgentChanged => "agent_changed",
            Self::UploadErrorsAdded => "upload_errors_added",
            Self::SchedulePassed => "schedule_passed",
            Self::ScheduleInFuture => "schedule_in_future",
            Self::CompletedBeforeSchedule => "completed_before_schedule",
            Self::ConcurrentCallsZero => "concurrent_calls_zero",
            Self::ConcurrentCallsDropped => "concurrent_calls_dropped",
        }
    }
}

/// Agent statuses that mean "taking calls" in the published versions (`Live`
/// in the new docs, `active` in the old), compared without case or spaces.
const LIVE_AGENT_STATUSES: [&str; 2] = ["live", "active"];

/// The hints for `current`, read `now`, given the snapshot before it
/// (`previous`; none for a campaign seen for the first time). In a fixed order:
/// caller number, agent, upload errors, schedule, concurrency.
pub fn hints(previous: Option<&Snapshot>, current: &Snapshot, now: DateTime<Utc>) -> Vec<Hint> {
    let mut hints = Vec::new();
    let mut hint = |code: HintCode, text: String| {
        hints.push(Hint {
            code: code.as_str().to_string(),
            text,
        })
    };

    let number = current
        .caller_number
        .as_deref()
        .map(|number| format!("The caller number {}", quoted(number)))
        .unwrap_or_else(|| "The caller number".to_string());
    if current.caller_active == Some(false) {
        hint(
            HintCode::CallerNumberInactive,
            format!("{number} is marked inactive by the API (phoneNumber.active is false): calls may not go out from it."),
        );
    }
    if let Some(before) = previous.and_then(|p| p.caller_number.as_deref()) {
        if current.caller_number.as_deref() != Some(before) {
            let now_text = match current.caller_number.as_deref() {
                Some(after) => format!("is now {}", quoted(after)),
                None => "is no longer reported".to_string(),
            };
            hint(
                HintCode::CallerNumberChanged,
                format!("The caller number changed since the last check (it was {}, it {now_text}): calls may not go out from a number that is not set up yet.", quoted(before)),
            );
        }
    }

    if let Some(agent) = &current.agent {
        let status = agent.status.as_deref().map(str::trim).unwrap_or_default();
        let normalised = status.to_lowercase();
        if !status.is_empty() && !LIVE_AGENT_STATUSES.contains(&normalised.as_str()) {
            let who = agent
                .name
                .as_deref()
                .or(agent.id.as_deref())
                .map(|name| format!("The agent {}", quoted(name)))
                .unwrap_or_else(|| "The agent".to_string());
            hint(
                HintCode::AgentNotLive,
                format!("{who} reports the status {} rather than Live or active: an agent that is not live may not take calls.", quoted(status)),
            );
        }
    }
    if let Some(before) = previous.and_then(agent_identity) {
        let after = agent_identity(current);
        if after.as_deref() != Some(before.as_str()) {
            let now_text = match after {
                Some(after) => format!("is now {}", quoted(&after)),
                None => "is no longer reported".to_string(),
            };
            hint(
                HintCode::AgentChanged,
                format!("The agent changed since the last check (it was {}, it {now_text}): a new agent may not be ready to take calls.", quoted(&before)),
            );
        }
    }

    let added = match previous {
        Some(previous) => current
            .upload_errors
            .difference(&previous.upload_errors)
            .count(),
        None => 0,
    };
    if added > 0 {
        let total = current.upload_errors.len();
        hint(
            HintCode::UploadErrorsAdded,
            format!(
                "{added} upload error{} appeared in the same check ({total} in all): rows the upload rejected are not dialled.",
                if added == 1 { "" } else { "s" }
            ),
        );
    }

    if let Some(date) = current.scheduled_date.as_deref() {
        let when = schedule_relative_to(date, now);
        let date = quoted(date.trim());
        match (&current.status, when) {
            (CampaignStatus::Scheduled, Some(When::Passed)) => hint(
                HintCode::SchedulePassed,
                format!("The scheduled date {date} has passed and the campaign is not live: its launch may not have started."),
            ),
            (CampaignStatus::Paused, Some(When::Future)) => hint(
                HintCode::ScheduleInFuture,
                format!("The scheduled date {date} is still in the future: a campaign paused before its launch time may be waiting for it."),
            ),
            (CampaignStatus::Completed, Some(When::Future)) => hint(
                HintCode::CompletedBeforeSchedule,
                format!("The campaign completed before its scheduled date {date}: it may have had no contacts left to dial."),
            ),
            _ => {}
        }
    }

    match (previous.and_then(|p| p.concurrent_calls), current.concurrent_calls) {
        (_, Some(calls)) if calls <= 0 => hint(
            HintCode::ConcurrentCallsZero,
            format!("concurrentCalls is {calls}: the campaign may be allowed no simultaneous calls."),
        ),
        (Some(before), Some(after)) if after < before => hint(
            HintCode::ConcurrentCallsDropped,
            format!("concurrentCalls dropped from {before} to {after} since the last check: fewer calls may go out at once."),
        ),
        _ => {}
    }
    hints
}

/// Whether the events of a change to `status` carry hints: every status but
/// `live` (a campaign going live needs no explanation).
pub fn explains(status: &CampaignStatus) -> bool {
    *status != CampaignStatus::Live
}

/// The agent's id, or its name when the API gave no id.
fn agent_identity(snapshot: &Snapshot) -> Option<String> {
    let agent = snapshot.agent.as_ref()?;
    agent
        .id
        .clone()
        .or_else(|| agent.name.clone())
        .filter(|key| !key.trim().is_empty())
}

/// A value from the API in quotes, cut.
fn quoted(text: &str) -> String {
    format!("\"{}\"", crate::text::cap(text, QUOTED_CHARS))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Passed,
    Future,
}

/// Where `scheduledDate` lies from `now`; none when it cannot be read or is too
/// close to tell. Its format varies: a time with a zone is exact; a time
/// without one, or a date alone (the whole day), could be in any zone.
fn schedule_relative_to(date: &str, now: DateTime<Utc>) -> Option<When> {
    let text = date.trim();
    let (earliest, latest) = if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        let at = at.with_timezone(&Utc);
        (at, at)
    } else {
        let slack = TimeDelta::hours(WIDEST_OFFSET_HOURS);
        let naive_time = [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
        ]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok());
        match naive_time {
            Some(at) => (at.and_utc() - slack, at.and_utc() + slack),
            None => {
                let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
                let start = day.and_hms_opt(0, 0, 0)?.and_utc();
                (start - slack, start + TimeDelta::days(1) + slack)
            }
        }
    };
    if latest < now {
        Some(When::Passed)
    } else if earliest > now {
        Some(When::Future)
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
