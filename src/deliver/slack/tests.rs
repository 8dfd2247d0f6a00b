use chrono::{TimeZone, Utc};

use super::*;
use crate::deliver::channel::BuildContext;
use crate::event::EventType;
use crate::render::sample_event;

fn channel() -> SlackChannel {
    let settings = SlackSettings {
        url: Some("https://hooks.slack.com/services/T0/B0/XYZ".into()),
        ..SlackSettings::default()
    };
    SlackChannel::new(&settings, &BuildContext::for_tests("slack")).unwrap()
}

#[test]
fn a_digest_is_one_message_with_header_sections_and_ids() {
    let at = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
    let events: Vec<Event> = [EventType::StatusChanged, EventType::UploadErrorsAdded]
        .into_iter()
        .map(|kind| sample_event(kind, at))
        .collect();
    let body = channel().payload(&events).unwrap();
    assert_eq!(body["text"], "Q4 Outreach Campaign: 2 changes");
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert!(blocks.iter().any(|b| b["type"] == "section"
        && b["text"]["text"]
            .as_str()
            .unwrap()
            .contains("Row 2: invalid phone number")));
    let context = blocks.last().unwrap()["elements"][0]["text"]
        .as_str()
        .unwrap();
    assert!(context.contains(&events[0].id) && context.contains(&events[1].id));
    assert!(context.contains("host-1"));
}

#[test]
fn sections_respect_slacks_limit_and_escape_control_characters() {
    let long = format!("{}\n\n{}", "a".repeat(2500), "b".repeat(2500));
    let packed = sections(&long);
    assert_eq!(packed.len(), 2);
    assert!(packed.iter().all(|s| s.chars().count() <= SECTION_CHARS));
    assert_eq!(escape("<@here> & co"), "&lt;@here&gt; &amp; co");
    assert_eq!(sections("one\n\ntwo\n\n\n"), vec!["one\n\ntwo"]);
}

#[test]
fn the_fallback_text_makes_mentions_inert() {
    let at = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
    let mut event = sample_event(EventType::StatusChanged, at);
    event.campaign.as_mut().unwrap().name = "<!channel> <!here> <@U123>".into();
    let body = channel().payload(std::slice::from_ref(&event)).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt;"),
        "{text}"
    );
    // Mentions are parsed in `text` and mrkdwn; the header is plain_text, shown as is.
    for block in body["blocks"].as_array().unwrap() {
        let mrkdwn = match block["type"].as_str() {
            Some("section") => block["text"].to_string(),
            Some("context") => block["elements"].to_string(),
            _ => continue,
        };
        assert!(!mrkdwn.contains("<!channel>"), "{mrkdwn}");
    }
}

/// The header block carries the headline; the sections do not repeat it (the
/// fallback `text`, shown only where blocks are not, is the one other copy).
#[test]
fn the_sections_do_not_repeat_the_headline() {
    let at = chrono::Utc::now();
    let body = channel()
        .payload(&[crate::render::sample_event(EventType::StatusChanged, at)])
        .unwrap();
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(
        blocks[0]["text"]["text"],
        "Q4 Outreach Campaign: live → paused"
    );
    let sections: String = blocks
        .iter()
        .filter(|block| block["type"] == "section")
        .map(|block| block["text"]["text"].as_str().unwrap_or_default())
        .collect();
    assert!(!sections.contains("live → paused\n\n"), "{sections}");
    assert!(
        !sections.starts_with("Q4 Outreach Campaign: live"),
        "{sections}"
    );
}
