use super::*;

#[test]
fn clip_keeps_short_text_and_marks_cuts() {
    assert_eq!(clip("abc", 3), "abc");
    assert_eq!(clip("abcd", 3), "ab…");
    assert_eq!(clip("ééé", 2), "é…");
}

#[test]
fn retry_after_from_json() {
    assert_eq!(
        json_seconds(r#"{"retry_after": 1.5, "global": false}"#, "retry_after"),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(json_seconds("not json", "retry_after"), None);
    assert_eq!(json_seconds(r#"{"retry_after": -1}"#, "retry_after"), None);
}

fn fact(label: &str, value: &str) -> Fact {
    Fact {
        label: label.into(),
        value: value.into(),
    }
}

#[test]
fn fact_blocks_become_fields_and_everything_else_stays_prose() {
    use Paragraph::{Facts, Prose};
    let cases: Vec<(&str, Vec<Paragraph>)> = vec![
        (
            "Campaign:   Q4 (c1)\nStatus:     live → paused",
            vec![Facts(vec![
                fact("Campaign", "Q4 (c1)"),
                fact("Status", "live → paused"),
            ])],
        ),
        // An indented line continues the value above it.
        (
            "Detected:   09:15 UTC\n            10:15 CET\nEvent id:   evt_1",
            vec![Facts(vec![
                fact("Detected", "09:15 UTC\n10:15 CET"),
                fact("Event id", "evt_1"),
            ])],
        ),
        // One `Label: value` line is a sentence, not a block of facts.
        (
            "SigmaMind API unhealthy: key rejected",
            vec![Prose("SigmaMind API unhealthy: key rejected")],
        ),
        // A list under a heading, a heading with a count, an empty value.
        (
            "Upload errors added (2):\n  - Row 2: bad\n  - Row 3: bad",
            vec![Prose(
                "Upload errors added (2):\n  - Row 2: bad\n  - Row 3: bad",
            )],
        ),
        (
            "Changed settings:\n  - a: 1 → 2",
            vec![Prose("Changed settings:\n  - a: 1 → 2")],
        ),
        (
            "Campaign:   x\nStatus:",
            vec![Prose("Campaign:   x\nStatus:")],
        ),
        // A line that is not a fact makes the whole paragraph prose.
        (
            "Campaign:   x\nsee https://a:b",
            vec![Prose("Campaign:   x\nsee https://a:b")],
        ),
        (
            "== 1. Q4: paused\n\nCampaign:   x\nStatus:     y\n\n\n",
            vec![
                Prose("== 1. Q4: paused"),
                Facts(vec![fact("Campaign", "x"), fact("Status", "y")]),
            ],
        ),
        ("  \n\n", vec![]),
    ];
    for (body, expected) in cases {
        assert_eq!(paragraphs(body), expected, "{body:?}");
    }
}

#[test]
fn campaign_keys_are_stable_short_and_url_safe() {
    use crate::event::EventType;
    use crate::render::sample_event;
    let at = chrono::Utc::now();
    let mut event = sample_event(EventType::StatusChanged, at);
    assert_eq!(campaign_key(&event), "camp_XiQEBcj9cc5TFRB4");
    assert_eq!(
        campaign_key(&sample_event(EventType::ApiUnhealthy, at)),
        "watcher"
    );
    // `default` keeps the single-account key; every other account is in front.
    let mut acme = event.clone();
    acme.assign_account("default");
    assert_eq!(campaign_key(&acme), "camp_XiQEBcj9cc5TFRB4");
    acme.assign_account("acme");
    assert_eq!(campaign_key(&acme), "acme~camp_XiQEBcj9cc5TFRB4");
    let mut watcher = sample_event(EventType::ApiUnhealthy, at);
    watcher.assign_account("acme");
    assert_eq!(campaign_key(&watcher), "acme~watcher");
    for hostile in ["a/b", "x\r\ny", &"z".repeat(5000), "", "<b>\"q\"</script>"] {
        event.campaign.as_mut().unwrap().id = hostile.to_string();
        let key = campaign_key(&event);
        assert_eq!(key, campaign_key(&event), "deterministic");
        assert_eq!(key.len(), 33, "{key}");
        assert!(key.chars().all(|c| c.is_ascii_alphanumeric()), "{key}");
    }
}

#[test]
fn condition_maps_report_every_problem() {
    let configured: BTreeMap<String, String> = [
        ("paused".to_string(), "P1".to_string()),
        ("nope".to_string(), "P9".to_string()),
    ]
    .into();
    let mut problems = Vec::new();
    let map = condition_map(
        "channels.og.priority",
        Some(&configured),
        |v| ["P1", "P2"].contains(&v).then(|| v.to_string()),
        "P1 to P5",
        &mut problems,
    );
    assert_eq!(map.get(&Condition::Paused).map(String::as_str), Some("P1"));
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("channels.og.priority: \"nope\""));
}
