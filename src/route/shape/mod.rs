//! What one channel does with its due rows at one instant, pure: quiet hours
//! hold them (and release them as one digest when the window ends), the rate
//! limit makes the excess wait. Nothing is dropped. The dispatcher acts on the
//! [`Plan`]; `routes test` and `replay` ask the same function.

use chrono::{DateTime, Utc};

use super::quiet::QuietHours;
use super::rate::RateBudget;
use crate::event::EventType;

/// What the plan needs to know of one due row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueRow {
    pub kind: EventType,
    /// It was held by quiet hours and is now due: it goes out in the digest.
    pub released: bool,
}

/// What happens to each due row (by its index in the rows given), now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Held by quiet hours until then.
    pub hold: Vec<(usize, DateTime<Utc>)>,
    /// Released from quiet hours: one digest message.
    pub digest: Vec<usize>,
    /// The digest waits for the rate limit until then.
    pub digest_waits: Option<DateTime<Utc>>,
    /// Sent now, in order.
    pub send: Vec<usize>,
    /// Left waiting by the rate limit until `wait_until`.
    pub wait: Vec<usize>,
    pub wait_until: Option<DateTime<Utc>>,
}

/// The plan for one channel's due `rows` (outbox order) at `now`. `batches`:
/// the channel sends all its ready rows as messages of one drain (email,
/// Slack), which take one unit of the budget together.
pub fn plan(
    quiet: Option<&QuietHours>,
    budget: &mut RateBudget,
    rows: &[DueRow],
    batches: bool,
    now: DateTime<Utc>,
) -> Plan {
    let mut plan = Plan::default();
    let mut ready = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        match quiet.and_then(|quiet| quiet.hold_until(row.kind, now)) {
            Some(until) => plan.hold.push((index, until)),
            None if row.released => plan.digest.push(index),
            None => ready.push(index),
        }
    }
    if !plan.digest.is_empty() {
        plan.digest_waits = budget.take(now).err();
    }
    if batches {
        if !ready.is_empty() {
            match budget.take(now) {
                Ok(()) => plan.send = ready,
                Err(free_at) => {
                    plan.wait = ready;
                    plan.wait_until = Some(free_at);
                }
            }
        }
        return plan;
    }
    for (position, index) in ready.iter().enumerate() {
        if let Err(free_at) = budget.take(now) {
            plan.wait = ready[position..].to_vec();
            plan.wait_until = Some(free_at);
            break;
        }
        plan.send.push(*index);
    }
    plan
}

#[cfg(test)]
mod tests;
