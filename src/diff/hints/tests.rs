use super::*;
use crate::observe::Agent;
use chrono::TimeZone;
use serde_json::Value;
use std::collections::BTreeSet;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap()
}

/// A paused campaign with nothing worth a hint: active number, live agent.
fn quiet() -> Snapshot {
    Snapshot {
        id: "camp_1".into(),
        name: "Renewals".into(),
        status: CampaignStatus::Paused,
        upload_errors: BTreeSet::new(),
        agent: Some(Agent {
            id: Some("agent_1".into()),
            name: Some("Bot".into()),
            status: Some("Live".into()),
        }),
        caller_number: Some("+15550001111".into()),
        caller_active: Some(true),
        concurrent_calls: Some(3),
        scheduled_date: None,
    }
}

fn codes_of(hints: &[Hint]) -> Vec<&str> {
    hints.iter().map(|hint| hint.code.as_str()).collect()
}

/// The pure function over snapshot facts, missing ones included (the raw
/// API shapes are tabled in tests/it/hints.rs, through the normaliser).
#[test]
fn each_fact_gives_its_hint_and_a_missing_one_none() {
    type Change = fn(&mut Snapshot);
    let cases: Vec<(&str, Change, Change, &[&str])> = vec![
        ("nothing", |_| {}, |_| {}, &[]),
        (
            "inactive",
            |_| {},
            |s| s.caller_active = Some(false),
            &["caller_number_inactive"],
        ),
        ("flag unknown", |_| {}, |s| s.caller_active = None, &[]),
        (
            "inactive, number unknown",
            |_| {},
            |s| {
                s.caller_active = Some(false);
                s.caller_number = None;
            },
            &["caller_number_inactive", "caller_number_changed"],
        ),
        (
            "number changed",
            |_| {},
            |s| s.caller_number = Some("+1999".into()),
            &["caller_number_changed"],
        ),
        ("number appeared", |s| s.caller_number = None, |_| {}, &[]),
        (
            "agent testing",
            |_| {},
            |s| s.agent.as_mut().unwrap().status = Some("Testing".into()),
            &["agent_not_live"],
        ),
        (
            "agent ACTIVE",
            |_| {},
            |s| s.agent.as_mut().unwrap().status = Some(" ACTIVE".into()),
            &[],
        ),
        (
            "agent status missing",
            |_| {},
            |s| s.agent.as_mut().unwrap().status = None,
            &[],
        ),
        (
            "agent replaced",
            |_| {},
            |s| s.agent.as_mut().unwrap().id = Some("agent_2".into()),
            &["agent_changed"],
        ),
        ("agent gone", |_| {}, |s| s.agent = None, &["agent_changed"]),
        (
            "errors appeared",
            |_| {},
            |s| {
                s.upload_errors.insert("Row 2: bad".into());
            },
            &["upload_errors_added"],
        ),
        (
            "scheduled, passed",
            |_| {},
            |s| {
                s.status = CampaignStatus::Scheduled;
                s.scheduled_date = Some("2026-12-01T00:00:00Z".into());
            },
            &["schedule_passed"],
        ),
        (
            "paused, ahead",
            |_| {},
            |s| s.scheduled_date = Some("2027-01-01".into()),
            &["schedule_in_future"],
        ),
        (
            "completed, ahead",
            |_| {},
            |s| {
                s.status = CampaignStatus::Completed;
                s.scheduled_date = Some("2027-01-01T00:00:00.000Z".into());
            },
            &["completed_before_schedule"],
        ),
        (
            "date unreadable",
            |_| {},
            |s| s.scheduled_date = Some("soon".into()),
            &[],
        ),
        (
            "zero calls",
            |_| {},
            |s| s.concurrent_calls = Some(0),
            &["concurrent_calls_zero"],
        ),
        (
            "fewer calls",
            |_| {},
            |s| s.concurrent_calls = Some(1),
            &["concurrent_calls_dropped"],
        ),
        ("calls unknown", |_| {}, |s| s.concurrent_calls = None, &[]),
    ];
    for (label, before, after, expected) in cases {
        let mut previous = quiet();
        before(&mut previous);
        let mut current = quiet();
        after(&mut current);
        assert_eq!(
            codes_of(&hints(Some(&previous), &current, now())),
            expected,
            "{label}"
        );
    }
    // With no previous snapshot only the standing facts count.
    let mut first = quiet();
    first.caller_active = Some(false);
    first.concurrent_calls = Some(0);
    assert_eq!(
        codes_of(&hints(None, &first, now())),
        ["caller_number_inactive", "concurrent_calls_zero"]
    );
}

#[test]
fn codes_are_unique_and_stable() {
    let mut seen: Vec<&str> = HintCode::ALL.iter().map(|code| code.as_str()).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), HintCode::ALL.len());
    assert!(seen
        .iter()
        .all(|code| code.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
}

#[test]
fn only_changes_away_from_live_are_explained() {
    assert!(!explains(&CampaignStatus::Live));
    for status in [
        CampaignStatus::Paused,
        CampaignStatus::Scheduled,
        CampaignStatus::Completed,
        CampaignStatus::Unknown("archived".into()),
    ] {
        assert!(explains(&status), "{status}");
    }
}

#[test]
fn the_published_schema_lists_every_code() {
    let schema: Value = serde_json::from_str(include_str!(
        "../../../schemas/webhook-payload-v1.schema.json"
    ))
    .unwrap();
    let listed: Vec<&str> = schema["properties"]["hints"]["items"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let codes: Vec<&str> = HintCode::ALL.iter().map(|code| code.as_str()).collect();
    assert_eq!(listed, codes);
}
