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
