use chrono::{TimeZone, Utc};

use super::*;
use crate::deliver::channel::BuildContext;
use crate::event::EventType;
use crate::render::sample_event;

#[test]
fn payload_is_one_adaptive_card() {
    let settings = TeamsSettings {
        url: Some("https://prod.westeurope.logic.azure.com/workflows/x?sig=SECRET".into()),
        ..TeamsSettings::default()
    };
    let channel = TeamsChannel::new(&settings, &BuildContext::for_tests("t")).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
    let body = channel
        .payload(&sample_event(EventType::UploadErrorsAdded, at))
        .unwrap();
    assert_eq!(body["type"], "message");
    let attachments = body["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(
        attachments[0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachments[0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert_eq!(
        card["body"][0]["text"],
        "Q4 Outreach Campaign: 12 new upload errors"
    );
    assert!(card["body"].as_array().unwrap().len() > 2);
}

#[test]
fn errors_reported_inside_a_200_are_found() {
    let cases = [
        ("", None),
        ("1", None),
        (
            "Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0",
            Some(Some(429)),
        ),
        (
            "Webhook Bad Request - Null or empty event: HTTP error 400",
            Some(Some(400)),
        ),
        (
            "{\"error\":{\"code\":\"TriggerInputSchemaMismatch\"}}",
            Some(None),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(error_in_body(body), expected, "{body}");
    }
}
