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
fn target_paths_join_without_double_slashes() {
    let target = Target::new("am", "http://127.0.0.1:9093/", Duration::from_secs(1))
        .unwrap()
        .join_path("/api/v2/alerts");
    assert_eq!(target.url.as_str(), "http://127.0.0.1:9093/api/v2/alerts");
    let prefixed = Target::new("am", "http://am/prefix", Duration::from_secs(1))
        .unwrap()
        .join_path("/api/v2/alerts");
    assert_eq!(prefixed.url.as_str(), "http://am/prefix/api/v2/alerts");
    assert_eq!(prefixed.display(), "http://am");
}

#[test]
fn the_shared_answer_rules() {
    let wait = Some(Duration::from_secs(7));
    let cases: [(u16, &str, Option<Duration>); 8] = [
        (200, "delivered", None),
        (204, "delivered", None),
        (408, "retry", wait),
        (429, "retry", wait),
        (503, "retry", wait),
        (400, "permanent", None),
        (404, "permanent", None),
        (302, "retry", None),
    ];
    for (status, expected, expected_wait) in cases {
        match outcome_for_status(status, "r".into(), wait) {
            SendOutcome::Delivered { .. } => assert_eq!(expected, "delivered", "{status}"),
            SendOutcome::Permanent { .. } => assert_eq!(expected, "permanent", "{status}"),
            SendOutcome::Retry { retry_after, .. } => {
                assert_eq!(expected, "retry", "{status}");
                assert_eq!(retry_after, expected_wait, "{status}");
            }
        }
    }
}
