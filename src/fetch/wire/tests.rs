use super::*;
use serde_json::json;

fn base() -> Value {
    json!({
        "campaignId": "camp_Ab12Cd34Ef56Gh78",
        "campaignName": "Renewals May",
        "campaignStatus": "paused",
        "scheduledDate": null,
        "concurrentCalls": 3,
        "agent": {"name": "Renewal Bot", "agentId": "agent_Zz9", "status": "Live"},
        "phoneNumber": {"sipPhoneNumber": "+15550001111", "outboundPhoneNumber": "+15550002222"},
        "errors": [],
        "scheduled": false
    })
}

fn with(changes: Value) -> Value {
    let mut campaign = base();
    if let (Value::Object(target), Value::Object(changes)) = (&mut campaign, changes) {
        for (key, value) in changes {
            target.insert(key, value);
        }
    }
    campaign
}

fn without(field: &str) -> Value {
    let mut campaign = base();
    if let Value::Object(target) = &mut campaign {
        target.remove(field);
    }
    campaign
}

#[test]
fn the_documented_example_normalises() {
    let snapshot = normalise_campaign(&base()).unwrap();
    assert_eq!(
        snapshot,
        Snapshot {
            id: "camp_Ab12Cd34Ef56Gh78".into(),
            name: "Renewals May".into(),
            status: CampaignStatus::Paused,
            upload_errors: BTreeSet::new(),
            agent: Some(Agent {
                id: Some("agent_Zz9".into()),
                name: Some("Renewal Bot".into()),
                status: Some("Live".into()),
            }),
            caller_number: Some("+15550001111".into()),
            caller_active: None,
            concurrent_calls: Some(3),
            scheduled_date: None,
        }
    );
}

#[test]
fn caller_number_tolerates_every_phone_number_shape() {
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        ("object", base(), Some("+15550001111")),
        (
            "string Object",
            with(json!({"phoneNumber": "Object"})),
            None,
        ),
        ("null", with(json!({"phoneNumber": null})), None),
        ("missing", without("phoneNumber"), None),
        ("array", with(json!({"phoneNumber": []})), None),
        (
            "bare number",
            with(json!({"phoneNumber": {"sipPhoneNumber": 14155552671u64}})),
            Some("+14155552671"),
        ),
        (
            "float number",
            with(json!({"phoneNumber": {"sipPhoneNumber": 14155552671.0}})),
            Some("+14155552671"),
        ),
        (
            "digits as text",
            with(json!({"phoneNumber": {"sipPhoneNumber": " 14155552671 "}})),
            Some("+14155552671"),
        ),
        (
            "outbound fallback",
            with(json!({"phoneNumber": {"outboundPhoneNumber": 15550002222u64}})),
            Some("+15550002222"),
        ),
        (
            "null sip falls back",
            with(
                json!({"phoneNumber": {"sipPhoneNumber": null, "outboundPhoneNumber": "+15550002222"}}),
            ),
            Some("+15550002222"),
        ),
        ("empty object", with(json!({"phoneNumber": {}})), None),
        (
            "negative number",
            with(json!({"phoneNumber": {"sipPhoneNumber": -5}})),
            None,
        ),
    ];
    for (label, campaign, expected) in cases {
        let snapshot = normalise_campaign(&campaign).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(snapshot.caller_number.as_deref(), expected, "{label}");
    }
}

#[test]
fn upload_errors_tolerate_null_missing_and_duplicates() {
    let row = "Row 3: invalid phone number".to_string();
    let cases: Vec<(&str, Value, BTreeSet<String>)> = vec![
        ("empty", base(), BTreeSet::new()),
        ("null", with(json!({"errors": null})), BTreeSet::new()),
        ("missing", without("errors"), BTreeSet::new()),
        (
            "rows",
            with(json!({"errors": [row, "Row 9: x", row]})),
            BTreeSet::from([row.clone(), "Row 9: x".into()]),
        ),
        (
            "single string",
            with(json!({"errors": row})),
            BTreeSet::from([row.clone()]),
        ),
        (
            "null entries",
            with(json!({"errors": [null, row]})),
            BTreeSet::from([row.clone()]),
        ),
        (
            "odd entry",
            with(json!({"errors": [7]})),
            BTreeSet::from(["7".to_string()]),
        ),
    ];
    for (label, campaign, expected) in cases {
        assert_eq!(
            normalise_campaign(&campaign).unwrap().upload_errors,
            expected,
            "{label}"
        );
    }
}

#[test]
fn status_and_schedule_variations() {
    let cases: Vec<(&str, Value, CampaignStatus, Option<&str>)> = vec![
        (
            "live",
            with(json!({"campaignStatus": "live"})),
            CampaignStatus::Live,
            None,
        ),
        (
            "upper case",
            with(
                json!({"campaignStatus": "SCHEDULED", "scheduledDate": "2026-05-01T09:00:00.000Z"}),
            ),
            CampaignStatus::Scheduled,
            Some("2026-05-01T09:00:00.000Z"),
        ),
        (
            "date only",
            with(json!({"campaignStatus": "scheduled", "scheduledDate": "2026-05-01"})),
            CampaignStatus::Scheduled,
            Some("2026-05-01"),
        ),
        (
            "missing date",
            without("scheduledDate"),
            CampaignStatus::Paused,
            None,
        ),
        (
            "completed",
            with(json!({"campaignStatus": "completed"})),
            CampaignStatus::Completed,
            None,
        ),
        (
            "unknown",
            with(json!({"campaignStatus": "archived"})),
            CampaignStatus::Unknown("archived".into()),
            None,
        ),
    ];
    for (label, campaign, status, date) in cases {
        let snapshot = normalise_campaign(&campaign).unwrap();
        assert_eq!(snapshot.status, status, "{label}");
        assert_eq!(snapshot.scheduled_date.as_deref(), date, "{label}");
    }
}

#[test]
fn agent_parts_may_be_missing() {
    let cases: Vec<(&str, Value, Option<Agent>)> = vec![
        ("missing", without("agent"), None),
        ("null", with(json!({"agent": null})), None),
        ("empty", with(json!({"agent": {}})), Some(Agent::default())),
        (
            "testing, bare id",
            with(json!({"agent": {"agentId": "Zz9", "status": "Testing"}})),
            Some(Agent {
                id: Some("Zz9".into()),
                name: None,
                status: Some("Testing".into()),
            }),
        ),
        (
            "agentName",
            with(json!({"agent": {"agentName": "Bot", "status": "active"}})),
            Some(Agent {
                id: None,
                name: Some("Bot".into()),
                status: Some("active".into()),
            }),
        ),
    ];
    for (label, campaign, expected) in cases {
        assert_eq!(
            normalise_campaign(&campaign).unwrap().agent,
            expected,
            "{label}"
        );
    }
}

#[test]
fn ids_names_and_extra_fields() {
    for id in ["XiQE12", "camp-XiQE12", "camp_XiQE12"] {
        let snapshot = normalise_campaign(&with(
            json!({"campaignId": id, "recordingUrl": "x", "dynamicVariables": {}}),
        ))
        .unwrap();
        assert_eq!(snapshot.id, id);
    }
    let unnamed = normalise_campaign(&without("campaignName")).unwrap();
    assert_eq!(unnamed.name, "camp_Ab12Cd34Ef56Gh78");
    let blank = normalise_campaign(&with(json!({"campaignName": "  "}))).unwrap();
    assert_eq!(blank.name, "camp_Ab12Cd34Ef56Gh78");
    let text_calls = normalise_campaign(&with(json!({"concurrentCalls": "5"}))).unwrap();
    assert_eq!(text_calls.concurrent_calls, Some(5));
}

#[test]
fn required_fields_fail_naming_the_field() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("no id", without("campaignId"), "campaignId"),
        ("null id", with(json!({"campaignId": null})), "campaignId"),
        ("empty id", with(json!({"campaignId": ""})), "campaignId"),
        ("no status", without("campaignStatus"), "campaignStatus"),
        (
            "null status",
            with(json!({"campaignStatus": null})),
            "campaignStatus",
        ),
        (
            "numeric status",
            with(json!({"campaignStatus": 3})),
            "campaignStatus",
        ),
        ("not an object", json!("Object"), "instead of an object"),
    ];
    for (label, campaign, needle) in cases {
        let error = normalise_campaign(&campaign).unwrap_err().to_string();
        assert!(error.contains(needle), "{label}: {error}");
    }
    assert_eq!(
        campaign_id_of(&without("campaignStatus")).as_deref(),
        Some("camp_Ab12Cd34Ef56Gh78")
    );
    assert_eq!(campaign_id_of(&without("campaignId")), None);
    assert_eq!(
        campaign_id_of(&with(json!({"campaignId": 42}))).as_deref(),
        Some("42")
    );
}

/// Items, totalCount, totalPages, hasNext, or a text the error must contain.
type PageExpectation = Result<(usize, Option<u64>, Option<u64>, Option<bool>), &'static str>;

#[test]
fn list_wrapper_variations() {
    let cases: Vec<(&str, Value, PageExpectation)> = vec![
        (
            "full",
            json!({"data": [base()], "page": 1, "size": 25, "totalCount": 40, "totalPages": 2, "hasNext": false, "hasPrevious": true}),
            Ok((1, Some(40), Some(2), Some(false))),
        ),
        ("minimal", json!({"data": []}), Ok((0, None, None, None))),
        (
            "totalCounts",
            json!({"data": [], "totalCounts": 7}),
            Ok((0, Some(7), None, None)),
        ),
        (
            "null data",
            json!({"data": null, "hasNext": false}),
            Ok((0, None, None, Some(false))),
        ),
        ("no data", json!({"content": []}), Err("no \"data\"")),
        (
            "data object",
            json!({"data": {}}),
            Err("instead of an array"),
        ),
        ("array", json!([]), Err("instead of an object")),
    ];
    for (label, answer, expected) in cases {
        let parsed = parse_page(answer)
            .map(|page| {
                (
                    page.items.len(),
                    page.total_count,
                    page.total_pages,
                    page.has_next,
                )
            })
            .map_err(|e| e.to_string());
        match (parsed, expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{label}"),
            (Err(got), Err(needle)) => assert!(got.contains(needle), "{label}: {got}"),
            (got, want) => panic!("{label}: got {got:?}, want {want:?}"),
        }
    }
}
