//! `kind = "http"`: the documented examples (Gotify, Pushover, a Jira issue, a
//! Power Automate flow) sent by the real binary to a local receiver, loaded
//! from `config/examples/` and checked to be the text the docs show; secrets
//! never in any output at `RUST_LOG=trace`; and the channel through the
//! outbox, rules, retries, `max_per_minute`, silences and quiet hours.

use std::time::Duration;

use campaign_watcher::config::{ChannelSettings, QuietHoursSettings};
use campaign_watcher::deliver::http::{HttpChannelSettings, RequestOverride};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::helpers::{eventually, run_cli, spawn_daemon, BinaryApp, Received, Receiver, TestApp};

const DOCS: &str = include_str!("../../docs/http-channel.md");

/// One documented example: its file, the channel it defines, the origin to
/// point at the local receiver, and its secrets (file name, value).
struct Example {
    file: &'static str,
    text: &'static str,
    channel: &'static str,
    origin: &'static str,
    secrets: &'static [(&'static str, &'static str)],
}

const EXAMPLES: [Example; 4] = [
    Example {
        file: "http-gotify.toml",
        text: include_str!("../../config/examples/http-gotify.toml"),
        channel: "gotify",
        origin: "https://gotify.example.com",
        secrets: &[("gotify_token", "GOTIFYTOKEN_RECOGNISABLE_1")],
    },
    Example {
        file: "http-pushover.toml",
        text: include_str!("../../config/examples/http-pushover.toml"),
        channel: "pushover",
        origin: "https://api.pushover.net",
        secrets: &[
            ("pushover_app_token", "PUSHOVERAPP_RECOGNISABLE_2"),
            ("pushover_user_key", "PUSHOVERUSER_RECOGNISABLE_3"),
        ],
    },
    Example {
        file: "http-jira.toml",
        text: include_str!("../../config/examples/http-jira.toml"),
        channel: "jira",
        origin: "https://your-domain.atlassian.net",
        secrets: &[("jira_basic", "JIRABASIC_RECOGNISABLE_4")],
    },
    Example {
        file: "http-power-automate.toml",
        text: include_str!("../../config/examples/http-power-automate.toml"),
        channel: "flow",
        origin:
            "https://default0123456789abcdef0123456789ab.cd.environment.api.powerplatform.com:443",
        secrets: &[("flow_sig", "FLOWSIG_RECOGNISABLE_5")],
    },
];

fn form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').expect("name=value");
            let decode = |text: &str| {
                percent_encoding::percent_decode_str(&text.replace('+', " "))
                    .decode_utf8()
                    .unwrap()
                    .into_owned()
            };
            (decode(name), decode(value))
        })
        .collect()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map_or("", |(_, value)| value.as_str())
}

/// What each example must have sent for `test-notify`.
fn check_request(example: &Example, request: &Received) {
    let all = |name: &str| {
        example
            .secrets
            .iter()
            .find(|(file, _)| *file == name)
            .unwrap()
            .1
    };
    match example.channel {
        "gotify" => {
            assert_eq!(request.path, "/message");
            assert_eq!(request.header("x-gotify-key"), all("gotify_token"));
            assert_eq!(request.header("content-type"), "application/json");
            let body = request.json();
            assert_eq!(body["title"], "TEST message: no campaign changed");
            assert!(body["message"].as_str().unwrap().starts_with("TEST from"));
            assert_eq!(body["priority"], 2);
        }
        "pushover" => {
            assert_eq!(request.path, "/1/messages.json");
            assert_eq!(
                request.header("content-type"),
                "application/x-www-form-urlencoded"
            );
            let pairs = form(&request.body);
            assert_eq!(field(&pairs, "token"), all("pushover_app_token"));
            assert_eq!(field(&pairs, "user"), all("pushover_user_key"));
            assert_eq!(field(&pairs, "title"), "TEST message: no campaign changed");
            assert_eq!(field(&pairs, "priority"), "0");
        }
        "jira" => {
            assert_eq!(request.path, "/rest/api/2/issue");
            assert_eq!(
                request.header("authorization"),
                format!("Basic {}", all("jira_basic"))
            );
            let body = request.json();
            assert_eq!(body["fields"]["project"]["key"], "OPS");
            assert_eq!(
                body["fields"]["summary"],
                "TEST message: no campaign changed"
            );
            assert_eq!(
                body["fields"]["labels"],
                serde_json::json!(["campaign-watcher", "news", "severity-info"])
            );
            assert!(body["fields"]["description"]
                .as_str()
                .unwrap()
                .contains("(watcher.test)"));
        }
        "flow" => {
            assert_eq!(
                request.path,
                "/powerautomate/automations/direct/workflows/0123abcd/triggers/manual/paths/invoke"
            );
            let body = request.json();
            assert_eq!(body["event"]["type"], "watcher.test");
            assert_eq!(body["event"]["campaign"], Value::Null);
            assert_eq!(
                body["condition"],
                serde_json::json!({"name": null, "state": null})
            );
            assert_eq!(body["severity"], "info");
        }
        other => panic!("no check for {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_documented_example_reaches_a_local_receiver_and_shows_no_secret() {
    for example in &EXAMPLES {
        assert!(
            DOCS.contains(&format!("```toml\n{}```", example.text)),
            "docs/http-channel.md shows config/examples/{} exactly",
            example.file
        );
        let receiver = Receiver::spawn().await;
        // Each example names its own paths.
        let base = receiver.url_under("/");
        let base = base.trim_end_matches('/');
        let channel = example.text.replace(example.origin, base);
        let app = BinaryApp::spawn(1, &channel).await;
        let credentials = tempfile::tempdir().unwrap();
        for (file, value) in example.secrets {
            std::fs::write(credentials.path().join(file), format!("{value}\n")).unwrap();
        }
        let env = [(
            "CREDENTIALS_DIRECTORY",
            credentials.path().to_str().unwrap(),
        )];
        let config = app.config.to_str().unwrap();

        let sent = run_cli(&["--config", config, "test-notify", example.channel], &env).await;
        assert_eq!(
            sent.code,
            Some(0),
            "{}: {}",
            example.file,
            sent.all_output()
        );
        let received = receiver.received();
        assert_eq!(received.len(), 1, "{}: {received:?}", example.file);
        check_request(example, &received[0]);

        let rendered = run_cli(&["--config", config, "render", example.channel], &env).await;
        assert_eq!(rendered.code, Some(0), "{}", rendered.all_output());
        assert!(rendered.stdout.contains("<secret "), "{}", rendered.stdout);
        let checked = run_cli(&["--config", config, "check-config"], &env).await;
        assert_eq!(checked.code, Some(0), "{}", checked.all_output());
        // RUST_LOG=trace (run_cli's default): every log line of every command.
        for out in [&sent, &rendered, &checked] {
            for (_, secret) in example.secrets {
                assert!(
                    !out.all_output().contains(&secret[..12]),
                    "{}: {secret} shown: {}",
                    example.file,
                    out.all_output()
                );
            }
        }
    }
}

#[tokio::test]
async fn a_template_error_in_the_file_names_the_channel_key_and_line() {
    let body =
        "body = '''\n{\n  \"a\": \"{{ headline }}\",\n  \"b\": \"{{ event.sumary }}\"\n}\n'''";
    let app = BinaryApp::spawn(
        1,
        &format!("[channels.ops-http]\nkind = \"http\"\nurl = \"http://127.0.0.1:9/x\"\n{body}\n"),
    )
    .await;
    let config = app.config.to_str().unwrap();
    for command in ["check-config", "once"] {
        let out = run_cli(&["--config", config, command], &[]).await;
        assert_eq!(out.code, Some(2), "{command}: {}", out.all_output());
        assert!(
            out.stderr
                .contains("channels.ops-http.body: undefined value (line 3)"),
            "{command}: {}",
            out.stderr
        );
    }
}

/// The real binary and the simulator: a rule sends only status changes to the
/// http channel, the first answer (503) is retried, pauses take `start` and a
/// resume `end`, and `max_per_minute = 2` holds the third message back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_sends_through_rules_retries_and_the_rate_limit() {
    let target = Receiver::spawn().await;
    let base = target.url_under("/events/");
    target.answer_at("/events/", &[503]);
    let extra = format!(
        r#"
[channels.custom]
kind = "http"
url = "{base}{{{{ event.campaign.id if event.campaign else 'watcher' }}}}"
headers = {{ "X-Event" = "{{{{ event.id }}}}" }}
body = '{{"kind": "news", "headline": "{{{{ headline }}}}"}}'
retry_initial_backoff = "100ms"
retry_max_backoff = "200ms"
max_per_minute = 2

[channels.custom.start]
body = '{{"kind": "open", "condition": "{{{{ condition.name }}}}", "severity": "{{{{ severity }}}}"}}'

[channels.custom.end]
method = "PUT"
body = '{{"kind": "close", "condition": "{{{{ condition.name }}}}"}}'

[[rules]]
name = "changes"
events = ["campaign.status_changed"]
channels = ["custom"]

[[rules]]
name = "everything"
channels = ["hook"]
"#,
    );
    let app = BinaryApp::spawn(3, &extra).await;
    let ids = app.sim.control.ids();
    for id in &ids {
        app.sim.control.set_status(id, "live");
        app.sim.control.set_errors(id, vec![]);
    }
    let mut daemon = spawn_daemon(&app.config, app.dir.path());
    assert!(
        eventually(Duration::from_secs(30), || daemon
            .logs()
            .contains("cycle finished"))
        .await,
        "{}",
        daemon.logs()
    );
    app.sim.control.set_status(&ids[0], "paused");
    app.sim
        .control
        .set_errors(&ids[2], vec!["Row 2: invalid \"phone\"\r\nnumber".into()]);
    let got = |n: usize| {
        let target = target.clone();
        move || target.received().len() >= n
    };
    assert!(
        eventually(Duration::from_secs(30), got(2)).await,
        "the pause, after one 503: {:?}\n{}",
        target.received(),
        daemon.logs()
    );
    app.sim.control.set_status(&ids[0], "live");
    assert!(
        eventually(Duration::from_secs(30), got(3)).await,
        "the resume: {}",
        daemon.logs()
    );
    // A third status change this minute waits for the rate limit.
    app.sim.control.set_status(&ids[1], "paused");
    let hook = app.receiver.clone();
    assert!(
        eventually(Duration::from_secs(30), || hook
            .event_types()
            .iter()
            .filter(|kind| *kind == "campaign.status_changed")
            .count()
            == 3)
        .await,
        "the hook got all three status changes: {}",
        daemon.logs()
    );
    let received = target.received();
    assert_eq!(
        received.len(),
        3,
        "the third is held by max_per_minute: {received:?}"
    );
    let (first, retried, resumed) = (&received[0], &received[1], &received[2]);
    assert_eq!(first.body, retried.body, "the retry sends the same request");
    assert_eq!(first.header("x-event"), retried.header("x-event"));
    assert_eq!(retried.path, format!("/events/{}", ids[0]));
    let open = retried.json();
    assert_eq!(open["kind"], "open");
    assert_eq!(open["condition"], "paused");
    assert_eq!(open["severity"], "warning");
    let close = resumed.json();
    assert_eq!(close["kind"], "close");
    assert_eq!(close["condition"], "paused");
    assert!(
        hook.event_types()
            .contains(&"campaign.upload_errors_added".to_string()),
        "the rule sends upload errors to the hook only"
    );
    daemon
        .terminate(Duration::from_secs(10))
        .await
        .expect("stopped");
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// In process with the time injected: a silenced pause is not sent, and what
/// happens during quiet hours goes out as one digest (the plain request).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_and_quiet_hours_apply_to_http_channels() {
    let app = TestApp::spawn_with(2, |settings| {
        let url = settings.channels["hook"]
            .kind
            .get::<campaign_watcher::deliver::webhook::WebhookSettings>()
            .and_then(|hook| hook.url.clone())
            .unwrap();
        let mut custom = ChannelSettings::new(HttpChannelSettings {
            url: Some(format!("{url}/{{{{ condition.state or 'news' }}}}")),
            body: Some(r#"{"type": "{{ event.type }}", "summary": "{{ event.summary }}"}"#.into()),
            start: Some(Box::new(RequestOverride {
                body: Some(
                    r#"{"type": "{{ event.type }}", "open": "{{ condition.name }}"}"#.into(),
                ),
                ..RequestOverride::default()
            })),
            ..HttpChannelSettings::default()
        });
        custom.shared.quiet_hours = Some(
            QuietHoursSettings {
                start: "22:00".into(),
                end: "07:00".into(),
                timezone: "Europe/Berlin".into(),
                except: vec![],
            }
            .into(),
        );
        settings.channels.clear();
        settings.channels.insert("custom".into(), custom);
    })
    .await;
    // The channel's URL is a template under the receiver's /hook.
    app.receiver.url_under("/hook/");
    app.all_live();
    let at = |now: &str| {
        let now = utc(now);
        let app = &app;
        async move {
            app.daemon.tick_at(now).await.expect("cycle");
            app.daemon.drain_at(now).await.expect("drain");
        }
    };
    at("2026-01-15T19:00:00Z").await;
    app.sim.control.set_status(&app.id(0), "paused");
    at("2026-01-15T19:10:00Z").await;
    let received = app.receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/hook/start");
    assert_eq!(received[0].json()["open"], "paused");

    app.daemon
        .store()
        .create_silence(
            &crate::helpers::ops(),
            &app.id(1),
            None,
            None,
            "maintenance",
            utc("2026-01-15T19:15:00Z"),
            utc("2026-01-15T20:00:00Z"),
        )
        .await
        .unwrap();
    app.sim.control.set_status(&app.id(1), "paused");
    at("2026-01-15T19:20:00Z").await;
    assert_eq!(
        app.receiver.received().len(),
        1,
        "the silenced pause is not sent"
    );

    // 23:10 and 23:40 in Berlin: held, then one digest at 07:00.
    app.sim.control.set_status(&app.id(0), "live");
    at("2026-01-15T22:10:00Z").await;
    app.sim.control.set_status(&app.id(0), "paused");
    at("2026-01-15T22:40:00Z").await;
    assert_eq!(app.receiver.received().len(), 1, "held for quiet hours");
    app.daemon
        .drain_at(utc("2026-01-16T06:00:00Z"))
        .await
        .unwrap();
    let received = app.receiver.received();
    assert_eq!(received.len(), 2, "{received:?}");
    assert_eq!(received[1].path, "/hook/news");
    let digest = received[1].json();
    assert_eq!(digest["type"], "watcher.quiet_hours_digest");
    assert!(
        digest["summary"].as_str().unwrap().contains(&app.id(0)),
        "{digest}"
    );
}
