use super::*;
use crate::deliver::channel::BuildContext;
use crate::event::EventType;

fn channel() -> SlackChannel {
    let settings = SlackSettings {
        url: Some("https://hooks.slack.com/services/T0/B0/XYZ".into()),
        ..SlackSettings::default()
    };
    SlackChannel::new(&settings, &BuildContext::for_tests("slack")).unwrap()
}

#[test]
fn a_digest_is_one_message_with_header_sections_and_ids() {
    let events: Vec<Event> = [EventType::StatusChanged, EventType::UploadErrorsAdded]
        .into_iter()
        .map(crate::fixtures::sample)
        .collect();
    let body = channel().payload(&events).unwrap();
    assert_eq!(
        body["text"],
        "Q4 Outreach Campaign paused, and 1 more change"
    );
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert!(blocks.iter().any(|b| b["type"] == "section"
        && b["text"]["text"]
            .as_str()
            .is_some_and(|text| text.contains("Row 2: invalid phone number"))));
    let context = blocks.last().unwrap()["elements"][0]["text"]
        .as_str()
        .unwrap();
    assert!(context.contains(&events[0].id) && context.contains(&events[1].id));
    assert!(context.contains("host-1"));
}

fn section_texts(blocks: &[Value]) -> Vec<&str> {
    blocks
        .iter()
        .filter_map(|block| block["text"]["text"].as_str())
        .collect()
}

#[test]
fn sections_respect_slacks_limit_and_escape_control_characters() {
    let long = format!("{}\n\n{}", "a".repeat(2500), "b".repeat(2500));
    let packed = body_blocks(&long);
    assert_eq!(packed.len(), 2);
    assert!(section_texts(&packed)
        .iter()
        .all(|s| s.chars().count() <= SECTION_CHARS));
    assert_eq!(escape("<@here> & co"), "&lt;@here&gt; &amp; co");
    assert_eq!(
        section_texts(&body_blocks("one\n\ntwo\n\n\n")),
        vec!["one\n\ntwo"]
    );
}

/// `Campaign:   x` lines are Slack fields (bold label over value), in the
/// place of the text, not spaces that a proportional font misaligns.
#[test]
fn fact_lines_are_section_fields_in_their_place() {
    let blocks =
        body_blocks("Before\n\nCampaign:   <b>Q4</b> (c1)\nStatus:     live → paused\n\nAfter");
    assert_eq!(blocks.len(), 3, "{blocks:?}");
    assert_eq!(blocks[0]["text"]["text"], "Before");
    let fields: Vec<&str> = blocks[1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|field| field["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec![
            "*Campaign*\n&lt;b&gt;Q4&lt;/b&gt; (c1)",
            "*Status*\nlive → paused"
        ]
    );
    assert_eq!(blocks[2]["text"]["text"], "After");
    let many: String = (0..12).map(|i| format!("Field {i}:  v{i}\n")).collect();
    let chunks = body_blocks(&many);
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0]["fields"].as_array().unwrap().len(), 10);
    assert_eq!(chunks[1]["fields"].as_array().unwrap().len(), 2);
}

/// The whole built-in message: the campaign, status and event id are fields,
/// and no text section aligns them with spaces.
#[test]
fn a_rendered_alert_shows_its_facts_as_fields() {
    let event = crate::fixtures::sample(EventType::StatusChanged);
    let body = channel().payload(std::slice::from_ref(&event)).unwrap();
    let blocks = body["blocks"].as_array().unwrap();
    let fields: Vec<String> = blocks
        .iter()
        .filter_map(|block| block["fields"].as_array())
        .flatten()
        .map(|field| field["text"].as_str().unwrap().to_string())
        .collect();
    assert!(
        fields.contains(&"*Status*\nlive → paused".to_string()),
        "{fields:?}"
    );
    assert!(fields
        .iter()
        .any(|f| f.starts_with("*Campaign*\nQ4 Outreach Campaign")));
    assert!(
        fields.contains(&format!("*Event id*\n{}", event.id)),
        "{fields:?}"
    );
    for text in section_texts(blocks) {
        assert!(!text.contains("Status:     "), "{text}");
    }
}

#[test]
fn the_fallback_text_makes_mentions_inert() {
    let mut event = crate::fixtures::sample(EventType::StatusChanged);
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
            Some("section") => block.to_string(),
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
