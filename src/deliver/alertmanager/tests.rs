use chrono::TimeZone;

use super::*;
use crate::deliver::channel::BuildContext;
use crate::observe::CampaignStatus;
use crate::render::sample_event;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, minute, 0).unwrap()
}

fn channel() -> AlertmanagerChannel {
    let settings = AlertmanagerSettings {
        urls: Some(vec!["http://127.0.0.1:9093".into()]),
        labels: Some([("team".into(), "outreach".into())].into()),
        resend_interval: Some(Duration::from_secs(60)),
        ..AlertmanagerSettings::default()
    };
    AlertmanagerChannel::new(&settings, &BuildContext::for_tests("am")).unwrap()
}

#[test]
fn active_alerts_end_a_few_intervals_ahead_and_resolves_in_the_past() {
    let channel = channel();
    let active = ActiveCondition {
        condition: Condition::Paused,
        campaign: Some(("camp_1".into(), "Q4".into())),
        since: at(1),
        hints: Vec::new(),
        account: None,
    };
    let alert = channel.active_alert(&active, at(10));
    assert_eq!(alert["labels"]["alertname"], "CampaignPaused");
    assert_eq!(alert["labels"]["campaign_id"], "camp_1");
    assert_eq!(alert["labels"]["campaign_name"], "Q4");
    assert_eq!(alert["labels"]["severity"], "warning");
    assert_eq!(alert["labels"]["team"], "outreach");
    assert_eq!(alert["startsAt"], "2026-11-26T09:01:00.000Z");
    assert_eq!(alert["endsAt"], "2026-11-26T09:13:00.000Z");

    let paused = sample_event(EventType::StatusChanged, at(2));
    let posted = channel.alerts_for(&paused, at(2)).unwrap();
    assert_eq!(posted[0]["endsAt"], "2026-11-26T09:05:00.000Z");
    let mut resumed = sample_event(EventType::StatusChanged, at(4));
    if let Some(campaign) = resumed.campaign.as_mut() {
        campaign.previous_status = Some(CampaignStatus::Paused);
        campaign.status = CampaignStatus::Live;
    }
    let resolved = channel.alerts_for(&resumed, at(6)).unwrap();
    assert_eq!(resolved[0]["labels"], posted[0]["labels"]);
    assert_eq!(resolved[0]["endsAt"], "2026-11-26T09:04:00.000Z");
    assert!(channel
        .alerts_for(&sample_event(EventType::SettingsChanged, at(2)), at(2))
        .unwrap()
        .is_empty());
}

#[test]
fn label_values_are_short_and_show_control_characters_escaped() {
    let name = format!("\u{1b}[2J\r\n{}", "n".repeat(100_000));
    let labels = channel().labels(Condition::Paused, None, Some(("camp\r\n1", &name)));
    for value in labels.values() {
        assert!(value.chars().count() <= crate::text::LABEL_CHARS);
        assert!(!value.chars().any(char::is_control), "{value:?}");
    }
    assert_eq!(labels["campaign_id"], "camp\\r\\n1");
}

#[test]
fn only_accounts_other_than_default_add_an_account_label() {
    let alerting = channel();
    let campaign = Some(("camp_1", "Q4"));
    let default = alerting.labels(Condition::Paused, None, campaign);
    assert!(
        !default.contains_key("account"),
        "default's label set is unchanged"
    );
    let acme = alerting.labels(Condition::Paused, Some("acme"), campaign);
    assert_eq!(acme["account"], "acme");
    assert_ne!(
        acme,
        alerting.labels(Condition::Paused, Some("globex"), campaign)
    );
    // And an event of the account posts that label set.
    let mut event = sample_event(EventType::StatusChanged, at(1));
    event.assign_account("acme");
    let posted = alerting.alerts_for(&event, at(1)).unwrap();
    assert_eq!(posted[0]["labels"]["account"], "acme");
}

/// The hints annotation a pause posts is the one its re-posts carry (the
/// re-asserter hands the stored state's hints), so it never vanishes.
#[test]
fn a_pause_and_its_reposts_carry_the_same_hints_annotation() {
    let channel = channel();
    let mut paused = sample_event(EventType::StatusChanged, at(2));
    paused.hints.push(crate::event::Hint {
        code: "agent_not_live".into(),
        text: "The agent \"Bot\r\nforged\" reports the status \"Testing\"".into(),
    });
    let posted = channel.alerts_for(&paused, at(2)).unwrap();
    let annotations = &posted[0]["annotations"];
    assert_eq!(
        annotations["hint_codes"],
        "caller_number_inactive,agent_not_live"
    );
    let lines = annotations["hints"].as_str().unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(lines.ends_with("The agent \"Bot forged\" reports the status \"Testing\""));

    let active = ActiveCondition {
        condition: Condition::Paused,
        campaign: Some((
            "camp_XiQEBcj9cc5TFRB4".into(),
            "Q4 Outreach Campaign".into(),
        )),
        since: at(2),
        hints: paused.hints.clone(),
        account: None,
    };
    let reposted = channel.active_alert(&active, at(10));
    assert_eq!(reposted["labels"], posted[0]["labels"]);
    assert_eq!(reposted["annotations"]["hints"], annotations["hints"]);
    assert_eq!(
        reposted["annotations"]["hint_codes"],
        annotations["hint_codes"]
    );

    // No hints, no annotation (a resolve carries none either).
    let plain = ActiveCondition {
        hints: Vec::new(),
        ..active
    };
    assert!(channel.active_alert(&plain, at(10))["annotations"]
        .get("hints")
        .is_none());
}
