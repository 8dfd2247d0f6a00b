//! Real payloads against the JSON Schema that ships in `schemas/`, checked by a
//! full draft 2020-12 validator (the `jsonschema` crate), so every keyword the
//! schema uses, now or later, is enforced.

use campaign_watcher::event::EventType;
use campaign_watcher::render::sample_event;
use chrono::Utc;
use serde_json::Value;

use crate::helpers::TestApp;

fn schema() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/webhook-payload-v1.schema.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn validator() -> jsonschema::Validator {
    let schema = schema();
    // A typo in a keyword's value (say `"type": "sting"`) fails here, not silently later.
    if let Err(error) = jsonschema::meta::validate(&schema) {
        panic!("the shipped schema is not valid JSON Schema: {error}");
    }
    jsonschema::validator_for(&schema).unwrap()
}

/// Every violation, each with its JSON pointer.
fn problems(validator: &jsonschema::Validator, payload: &Value) -> Vec<String> {
    validator
        .iter_errors(payload)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

#[test]
fn the_validator_rejects_what_it_should() {
    let validator = validator();
    let bad = serde_json::json!({"version": "2", "id": "evt_XYZ", "type": "campaign.exploded", "extra": 1});
    let text = problems(&validator, &bad).join("\n");
    for expected in [
        "/version: ",
        "/id: ",
        "/type: ",
        "Additional properties are not allowed ('extra'",
        "\"summary\" is a required property",
    ] {
        assert!(
            text.contains(expected),
            "{expected} not reported in:\n{text}"
        );
    }

    // One wrong value deep inside an otherwise valid payload is found too.
    let mut nested =
        serde_json::to_value(sample_event(EventType::StatusChanged, Utc::now())).unwrap();
    assert!(problems(&validator, &nested).is_empty());
    nested["campaign"]["agent"] = serde_json::json!({"id": 7, "name": null, "status": null});
    nested["occurred_at"] = "2026-12-01 10:00:00".into();
    let text = problems(&validator, &nested).join("\n");
    for expected in ["/campaign/agent/id: ", "/occurred_at: "] {
        assert!(
            text.contains(expected),
            "{expected} not reported in:\n{text}"
        );
    }
}

#[test]
fn an_end_with_its_incident_and_duration_matches_the_published_schema() {
    let validator = validator();
    let started = Utc::now() - chrono::TimeDelta::minutes(133);
    let mut end = sample_event(EventType::CampaignReadable, Utc::now());
    end.incident = Some(
        campaign_watcher::event::IncidentInfo::started("evt_start", started).ended(Utc::now()),
    );
    let payload = serde_json::to_value(&end).unwrap();
    assert_eq!(payload["incident"]["duration_seconds"], 133 * 60);
    let found = problems(&validator, &payload);
    assert!(found.is_empty(), "{payload}:\n{}", found.join("\n"));
    let mut bad = payload.clone();
    bad["incident"]["id"] = "evt_123".into();
    assert!(!problems(&validator, &bad).is_empty());
}

#[test]
fn a_sample_of_every_event_type_matches_the_published_schema() {
    let validator = validator();
    for kind in EventType::ALL {
        let payload = serde_json::to_value(sample_event(kind, Utc::now())).unwrap();
        let found = problems(&validator, &payload);
        assert!(found.is_empty(), "{kind}: {payload}:\n{}", found.join("\n"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_payloads_match_the_published_schema() {
    let app = TestApp::spawn(4).await;
    app.all_live();
    app.cycle().await;
    let (a, b, c) = (app.id(0), app.id(1), app.id(2));
    app.sim.control.set_status(&a, "completed");
    app.sim
        .control
        .set_errors(&b, vec!["Row 9: missing phone".into()]);
    app.sim.control.remove(&c);
    app.cycle().await;
    app.sim.control.set_errors(&b, vec![]);
    app.cycle().await;

    let validator = validator();
    let received = app.receiver.received();
    let mut kinds: Vec<String> = received
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "campaign.not_found",
            "campaign.status_changed",
            "campaign.upload_errors_added",
            "campaign.upload_errors_cleared"
        ]
    );
    for request in &received {
        let found = problems(&validator, &request.json());
        assert!(found.is_empty(), "{}:\n{}", request.body, found.join("\n"));
    }
}
