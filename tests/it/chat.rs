//! Slack, Discord, Teams and PagerDuty: each format's required fields at a
//! real loopback receiver, and the targets' own failure answers (429 with
//! Retry-After or a JSON retry_after, Discord's 404, Teams' error inside a 200)
//! from wiremock.

use std::time::Duration;

use campaign_watcher::config::{ChannelSettings, KindSettings, Settings};
use campaign_watcher::deliver::discord::DiscordSettings;
use campaign_watcher::deliver::pagerduty::PagerDutySettings;
use campaign_watcher::deliver::slack::SlackSettings;
use campaign_watcher::deliver::teams::TeamsSettings;
use campaign_watcher::setting::secret::Secret;
use chrono::{TimeDelta, Utc};
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{drain_at, one_pending_row, run_cli, write_config, Receiver, TestApp};

const ROUTING_KEY: &str = "PDKEY_RECOGNISABLE_0123456789abc";

/// `kind` with fast retries.
fn channel(kind: impl Into<KindSettings>) -> ChannelSettings {
    let mut settings = ChannelSettings::new(kind);
    settings.shared.retry_initial_backoff = Duration::from_millis(100);
    settings.shared.retry_max_backoff = Duration::from_millis(400);
    settings
}

fn slack(url: &str) -> ChannelSettings {
    channel(SlackSettings {
        url: Some(url.to_string()),
        ..SlackSettings::default()
    })
}

fn discord(url: &str) -> ChannelSettings {
    channel(DiscordSettings {
        url: Some(url.to_string()),
        ..DiscordSettings::default()
    })
}

fn teams(url: &str) -> ChannelSettings {
    channel(TeamsSettings {
        url: Some(url.to_string()),
        ..TeamsSettings::default()
    })
}

fn pagerduty(url: &str) -> ChannelSettings {
    channel(PagerDutySettings {
        url: Some(url.to_string()),
        routing_key: Some(Secret::new(ROUTING_KEY)),
        ..PagerDutySettings::default()
    })
}

/// Every chat channel at its own path of `receiver`, beside the default webhook.
fn add_chat_channels(settings: &mut Settings, receiver: &Receiver) {
    for (name, settings_for) in [
        ("slack", slack(&receiver.url_for("/slack"))),
        ("discord", discord(&receiver.url_for("/discord"))),
        ("teams", teams(&receiver.url_for("/teams"))),
        ("pager", pagerduty(&receiver.url_for("/pd"))),
    ] {
        settings.channels.insert(name.to_string(), settings_for);
    }
}

fn bodies(receiver: &Receiver, at: &str) -> Vec<Value> {
    receiver.received_at(at).iter().map(|r| r.json()).collect()
}

#[tokio::test]
async fn each_format_carries_its_required_fields() {
    // The receiver exists only after spawn; point the channels at it then.
    let mut app = TestApp::spawn(3).await;
    let receiver = app.receiver.clone();
    add_chat_channels(&mut app.settings, &receiver);
    app.restart().await;
    app.all_live();
    app.cycle().await;
    assert!(receiver.received().is_empty(), "a baseline sends nothing");

    let (paused, failing) = (app.id(0), app.id(1));
    app.sim.control.set_status(&paused, "paused");
    app.sim
        .control
        .set_errors(&failing, vec!["Row 2: invalid phone number".into()]);
    let report = app.cycle().await;
    assert_eq!(report.events.len(), 2);
    let event_ids: Vec<&str> = report.events.iter().map(|e| e.id.as_str()).collect();

    // Slack: one digest for the cycle, text fallback plus blocks.
    let slack = bodies(&receiver, "/slack");
    assert_eq!(slack.len(), 1, "one Slack message per cycle: {slack:#?}");
    // The pause leads, before the upload errors.
    let text = slack[0]["text"].as_str().unwrap();
    assert!(text.ends_with(" paused, and 1 more change"), "{text}");
    let blocks = slack[0]["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    let all_text = serde_json::to_string(blocks).unwrap();
    assert!(all_text.contains(&paused) && all_text.contains("Row 2: invalid phone number"));
    for id in &event_ids {
        assert!(all_text.contains(id), "event id {id} in the Slack context");
    }

    // Discord: one message per event, embeds coloured, mentions off.
    let discord = bodies(&receiver, "/discord");
    assert_eq!(discord.len(), 2);
    for body in &discord {
        assert!(body["content"].as_str().is_some_and(|c| !c.is_empty()));
        assert_eq!(body["allowed_mentions"], serde_json::json!({"parse": []}));
        assert!(body["embeds"][0]["color"].is_u64());
        assert!(body["embeds"][0]["description"].as_str().unwrap().len() > 20);
    }

    // Teams: a message with exactly one Adaptive Card.
    let teams = bodies(&receiver, "/teams");
    assert_eq!(teams.len(), 2);
    for body in &teams {
        assert_eq!(body["type"], "message");
        let attachments = body["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 1);
        assert_eq!(
            attachments[0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let card = &attachments[0]["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        let version: f64 = card["version"].as_str().unwrap().parse().unwrap();
        assert!(version >= 1.2, "{version}");
        assert!(!card["body"].as_array().unwrap().is_empty());
    }

    // PagerDuty: triggers with the Events v2 required fields and stable dedup keys.
    let pd = bodies(&receiver, "/pd");
    assert_eq!(pd.len(), 2, "{pd:#?}");
    let mut keys: Vec<String> = Vec::new();
    for body in &pd {
        assert_eq!(body["routing_key"], ROUTING_KEY);
        assert_eq!(body["event_action"], "trigger");
        assert!(body["payload"]["summary"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
        assert!(body["payload"]["source"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
        assert!(["critical", "error", "warning", "info"]
            .contains(&body["payload"]["severity"].as_str().unwrap()));
        keys.push(body["dedup_key"].as_str().unwrap().to_string());
    }
    keys.sort();
    let mut expected = vec![
        format!("campaign-watcher/{paused}/paused"),
        format!("campaign-watcher/{failing}/upload_errors"),
    ];
    expected.sort();
    assert_eq!(keys, expected);

    // The conditions end: PagerDuty gets resolves with the same keys.
    app.sim.control.set_status(&paused, "live");
    app.sim.control.set_errors(&failing, vec![]);
    app.cycle().await;
    let pd = bodies(&receiver, "/pd");
    let mut resolved: Vec<String> = pd[2..]
        .iter()
        .map(|body| {
            assert_eq!(body["event_action"], "resolve");
            body["dedup_key"].as_str().unwrap().to_string()
        })
        .collect();
    resolved.sort();
    assert_eq!(resolved, expected);
    assert_eq!(bodies(&receiver, "/slack").len(), 2, "one more digest");

    // A campaign that disappears opens an incident; its return resolves it.
    let gone = app.id(2);
    let raw = app.sim.control.raw(&gone).unwrap();
    app.sim.control.remove(&gone);
    app.cycle().await;
    app.sim.control.insert(raw);
    app.cycle().await;
    let pd = bodies(&receiver, "/pd");
    let not_found: Vec<(&str, &str)> = pd[4..]
        .iter()
        .map(|body| {
            (
                body["event_action"].as_str().unwrap(),
                body["dedup_key"].as_str().unwrap(),
            )
        })
        .collect();
    let key = format!("campaign-watcher/{gone}/not_found");
    assert_eq!(
        not_found,
        [("trigger", key.as_str()), ("resolve", key.as_str())]
    );
}

/// Every recorded delivery error, straight from the state file.
async fn outbox_errors(settings: &Settings) -> Vec<String> {
    use sqlx::Connection;
    let mut connection = sqlx::SqliteConnection::connect(&settings.state.url)
        .await
        .unwrap();
    let errors: Vec<(Option<String>,)> = sqlx::query_as("SELECT last_error FROM outbox")
        .fetch_all(&mut connection)
        .await
        .unwrap();
    errors.into_iter().filter_map(|(error,)| error).collect()
}

#[tokio::test]
async fn slack_429_waits_for_retry_after_then_sends() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/T0/B0/TOKEN"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/services/T0/B0/TOKEN"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let url = format!("{}/services/T0/B0/TOKEN", server.uri());
    let (_app, dispatcher) = one_pending_row(slack(&url)).await;
    let start = Utc::now();
    assert_eq!(drain_at(&dispatcher, start).await, (0, 1, 0));
    // The backoff alone (100 ms) would be due by now; Retry-After (30 s) is not.
    assert_eq!(
        drain_at(&dispatcher, start + TimeDelta::seconds(10)).await,
        (0, 0, 0)
    );
    assert_eq!(
        drain_at(&dispatcher, start + TimeDelta::seconds(31)).await,
        (1, 0, 0)
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn discord_429_waits_for_the_json_retry_after_and_404_is_dead() {
    let server = MockServer::start().await;
    // No Retry-After header: the JSON body alone says how long.
    Mock::given(method("POST"))
        .and(path("/api/webhooks/1/live"))
        .respond_with(ResponseTemplate::new(429).set_body_raw(
            r#"{"message": "You are being rate limited.", "retry_after": 20.5, "global": false}"#,
            "application/json",
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/webhooks/1/live"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let url = format!("{}/api/webhooks/1/live", server.uri());
    let (_app, dispatcher) = one_pending_row(discord(&url)).await;
    let start = Utc::now();
    assert_eq!(drain_at(&dispatcher, start).await, (0, 1, 0));
    assert_eq!(
        drain_at(&dispatcher, start + TimeDelta::seconds(15)).await,
        (0, 0, 0)
    );
    assert_eq!(
        drain_at(&dispatcher, start + TimeDelta::seconds(21)).await,
        (1, 0, 0)
    );

    // A deleted webhook answers 404: dead at once, and the reason says so.
    Mock::given(method("POST"))
        .and(path("/api/webhooks/2/GONETOKEN"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(
            r#"{"message": "Unknown Webhook", "code": 10015}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let url = format!("{}/api/webhooks/2/GONETOKEN", server.uri());
    let (app, dispatcher) = one_pending_row(discord(&url)).await;
    assert_eq!(drain_at(&dispatcher, Utc::now()).await, (0, 0, 1));
    let text = outbox_errors(&app.settings).await.join("\n");
    assert!(text.contains("webhook is gone"), "{text}");
    assert!(
        !text.contains("GONETOKEN"),
        "the url path stays out of the reason: {text}"
    );
}

#[tokio::test]
async fn teams_200_with_an_error_in_the_body_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0,server=msgapi",
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let url = format!(
        "{}/workflows/abc/triggers/manual/paths/invoke",
        server.uri()
    );
    let (_app, dispatcher) = one_pending_row(teams(&url)).await;
    let start = Utc::now();
    assert_eq!(drain_at(&dispatcher, start).await, (0, 1, 0));
    assert_eq!(
        drain_at(&dispatcher, start + TimeDelta::minutes(1)).await,
        (1, 0, 0)
    );
}

#[tokio::test]
async fn pagerduty_retries_429_and_gives_up_on_400() {
    let receiver = Receiver::spawn().await;
    let url = receiver.url_for("/v2/enqueue");
    receiver.answer_at("/v2/enqueue", &[429, 400]);
    let (app, dispatcher) = one_pending_row(pagerduty(&url)).await;
    let start = Utc::now();
    assert_eq!(drain_at(&dispatcher, start).await, (0, 1, 0));
    assert_eq!(
        drain_at(&dispatcher, start + TimeDelta::minutes(1)).await,
        (0, 0, 1)
    );
    assert_eq!(receiver.received_at("/v2/enqueue").len(), 2);
    let text = outbox_errors(&app.settings).await.join("\n");
    assert!(text.contains("400"), "{text}");
    assert!(!text.contains(ROUTING_KEY), "{text}");
}

#[tokio::test]
async fn render_previews_every_kind_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        r#"
[channels.slack]
kind = "slack"
url = "https://hooks.slack.com/services/T0/B0/SLACKTOKEN"
[channels.discord]
kind = "discord"
url = "https://discord.com/api/webhooks/1/DISCORDTOKEN"
[channels.teams]
kind = "teams"
url = "https://prod.logic.azure.com/workflows/1?sig=TEAMSSIG"
[channels.pager]
kind = "pagerduty"
routing_key = "{ROUTING_KEY}"
[channels.am]
kind = "alertmanager"
url = "http://127.0.0.1:9093"
"#
    );
    let config = write_config(
        dir.path(),
        "http://127.0.0.1:9",
        &["camp_1".to_string()],
        "http://127.0.0.1:9/hook",
        &extra,
    );
    let config = config.display().to_string();
    let expectations = [
        ("slack", "\"blocks\""),
        ("discord", "\"allowed_mentions\""),
        ("teams", "application/vnd.microsoft.card.adaptive"),
        ("pager", "\"dedup_key\""),
        ("am", "\"CampaignPaused\""),
    ];
    for (name, expected) in expectations {
        for args in [vec!["render", name], vec!["render", name, "--digest"]] {
            let mut full = vec!["--config", config.as_str()];
            full.extend(args.iter().copied());
            let out = run_cli(&full, &[]).await;
            assert_eq!(out.code, Some(0), "{name}: {}", out.all_output());
            assert!(out.stdout.contains(expected), "{name}: {}", out.stdout);
            for secret in ["SLACKTOKEN", "DISCORDTOKEN", "TEAMSSIG", ROUTING_KEY] {
                assert!(!out.all_output().contains(secret), "{name} shows {secret}");
            }
        }
    }
    let checked = run_cli(&["--config", config.as_str(), "check-config"], &[]).await;
    assert_eq!(checked.code, Some(0), "{}", checked.all_output());
    for secret in ["SLACKTOKEN", "DISCORDTOKEN", "TEAMSSIG", ROUTING_KEY] {
        assert!(
            !checked.all_output().contains(secret),
            "check-config shows {secret}"
        );
    }
}
