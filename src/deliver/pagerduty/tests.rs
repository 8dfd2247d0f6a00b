use super::*;
use crate::deliver::channel::BuildContext;

fn channel() -> PagerDutyChannel {
    let settings = PagerDutySettings {
        routing_key: Some(Secret::new("R0UTING_KEY_0123456789abcdef0123")),
        severity: Some(
            std::collections::BTreeMap::from([("upload_errors".into(), "error".into())]).into(),
        ),
        ..PagerDutySettings::default()
    };
    PagerDutyChannel::new(&settings, &BuildContext::for_tests("pd")).unwrap()
}

#[test]
fn triggers_and_resolves_share_the_dedup_key() {
    let channel = channel();
    let paused = crate::fixtures::sample(EventType::StatusChanged);
    let trigger = &channel.messages(&paused).unwrap()[0];
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(
        trigger["dedup_key"],
        "campaign-watcher/camp_XiQEBcj9cc5TFRB4/paused"
    );
    assert_eq!(trigger["payload"]["severity"], "warning");
    assert_eq!(trigger["payload"]["source"], "host-1");
    assert_eq!(
        trigger["payload"]["summary"],
        "Q4 Outreach Campaign: live → paused"
    );
    let hints = &trigger["payload"]["custom_details"]["hints"];
    assert_eq!(hints[0]["code"], "caller_number_inactive");
    assert_eq!(hints[0]["text"], paused.hints[0].text.as_str());

    let mut resumed = paused.clone();
    if let Some(campaign) = resumed.campaign.as_mut() {
        campaign.previous_status = Some(crate::observe::CampaignStatus::Paused);
        campaign.status = crate::observe::CampaignStatus::Live;
    }
    let resolve = &channel.messages(&resumed).unwrap()[0];
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["dedup_key"], trigger["dedup_key"]);

    let errors = &channel
        .messages(&crate::fixtures::sample(EventType::UploadErrorsAdded))
        .unwrap()[0];
    assert_eq!(errors["payload"]["severity"], "error");
    let cleared = &channel
        .messages(&crate::fixtures::sample(EventType::UploadErrorsCleared))
        .unwrap()[0];
    assert_eq!(cleared["dedup_key"], errors["dedup_key"]);

    let down = &channel
        .messages(&crate::fixtures::sample(EventType::ApiUnhealthy))
        .unwrap()[0];
    let up = &channel
        .messages(&crate::fixtures::sample(EventType::ApiRecovered))
        .unwrap()[0];
    assert_eq!(down["payload"]["severity"], "critical");
    assert_eq!(
        (down["dedup_key"].clone(), up["event_action"].clone()),
        (up["dedup_key"].clone(), json!("resolve"))
    );

    assert!(channel
        .messages(&crate::fixtures::sample(EventType::SettingsChanged))
        .unwrap()
        .is_empty());
    let test = channel
        .messages(&crate::fixtures::sample(EventType::Test))
        .unwrap();
    assert_eq!(test.len(), 2);
}

#[test]
fn preview_never_shows_the_routing_key() {
    let events: Vec<Event> = EventType::ALL
        .into_iter()
        .map(crate::fixtures::sample)
        .collect();
    let text = channel().preview(&events, false).unwrap();
    assert!(!text.contains("R0UTING_KEY"));
    assert!(text.contains("neither starts nor ends"));
    assert!(!format!("{:?}", channel()).contains("R0UTING_KEY"));
}
