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
mod tests {
    use super::*;
    use crate::event::EventType;
    use crate::observe::{CampaignStatus, FetchFailure, Snapshot};
    use chrono::{TimeDelta, TimeZone};

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap() + TimeDelta::minutes(minute)
    }

    fn snap(status: CampaignStatus, errors: &[&str]) -> Snapshot {
        Snapshot {
            upload_errors: errors.iter().map(|e| e.to_string()).collect(),
            ..crate::fixtures::snapshot("camp_1", "Q4", status)
        }
    }

    use CampaignStatus::{Live, Paused};

    /// Feed a sequence of observations one poll a minute; return the event types per poll.
    fn run(confirm: u32, polls: &[Observation]) -> Vec<Vec<EventType>> {
        let mut state = CampaignState {
            snapshot: snap(Live, &[]),
            seq: 1,
            not_found: false,
            changed_at: t(0),
            pending: None,
            hints: Vec::new(),
            reads: Default::default(),
        };
        let mut out = vec![];
        for (minute, observation) in polls.iter().enumerate() {
            let diff = diff_confirmed(
                "camp_1",
                Some(&state),
                observation,
                confirm,
                t(minute as i64 + 1),
            );
            if let Some(next) = diff.state {
                // Round-trip through JSON as the store does: the count survives a restart.
                state = serde_json::from_str(&serde_json::to_string(&next).unwrap()).unwrap();
            }
            out.push(diff.events.iter().map(|e| e.kind).collect());
        }
        out
    }

    fn found(status: CampaignStatus, errors: &[&str]) -> Observation {
        Observation::Found(snap(status, errors))
    }

    #[test]
    fn a_change_counts_after_n_consecutive_polls_and_flaps_are_silent() {
        let s = EventType::StatusChanged;
        let e = EventType::UploadErrorsAdded;
        let n = EventType::NotFound;
        let back = EventType::FoundAgain;
        let failed = Observation::Failed(FetchFailure {
            reason: "timeout".into(),
            auth_rejected: false,
        });
        let cases: Vec<(u32, Vec<Observation>, Vec<Vec<EventType>>)> = vec![
            (1, vec![found(Paused, &[])], vec![vec![s]]),
            (
                3,
                vec![
                    found(Paused, &[]),
                    found(Paused, &[]),
                    found(Paused, &[]),
                    found(Paused, &[]),
                ],
                vec![vec![], vec![], vec![s], vec![]],
            ),
            // live -> paused -> live inside N polls: nothing at all
            (
                3,
                vec![
                    found(Paused, &[]),
                    found(Paused, &[]),
                    found(Live, &[]),
                    found(Live, &[]),
                    found(Live, &[]),
                ],
                vec![vec![], vec![], vec![], vec![], vec![]],
            ),
            // a different candidate restarts the count
            (
                2,
                vec![
                    found(Paused, &[]),
                    found(Live, &["Row 2"]),
                    found(Live, &["Row 2"]),
                ],
                vec![vec![], vec![], vec![e]],
            ),
            // upload errors are confirmed the same way
            (
                2,
                vec![
                    found(Live, &["Row 2"]),
                    found(Live, &[]),
                    found(Live, &["Row 2"]),
                    found(Live, &["Row 2"]),
                ],
                vec![vec![], vec![], vec![], vec![e]],
            ),
            // a failed read neither counts nor resets
            (
                2,
                vec![found(Paused, &[]), failed.clone(), found(Paused, &[])],
                vec![vec![], vec![], vec![s]],
            ),
            // a 404 is never held back; the return is, with what changed meanwhile
            (
                3,
                vec![
                    Observation::NotFound,
                    found(Live, &[]),
                    found(Live, &[]),
                    found(Live, &[]),
                ],
                vec![vec![n], vec![], vec![], vec![back]],
            ),
            (
                2,
                vec![
                    Observation::NotFound,
                    found(Paused, &[]),
                    found(Paused, &[]),
                ],
                vec![vec![n], vec![], vec![back, s]],
            ),
            // gone again before the return is confirmed: the count starts over
            (
                2,
                vec![
                    Observation::NotFound,
                    found(Live, &[]),
                    Observation::NotFound,
                    found(Live, &[]),
                    found(Live, &[]),
                ],
                vec![vec![n], vec![], vec![], vec![], vec![back]],
            ),
            (
                1,
                vec![Observation::NotFound, found(Live, &[])],
                vec![vec![n], vec![back]],
            ),
        ];
        for (confirm, polls, expected) in cases {
            assert_eq!(
                run(confirm, &polls),
                expected,
                "confirm_polls = {confirm}: {polls:?}"
            );
        }
    }

    #[test]
    fn the_confirmed_event_has_the_id_an_undebounced_diff_would_give() {
        let prev = CampaignState {
            snapshot: snap(Live, &[]),
            seq: 4,
            not_found: false,
            changed_at: t(0),
            pending: None,
            hints: Vec::new(),
            reads: Default::default(),
        };
        let plain = diff_campaign("camp_1", Some(&prev), &found(Paused, &[]), t(5));
        let held = diff_confirmed("camp_1", Some(&prev), &found(Paused, &[]), 2, t(4));
        let confirmed = diff_confirmed("camp_1", held.state.as_ref(), &found(Paused, &[]), 2, t(5));
        assert_eq!(confirmed.events, plain.events);
        let state = confirmed.state.unwrap();
        assert_eq!(state.seq, 5);
        assert!(state.pending.is_none());
    }
}
