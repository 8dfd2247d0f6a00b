//! Debounce, pure: a differing observation counts only once it has been seen on
//! `confirm_polls` consecutive polls. Until then it waits in the stored state as
//! a pending candidate (persisted, so a restart neither forgets nor skips the
//! count), and a flap back to the confirmed state drops it without a word.
//!
//! The whole snapshot is confirmed at once: status, upload errors and settings
//! must all hold still for N polls.

use chrono::{DateTime, Utc};

use crate::diff::{diff_campaign, with_unrecorded_facts_learnt, CampaignDiff};
use crate::observe::Observation;
use crate::state::{CampaignState, PendingChange};

/// [`diff_campaign`] behind a confirmation count. With `confirm_polls` <= 1 it is
/// `diff_campaign` (plus dropping a candidate left over from a larger setting).
/// First sightings and 404s are never held back: a baseline sends nothing, and a
/// 404 is already confirmed by a direct GET. A campaign that answers again after
/// a 404 is held like any other change, so a flapping campaign's return and what
/// changed meanwhile need the same confirmation.
pub fn diff_confirmed(
    campaign_id: &str,
    previous: Option<&CampaignState>,
    observation: &Observation,
    confirm_polls: u32,
    now: DateTime<Utc>,
) -> CampaignDiff {
    // Before the comparison below: a state written by an older release must
    // not read as a change waiting for confirmation.
    with_unrecorded_facts_learnt(previous, observation, |previous| {
        confirm(campaign_id, previous, observation, confirm_polls, now)
    })
}

fn confirm(
    campaign_id: &str,
    previous: Option<&CampaignState>,
    observation: &Observation,
    confirm_polls: u32,
    now: DateTime<Utc>,
) -> CampaignDiff {
    let (Some(prev), Observation::Found(seen)) = (previous, observation) else {
        return match (previous, observation) {
            // Gone again before its return was confirmed: that flap ends here.
            (Some(prev), Observation::NotFound) if prev.not_found && prev.pending.is_some() => {
                CampaignDiff {
                    state: Some(CampaignState {
                        pending: None,
                        ..prev.clone()
                    }),
                    events: vec![],
                }
            }
            _ => diff_campaign(campaign_id, previous, observation, now),
        };
    };
    let settled = CampaignState {
        pending: None,
        ..prev.clone()
    };
    if !prev.not_found && *seen == prev.snapshot {
        // Back to (or still in) the confirmed state: a flap ends here, unannounced.
        return CampaignDiff {
            state: prev.pending.is_some().then_some(settled),
            events: vec![],
        };
    }
    let seen_count = match &prev.pending {
        Some(pending) if pending.snapshot == *seen => pending.seen.saturating_add(1),
        _ => 1,
    };
    if seen_count >= confirm_polls.max(1) {
        let mut confirmed = diff_campaign(campaign_id, Some(&settled), observation, now);
        if confirmed.state.is_none() && prev.pending.is_some() {
            confirmed.state = Some(settled);
        }
        return confirmed;
    }
    let first_seen_at = match &prev.pending {
        Some(pending) if pending.snapshot == *seen => pending.first_seen_at,
        _ => now,
    };
    CampaignDiff {
        state: Some(CampaignState {
            pending: Some(Box::new(PendingChange {
                snapshot: seen.clone(),
                seen: seen_count,
                first_seen_at,
            })),
            ..prev.clone()
        }),
        events: vec![],
    }
}

#[cfg(test)]
mod tests;
