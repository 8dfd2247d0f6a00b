use chrono::Utc;

use super::*;
use crate::event::EventType;
use crate::render::sample_event;

const URL: &str =
    "https://chat.googleapis.com/v1/spaces/AAAA/messages?key=GCHATKEY123&token=GCHATTOKEN456";

fn channel(card: bool) -> GoogleChatChannel {
    let settings = GoogleChatSettings {
        url: Some(URL.into()),
        card: Some(card),
        ..GoogleChatSettings::default()
    };
    GoogleChatChannel::new(&settings, &BuildContext::for_tests("gchat")).unwrap()
}

#[test]
fn a_card_threaded_by_campaign() {
    let channel = channel(true);
    let event = sample_event(EventType::StatusChanged, Utc::now());
    let body = channel.payload(&event).unwrap();
    let card = &body["cardsV2"][0];
    assert_eq!(card["cardId"], "campaign-watcher");
    assert_eq!(
        card["card"]["header"]["title"],
        "Q4 Outreach Campaign: live → paused"
    );
    let sections = card["card"]["sections"].as_array().unwrap();
    assert!(sections.last().unwrap().to_string().contains(&event.id));
    assert_eq!(
        body["thread"]["threadKey"],
        "campaign-watcher-camp_XiQEBcj9cc5TFRB4"
    );
    assert_eq!(
        thread_key(&sample_event(EventType::ApiUnhealthy, Utc::now())),
        "campaign-watcher-watcher"
    );
    assert!(channel
        .hook
        .target
        .url
        .as_str()
        .ends_with("&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"));
}

#[test]
fn hostile_names_are_escaped_and_within_the_limits() {
    let mut event = sample_event(EventType::StatusChanged, Utc::now());
    event.campaign.as_mut().unwrap().name = format!(
        "<users/all> <b>x</b></script> \"q\" \\ \r\n{}",
        "é<&>".repeat(3000)
    );
    let card = channel(true).payload(&event).unwrap();
    let size = serde_json::to_vec(&card).unwrap().len();
    assert!(size <= 32_000, "{size}");
    let paragraph = card["cardsV2"][0]["card"]["sections"][0]["widgets"][0]["textParagraph"]
        ["text"]
        .as_str()
        .unwrap();
    assert!(
        !paragraph.contains("<users/all>") && !paragraph.contains("<b>x"),
        "{paragraph}"
    );
    let text = channel(false).payload(&event).unwrap();
    let text = text["text"].as_str().unwrap();
    assert!(text.chars().count() <= TEXT_CHARS);
    assert!(!text.contains('<') && !text.contains('\r'), "{text}");
    assert!(text.ends_with(&format!("{}_", event.id)));
}

#[test]
fn the_key_and_token_are_never_shown() {
    let channel = channel(true);
    let shown = crate::deliver::tests::everything_shown(&channel);
    assert!(
        !shown.contains("GCHATKEY") && !shown.contains("GCHATTOKEN"),
        "{shown}"
    );
}
