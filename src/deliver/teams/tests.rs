use super::*;
use crate::deliver::channel::BuildContext;
use crate::event::EventType;

fn channel() -> TeamsChannel {
    let settings = TeamsSettings {
        url: Some("https://default0123456789abcdef0123456789ab.cd.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/x/triggers/manual/paths/invoke?sig=SECRET".into()),
        ..TeamsSettings::default()
    };
    TeamsChannel::new(&settings, &BuildContext::for_tests("t")).unwrap()
}

#[test]
fn payload_is_one_adaptive_card() {
    let channel = channel();
    let body = channel
        .payload(&crate::fixtures::sample(EventType::UploadErrorsAdded))
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

#[test]
fn a_megabyte_name_gives_a_card_under_teams_limit_with_the_event_id() {
    let channel = channel();
    // Quotes and control characters: the worst case for JSON escaping.
    let event = crate::fixtures::huge_event(&"\"\\\u{1b}é".repeat(1 << 18));
    let body = channel.payload(&event).unwrap();
    let size = serde_json::to_vec(&body).unwrap().len();
    assert!(size <= PAYLOAD_BYTES, "{size} bytes");
    assert!(body.to_string().contains(&event.id));
    assert!(!body.to_string().contains("\\u001b"), "no raw ESC");
}

/// The headline is the card's bold first block, once: the body does not repeat it.
#[test]
fn the_headline_appears_once() {
    let channel = channel();
    let body = channel
        .payload(&crate::fixtures::sample(EventType::StatusChanged))
        .unwrap();
    let text = body.to_string();
    assert_eq!(
        text.matches("Q4 Outreach Campaign: live → paused").count(),
        1,
        "{text}"
    );
}

/// The campaign, status and event id are a FactSet (Teams aligns it), not text
/// aligned with spaces.
#[test]
fn the_facts_are_a_factset() {
    let channel = channel();
    let event = crate::fixtures::sample(EventType::StatusChanged);
    let body = channel.payload(&event).unwrap();
    let blocks = body["attachments"][0]["content"]["body"]
        .as_array()
        .unwrap();
    let facts: Vec<(String, String)> = blocks
        .iter()
        .filter(|block| block["type"] == "FactSet")
        .flat_map(|block| block["facts"].as_array().unwrap().iter())
        .map(|fact| {
            (
                fact["title"].as_str().unwrap().to_string(),
                fact["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        facts.contains(&("Status".into(), "live → paused".into())),
        "{facts:?}"
    );
    assert!(
        facts.contains(&("Event id".into(), event.id.clone())),
        "{facts:?}"
    );
    assert!(!body.to_string().contains("Status:     "));
}

/// Microsoft has moved Workflows trigger URLs between hosts before
/// (`*.logic.azure.com` to `*.environment.api.powerplatform.com`): any https
/// host is taken, so the next move needs only the new URL.
#[test]
fn a_workflows_url_is_taken_on_any_host() {
    use crate::deliver::channel::{ChannelConfig, TextSettings};
    for url in [
        "https://default0123456789abcdef0123456789ab.cd.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/x/triggers/manual/paths/invoke?api-version=1&sig=S",
        "https://prod-00.westeurope.logic.azure.com:443/workflows/x/triggers/manual/paths/invoke?sig=S",
        "https://flows.example.org/hook?sig=S",
    ] {
        let settings = TeamsSettings {
            url: Some(url.into()),
            ..TeamsSettings::default()
        };
        let mut problems = Vec::new();
        settings.check("channels.t", &TextSettings::default(), &mut problems);
        assert!(problems.is_empty(), "{url}: {problems:?}");
        assert!(TeamsChannel::new(&settings, &BuildContext::for_tests("t")).is_ok());
    }
}
