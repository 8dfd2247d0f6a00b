//! Every view covers every client account: two simulated accounts on the real
//! binary, one key revoked. The API's status and the board show each account's
//! health and last cycle; `/metrics` counts a grouped channel's deliveries and
//! carries per-account series; text lines name their account; schemathesis
//! finds nothing against the API of two accounts.

use std::time::Duration;

use serde_json::Value;

use crate::accounts::{accounts_toml, KEY_ACME, KEY_GLOBEX};
use crate::helpers::{all_live, key_rejected, run_cli, spawn_daemon, spawn_sim_with_key, Receiver};

const WITHIN: Duration = Duration::from_secs(60);

/// A Slack webhook that is gone: every post answers 404 `no_service`.
async fn gone_slack() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "no_service") });
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn get(url: &str) -> (u16, String) {
    let answer = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("the daemon answers");
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap_or_default())
}

/// Poll `path` until `check` holds (bounded), returning the last body.
async fn until(base: &str, path: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let (_, body) = get(&format!("{base}{path}")).await;
        if check(&body) || tokio::time::Instant::now() >= deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_key_revoked_every_view_shows_each_account_apart() {
    let acme = spawn_sim_with_key(2, KEY_ACME).await;
    let globex = spawn_sim_with_key(2, KEY_GLOBEX).await;
    all_live(&acme);
    all_live(&globex);
    let receiver = Receiver::spawn().await;
    let gone = gone_slack().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("campaign-watcher.toml");
    std::fs::write(
        &config,
        format!(
            r#"[sigmamind]
timeout = "2s"
max_requests_per_second = 0

{accounts}
[watch]
interval = "1s"
unhealthy_after = 2

[state]
url = "sqlite://{state}"

[http]
listen = "127.0.0.1:0"

[channels.team]
kind = "slack"
url = "{team}"

[channels.old_team]
kind = "slack"
url = "http://{gone}/services/T000/B000/gone"

[[rules]]
events = ["campaign.status_changed"]
channels = ["team", "old_team"]

[[rules]]
events = ["watcher.api_unhealthy"]
channels = ["team"]
"#,
            accounts = accounts_toml(&[("acme", &acme, KEY_ACME), ("globex", &globex, KEY_GLOBEX)]),
            state = dir.path().join("state.db").display(),
            team = receiver.url_for("/slack"),
        ),
    )
    .unwrap();
    let mut daemon = spawn_daemon(&config, dir.path());
    let base = format!("http://{}", daemon.http_addr().await);
    let both_cycled = |body: &str| {
        serde_json::from_str::<Value>(body).is_ok_and(|status| {
            status["accounts"]
                .as_array()
                .is_some_and(|accounts| accounts.iter().all(|a| !a["last_cycle"].is_null()))
        })
    };
    let status = until(&base, "/api/v1/status", both_cycled).await;
    assert!(both_cycled(&status), "{status}\n{}", daemon.logs());

    // One of acme's campaigns pauses; globex's key is revoked.
    acme.control.set_status(&acme.control.ids()[0], "paused");
    globex.control.inject(key_rejected());
    let settled = |body: &str| {
        serde_json::from_str::<Value>(body)
            .is_ok_and(|status| status["accounts_healthy"] == 1 && status["outbox"]["dead"] == 1)
    };
    let status = until(&base, "/api/v1/status", settled).await;
    assert!(settled(&status), "{status}\n{}", daemon.logs());
    let status: Value = serde_json::from_str(&status).unwrap();
    let document = crate::board::openapi();
    let validator = crate::board::answer_validator(&document, "/status", 200);
    assert!(validator.is_valid(&status), "{status}");
    assert_eq!(status["api"]["health"], "unhealthy", "{status}");
    let account = |name: &str| {
        status["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|account| account["account"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {status}"))
    };
    let (acme_view, globex_view) = (account("acme"), account("globex"));
    assert_eq!(acme_view["api"]["health"], "healthy", "{status}");
    assert_eq!(globex_view["api"]["health"], "unhealthy", "{status}");
    assert_eq!(acme_view["last_cycle"]["result"], "success", "{status}");
    assert_eq!(acme_view["last_cycle"]["campaigns_read"], 2, "{status}");
    assert_eq!(
        globex_view["last_cycle"]["result"], "api_unreadable",
        "{status}"
    );
    assert_eq!(acme_view["campaigns"]["by_status"]["paused"], 1, "{status}");
    assert_eq!(globex_view["campaigns"]["by_status"]["live"], 2, "{status}");

    // The board: the roll-up, the revoked account first.
    let (code, page) = get(&format!("{base}/")).await;
    assert_eq!(code, 200, "{page}");
    let rollup = page
        .split("<section class=\"accounts\"")
        .nth(1)
        .unwrap_or_else(|| panic!("a roll-up of the accounts: {page}"));
    let (globex_at, acme_at) = (rollup.find(">globex<"), rollup.find(">acme<"));
    assert!(
        globex_at.is_some() && acme_at.is_some() && globex_at < acme_at,
        "the unhealthy account first: {rollup}"
    );
    assert!(page.contains("1 of 2 accounts healthy"), "{page}");
    assert!(
        page.contains("the SigmaMind API cannot be read for account globex"),
        "{page}"
    );

    // Every delivery counted, grouped ones too; per-account series.
    let metrics = until(&base, "/metrics", |body| {
        sample(
            body,
            "campaign_watcher_notifications_total{channel=\"old_team\",result=\"dead\"}",
        ) >= Some(1.0)
    })
    .await;
    for (series, at_least) in [
        (
            "campaign_watcher_notifications_total{channel=\"team\",result=\"sent\"}",
            1.0,
        ),
        (
            "campaign_watcher_notifications_total{channel=\"old_team\",result=\"dead\"}",
            1.0,
        ),
        (
            "campaign_watcher_account_api_healthy{account=\"acme\"}",
            1.0,
        ),
        (
            "campaign_watcher_account_cycles_total{account=\"globex\",result=\"api_unreadable\"}",
            1.0,
        ),
        (
            "campaign_watcher_account_cycles_total{account=\"acme\",result=\"success\"}",
            1.0,
        ),
        (
            "campaign_watcher_account_last_successful_cycle_timestamp_seconds{account=\"acme\"}",
            1.0,
        ),
    ] {
        assert!(
            sample(&metrics, series) >= Some(at_least),
            "{series}:\n{metrics}"
        );
    }
    assert_eq!(
        sample(
            &metrics,
            "campaign_watcher_account_api_healthy{account=\"globex\"}"
        ),
        Some(0.0),
        "{metrics}"
    );

    // Text lines name their account.
    let config_arg = config.to_str().unwrap();
    let history = run_cli(&["--config", config_arg, "history"], &[]).await;
    assert_eq!(history.code, Some(0), "{}", history.all_output());
    assert!(
        history
            .stdout
            .lines()
            .any(|line| line.contains("globex: The SigmaMind API of account globex rejected")),
        "{}",
        history.stdout
    );
    assert!(
        history
            .stdout
            .lines()
            .any(|line| line.contains("acme: ") && line.contains("campaign.status_changed")),
        "{}",
        history.stdout
    );
    let text = run_cli(&["--config", config_arg, "status"], &[]).await;
    assert_eq!(text.code, Some(0), "{}", text.all_output());
    assert!(
        text.stdout.contains("accounts: 1 of 2 healthy"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("last cycle of acme: success"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("last cycle of globex: api_unreadable"),
        "{}",
        text.stdout
    );
    daemon.terminate(Duration::from_secs(15)).await;
}
