//! Issue 12, "secrets stay in, requests go only where they may", against the
//! real binary: an API echoing secrets, a redirecting heartbeat, secret URLs in
//! `check-config`, dot-segment campaign ids, link-local destinations.

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{run_cli, Finished, Receiver, TEST_KEY, TEST_SECRET};

/// The heartbeat URL's secret part and a PagerDuty routing key: configured
/// secrets that are not the API key.
const PING_TOKEN: &str = "HBTOKEN_5f1c9a7e";
const ROUTING_KEY: &str = "R0UTINGKEY_ab12cd34ef56";

/// Every piece of `secret` long enough to count as a leak (issue 12: 6 characters).
fn pieces(secret: &str) -> Vec<String> {
    let chars: Vec<char> = secret.chars().collect();
    chars
        .windows(campaign_watcher::outbound::MIN_FRAGMENT_CHARS)
        .map(|window| window.iter().collect())
        .collect()
}

fn assert_no_piece_of_any_secret(text: &str, secrets: &[&str], what: &str) {
    for secret in secrets {
        for piece in pieces(secret) {
            assert!(
                !text.contains(&piece),
                "{what}: {piece:?} (of a configured secret) leaked:\n{text}"
            );
        }
    }
}

fn config(
    dir: &Path,
    api_url: &str,
    hook_url: &str,
    pager_url: &str,
    ping_url: &str,
) -> std::path::PathBuf {
    let text = format!(
        r#"[sigmamind]
base_url = "{api_url}"
api_key = "{TEST_KEY}"
timeout = "2s"
max_retries = 1
retry_base = "10ms"
max_requests_per_second = 0

[watch]
campaigns = ["cmp_1"]
unhealthy_after = 1

[state]
url = "sqlite://{state}"

[http]
listen = "127.0.0.1:0"

[heartbeat]
url = "{ping_url}"

[channels.hook]
kind = "webhook"
url = "{hook_url}"
secret = "{TEST_SECRET}"
retry_initial_backoff = "100ms"
retry_max_backoff = "1s"

[channels.pager]
kind = "pagerduty"
url = "{pager_url}"
routing_key = "{ROUTING_KEY}"
retry_initial_backoff = "100ms"
retry_max_backoff = "1s"
"#,
        state = dir.join("state.db").display(),
    );
    let path = dir.join("campaign-watcher.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Item 1: the API answers 200 with a non-JSON body, then errors, each echoing
/// every configured secret; no alert, log line (text and JSON, at trace) or
/// command output holds 6 characters of any of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_echoing_secrets_leaks_no_piece_of_any() {
    let receiver = Receiver::spawn().await;
    let pager = Receiver::spawn().await;
    let pings = Receiver::spawn().await;
    let ping_url = pings.url_for(&format!("/ping/{PING_TOKEN}"));
    let secrets = [TEST_KEY, TEST_SECRET, PING_TOKEN, ROUTING_KEY];
    let echo = format!(
        "request headers: x-api-key={TEST_KEY} webhook={TEST_SECRET} ping={ping_url} routing_key={ROUTING_KEY}"
    );
    let answers = [
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/plain")
            .set_body_string(echo.clone()),
        ResponseTemplate::new(500).set_body_string(echo.clone()),
        ResponseTemplate::new(400).set_body_string(format!("{{\"error\": \"{echo}\"}}")),
        // The key right where the 8 KiB error-body read stops.
        ResponseTemplate::new(503).set_body_string(format!("{}{TEST_KEY}", " ".repeat(8180))),
    ];
    for (round, answer) in answers.into_iter().enumerate() {
        let api = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path_regex("^/v1/campaigns.*"))
            .respond_with(answer)
            .mount(&api)
            .await;
        let dir = tempfile::tempdir().unwrap();
        let config = config(
            dir.path(),
            &api.uri(),
            &receiver.url(),
            &pager.url_for("/pd"),
            &ping_url,
        );
        let path = config.to_str().unwrap();
        for format in ["text", "json"] {
            let finished = run_cli(&["--config", path, "--log-format", format, "once"], &[]).await;
            assert_ne!(finished.code, Some(0), "the API could not be read");
            assert_no_piece_of_any_secret(
                &finished.all_output(),
                &secrets,
                &format!("round {round}, {format} output"),
            );
        }
        let status = run_cli(&["--config", path, "status"], &[]).await;
        assert_no_piece_of_any_secret(&status.all_output(), &secrets, "status");
    }
    let alerts = receiver.received();
    assert!(
        alerts
            .iter()
            .any(|alert| alert.body.contains("watcher.api_unhealthy")),
        "the alert was sent: {alerts:?}"
    );
    assert!(
        alerts.iter().any(|alert| alert.body.contains("<redacted>")),
        "the alert quotes the scrubbed answer: {alerts:?}"
    );
    for alert in &alerts {
        assert_no_piece_of_any_secret(&alert.body, &secrets, "a webhook alert");
    }
    let incidents = pager.received();
    assert!(!incidents.is_empty(), "the incident was sent");
    for incident in &incidents {
        // Its own routing key is what a PagerDuty event is addressed with.
        let others = [TEST_KEY, TEST_SECRET, PING_TOKEN];
        assert_no_piece_of_any_secret(&incident.body, &others, "a PagerDuty event");
    }
}

/// Answers every request with 302 to `location`, counting them.
async fn redirector(location: String) -> (String, Arc<Mutex<u32>>) {
    let hits = Arc::new(Mutex::new(0));
    let counted = hits.clone();
    let app = Router::new().fallback(move || {
        let location = location.clone();
        let counted = counted.clone();
        async move {
            *counted.lock().unwrap() += 1;
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), hits)
}

/// Item 2: a heartbeat answered with a redirect is a failed ping, logged with
/// its status and not its URL; the redirect target gets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirected_heartbeat_is_a_failed_ping_and_the_target_gets_nothing() {
    let sim = crate::helpers::spawn_sim(1).await;
    let receiver = Receiver::spawn().await;
    let second = Receiver::spawn().await;
    let (first, hits) = redirector(second.url_for("/stolen")).await;
    let dir = tempfile::tempdir().unwrap();
    let config = crate::helpers::write_config(
        dir.path(),
        &sim.base_url(),
        &sim.control.ids(),
        &receiver.url(),
        &format!("\n[heartbeat]\nurl = \"{first}/ping/{PING_TOKEN}\"\n"),
    );

    let finished = run_cli(&["--config", config.to_str().unwrap(), "once"], &[]).await;

    assert_eq!(*hits.lock().unwrap(), 1, "the ping was sent once");
    assert!(
        second.received().is_empty(),
        "the redirect target got a request"
    );
    let logs = finished.all_output();
    assert!(logs.contains("redirect") && logs.contains("302"), "{logs}");
    assert_no_piece_of_any_secret(&logs, &[PING_TOKEN], "the logs");
    assert!(
        !logs.contains("/stolen"),
        "the Location is not logged: {logs}"
    );
}

/// The API answering 302: not followed (the key would go with it), a failed cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_redirect_is_not_followed() {
    let receiver = Receiver::spawn().await;
    let second = Receiver::spawn().await;
    let (api, hits) = redirector(second.url_for("/stolen")).await;
    let dir = tempfile::tempdir().unwrap();
    let config = crate::helpers::write_config(
        dir.path(),
        &api,
        &["cmp_1".to_string()],
        &receiver.url(),
        "",
    );

    let finished = run_cli(&["--config", config.to_str().unwrap(), "once"], &[]).await;

    assert_eq!(finished.code, Some(1), "{}", finished.all_output());
    assert!(*hits.lock().unwrap() >= 1);
    assert!(
        second.received().is_empty(),
        "the redirect target got a request"
    );
    assert_no_piece_of_any_secret(&finished.all_output(), &[TEST_KEY], "the output");
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

async fn check_config(dir: &Path, text: &str) -> Finished {
    let path = write(dir, "campaign-watcher.toml", text);
    run_cli(&["--config", &path, "check-config"], &[]).await
}

const BASE: &str = r#"[sigmamind]
api_key = "sk_test_abcdefgh"
[watch]
campaigns = ["cmp_1"]
"#;

/// Item 3: a `url_file` with a typo, an inline webhook URL, a heartbeat URL:
/// `check-config` errors and output show scheme and host only.
#[tokio::test]
async fn check_config_shows_secret_urls_as_scheme_and_host_only() {
    let dir = tempfile::tempdir().unwrap();
    let typo = write(
        dir.path(),
        "hook.url",
        "https//hooks.example.com/services/T0/B0/SECRETTOKEN_TYPO\n",
    );
    let broken = format!(
        "{BASE}[heartbeat]\nurl = \"ftp://ping.example/SECRETTOKEN_PING\"\n\
         [channels.hook]\nkind = \"webhook\"\nurl_file = \"{typo}\"\n\
         [channels.pager]\nkind = \"pagerduty\"\nrouting_key = \"rk_123456\"\nurl_file = \"{typo}\"\n"
    );
    let finished = check_config(dir.path(), &broken).await;
    assert_eq!(finished.code, Some(2), "{}", finished.all_output());
    let output = finished.all_output();
    assert!(output.contains("channels.hook.url"), "{output}");
    assert!(output.contains("channels.pager.url"), "{output}");
    assert!(output.contains("heartbeat.url"), "{output}");
    assert!(!output.contains("SECRETTOKEN"), "{output}");
    assert!(!output.contains("services"), "{output}");

    let inline = format!(
        "{BASE}[heartbeat]\nurl = \"https://hc-ping.example/SECRETTOKEN_PING\"\n\
         [channels.hook]\nkind = \"webhook\"\nurl = \"https://hooks.example.com:8443/services/SECRETTOKEN_PATH?token=SECRETTOKEN_Q\"\n\
         [channels.am]\nkind = \"alertmanager\"\nurls = [\"http://am.example:9093/SECRETTOKEN_AM\"]\n"
    );
    let finished = check_config(dir.path(), &inline).await;
    assert_eq!(finished.code, Some(0), "{}", finished.all_output());
    let output = finished.all_output();
    assert!(!output.contains("SECRETTOKEN"), "{output}");
    assert!(!output.contains("services"), "{output}");
    assert!(
        output.contains("https://hooks.example.com:8443"),
        "{output}"
    );
    assert!(output.contains("http://am.example:9093"), "{output}");
}

/// Item 8: `.` and `..` would be resolved away from the URL path (even as
/// `%2E`), reading the campaign list instead; they are refused at load.
#[tokio::test]
async fn dot_segment_campaign_ids_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    for id in [".", ".."] {
        let text = format!("[sigmamind]\napi_key = \"sk_test_abcdefgh\"\n[watch]\ncampaigns = [\"ok\", \"{id}\"]\n");
        let finished = check_config(dir.path(), &text).await;
        assert_eq!(finished.code, Some(2), "{id}: {}", finished.all_output());
        assert!(
            finished.stderr.contains("watch.campaigns[1]") && finished.stderr.contains("cannot"),
            "{}",
            finished.stderr
        );
    }
}

/// Item 9: every spelling of a link-local or metadata host, on every HTTP
/// channel kind and the heartbeat, is refused at load naming the key and the
/// host only; `allow_link_local = true` lets it through. Nothing connects.
#[tokio::test]
async fn link_local_and_metadata_destinations_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let spellings = [
        (
            "http://169.254.169.254/latest/SECRETPATH",
            "169.254.169.254",
        ),
        ("http://2852039166/SECRETPATH", "169.254.169.254"),
        ("http://0xa9fea9fe/SECRETPATH", "169.254.169.254"),
        (
            "http://[::ffff:169.254.169.254]/SECRETPATH",
            "[::ffff:a9fe:a9fe]",
        ),
        ("http://[fe80::1]:8080/SECRETPATH", "[fe80::1]"),
        (
            "http://metadata.google.internal/computeMetadata/SECRETPATH",
            "metadata.google.internal",
        ),
    ];
    // Every HTTP channel kind and the heartbeat, each with `extra` in its table.
    let tables = |url: &str, extra: &str| {
        format!(
            "[heartbeat]\n{extra}url = \"{url}\"\n\
             [channels.hook]\n{extra}kind = \"webhook\"\nurl = \"{url}\"\n\
             [channels.chat]\n{extra}kind = \"slack\"\nurl = \"{url}\"\n\
             [channels.pager]\n{extra}kind = \"pagerduty\"\nrouting_key = \"rk_123456\"\nurl = \"{url}\"\n\
             [channels.am]\n{extra}kind = \"alertmanager\"\nurls = [\"{url}\"]\n\
             [channels.custom]\n{extra}kind = \"http\"\nurl = \"{url}/{{{{ event.id }}}}\"\n"
        )
    };
    for (url, host) in spellings {
        let channels = tables(url, "");
        let finished = check_config(dir.path(), &format!("{BASE}{channels}")).await;
        assert_eq!(finished.code, Some(2), "{url}: {}", finished.all_output());
        let output = finished.all_output();
        for key in [
            "heartbeat.url",
            "channels.hook.url",
            "channels.chat.url",
            "channels.pager.url",
            "channels.am.urls",
            "channels.custom.url",
        ] {
            assert!(
                output
                    .lines()
                    .any(|line| line.contains(key) && line.contains(host)),
                "{url}: {key} with {host} in:\n{output}"
            );
        }
        assert!(output.contains("allow_link_local"), "{output}");
        assert!(!output.contains("SECRETPATH"), "{output}");

        let allowed = tables(url, "allow_link_local = true\n");
        let finished = check_config(dir.path(), &format!("{BASE}{allowed}")).await;
        assert_eq!(
            finished.code,
            Some(0),
            "{url} allowed: {}",
            finished.all_output()
        );
    }
}

/// Listed ids `.` and `..` cannot be path segments (browsers and URL parsers
/// resolve them away, `%2e` too): the board and the API link such campaigns
/// by their query, and those links open.
#[tokio::test]
async fn dot_segment_ids_from_a_listing_get_links_that_open() {
    let sim = crate::helpers::spawn_sim(1).await;
    crate::helpers::all_live(&sim);
    for id in [".", ".."] {
        sim.control.insert(serde_json::json!({
            "campaignId": id,
            "campaignName": format!("dots {id}"),
            "campaignStatus": "live",
            "errors": [],
        }));
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("campaign-watcher.toml");
    std::fs::write(
        &config,
        format!(
            "[sigmamind]\nbase_url = \"{}\"\napi_key = \"{TEST_KEY}\"\nmax_retries = 0\nmax_requests_per_second = 0\n\
             [watch]\nall = true\ninterval = \"1s\"\n[state]\nurl = \"sqlite://{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
            sim.base_url(),
            dir.path().join("state.db").display()
        ),
    )
    .unwrap();
    let daemon = crate::helpers::spawn_daemon(&config, dir.path());
    let base = format!("http://{}", daemon.http_addr().await);
    let get = |path: String| {
        let url = format!("{base}{path}");
        async move {
            let answer = reqwest::get(url).await.unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        }
    };
    let mut listed = Vec::new();
    for _ in 0..600 {
        let (status, body) = get("/api/v1/campaigns?q=dots".into()).await;
        if status == 200 {
            let value: serde_json::Value = serde_json::from_str(&body).unwrap();
            listed = value["campaigns"].as_array().cloned().unwrap_or_default();
            if listed.len() == 2 {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(listed.len(), 2, "{}", daemon.logs());
    for campaign in &listed {
        let id = campaign["id"].as_str().unwrap();
        let href = campaign["href"].as_str().unwrap();
        assert!(
            !href.ends_with("/.") && !href.ends_with("/.."),
            "{id}: {href}"
        );
        let (status, body) = get(href.to_string()).await;
        assert_eq!(status, 200, "{href}: {body}");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["campaign"]["id"], id, "{href}");
    }
    let (status, board) = get("/?q=dots".into()).await;
    assert_eq!(status, 200);
    for id in [".", ".."] {
        let page = format!("/accounts/default/campaign?id={id}");
        assert!(
            board.contains(&page.replace('/', "&#x2f;")),
            "{page} in {board}"
        );
        let (status, body) = get(page.clone()).await;
        assert_eq!(status, 200, "{page}: {body}");
        assert!(body.contains(&format!("dots {id}")), "{page}: {body}");
    }
}
