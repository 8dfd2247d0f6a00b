use super::*;
use crate::observe::{CampaignStatus, FetchFailure};
use chrono::TimeZone;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 15, 2).unwrap()
}

fn snapshot(status: CampaignStatus, errors: &[&str]) -> Snapshot {
    Snapshot {
        upload_errors: errors.iter().map(|e| e.to_string()).collect(),
        caller_number: Some("+14155552671".into()),
        concurrent_calls: Some(3),
        ..crate::fixtures::snapshot("camp_1", "Q4 Outreach", status)
    }
}

fn stored(snapshot: Snapshot) -> CampaignState {
    CampaignState {
        seq: 7,
        ..crate::fixtures::stored(snapshot, now())
    }
}

fn statuses() -> Vec<CampaignStatus> {
    vec![
        CampaignStatus::Live,
        CampaignStatus::Scheduled,
        CampaignStatus::Paused,
        CampaignStatus::Completed,
        CampaignStatus::Unknown("archived".into()),
    ]
}

#[test]
fn every_status_pair_gives_one_event_or_none() {
    for from in statuses() {
        for to in statuses() {
            let prev = stored(snapshot(from.clone(), &[]));
            let out = diff_campaign(
                "camp_1",
                Some(&prev),
                &Observation::Found(snapshot(to.clone(), &[])),
                now(),
            );
            if from == to {
                assert!(out.events.is_empty(), "{from}->{to} must be silent");
                assert!(out.state.is_none(), "{from}->{to} must not rewrite state");
                continue;
            }
            assert_eq!(out.events.len(), 1, "{from}->{to}");
            let event = &out.events[0];
            assert_eq!(event.kind, EventType::StatusChanged);
            assert_eq!(event.transition(), Some((&from, &to)));
            assert_eq!(
                event.summary,
                format!("Q4 Outreach (camp_1): {from} -> {to}")
            );
            let state = out.state.expect("a change is stored");
            assert_eq!(state.seq, 8);
            assert_eq!(state.snapshot.status, to);
        }
    }
}

#[test]
fn first_sighting_is_a_silent_baseline() {
    let out = diff_campaign(
        "camp_1",
        None,
        &Observation::Found(snapshot(CampaignStatus::Paused, &["Row 2: bad"])),
        now(),
    );
    assert!(out.events.is_empty());
    assert_eq!(out.state.unwrap().seq, 0);
}

#[test]
fn upload_errors_are_compared_as_sets() {
    struct Case {
        before: &'static [&'static str],
        after: &'static [&'static str],
        expect: &'static [EventType],
        added: &'static [&'static str],
    }
    let cases = [
        Case {
            before: &[],
            after: &["Row 2: bad phone"],
            expect: &[EventType::UploadErrorsAdded],
            added: &["Row 2: bad phone"],
        },
        Case {
            before: &["a", "b"],
            after: &["b", "a", "a"],
            expect: &[],
            added: &[],
        },
        Case {
            before: &["a"],
            after: &["a", "b"],
            expect: &[EventType::UploadErrorsAdded],
            added: &["b"],
        },
        Case {
            before: &["a", "b"],
            after: &["b"],
            expect: &[],
            added: &[],
        },
        Case {
            before: &["a", "b"],
            after: &[],
            expect: &[EventType::UploadErrorsCleared],
            added: &[],
        },
        Case {
            before: &["a"],
            after: &["b"],
            expect: &[EventType::UploadErrorsAdded],
            added: &["b"],
        },
    ];
    for case in cases {
        let prev = stored(snapshot(CampaignStatus::Live, case.before));
        let out = diff_campaign(
            "camp_1",
            Some(&prev),
            &Observation::Found(snapshot(CampaignStatus::Live, case.after)),
            now(),
        );
        let kinds: Vec<EventType> = out.events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, case.expect, "{:?} -> {:?}", case.before, case.after);
        if let Some(event) = out.events.first() {
            assert_eq!(event.upload_errors.added, case.added);
        }
    }
}

#[test]
fn settings_changes_list_each_field() {
    let prev = stored(snapshot(CampaignStatus::Live, &[]));
    let mut next = snapshot(CampaignStatus::Live, &[]);
    next.name = "Q4 Outreach (EU)".into();
    next.concurrent_calls = Some(5);
    let out = diff_campaign("camp_1", Some(&prev), &Observation::Found(next), now());
    assert_eq!(out.events.len(), 1);
    let event = &out.events[0];
    assert_eq!(event.kind, EventType::SettingsChanged);
    let fields: Vec<&str> = event.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["name", "concurrent_calls"]);
    assert_eq!(event.changes[1].from, json!(3));
    assert_eq!(event.changes[1].to, json!(5));
}

#[test]
fn failures_change_nothing_and_404_is_announced_once() {
    let prev = stored(snapshot(CampaignStatus::Live, &[]));
    let failed = Observation::Failed(FetchFailure {
        reason: "timeout".into(),
        auth_rejected: false,
    });
    assert_eq!(
        diff_campaign("camp_1", Some(&prev), &failed, now()),
        CampaignDiff::default()
    );

    let gone = diff_campaign("camp_1", Some(&prev), &Observation::NotFound, now());
    assert_eq!(gone.events.len(), 1);
    assert_eq!(gone.events[0].kind, EventType::NotFound);
    let gone_state = gone.state.unwrap();
    assert!(gone_state.not_found);
    let again = diff_campaign("camp_1", Some(&gone_state), &Observation::NotFound, now());
    assert!(again.events.is_empty() && again.state.is_none());
    assert_eq!(
        diff_campaign("camp_x", None, &Observation::NotFound, now()),
        CampaignDiff::default()
    );
}

/// A campaign announced as not found that answers again is announced once,
/// with whatever else changed meanwhile as its own events.
#[test]
fn a_campaign_found_again_after_404_is_announced() {
    let prev = stored(snapshot(CampaignStatus::Live, &[]));
    let gone = diff_campaign("camp_1", Some(&prev), &Observation::NotFound, now())
        .state
        .unwrap();

    let same = Observation::Found(snapshot(CampaignStatus::Live, &[]));
    let back = diff_campaign("camp_1", Some(&gone), &same, now());
    let kinds: Vec<EventType> = back.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventType::FoundAgain]);
    let campaign = back.events[0].campaign.as_ref().unwrap();
    assert_eq!(campaign.status, CampaignStatus::Live);
    let back_state = back.state.unwrap();
    assert!(!back_state.not_found);
    assert_eq!(back_state.seq, gone.seq + 1);
    assert!(diff_campaign("camp_1", Some(&back_state), &same, now())
        .events
        .is_empty());

    let paused = Observation::Found(snapshot(CampaignStatus::Paused, &[]));
    let kinds: Vec<EventType> = diff_campaign("camp_1", Some(&gone), &paused, now())
        .events
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [EventType::FoundAgain, EventType::StatusChanged]);

    // A second disappearance and return get ids of their own.
    let gone_again = diff_campaign("camp_1", Some(&back_state), &Observation::NotFound, now())
        .state
        .unwrap();
    let back_again = diff_campaign("camp_1", Some(&gone_again), &same, now());
    assert_ne!(back_again.events[0].id, back.events[0].id);
}

#[test]
fn the_same_transition_from_the_same_state_has_the_same_id() {
    let prev = stored(snapshot(CampaignStatus::Live, &[]));
    let obs = Observation::Found(snapshot(CampaignStatus::Paused, &[]));
    let first = diff_campaign("camp_1", Some(&prev), &obs, now());
    let retry = diff_campaign("camp_1", Some(&prev), &obs, now());
    assert_eq!(first.events[0].id, retry.events[0].id);
    let mut later = prev.clone();
    later.seq += 2;
    let other = diff_campaign("camp_1", Some(&later), &obs, now());
    assert_ne!(first.events[0].id, other.events[0].id);
}

#[test]
fn a_pause_carries_its_hints_and_the_state_keeps_them() {
    let prev = stored(snapshot(CampaignStatus::Live, &[]));
    let mut paused = snapshot(CampaignStatus::Paused, &[]);
    paused.caller_active = Some(false);
    let out = diff_campaign(
        "camp_1",
        Some(&prev),
        &Observation::Found(paused.clone()),
        now(),
    );
    let codes: Vec<&str> = out.events[0]
        .hints
        .iter()
        .map(|h| h.code.as_str())
        .collect();
    assert_eq!(codes, ["caller_number_inactive"]);
    let state = out.state.unwrap();
    assert_eq!(state.hints, out.events[0].hints);

    // Another change while paused: its event has no hints, the state keeps the pause's.
    let mut renamed = paused.clone();
    renamed.name = "Q4 Outreach (EU)".into();
    let later = diff_campaign("camp_1", Some(&state), &Observation::Found(renamed), now());
    assert_eq!(later.events[0].kind, EventType::SettingsChanged);
    assert!(later.events[0].hints.is_empty());
    assert_eq!(later.state.unwrap().hints, state.hints);

    // Going live again: nothing to explain, nothing kept.
    let mut live = paused;
    live.status = CampaignStatus::Live;
    let back = diff_campaign("camp_1", Some(&state), &Observation::Found(live), now());
    assert!(back.events[0].hints.is_empty());
    assert!(back.state.unwrap().hints.is_empty());
}

/// A state stored before `caller_active` existed, read again by this
/// release: the flag is learnt silently, with no event and no sequence
/// bump (event ids stay those the old release would give), and a real
/// change in the same reading keeps the old release's id.
#[test]
fn a_state_from_before_the_new_fields_upgrades_silently() {
    let old_json = r#"{"snapshot":{"id":"camp_1","name":"Q4 Outreach","status":"live",
        "upload_errors":[],"agent":null,"caller_number":"+14155552671",
        "concurrent_calls":3,"scheduled_date":null},
        "seq":7,"not_found":false,"changed_at":"2026-11-26T09:15:02Z"}"#;
    let old: CampaignState = serde_json::from_str(old_json).unwrap();
    assert!(old.hints.is_empty());
    for confirm_polls in [1, 3] {
        let mut seen = snapshot(CampaignStatus::Live, &[]);
        seen.caller_active = Some(true);
        let observation = Observation::Found(seen.clone());
        let out =
            debounce::diff_confirmed("camp_1", Some(&old), &observation, confirm_polls, now());
        assert!(out.events.is_empty(), "confirm_polls {confirm_polls}");
        let state = out.state.expect("the learnt flag is stored once");
        assert_eq!(state.seq, old.seq);
        assert_eq!(state.snapshot, seen);
        assert!(state.pending.is_none());
        assert_eq!(state.changed_at, old.changed_at);
        let again =
            debounce::diff_confirmed("camp_1", Some(&state), &observation, confirm_polls, now());
        assert_eq!(again, CampaignDiff::default());
    }

    // A pause read in the same cycle: the id the old release gives it.
    let mut paused = snapshot(CampaignStatus::Paused, &[]);
    let old_release = diff_campaign(
        "camp_1",
        Some(&old),
        &Observation::Found(paused.clone()),
        now(),
    );
    paused.caller_active = Some(true);
    let this_release = diff_campaign("camp_1", Some(&old), &Observation::Found(paused), now());
    let kinds: Vec<EventType> = this_release.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventType::StatusChanged]);
    assert_eq!(this_release.events[0].id, old_release.events[0].id);
}

#[test]
fn api_health_trips_after_threshold_or_at_once_on_auth() {
    let down = CycleVerdict::Unreadable {
        reason: "HTTP 503".into(),
        auth_rejected: false,
    };
    let mut health = ApiHealth::default();
    let mut events = vec![];
    for _ in 0..4 {
        let (next, event) = assess_health(&health, &down, 3, now());
        health = next;
        events.extend(event);
    }
    assert_eq!(events.len(), 1, "one unhealthy event, not one per cycle");
    assert_eq!(events[0].kind, EventType::ApiUnhealthy);
    assert!(events[0].campaign.is_none());

    let (recovered, event) = assess_health(&health, &CycleVerdict::Readable, 3, now());
    assert_eq!(event.unwrap().kind, EventType::ApiRecovered);
    assert!(!recovered.unhealthy);
    assert_eq!(
        assess_health(&recovered, &CycleVerdict::Readable, 3, now()).1,
        None
    );

    let rejected = CycleVerdict::Unreadable {
        reason: "the SigmaMind API rejected the API key (HTTP 401)".into(),
        auth_rejected: true,
    };
    let (after_auth, event) = assess_health(&recovered, &rejected, 3, now());
    assert!(after_auth.unhealthy);
    let event = event.unwrap();
    assert_eq!(event.kind, EventType::ApiUnhealthy);
    // Said once, not "…rejected the API key: the SigmaMind API rejected the API key…".
    assert_eq!(
        event.summary,
        "The SigmaMind API rejected the API key (HTTP 401)"
    );
}
