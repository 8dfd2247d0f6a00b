//! A watched campaign that cannot be read, pure: after `unhealthy_after`
//! consecutive failed reads it is announced as `campaign.unreadable`, and at
//! the next good read as `campaign.readable`. Without this a campaign whose
//! answer fails to parse every cycle would be unwatched in silence, its stored
//! state (`live`, say) standing for what nobody can see.
//!
//! The count lives in the stored state, so a restart neither forgets nor
//! repeats it. A cycle in which the whole API is unreadable counts for no
//! campaign: `watcher.api_unhealthy` speaks for all of them at once.

use chrono::{DateTime, Utc};

use crate::diff::debounce::diff_confirmed;
use crate::diff::CampaignDiff;
use crate::event::{event_id, Event, EventType};
use crate::observe::Observation;
use crate::state::{CampaignState, Reads};

/// [`diff_confirmed`], counting failed reads. `unhealthy_after` is `None` in a
/// cycle where the API as a whole could not be read: nothing is counted then.
pub fn diff_read(
    campaign_id: &str,
    previous: Option<&CampaignState>,
    observation: &Observation,
    confirm_polls: u32,
    unhealthy_after: Option<u32>,
    now: DateTime<Utc>,
) -> CampaignDiff {
    match (observation, previous) {
        // A campaign never read has nothing to announce yet (no name, no status):
        // it is baselined at its first good read.
        (Observation::Failed(_), None) => CampaignDiff::default(),
        (Observation::Failed(_), Some(_)) if unhealthy_after.is_none() => CampaignDiff::default(),
        (Observation::Failed(failure), Some(prev)) => {
            let threshold = unhealthy_after.unwrap_or(1).max(1);
            let failed = prev.reads.failed.saturating_add(1);
            let mut reads = Reads {
                failed,
                unreadable_since: prev.reads.unreadable_since,
                last_error: Some(failure.reason.clone()),
            };
            let mut events = vec![];
            if reads.unreadable_since.is_none() && failed >= threshold {
                reads.unreadable_since = Some(now);
                let snapshot = &prev.snapshot;
                events.push(Event::about_standing_campaign(
                    EventType::CampaignUnreadable,
                    episode_id(campaign_id, EventType::CampaignUnreadable, now),
                    snapshot,
                    now,
                    format!(
                        "{} ({campaign_id}) could not be read for {failed} consecutive cycles: {}",
                        snapshot.name, failure.reason
                    ),
                ));
            }
            CampaignDiff {
                state: Some(CampaignState {
                    reads,
                    ..prev.clone()
                }),
                events,
            }
        }
        (_, Some(prev)) if !prev.reads.is_clear() => {
            let mut diff = diff_confirmed(campaign_id, previous, observation, confirm_polls, now);
            let mut state = diff.state.take().unwrap_or_else(|| prev.clone());
            state.reads = Reads::default();
            if let Some(since) = prev.reads.unreadable_since {
                let snapshot = &prev.snapshot;
                // First, so the condition closes before any news of what changed meanwhile.
                diff.events.insert(
                    0,
                    Event::about_standing_campaign(
                        EventType::CampaignReadable,
                        episode_id(campaign_id, EventType::CampaignReadable, since),
                        snapshot,
                        now,
                        format!("{} ({campaign_id}) can be read again", snapshot.name),
                    ),
                );
            }
            diff.state = Some(state);
            diff
        }
        _ => diff_confirmed(campaign_id, previous, observation, confirm_polls, now),
    }
}

/// The same episode always gets the same ids: a crash between sending and
/// recording resends them unchanged.
fn episode_id(campaign_id: &str, kind: EventType, since: DateTime<Utc>) -> String {
    event_id(&[campaign_id, kind.as_str(), &since.to_rfc3339()])
}

#[cfg(test)]
mod tests;
