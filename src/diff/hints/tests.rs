use super::*;
use crate::fetch::wire::normalise_campaign;
use chrono::TimeZone;
use serde_json::{json, Value};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap()
}

/// A campaign as the API sends it (the documented example), with `changes` merged in.
fn campaign(changes: Value) -> Value {
    let mut campaign = json!({
        "campaignId": "camp_Ab12",
        "campaignName": "Renewals May",
        "campaignStatus": "paused",
        "scheduledDate": null,
        "concurrentCalls": 3,
        "agent": {"name": "Renewal Bot", "agentId": "agent_Zz9", "status": "Live"},
        "phoneNumber": {"sipPhoneNumber": "+15550001111", "provider": "telnyx", "active": true},
        "errors": [],
        "scheduled": false
    });
    if let (Value::Object(target), Value::Object(changes)) = (&mut campaign, changes) {
        for (key, value) in changes {
            if value == json!("<remove>") {
                target.remove(&key);
            } else {
                target.insert(key, value);
            }
        }
    }
    campaign
}

fn snapshot(changes: Value) -> Snapshot {
    normalise_campaign(&campaign(changes)).unwrap()
}

fn codes(previous: Option<&Snapshot>, current: &Snapshot) -> Vec<&'static str> {
    let known: Vec<&'static str> = HintCode::ALL.iter().map(|code| code.as_str()).collect();
    hints(previous, current, now())
        .iter()
        .map(|hint| {
            *known
                .iter()
                .find(|code| **code == hint.code)
                .unwrap_or_else(|| panic!("unlisted code {}", hint.code))
        })
        .collect()
}

#[test]
fn standing_facts_over_the_api_shape_variations() {
    let cases: Vec<(&str, Value, &[&str])> = vec![
        ("the documented example", json!({}), &[]),
        (
            "inactive number",
            json!({"phoneNumber": {"sipPhoneNumber": "+15550001111", "active": false}}),
            &["caller_number_inactive"],
        ),
        (
            "inactive, flag as text",
            json!({"phoneNumber": {"sipPhoneNumber": 15550001111u64, "active": "false"}}),
            &["caller_number_inactive"],
        ),
        (
            "inactive, no number",
            json!({"phoneNumber": {"active": false}}),
            &["caller_number_inactive"],
        ),
        (
            "phoneNumber is the string Object",
            json!({"phoneNumber": "Object"}),
            &[],
        ),
        ("phoneNumber null", json!({"phoneNumber": null}), &[]),
        (
            "phoneNumber missing",
            json!({"phoneNumber": "<remove>"}),
            &[],
        ),
        (
            "active missing",
            json!({"phoneNumber": {"sipPhoneNumber": "+15550001111"}}),
            &[],
        ),
        (
            "active is neither true nor false",
            json!({"phoneNumber": {"sipPhoneNumber": "+1555", "active": "maybe"}}),
            &[],
        ),
        (
            "agent Testing",
            json!({"agent": {"name": "Bot", "agentId": "a", "status": "Testing"}}),
            &["agent_not_live"],
        ),
        (
            "agent active (old docs)",
            json!({"agent": {"name": "Bot", "agentId": "a", "status": "active"}}),
            &[],
        ),
        (
            "agent LIVE, padded",
            json!({"agent": {"name": "Bot", "agentId": "a", "status": " LIVE "}}),
            &[],
        ),
        (
            "agent status unknown to the docs",
            json!({"agent": {"agentId": "a", "status": "suspended"}}),
            &["agent_not_live"],
        ),
        (
            "agent status missing",
            json!({"agent": {"agentId": "a"}}),
            &[],
        ),
        (
            "agent status empty",
            json!({"agent": {"agentId": "a", "status": "  "}}),
            &[],
        ),
        ("agent null", json!({"agent": null}), &[]),
        (
            "concurrentCalls 0",
            json!({"concurrentCalls": 0}),
            &["concurrent_calls_zero"],
        ),
        (
            "concurrentCalls \"0\"",
            json!({"concurrentCalls": "0"}),
            &["concurrent_calls_zero"],
        ),
        (
            "concurrentCalls missing",
            json!({"concurrentCalls": "<remove>"}),
            &[],
        ),
        (
            "paused before a future launch",
            json!({"scheduledDate": "2027-03-02T09:30:00.000Z"}),
            &["schedule_in_future"],
        ),
        (
            "paused, launch passed",
            json!({"scheduledDate": "2026-03-02T09:30:00.000Z"}),
            &[],
        ),
        (
            "scheduled, date passed",
            json!({"campaignStatus": "scheduled", "scheduledDate": "2026-12-01T08:00:00Z"}),
            &["schedule_passed"],
        ),
        (
            "scheduled, date-only passed",
            json!({"campaignStatus": "scheduled", "scheduledDate": "2026-11-30"}),
            &["schedule_passed"],
        ),
        (
            "scheduled, date-only today (any zone): too close to tell",
            json!({"campaignStatus": "scheduled", "scheduledDate": "2026-12-02"}),
            &[],
        ),
        (
            "scheduled, zoneless time 10 hours ago: too close to tell",
            json!({"campaignStatus": "scheduled", "scheduledDate": "2026-12-01T23:00:00"}),
            &[],
        ),
        (
            "scheduled, zoneless time two days ago",
            json!({"campaignStatus": "scheduled", "scheduledDate": "2026-11-30T09:00:00"}),
            &["schedule_passed"],
        ),
        (
            "scheduled, date unreadable",
            json!({"campaignStatus": "scheduled", "scheduledDate": "next Tuesday"}),
            &[],
        ),
        (
            "scheduled, future",
            json!({"campaignStatus": "scheduled", "scheduledDate": "2027-03-02"}),
            &[],
        ),
        (
            "completed before its date",
            json!({"campaignStatus": "completed", "scheduledDate": "2027-03-02"}),
            &["completed_before_schedule"],
        ),
        (
            "everything at once, in order",
            json!({
                "phoneNumber": {"sipPhoneNumber": "+1555", "active": false},
                "agent": {"agentId": "a", "status": "Testing"},
                "scheduledDate": "2027-03-02",
                "concurrentCalls": 0
            }),
            &[
                "caller_number_inactive",
                "agent_not_live",
                "schedule_in_future",
                "concurrent_calls_zero",
            ],
        ),
    ];
    for (label, changes, expected) in cases {
        let current = snapshot(changes);
        assert_eq!(codes(None, &current), expected, "{label} (first sighting)");
        // The same facts with an unchanged previous snapshot: nothing more.
        assert_eq!(
            codes(Some(&current), &current),
            expected,
            "{label} (unchanged)"
        );
    }
}

#[test]
fn changes_since_the_last_check() {
    let cases: Vec<(&str, Value, Value, &[&str])> = vec![
        (
            "caller number changed",
            json!({}),
            json!({"phoneNumber": {"sipPhoneNumber": "+15550009999", "active": true}}),
            &["caller_number_changed"],
        ),
        (
            "caller number gone (string Object)",
            json!({}),
            json!({"phoneNumber": "Object"}),
            &["caller_number_changed"],
        ),
        (
            "caller number appeared: not a change worth a hint",
            json!({"phoneNumber": "Object"}),
            json!({}),
            &[],
        ),
        (
            "same number, bare digits then text",
            json!({"phoneNumber": {"sipPhoneNumber": 15550001111u64}}),
            json!({}),
            &[],
        ),
        (
            "agent changed",
            json!({}),
            json!({"agent": {"name": "Other Bot", "agentId": "agent_Other", "status": "Live"}}),
            &["agent_changed"],
        ),
        (
            "agent renamed, same id: not changed",
            json!({}),
            json!({"agent": {"name": "Renamed", "agentId": "agent_Zz9", "status": "Live"}}),
            &[],
        ),
        (
            "agent gone",
            json!({}),
            json!({"agent": null}),
            &["agent_changed"],
        ),
        (
            "agent known by name only, renamed",
            json!({"agent": {"name": "A", "status": "Live"}}),
            json!({"agent": {"name": "B", "status": "Live"}}),
            &["agent_changed"],
        ),
        (
            "upload errors appeared",
            json!({"errors": ["Row 1: bad"]}),
            json!({"errors": ["Row 1: bad", "Row 2: bad", "Row 3: bad"]}),
            &["upload_errors_added"],
        ),
        (
            "upload errors fewer: no hint",
            json!({"errors": ["Row 1: bad", "Row 2: bad"]}),
            json!({"errors": ["Row 1: bad"]}),
            &[],
        ),
        (
            "concurrency dropped",
            json!({"concurrentCalls": 5}),
            json!({"concurrentCalls": 2}),
            &["concurrent_calls_dropped"],
        ),
        (
            "concurrency dropped to 0: said once",
            json!({"concurrentCalls": 5}),
            json!({"concurrentCalls": 0}),
            &["concurrent_calls_zero"],
        ),
        (
            "concurrency raised",
            json!({"concurrentCalls": 2}),
            json!({"concurrentCalls": 5}),
            &[],
        ),
    ];
    for (label, before, after, expected) in cases {
        let previous = snapshot(before);
        assert_eq!(
            codes(Some(&previous), &snapshot(after)),
            expected,
            "{label}"
        );
    }
}

#[test]
fn sentences_say_the_facts_as_possible_causes() {
    let previous = snapshot(json!({"errors": ["Row 1: bad"]}));
    let current = snapshot(json!({
        "phoneNumber": {"sipPhoneNumber": "+15550001111", "active": false},
        "errors": ["Row 1: bad", "Row 2: bad"],
    }));
    let texts: Vec<String> = hints(Some(&previous), &current, now())
        .into_iter()
        .map(|hint| hint.text)
        .collect();
    assert_eq!(
        texts,
        [
            "The caller number \"+15550001111\" is marked inactive by the API (phoneNumber.active is false): calls may not go out from it.",
            "1 upload error appeared in the same check (2 in all): rows the upload rejected are not dialled.",
        ]
    );
}

#[test]
fn quoted_api_text_is_cut() {
    let long = "x".repeat(5_000);
    let current = snapshot(json!({"agent": {"name": long, "status": "Testing\u{202e}"}}));
    let hint = &hints(None, &current, now())[0];
    assert_eq!(hint.code, "agent_not_live");
    assert!(hint.text.chars().count() < 300, "{}", hint.text.len());
    assert!(hint.text.contains('…'));
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
