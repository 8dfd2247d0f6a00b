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
    let mut state = crate::fixtures::stored(snap(Live, &[]), t(0));
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
        seq: 4,
        ..crate::fixtures::stored(snap(Live, &[]), t(0))
    };
    let plain = diff_campaign("camp_1", Some(&prev), &found(Paused, &[]), t(5));
    let held = diff_confirmed("camp_1", Some(&prev), &found(Paused, &[]), 2, t(4));
    let confirmed = diff_confirmed("camp_1", held.state.as_ref(), &found(Paused, &[]), 2, t(5));
    assert_eq!(confirmed.events, plain.events);
    let state = confirmed.state.unwrap();
    assert_eq!(state.seq, 5);
    assert!(state.pending.is_none());
}
