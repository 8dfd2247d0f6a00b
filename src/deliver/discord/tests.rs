use super::*;
use crate::deliver::channel::BuildContext;

use crate::alert::Severity;
use crate::event::EventType;

#[test]
fn payload_has_content_embed_colour_and_no_mentions() {
    let settings = DiscordSettings {
        url: Some("https://discord.com/api/webhooks/1/TOKEN".into()),
        severity: Some(
            std::collections::BTreeMap::from([("paused".into(), "critical".into())]).into(),
        ),
        ..DiscordSettings::default()
    };
    let channel = DiscordChannel::new(&settings, &BuildContext::for_tests("d")).unwrap();
    let paused = channel
        .payload(&crate::fixtures::sample(EventType::StatusChanged))
        .unwrap();
    assert_eq!(paused["content"], "Q4 Outreach Campaign: live → paused");
    // The headline once: not again as the embed's title or its first line.
    assert!(paused["embeds"][0].get("title").is_none());
    let description = paused["embeds"][0]["description"].as_str().unwrap();
    assert!(!description.contains("live → paused\n\n"), "{description}");
    assert!(
        !description.starts_with("Q4 Outreach Campaign: live"),
        "{description}"
    );
    assert_eq!(paused["allowed_mentions"]["parse"], json!([]));
    assert_eq!(paused["embeds"][0]["color"], Severity::Critical.colour());
    // The facts are embed fields, markdown escaped (Discord shows `\_` as `_`).
    let fields = paused["embeds"][0]["fields"].as_array().unwrap();
    let field = |name: &str| {
        fields
            .iter()
            .find(|field| field["name"] == name)
            .and_then(|field| field["value"].as_str())
            .unwrap_or_else(|| panic!("no field {name} in {fields:?}"))
            .to_string()
    };
    assert!(field("Campaign").contains("camp\\_XiQEBcj9cc5TFRB4"));
    assert_eq!(field("Status"), "live → paused");
    assert!(!description.contains("Status:"), "{description}");
    let recovered = channel
        .payload(&crate::fixtures::sample(EventType::ApiRecovered))
        .unwrap();
    assert_eq!(
        recovered["embeds"][0]["color"],
        crate::alert::RESOLVED_COLOUR
    );
}

#[test]
fn a_megabyte_name_fits_discords_limits_with_the_event_id() {
    let settings = DiscordSettings {
        url: Some("https://discord.com/api/webhooks/1/TOKEN".into()),
        ..DiscordSettings::default()
    };
    let channel = DiscordChannel::new(&settings, &BuildContext::for_tests("d")).unwrap();
    let event = crate::fixtures::huge_event(&"*_[x](https://evil)".repeat(1 << 16));
    let body = channel.payload(&event).unwrap();
    let length = |value: &Value| value.as_str().unwrap_or_default().chars().count();
    let embed = &body["embeds"][0];
    assert!(length(&body["content"]) <= CONTENT_CHARS);
    assert!(length(&embed["description"]) <= DESCRIPTION_CHARS);
    let fields: usize = embed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|field| length(&field["name"]) + length(&field["value"]))
        .sum();
    assert!(embed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .all(|field| length(&field["value"]) <= FIELD_VALUE_CHARS));
    let total = length(&embed["description"]) + fields + length(&embed["footer"]["text"]);
    assert!(total <= EMBED_CHARS, "{total}");
    assert!(embed["footer"]["text"]
        .as_str()
        .unwrap()
        .contains(&event.id));
    assert!(!embed["description"].as_str().unwrap().contains("[x]("));
}
