//! The `opsgenie` kind with `service = "jsm"` against a receiver that serves
//! only Jira Service Management Operations' integration API paths: a pause
//! creates an alert, its resume closes it by the same alias.

use campaign_watcher::config::{ChannelSettings, Settings};
use campaign_watcher::deliver::opsgenie::OpsgenieSettings;
use campaign_watcher::setting::secret::Secret;
use wiremock::matchers::{header, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::TestApp;

const KEY: &str = "5e1f0c2a-JSM-GENIE-KEY-0b7d93";
const BASE: &str = "/jsm/ops/integration";

fn accepted() -> ResponseTemplate {
    ResponseTemplate::new(202).set_body_json(serde_json::json!({
        "result": "Request will be processed", "took": 0.107, "requestId": "9ae63dd7-ed00-4c81-86f0-c4ffd33142c9",
    }))
}

/// JSM's integration API: create at `/v2/alerts`, close at
/// `/v2/alerts/{alias}/close?identifierType=alias`, both with the GenieKey.
/// Anything else gets wiremock's 404, which kills the row.
async fn jsm_receiver() -> MockServer {
    let server = MockServer::start().await;
    let auth = format!("GenieKey {KEY}");
    Mock::given(method("POST"))
        .and(path(format!("{BASE}/v2/alerts")))
        .and(header("authorization", auth.as_str()))
        .respond_with(accepted())
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(format!(r"^{BASE}/v2/alerts/[^/]+/close$")))
        .and(query_param("identifierType", "alias"))
        .and(header("authorization", auth.as_str()))
        .respond_with(accepted())
        .mount(&server)
        .await;
    server
}

fn jsm(server: &MockServer) -> ChannelSettings {
    ChannelSettings::new(OpsgenieSettings {
        service: Some("jsm".into()),
        api_url: Some(format!("{}{BASE}", server.uri())),
        api_key: Some(Secret::new(KEY)),
        ..OpsgenieSettings::default()
    })
}

fn only(settings: &mut Settings, channel: ChannelSettings) {
    settings.channels.clear();
    settings.channels.insert("jsm".into(), channel);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_creates_a_jsm_alert_and_its_resume_closes_it_by_alias() {
    let server = jsm_receiver().await;
    let channel = jsm(&server);
    let app = TestApp::spawn_with(2, |s| only(s, channel)).await;
    app.all_live();
    app.cycle().await;
    let campaign = app.id(0);
    app.sim.control.set_status(&campaign, "paused");
    app.cycle().await;
    app.sim.control.set_status(&campaign, "live");
    app.cycle().await;

    let counts = app.daemon.store().outbox_counts().await.unwrap();
    assert_eq!(
        (counts.sent, counts.pending, counts.dead),
        (2, 0, 0),
        "both requests reached a path JSM serves"
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    let create: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    let alias = format!("campaign-watcher:{campaign}:paused");
    assert_eq!(requests[0].url.path(), format!("{BASE}/v2/alerts"));
    assert_eq!(create["alias"], alias.as_str());
    assert_eq!(create["priority"], "P3");
    assert!(create["message"]
        .as_str()
        .unwrap()
        .contains("live → paused"));
    assert_eq!(
        requests[1].url.path(),
        format!("{BASE}/v2/alerts/{alias}/close")
    );
    assert_eq!(requests[1].url.query(), Some("identifierType=alias"));
    let close: serde_json::Value = serde_json::from_slice(&requests[1].body).unwrap();
    let note = close["note"].as_str().unwrap();
    assert!(
        note.contains("paused -> live") && note.contains("(evt_"),
        "{note}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_notify_opens_and_closes_a_jsm_test_alert_and_names_jsm_when_the_key_is_refused() {
    let server = jsm_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jsm-key"), format!("{KEY}\n")).unwrap();
    let config = crate::helpers::write_config(
        dir.path(),
        "http://127.0.0.1:9",
        &["camp_1".to_string()],
        "http://127.0.0.1:9/hook",
        &format!(
            r#"
[channels.jsm]
kind = "opsgenie"
service = "jsm"
api_url = "{}{BASE}"
api_key_file = "{}"
"#,
            server.uri(),
            dir.path().join("jsm-key").display()
        ),
    );
    let config = config.display().to_string();
    let trace = [("RUST_LOG", "trace")];
    let sent = crate::helpers::run_cli(&["--config", &config, "test-notify", "jsm"], &trace).await;
    assert_eq!(sent.code, Some(0), "{}", sent.all_output());
    assert!(
        sent.stdout.contains("jsm: delivered (create "),
        "{}",
        sent.stdout
    );
    assert!(!sent.all_output().contains(KEY));
    let requests = server.received_requests().await.unwrap();
    let paths: Vec<&str> = requests.iter().map(|r| r.url.path()).collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert_eq!(paths[0], format!("{BASE}/v2/alerts"));
    assert!(
        paths[1].starts_with(&format!("{BASE}/v2/alerts/campaign-watcher:test:evt_"))
            && paths[1].ends_with("/close"),
        "{paths:?}"
    );

    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_string(format!(
            r#"{{"message":"Key {KEY} is not valid","took":0.0}}"#
        )))
        .mount(&server)
        .await;
    let refused =
        crate::helpers::run_cli(&["--config", &config, "test-notify", "jsm"], &trace).await;
    assert_eq!(refused.code, Some(1), "{}", refused.all_output());
    assert!(
        refused
            .stdout
            .contains("jsm: FAILED: JSM Operations rejected the API key; check api_key: the key of an API integration"),
        "{}",
        refused.stdout
    );
    assert!(!refused.all_output().contains(KEY));
}
