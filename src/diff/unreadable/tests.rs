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
    let mut state = crate::fixtures::stored(snap(CampaignStatus::Live), t(0));
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

use EventType::{CampaignReadable as Readable, CampaignUnreadable as Unreadable, StatusChanged};

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
