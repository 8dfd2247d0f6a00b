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
