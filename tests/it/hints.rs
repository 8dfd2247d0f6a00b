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
remind_every = "1h"
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
    use sqlx::Connection;
    let database = campaign_watcher::commit::scratch::ScratchDatabase::create().await;
    let dump = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/v5/postgres.sql"
    ))
    .unwrap();
    let mut connection = sqlx::PgConnection::connect(database.url()).await.unwrap();
    sqlx::raw_sql(&dump).execute(&mut connection).await.unwrap();
    connection.close().await.unwrap();
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
