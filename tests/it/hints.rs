//! Probable-cause hints end to end (issue 21): a pause with an inactive caller
//! number, set through the simulator's /admin API over HTTP, carries the hint
//! in the webhook payload, the email (real SMTP) and the Slack text; the
//! Alertmanager re-asserter keeps the hints annotation; and a state store
//! written by the schema-version-5 release upgrades without an event.

use std::time::Duration;

use campaign_watcher::config::{ChannelSettings, KindSettings};
use campaign_watcher::daemon::Daemon;
use campaign_watcher::deliver::alertmanager::AlertmanagerSettings;
use campaign_watcher::deliver::email::EmailSettings;
use campaign_watcher::deliver::slack::SlackSettings;
use serde_json::Value;

use crate::alertmanager::AlertmanagerServer;
use crate::helpers::{run_cli, spawn_sim, TestApp, TEST_KEY};
use crate::smtp::{Aiosmtpd, SmtpTls};

const INACTIVE: &str = "is marked inactive by the API (phoneNumber.active is false)";

fn fast(kind: impl Into<KindSettings>) -> ChannelSettings {
    let mut settings = ChannelSettings::new(kind);
    settings.shared.retry_initial_backoff = Duration::from_millis(100);
    settings.shared.retry_max_backoff = Duration::from_millis(400);
    settings
}

/// Pauses campaign `id` and marks its caller number inactive, as the API
/// would show it: through the simulator's /admin API, over HTTP.
async fn pause_with_inactive_number(sim_url: &str, id: &str) {
    let url = format!("{sim_url}/admin/campaigns/{id}");
    let client = reqwest::Client::new();
    let campaign: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    let mut phone = campaign["phoneNumber"].clone();
    assert!(phone.is_object(), "campaign {id} has a phone number object");
    phone["active"] = Value::Bool(false);
    let answer = client
        .patch(&url)
        .json(&serde_json::json!({"campaignStatus": "paused", "phoneNumber": phone}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_with_an_inactive_number_shows_the_hint_in_webhook_email_and_slack() {
    let smtp = Aiosmtpd::start(SmtpTls::Plain).await;
    let mut app = TestApp::spawn(2).await;
    let receiver = app.receiver.clone();
    app.settings.channels.insert(
        "slack".into(),
        fast(SlackSettings {
            url: Some(receiver.url_for("/slack")),
            ..SlackSettings::default()
        }),
    );
    app.settings.channels.insert(
        "mail".into(),
        fast(EmailSettings {
            smtp_url: Some(smtp.url()),
            from: Some("watcher@example.com".into()),
            to: vec!["ops@example.com".into()],
            ..EmailSettings::default()
        }),
    );
    app.restart().await;
    app.all_live();
    app.cycle().await;

    // Index 0 has a full phone-number object, active.
    let id = app.id(0);
    pause_with_inactive_number(&app.sim.base_url(), &id).await;
    let report = app.cycle().await;
    let kinds: Vec<&str> = report.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["campaign.status_changed"], "no settings change");

    let hooks = receiver.received_at("/hook");
    assert_eq!(hooks.len(), 1);
    let payload = hooks[0].json();
    assert_eq!(payload["hints"][0]["code"], "caller_number_inactive");
    let text = payload["hints"][0]["text"].as_str().unwrap();
    assert!(text.contains(INACTIVE), "{text}");

    let mails = smtp.wait_for(1).await;
    let body = mails[0].part("text/plain");
    assert!(
        body.contains("Possible causes (facts from the API, not a diagnosis):"),
        "{body}"
    );
    assert!(body.contains(INACTIVE), "{body}");
    assert!(mails[0].part("text/html").contains(INACTIVE));

    let slack = receiver.received_at("/slack");
    assert_eq!(slack.len(), 1);
    let slack = slack[0].json().to_string();
    assert!(slack.contains(INACTIVE), "{slack}");
}

fn alertmanager_channel(base_url: &str) -> ChannelSettings {
    fast(AlertmanagerSettings {
        url: Some(base_url.to_string()),
        resend_interval: Some(Duration::from_secs(600)),
        ..AlertmanagerSettings::default()
    })
}

async fn paused_alert(alertmanager: &AlertmanagerServer, id: &str) -> Value {
    assert!(
        alertmanager.wait_for("CampaignPaused", id, true).await,
        "active alerts: {:#?}",
        alertmanager.active_alerts().await
    );
    alertmanager
        .active_alerts()
        .await
        .into_iter()
        .find(|alert| alert["labels"]["campaign_id"] == id)
        .unwrap()
}

/// A fresh Alertmanager hears of the pause only from the re-asserter, which
/// rebuilds it from the stored state: the hints annotation must be there too.
#[tokio::test]
async fn a_reasserted_alert_keeps_its_hints() {
    let first = AlertmanagerServer::start().await;
    let mut app = TestApp::spawn_with(1, |settings| {
        settings
            .channels
            .insert("am".into(), alertmanager_channel(&first.base_url));
    })
    .await;
    app.all_live();
    app.cycle().await;
    let id = app.id(0);
    pause_with_inactive_number(&app.sim.base_url(), &id).await;
    app.cycle().await;
    let posted = paused_alert(&first, &id).await;
    let hints = posted["annotations"]["hints"].as_str().unwrap().to_string();
    assert!(hints.contains(INACTIVE), "{hints}");
    assert_eq!(
        posted["annotations"]["hint_codes"],
        "caller_number_inactive"
    );

    let second = AlertmanagerServer::start().await;
    app.settings
        .channels
        .insert("am".into(), alertmanager_channel(&second.base_url));
    app.restart().await;
    let daemon = Daemon::build(&app.settings).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(daemon.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let reposted = paused_alert(&second, &id).await;
    assert_eq!(reposted["annotations"]["hints"], hints.as_str());
    assert_eq!(
        reposted["annotations"]["hint_codes"],
        "caller_number_inactive"
    );
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(15), running)
        .await
        .expect("the daemon stops")
        .unwrap()
        .unwrap();
}

/// One number from the store at `url` (SQLite or PostgreSQL).
async fn count(url: &str, sql: &str) -> i64 {
    use sqlx::Connection;
    let (n,): (i64,) = if url.starts_with("sqlite:") {
        let mut connection = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_as(sql)
            .fetch_one(&mut connection)
            .await
            .unwrap()
    } else {
        let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_as(sql)
            .fetch_one(&mut connection)
            .await
            .unwrap()
    };
    n
}

/// The committed v5 store (tests/fixtures/v5), read by this release against a
/// simulator serving the same campaigns: its snapshots lack `caller_active`,
/// and learning it must announce nothing and queue nothing.
async fn a_v5_store_upgrades_silently(url: &str) {
    let sim = spawn_sim(6).await;
    // As the fixture's README says: the first live campaign was read as paused.
    let live = sim
        .control
        .all_raw()
        .into_iter()
        .find(|c| c["campaignStatus"] == "live")
        .unwrap();
    sim.control
        .set_status(live["campaignId"].as_str().unwrap(), "paused");

    let seqs = "SELECT CAST(SUM(seq) AS BIGINT) FROM campaign_state";
    let events = "SELECT COUNT(*) FROM events";
    let outbox = "SELECT COUNT(*) FROM outbox";
    let (before_seqs, before_events, before_outbox) = (
        count(url, seqs).await,
        count(url, events).await,
        count(url, outbox).await,
    );
    assert_eq!(
        (before_events, before_outbox),
        (1, 1),
        "the fixture's pause"
    );
    let lacking = "SELECT COUNT(*) FROM campaign_state WHERE state_json NOT LIKE '%caller_active%'";
    assert_eq!(
        count(url, lacking).await,
        6,
        "the fixture predates the flag"
    );

    // The fixture's rules without `remind_every`: a reminder of its pause
    // would be due an hour after the fixture was written, whatever the upgrade did.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"[sigmamind]
base_url = "{sim_url}"
api_key = "{TEST_KEY}"
max_retries = 0
[watch]
all = true
interval = "60s"
[state]
url = "{url}"
[http]
listen = "127.0.0.1:0"
[channels.hook]
kind = "webhook"
url = "http://127.0.0.1:9/hook"
secret = "whsec_Zml4dHVyZSBmaXh0dXJlIGZpeHR1cmUgZml4dHVy"
retry_initial_backoff = "1h"
retry_max_backoff = "2h"
[[rules]]
name = "everything"
events = ["campaign.status_changed", "campaign.upload_errors_added"]
campaigns = ["*"]
channels = ["hook"]
"#,
            sim_url = sim.base_url(),
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    for _ in 0..2 {
        let run = run_cli(&["--config", config, "once", "--wait", "1s"], &[]).await;
        assert!(
            !run.all_output().contains("panicked"),
            "{}",
            run.all_output()
        );
    }
    assert_eq!(count(url, events).await, before_events, "no event");
    assert_eq!(count(url, outbox).await, before_outbox, "no outbox row");
    assert_eq!(
        count(url, seqs).await,
        before_seqs,
        "no sequence moved: later event ids are those the v5 release would give"
    );
    // Campaigns whose phone number carries the flag learnt it.
    let learnt =
        "SELECT COUNT(*) FROM campaign_state WHERE state_json LIKE '%\"caller_active\":true%'";
    let with_flag = sim
        .control
        .all_raw()
        .iter()
        .filter(|c| c["phoneNumber"]["active"].is_boolean())
        .count() as i64;
    assert!(with_flag > 0);
    assert_eq!(count(url, learnt).await, with_flag);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v5_sqlite_store_upgrades_without_an_event_or_an_outbox_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.sqlite");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/v5/state.sqlite"
        ),
        &db,
    )
    .unwrap();
    a_v5_store_upgrades_silently(&format!("sqlite://{}", db.display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v5_postgres_store_upgrades_without_an_event_or_an_outbox_row() {
    let database = crate::helpers::v5_postgres_store().await;
    a_v5_store_upgrades_silently(database.url()).await;
}

/// The board's campaign page (real binary) shows the stored hints, escaped,
/// and marks the inactive number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_campaign_page_shows_the_hints() {
    let board = crate::board::Board::start(2, "").await;
    let id = board.app.sim.control.ids()[0].clone();
    pause_with_inactive_number(&board.app.sim.base_url(), &id).await;
    board
        .until(
            |list| {
                list["campaigns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["id"] == id.as_str())
            },
            "/api/v1/campaigns?status=paused",
        )
        .await;
    let (status, _, page) = board
        .get(&format!("/accounts/default/campaigns/{id}"))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<h2 id=\"hints\">Possible causes</h2>"),
        "{page}"
    );
    assert!(page.contains(INACTIVE), "{page}");
    assert!(page.contains("&quot;+1555"), "API text is escaped: {page}");
    assert!(page.contains("(marked inactive by the API)"), "{page}");
}

// The hint tables over the API's raw shapes: the wire normaliser (`fetch`)
// feeding the hint function (`diff`), which the layers keep apart in `src/`.
mod over_the_api_shapes {
    use campaign_watcher::diff::hints::{hints, HintCode};
    use campaign_watcher::fetch::wire::normalise_campaign;
    use campaign_watcher::observe::Snapshot;
    use chrono::{DateTime, TimeZone, Utc};
    use serde_json::{json, Value};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap()
    }

    /// A campaign as the API sends it (the documented example), with `changes` merged in.
    fn campaign(changes: Value) -> Value {
        let mut campaign = json!({
            "campaignId": "camp_Ab12",
            "campaignName": "Renewals May",
            "campaignStatus": "paused",
            "scheduledDate": null,
            "concurrentCalls": 3,
            "agent": {"name": "Renewal Bot", "agentId": "agent_Zz9", "status": "Live"},
            "phoneNumber": {"sipPhoneNumber": "+15550001111", "provider": "telnyx", "active": true},
            "errors": [],
            "scheduled": false
        });
        if let (Value::Object(target), Value::Object(changes)) = (&mut campaign, changes) {
            for (key, value) in changes {
                if value == json!("<remove>") {
                    target.remove(&key);
                } else {
                    target.insert(key, value);
                }
            }
        }
        campaign
    }

    fn snapshot(changes: Value) -> Snapshot {
        normalise_campaign(&campaign(changes)).unwrap()
    }

    fn codes(previous: Option<&Snapshot>, current: &Snapshot) -> Vec<&'static str> {
        let known: Vec<&'static str> = HintCode::ALL.iter().map(|code| code.as_str()).collect();
        hints(previous, current, now())
            .iter()
            .map(|hint| {
                *known
                    .iter()
                    .find(|code| **code == hint.code)
                    .unwrap_or_else(|| panic!("unlisted code {}", hint.code))
            })
            .collect()
    }

    #[test]
    fn standing_facts_over_the_api_shape_variations() {
        let cases: Vec<(&str, Value, &[&str])> = vec![
            ("the documented example", json!({}), &[]),
            (
                "inactive number",
                json!({"phoneNumber": {"sipPhoneNumber": "+15550001111", "active": false}}),
                &["caller_number_inactive"],
            ),
            (
                "inactive, flag as text",
                json!({"phoneNumber": {"sipPhoneNumber": 15550001111u64, "active": "false"}}),
                &["caller_number_inactive"],
            ),
            (
                "inactive, no number",
                json!({"phoneNumber": {"active": false}}),
                &["caller_number_inactive"],
            ),
            (
                "phoneNumber is the string Object",
                json!({"phoneNumber": "Object"}),
                &[],
            ),
            ("phoneNumber null", json!({"phoneNumber": null}), &[]),
            (
                "phoneNumber missing",
                json!({"phoneNumber": "<remove>"}),
                &[],
            ),
            (
                "active missing",
                json!({"phoneNumber": {"sipPhoneNumber": "+15550001111"}}),
                &[],
            ),
            (
                "active is neither true nor false",
                json!({"phoneNumber": {"sipPhoneNumber": "+1555", "active": "maybe"}}),
                &[],
            ),
            (
                "agent Testing",
                json!({"agent": {"name": "Bot", "agentId": "a", "status": "Testing"}}),
                &["agent_not_live"],
            ),
            (
                "agent active (old docs)",
                json!({"agent": {"name": "Bot", "agentId": "a", "status": "active"}}),
                &[],
            ),
            (
                "agent LIVE, padded",
                json!({"agent": {"name": "Bot", "agentId": "a", "status": " LIVE "}}),
                &[],
            ),
            (
                "agent status unknown to the docs",
                json!({"agent": {"agentId": "a", "status": "suspended"}}),
                &["agent_not_live"],
            ),
            (
                "agent status missing",
                json!({"agent": {"agentId": "a"}}),
                &[],
            ),
            (
                "agent status empty",
                json!({"agent": {"agentId": "a", "status": "  "}}),
                &[],
            ),
            ("agent null", json!({"agent": null}), &[]),
            (
                "concurrentCalls 0",
                json!({"concurrentCalls": 0}),
                &["concurrent_calls_zero"],
            ),
            (
                "concurrentCalls \"0\"",
                json!({"concurrentCalls": "0"}),
                &["concurrent_calls_zero"],
            ),
            (
                "concurrentCalls missing",
                json!({"concurrentCalls": "<remove>"}),
                &[],
            ),
            (
                "paused before a future launch",
                json!({"scheduledDate": "2027-03-02T09:30:00.000Z"}),
                &["schedule_in_future"],
            ),
            (
                "paused, launch passed",
                json!({"scheduledDate": "2026-03-02T09:30:00.000Z"}),
                &[],
            ),
            (
                "scheduled, date passed",
                json!({"campaignStatus": "scheduled", "scheduledDate": "2026-12-01T08:00:00Z"}),
                &["schedule_passed"],
            ),
            (
                "scheduled, date-only passed",
                json!({"campaignStatus": "scheduled", "scheduledDate": "2026-11-30"}),
                &["schedule_passed"],
            ),
            (
                "scheduled, date-only today (any zone): too close to tell",
                json!({"campaignStatus": "scheduled", "scheduledDate": "2026-12-02"}),
                &[],
            ),
            (
                "scheduled, zoneless time 10 hours ago: too close to tell",
                json!({"campaignStatus": "scheduled", "scheduledDate": "2026-12-01T23:00:00"}),
                &[],
            ),
            (
                "scheduled, zoneless time two days ago",
                json!({"campaignStatus": "scheduled", "scheduledDate": "2026-11-30T09:00:00"}),
                &["schedule_passed"],
            ),
            (
                "scheduled, date unreadable",
                json!({"campaignStatus": "scheduled", "scheduledDate": "next Tuesday"}),
                &[],
            ),
            (
                "scheduled, future",
                json!({"campaignStatus": "scheduled", "scheduledDate": "2027-03-02"}),
                &[],
            ),
            (
                "completed before its date",
                json!({"campaignStatus": "completed", "scheduledDate": "2027-03-02"}),
                &["completed_before_schedule"],
            ),
            (
                "everything at once, in order",
                json!({
                    "phoneNumber": {"sipPhoneNumber": "+1555", "active": false},
                    "agent": {"agentId": "a", "status": "Testing"},
                    "scheduledDate": "2027-03-02",
                    "concurrentCalls": 0
                }),
                &[
                    "caller_number_inactive",
                    "agent_not_live",
                    "schedule_in_future",
                    "concurrent_calls_zero",
                ],
            ),
        ];
        for (label, changes, expected) in cases {
            let current = snapshot(changes);
            assert_eq!(codes(None, &current), expected, "{label} (first sighting)");
            // The same facts with an unchanged previous snapshot: nothing more.
            assert_eq!(
                codes(Some(&current), &current),
                expected,
                "{label} (unchanged)"
            );
        }
    }

    #[test]
    fn changes_since_the_last_check() {
        let cases: Vec<(&str, Value, Value, &[&str])> = vec![
            (
                "caller number changed",
                json!({}),
                json!({"phoneNumber": {"sipPhoneNumber": "+15550009999", "active": true}}),
                &["caller_number_changed"],
            ),
            (
                "caller number gone (string Object)",
                json!({}),
                json!({"phoneNumber": "Object"}),
                &["caller_number_changed"],
            ),
            (
                "caller number appeared: not a change worth a hint",
                json!({"phoneNumber": "Object"}),
                json!({}),
                &[],
            ),
            (
                "same number, bare digits then text",
                json!({"phoneNumber": {"sipPhoneNumber": 15550001111u64}}),
                json!({}),
                &[],
            ),
            (
                "agent changed",
                json!({}),
                json!({"agent": {"name": "Other Bot", "agentId": "agent_Other", "status": "Live"}}),
                &["agent_changed"],
            ),
            (
                "agent renamed, same id: not changed",
                json!({}),
                json!({"agent": {"name": "Renamed", "agentId": "agent_Zz9", "status": "Live"}}),
                &[],
            ),
            (
                "agent gone",
                json!({}),
                json!({"agent": null}),
                &["agent_changed"],
            ),
            (
                "agent known by name only, renamed",
                json!({"agent": {"name": "A", "status": "Live"}}),
                json!({"agent": {"name": "B", "status": "Live"}}),
                &["agent_changed"],
            ),
            (
                "upload errors appeared",
                json!({"errors": ["Row 1: bad"]}),
                json!({"errors": ["Row 1: bad", "Row 2: bad", "Row 3: bad"]}),
                &["upload_errors_added"],
            ),
            (
                "upload errors fewer: no hint",
                json!({"errors": ["Row 1: bad", "Row 2: bad"]}),
                json!({"errors": ["Row 1: bad"]}),
                &[],
            ),
            (
                "concurrency dropped",
                json!({"concurrentCalls": 5}),
                json!({"concurrentCalls": 2}),
                &["concurrent_calls_dropped"],
            ),
            (
                "concurrency dropped to 0: said once",
                json!({"concurrentCalls": 5}),
                json!({"concurrentCalls": 0}),
                &["concurrent_calls_zero"],
            ),
            (
                "concurrency raised",
                json!({"concurrentCalls": 2}),
                json!({"concurrentCalls": 5}),
                &[],
            ),
        ];
        for (label, before, after, expected) in cases {
            let previous = snapshot(before);
            assert_eq!(
                codes(Some(&previous), &snapshot(after)),
                expected,
                "{label}"
            );
        }
    }

    #[test]
    fn sentences_say_the_facts_as_possible_causes() {
        let previous = snapshot(json!({"errors": ["Row 1: bad"]}));
        let current = snapshot(json!({
            "phoneNumber": {"sipPhoneNumber": "+15550001111", "active": false},
            "errors": ["Row 1: bad", "Row 2: bad"],
        }));
        let texts: Vec<String> = hints(Some(&previous), &current, now())
            .into_iter()
            .map(|hint| hint.text)
            .collect();
        assert_eq!(
            texts,
            [
                "The caller number \"+15550001111\" is marked inactive by the API (phoneNumber.active is false): calls may not go out from it.",
                "1 upload error appeared in the same check (2 in all): rows the upload rejected are not dialled.",
            ]
        );
    }

    #[test]
    fn quoted_api_text_is_cut() {
        let long = "x".repeat(5_000);
        let current = snapshot(json!({"agent": {"name": long, "status": "Testing\u{202e}"}}));
        let hint = &hints(None, &current, now())[0];
        assert_eq!(hint.code, "agent_not_live");
        assert!(hint.text.chars().count() < 300, "{}", hint.text.len());
        assert!(hint.text.contains('…'));
    }
}
