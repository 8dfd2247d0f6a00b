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
mod tests {
    use super::*;
    use crate::observe::{CampaignStatus, FetchFailure, Snapshot};
    use chrono::{TimeDelta, TimeZone};

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap() + TimeDelta::minutes(minute)
    }

    fn snap(status: CampaignStatus) -> Snapshot {
        crate::fixtures::snapshot("camp_1", "Q4", status)
    }

    fn failed() -> Observation {
        Observation::Failed(FetchFailure {
            reason: "the answer has the wrong shape".into(),
            auth_rejected: false,
        })
    }

    /// One poll a minute with `unhealthy_after = 3`; the event types per poll,
    /// the state round-tripping through JSON as the store keeps it.
    fn run(polls: &[(Observation, bool)]) -> (Vec<Vec<EventType>>, CampaignState) {
        let mut state = CampaignState {
            snapshot: snap(CampaignStatus::Live),
            seq: 1,
            not_found: false,
            changed_at: t(0),
            pending: None,
            hints: Vec::new(),
            reads: Reads::default(),
        };
        let mut out = vec![];
        for (minute, (observation, api_readable)) in polls.iter().enumerate() {
            let threshold = api_readable.then_some(3);
            let diff = diff_read(
                "camp_1",
                Some(&state),
                observation,
                1,
                threshold,
                t(minute as i64 + 1),
            );
            if let Some(next) = diff.state {
                state = serde_json::from_str(&serde_json::to_string(&next).unwrap()).unwrap();
            }
            out.push(diff.events.iter().map(|e| e.kind).collect());
        }
        (out, state)
    }

    use EventType::{
        CampaignReadable as Readable, CampaignUnreadable as Unreadable, StatusChanged,
    };

    #[test]
    fn unreadable_after_n_failed_reads_and_readable_at_the_next_good_one() {
        let live = Observation::Found(snap(CampaignStatus::Live));
        let paused = Observation::Found(snap(CampaignStatus::Paused));
        let (events, state) = run(&[
            (failed(), true),
            (failed(), true),
            (failed(), true),
            (failed(), true),
            (paused.clone(), true),
        ]);
        assert_eq!(
            events,
            [
                vec![],
                vec![],
                vec![Unreadable],
                vec![],
                vec![Readable, StatusChanged]
            ]
        );
        assert!(state.reads.is_clear());
        // Failures with a good read between them never add up.
        let (events, _) = run(&[
            (failed(), true),
            (failed(), true),
            (live, true),
            (failed(), true),
            (failed(), true),
        ]);
        assert!(events.iter().all(Vec::is_empty), "{events:?}");
    }

    #[test]
    fn a_cycle_where_the_whole_api_failed_counts_for_no_campaign() {
        let polls: Vec<(Observation, bool)> = (0..5).map(|_| (failed(), false)).collect();
        let (events, state) = run(&polls);
        assert!(events.iter().all(Vec::is_empty));
        assert!(state.reads.is_clear());
    }

    #[test]
    fn a_state_stored_before_the_count_existed_loads_as_readable_and_says_nothing() {
        let old = r#"{"snapshot":{"id":"camp_1","name":"Q4","status":"live","upload_errors":[],"agent":null,"caller_number":null,"concurrent_calls":null,"scheduled_date":null},"seq":1,"not_found":false,"changed_at":"2026-11-26T09:00:00Z"}"#;
        let state: CampaignState = serde_json::from_str(old).unwrap();
        assert!(state.reads.is_clear());
        // And it is written back exactly as before: no field appears while clear.
        let written = serde_json::to_value(&state).unwrap();
        assert_eq!(
            written,
            serde_json::from_str::<serde_json::Value>(old).unwrap()
        );
        let diff = diff_read(
            "camp_1",
            Some(&state),
            &Observation::Found(state.snapshot.clone()),
            1,
            Some(3),
            t(1),
        );
        assert_eq!(diff, CampaignDiff::default());
    }

    #[test]
    fn an_episode_keeps_its_ids() {
        let mut first = None;
        for _ in 0..2 {
            let state = CampaignState {
                snapshot: snap(CampaignStatus::Live),
                seq: 1,
                not_found: false,
                changed_at: t(0),
                pending: None,
                hints: Vec::new(),
                reads: Reads {
                    failed: 2,
                    unreadable_since: None,
                    last_error: None,
                },
            };
            let diff = diff_read("camp_1", Some(&state), &failed(), 1, Some(3), t(5));
            let id = diff.events[0].id.clone();
            assert_eq!(*first.get_or_insert(id.clone()), id);
        }
    }
}
