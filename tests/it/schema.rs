//! Real payloads against the JSON Schema that ships in `schemas/`. The validator
//! covers the keywords that schema uses (type, required, properties,
//! additionalProperties, items, enum, const, pattern).

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

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => false,
    }
}

/// Every violation, each with its JSON path.
fn validate(schema: &Value, value: &Value, path: &str, problems: &mut Vec<String>) {
    if let Some(expected) = schema.get("type") {
        let ok = match expected {
            Value::String(t) => type_matches(t, value),
            Value::Array(ts) => ts
                .iter()
                .any(|t| type_matches(t.as_str().unwrap_or(""), value)),
            _ => false,
        };
        if !ok {
            problems.push(format!("{path}: expected type {expected}, got {value}"));
            return;
        }
    }
    if let Some(constant) = schema.get("const") {
        if constant != value {
            problems.push(format!("{path}: expected {constant}, got {value}"));
        }
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if !allowed.contains(value) {
            problems.push(format!("{path}: {value} is not one of the allowed values"));
        }
    }
    if let (Some(Value::String(pattern)), Value::String(text)) = (schema.get("pattern"), value) {
        if !regex_lite_match(pattern, text) {
            problems.push(format!("{path}: {text:?} does not match {pattern}"));
        }
    }
    if let Value::Object(object) = value {
        if let Some(Value::Array(required)) = schema.get("required") {
            for key in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(key) {
                    problems.push(format!("{path}: missing required {key:?}"));
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, child) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(child_schema) => {
                    validate(child_schema, child, &format!("{path}.{key}"), problems)
                }
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    problems.push(format!("{path}: unexpected property {key:?}"))
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (index, item) in items.iter().enumerate() {
            validate(item_schema, item, &format!("{path}[{index}]"), problems);
        }
    }
}

/// The two patterns the schema uses, checked structurally (no regex crate needed).
fn regex_lite_match(pattern: &str, text: &str) -> bool {
    match pattern {
        "^evt_[0-9a-f]{24}$" => {
            text.len() == 28
                && text.starts_with("evt_")
                && text[4..]
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        }
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$" => {
            let shape = "dddd-dd-ddTdd:dd:ddZ";
            text.len() == shape.len()
                && text.chars().zip(shape.chars()).all(|(c, s)| match s {
                    'd' => c.is_ascii_digit(),
                    other => c == other,
                })
        }
        other => panic!("the schema uses a pattern this test does not know: {other}"),
    }
}

#[test]
fn the_validator_rejects_what_it_should() {
    let schema = schema();
    let mut problems = vec![];
    let bad = serde_json::json!({"version": "2", "id": "evt_XYZ", "type": "campaign.exploded", "extra": 1});
    validate(&schema, &bad, "$", &mut problems);
    let text = problems.join("\n");
    for expected in [
        "$.version",
        "$.id",
        "$.type",
        "unexpected property \"extra\"",
        "missing required \"summary\"",
    ] {
        assert!(
            text.contains(expected),
            "{expected} not reported in:\n{text}"
        );
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

    let schema = schema();
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
        let mut problems = vec![];
        validate(&schema, &request.json(), "$", &mut problems);
        assert!(
            problems.is_empty(),
            "{}:\n{}",
            request.body,
            problems.join("\n")
        );
    }
}
