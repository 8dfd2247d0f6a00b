use chrono::Utc;

use super::*;
use crate::deliver::channel::{ChannelConfig, TextSettings};
use crate::observe::CampaignStatus;
use crate::render::sample_event;
use crate::setting::secret::Secret;

const KEY: &str = "0f1e2d3c-GENIEKEY-4b5a-6978-abcdef012345";

fn settings() -> OpsgenieSettings {
    OpsgenieSettings {
        api_key: Some(Secret::new(KEY)),
        priority: Some([("upload_errors".into(), "p4".into())].into()),
        tags: Some(vec!["outreach".into()]),
        ..OpsgenieSettings::default()
    }
}

fn channel() -> OpsgenieChannel {
    OpsgenieChannel::new(&settings(), &BuildContext::for_tests("og")).unwrap()
}

#[test]
fn a_pause_creates_and_its_resume_closes_by_the_same_alias() {
    let channel = channel();
    let paused = sample_event(EventType::StatusChanged, Utc::now());
    let create = &channel.requests(&paused).unwrap()[0];
    assert_eq!(create.action, Action::Create);
    assert_eq!(
        create.alias,
        "campaign-watcher:camp_XiQEBcj9cc5TFRB4:paused"
    );
    assert_eq!(create.body["alias"], create.alias);
    assert_eq!(create.body["priority"], "P3");
    assert_eq!(
        create.body["message"],
        "Q4 Outreach Campaign: live → paused"
    );
    assert_eq!(create.body["source"], "host-1");
    assert_eq!(create.body["entity"], "camp_XiQEBcj9cc5TFRB4");
    assert_eq!(
        create.body["tags"],
        json!(["campaign-watcher", "paused", "outreach"])
    );
    assert_eq!(create.body["details"]["event_id"], paused.id);
    // The sample pause has one hint: its sentence is a detail of its own.
    assert_eq!(create.body["details"]["hints"], json!(paused.hints[0].text));

    let mut resumed = paused.clone();
    let campaign = resumed.campaign.as_mut().unwrap();
    campaign.previous_status = Some(CampaignStatus::Paused);
    campaign.status = CampaignStatus::Live;
    let close = &channel.requests(&resumed).unwrap()[0];
    assert_eq!(close.action, Action::Close);
    assert_eq!(close.alias, create.alias);
    assert_eq!(
        channel.target_for(close).url.as_str(),
        "https://api.opsgenie.com/v2/alerts/campaign-watcher:camp_XiQEBcj9cc5TFRB4:paused/close?identifierType=alias"
    );

    let errors = &channel
        .requests(&sample_event(EventType::UploadErrorsAdded, Utc::now()))
        .unwrap()[0];
    assert_eq!(errors.body["priority"], "P4", "configured");
    let down = &channel
        .requests(&sample_event(EventType::ApiUnhealthy, Utc::now()))
        .unwrap()[0];
    assert_eq!(down.alias, "campaign-watcher:watcher:api_unhealthy");
    assert_eq!(down.body["priority"], "P1");
    assert!(channel
        .requests(&sample_event(EventType::SettingsChanged, Utc::now()))
        .unwrap()
        .is_empty());
    let test = channel
        .requests(&sample_event(EventType::Test, Utc::now()))
        .unwrap();
    assert_eq!(
        test.iter().map(|r| r.action).collect::<Vec<_>>(),
        [Action::Create, Action::Close]
    );
}

#[test]
fn hostile_campaigns_stay_within_the_field_limits() {
    let channel = channel();
    let mut event = sample_event(EventType::StatusChanged, Utc::now());
    let campaign = event.campaign.as_mut().unwrap();
    campaign.name = format!("\"q\" \\ <b>x</b>\r\n{}", "é".repeat(5000));
    campaign.id = format!("camp/../{}", "x".repeat(5000));
    event.hints = (0..50)
        .map(|n| crate::event::Hint {
            code: format!("code_{n}"),
            text: format!("hint {n} \r\n{}", "h".repeat(400)),
        })
        .collect();
    let create = &channel.requests(&event).unwrap()[0];
    assert!(create.alias.len() <= 512);
    assert!(create
        .alias
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c)));
    let body = &create.body;
    assert!(body["message"].as_str().unwrap().chars().count() <= MESSAGE_CHARS);
    assert!(!body["message"].as_str().unwrap().contains('\r'));
    assert!(body["entity"].as_str().unwrap().chars().count() <= ENTITY_CHARS);
    let details: usize = body["details"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap_or_default().chars().count())
        .sum();
    assert!(details <= 8000, "{details}");
}

#[test]
fn regions_and_previews() {
    let mut eu = settings();
    eu.region = Some("eu".into());
    assert_eq!(eu.base_url(), EU_API_URL);
    let mut problems = Vec::new();
    let bad = OpsgenieSettings {
        region: Some("mars".into()),
        priority: Some([("paused".into(), "P9".into())].into()),
        ..OpsgenieSettings::default()
    };
    bad.check("channels.og", &TextSettings::default(), &mut problems);
    for key in ["api_key", "region", "priority"] {
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with(&format!("channels.og.{key}"))),
            "{key}: {problems:#?}"
        );
    }
    let shown = crate::deliver::tests::everything_shown(&channel());
    assert!(!shown.contains("GENIEKEY"), "{shown}");
    assert!(shown.contains("/close?identifierType=alias"));
}

#[test]
fn jsm_operations_takes_the_same_requests_under_its_integration_api() {
    let jsm = OpsgenieSettings {
        service: Some("jsm".into()),
        ..settings()
    };
    assert_eq!(jsm.base_url(), JSM_API_URL);
    let channel = OpsgenieChannel::new(&jsm, &BuildContext::for_tests("jsm")).unwrap();
    let paused = sample_event(EventType::StatusChanged, Utc::now());
    let create = &channel.requests(&paused).unwrap()[0];
    assert_eq!(
        channel.target_for(create).url.as_str(),
        "https://api.atlassian.com/jsm/ops/integration/v2/alerts"
    );
    let close = Request {
        action: Action::Close,
        alias: create.alias.clone(),
        body: json!({}),
    };
    assert_eq!(
        channel.target_for(&close).url.as_str(),
        "https://api.atlassian.com/jsm/ops/integration/v2/alerts/campaign-watcher:camp_XiQEBcj9cc5TFRB4:paused/close?identifierType=alias"
    );
    let answer = crate::deliver::target::Answer {
        status: reqwest::StatusCode::UNAUTHORIZED,
        retry_after: None,
        body: String::new(),
    };
    match classify(Service::Jsm, "https://api.atlassian.com", &answer) {
        SendOutcome::Permanent { reason } => {
            assert!(
                reason.starts_with("JSM Operations rejected the API key"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn service_region_and_api_url_mistakes_are_named() {
    let check = |settings: OpsgenieSettings| {
        let mut problems = Vec::new();
        settings.check("channels.og", &TextSettings::default(), &mut problems);
        problems
    };
    let with = |service: Option<&str>, region: Option<&str>, api_url: Option<&str>| {
        check(OpsgenieSettings {
            service: service.map(Into::into),
            region: region.map(Into::into),
            api_url: api_url.map(Into::into),
            ..settings()
        })
    };
    assert!(with(Some("jsm"), None, None).is_empty());
    assert!(with(
        None,
        None,
        Some("https://api.atlassian.com/jsm/ops/integration/")
    )
    .is_empty());
    let cases = [
        (with(Some("compass"), None, None), "channels.og.service: \"compass\" must be"),
        (with(Some("jsm"), Some("eu"), None), "channels.og.region: is Opsgenie's"),
        (
            with(None, None, Some("https://api.atlassian.com")),
            "channels.og.api_url: on api.atlassian.com the integration API is https://api.atlassian.com/jsm/ops/integration",
        ),
        (
            with(None, None, Some("https://api.atlassian.com/jsm/ops/integration/v2/alerts")),
            "channels.og.api_url: ends in /v2/alerts, which the watcher adds; use the base, e.g. https://api.atlassian.com/jsm/ops/integration",
        ),
    ];
    for (problems, expected) in cases {
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with(expected), "{problems:?}");
    }
}
