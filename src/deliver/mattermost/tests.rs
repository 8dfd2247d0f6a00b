use chrono::Utc;

use super::*;
use crate::event::EventType;
use crate::observe::CampaignStatus;
use crate::render::sample_event;

fn channel() -> MattermostChannel {
    let settings = MattermostSettings {
        url: Some("https://mm.example.com/hooks/MMHOOKKEY0123456789".into()),
        channel: Some("ops-alerts".into()),
        username: Some("campaign-watcher".into()),
        icon_emoji: Some("rotating_light".into()),
        ..MattermostSettings::default()
    };
    MattermostChannel::new(&settings, &BuildContext::for_tests("mm")).unwrap()
}

#[test]
fn text_and_one_attachment_with_the_overrides() {
    let event = sample_event(EventType::StatusChanged, Utc::now());
    let body = channel().payload(&event).unwrap();
    assert_eq!(body["text"], "**Q4 Outreach Campaign: live → paused**");
    assert_eq!(body["channel"], "ops-alerts");
    assert_eq!(body["username"], "campaign-watcher");
    assert_eq!(body["icon_emoji"], "rotating_light");
    let attachment = &body["attachments"][0];
    assert_eq!(attachment["color"], "#FFA000", "warning: amber");
    assert!(attachment["footer"].as_str().unwrap().ends_with(&event.id));
    assert!(attachment["text"]
        .as_str()
        .unwrap()
        .contains("camp\\_XiQEBcj9cc5TFRB4"));

    let mut resumed = event.clone();
    let campaign = resumed.campaign.as_mut().unwrap();
    campaign.previous_status = Some(CampaignStatus::Paused);
    campaign.status = CampaignStatus::Live;
    let body = channel().payload(&resumed).unwrap();
    assert_eq!(body["attachments"][0]["color"], "#388E3C");
}

#[test]
fn hostile_names_notify_nobody_and_stay_within_the_post_size() {
    let mut event = sample_event(EventType::StatusChanged, Utc::now());
    event.campaign.as_mut().unwrap().name = format!(
        "@channel @all [x](https://evil) <b>y</b> \"q\" \\ \r\n{}",
        "é@*".repeat(5000)
    );
    let body = channel().payload(&event).unwrap();
    let text = body["text"].as_str().unwrap();
    let attachment = body["attachments"][0]["text"].as_str().unwrap();
    for shown in [text, attachment] {
        assert!(
            !shown.contains("@channel") && !shown.contains("@all"),
            "{shown}"
        );
        assert!(!shown.contains("[x](") && !shown.contains('\r'));
    }
    let total = text.chars().count() + attachment.chars().count();
    assert!(total <= 16_383, "{total}");
}

#[test]
fn the_hook_key_is_never_shown() {
    let channel = channel();
    let shown = crate::deliver::tests::everything_shown(&channel);
    assert!(!shown.contains("MMHOOKKEY"), "{shown}");
}
