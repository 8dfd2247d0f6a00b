use chrono::Utc;

use super::*;
use crate::deliver::channel::{ChannelConfig, TextSettings};
use crate::observe::CampaignStatus;
use crate::render::sample_event;
use crate::setting::secret::Secret;

fn channel(settings: NtfySettings) -> NtfyChannel {
    NtfyChannel::new(&settings, &BuildContext::for_tests("push")).unwrap()
}

fn settings() -> NtfySettings {
    NtfySettings {
        url: Some("https://ntfy.example.com/prefix/cw-alerts_TOPIC9".into()),
        token: Some(Secret::new("tk_NTFYTOKEN0123456789abcdefghij")),
        click: Some("https://app.example.com/c/{campaign_id}".into()),
        ..NtfySettings::default()
    }
}

#[test]
fn the_topic_is_the_last_path_segment() {
    assert_eq!(
        split_topic("https://ntfy.sh/alerts"),
        Some(("https://ntfy.sh/".into(), "alerts".into()))
    );
    assert_eq!(
        split_topic("http://127.0.0.1:8080/ntfy/my-topic_1/"),
        Some(("http://127.0.0.1:8080/ntfy/".into(), "my-topic_1".into()))
    );
    assert_eq!(split_topic("https://ntfy.sh/"), None);
    assert_eq!(split_topic("https://ntfy.sh/a.b"), None);
    assert_eq!(
        split_topic(&format!("https://ntfy.sh/{}", "t".repeat(65))),
        None
    );
}

#[test]
fn a_pause_is_urgent_and_its_resume_default() {
    let channel = channel(settings());
    let paused = crate::fixtures::sample(EventType::StatusChanged);
    let body = channel.payload(&paused).unwrap();
    assert_eq!(body["topic"], "cw-alerts_TOPIC9");
    assert_eq!(body["priority"], 5);
    assert_eq!(body["title"], "Q4 Outreach Campaign: live → paused");
    assert_eq!(
        body["tags"],
        json!(["warning", "campaign-watcher", "paused"])
    );
    assert_eq!(
        body["click"],
        "https://app.example.com/c/camp_XiQEBcj9cc5TFRB4"
    );
    let message = body["message"].as_str().unwrap();
    assert!(message.ends_with(&paused.id), "{message}");

    let mut resumed = paused.clone();
    let campaign = resumed.campaign.as_mut().unwrap();
    campaign.previous_status = Some(CampaignStatus::Paused);
    campaign.status = CampaignStatus::Live;
    let body = channel.payload(&resumed).unwrap();
    assert_eq!(body["priority"], 3);
    assert_eq!(body["tags"][0], "white_check_mark");

    let down = channel
        .payload(&crate::fixtures::sample(EventType::ApiUnhealthy))
        .unwrap();
    assert_eq!(down["priority"], 5);
    assert!(down.get("click").is_none(), "no campaign, no link");
    let errors = channel
        .payload(&crate::fixtures::sample(EventType::UploadErrorsAdded))
        .unwrap();
    assert_eq!(errors["priority"], 4);
}

#[test]
fn priorities_are_configurable_per_condition() {
    let mut settings = settings();
    settings.priority = Some([("paused".into(), "low".into())].into());
    let at = Utc::now();
    let body = channel(settings)
        .payload(&sample_event(EventType::StatusChanged, at))
        .unwrap();
    assert_eq!(body["priority"], 2);
}

#[test]
fn hostile_names_stay_plain_and_within_the_limits() {
    let channel = channel(settings());
    let mut event = sample_event(EventType::StatusChanged, Utc::now());
    event.campaign.as_mut().unwrap().name = format!(
        "\"q\" \\ <b>x</b></script>\r\n\u{1b}[2J{}",
        "é".repeat(5000)
    );
    let body = channel.payload(&event).unwrap();
    let message = body["message"].as_str().unwrap();
    let title = body["title"].as_str().unwrap();
    assert!(message.len() <= MESSAGE_BYTES, "{}", message.len());
    assert!(title.chars().count() <= TITLE_CHARS);
    assert!(!message.contains('\u{1b}') && !title.contains('\u{1b}') && !title.contains('\r'));
    assert!(message.ends_with(&event.id), "the footer survives the cut");
}

#[test]
fn previews_and_debug_hide_the_topic_and_the_token() {
    let channel = channel(settings());
    let shown = crate::deliver::tests::everything_shown(&channel);
    assert!(
        !shown.contains("TOPIC9") && !shown.contains("NTFYTOKEN"),
        "{shown}"
    );
}

#[test]
fn settings_report_every_problem() {
    let bad = NtfySettings {
        url: Some("https://ntfy.sh/".into()),
        token: Some(Secret::new("tk_x")),
        username: Some("u:x".into()),
        priority: Some([("paused".into(), "loud".into())].into()),
        tags: Some(vec!["a,b".into()]),
        click: Some("ftp://x".into()),
        ..NtfySettings::default()
    };
    let mut problems = Vec::new();
    bad.check("channels.push", &TextSettings::default(), &mut problems);
    for key in ["url", "token", "username", "priority", "tags", "click"] {
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with(&format!("channels.push.{key}"))),
            "{key}: {problems:#?}"
        );
    }
}
