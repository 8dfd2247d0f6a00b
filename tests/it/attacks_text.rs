//! Hostile text from the API (issue 12, items 4-7) and a closed stdout (issue
//! 11, item 7), against the real binary: control characters reach no terminal
//! or log line raw, colour only on a terminal, Slack mentions inert, and every
//! channel kind sends a 1 MiB campaign name within its receiver's limits.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, Uri};
use axum::Router;
use serde_json::{json, Value};

use crate::helpers::{run_cli, spawn_sim, BIN, TEST_KEY};
use crate::smtp::{Aiosmtpd, SmtpTls};

/// What the issue saw reach a terminal: colour, a window title, the bell, a
/// screen clear, NUL, backspace and a CRLF that starts a forged line.
const HOSTILE_NAME: &str =
    "\u{1b}[31mRED\u{1b}]0;PWNED-TITLE\u{7}\u{1b}[2J\0\u{8}\r\nFORGED NAME LINE";
/// A listed id with a CRLF forged a whole line in text logs.
const HOSTILE_ID: &str = "camp_evil\u{1b}[2J\u{7}\u{8}\r\nFORGED ID LINE";

/// Control characters other than the line's own newline.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| c.is_control() && c != '\n')
        .collect()
}

fn assert_inert(what: &str, text: &str) {
    let raw = raw_controls(text);
    assert!(raw.is_empty(), "{what} carries raw {raw:?}:\n{text:?}");
    for forged in ["FORGED NAME LINE", "FORGED ID LINE"] {
        assert!(
            !text.lines().any(|line| line.starts_with(forged)),
            "{what} starts a line with API text:\n{text}"
        );
    }
}

/// A config watching every listed campaign, announcing on the first poll.
fn config(dir: &Path, sim_url: &str, channels: &str) -> PathBuf {
    let text = format!(
        r#"[sigmamind]
base_url = "{sim_url}"
api_key = "{TEST_KEY}"
timeout = "5s"
max_retries = 1
retry_base = "10ms"
max_requests_per_second = 0

[watch]
all = true
interval = "1s"
confirm_polls = 1

[state]
url = "sqlite://{state}"

[log]
format = "text"
{channels}
"#,
        state = dir.join("state.db").display(),
    );
    let path = dir.join("campaign-watcher.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn cli(config: &Path, args: &[&str]) -> crate::helpers::Finished {
    let config = config.display().to_string();
    let mut full = vec!["--config", config.as_str()];
    full.extend_from_slice(args);
    run_cli(&full, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_and_ids_are_shown_escaped_everywhere() {
    let sim = spawn_sim(0).await;
    sim.control.insert(json!({
        "campaignId": HOSTILE_ID,
        "campaignName": HOSTILE_NAME,
        "campaignStatus": "live",
        "errors": [],
    }));
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &sim.base_url(),
        "[channels.console]\nkind = \"console\"\n",
    );

    let baseline = cli(&config, &["once"]).await;
    assert_eq!(baseline.code, Some(0), "{}", baseline.all_output());
    sim.control.set_status(HOSTILE_ID, "paused");
    let paused = cli(&config, &["once"]).await;
    assert_eq!(paused.code, Some(0), "{}", paused.all_output());
    // The console channel printed the pause, escaped.
    assert!(
        paused.stdout.contains("\\x1b[31mRED") && paused.stdout.contains("paused"),
        "{}",
        paused.stdout
    );
    assert_inert("the console channel", &paused.stdout);
    // Text logs (stderr is a pipe here, so also: no colour).
    for run in [&baseline, &paused] {
        assert!(
            run.stderr.contains("campaign_watcher"),
            "logs: {}",
            run.stderr
        );
        assert_inert("the text log", &run.stderr);
    }

    let status = cli(&config, &["status"]).await;
    assert_eq!(status.code, Some(0), "{}", status.all_output());
    assert!(
        status.stdout.contains("camp_evil\\x1b[2J"),
        "{}",
        status.stdout
    );
    assert_inert("status", &status.all_output());

    let history = cli(&config, &["history"]).await;
    assert_eq!(history.code, Some(0), "{}", history.all_output());
    assert!(
        history.stdout.contains("\\x1b[31mRED"),
        "{}",
        history.stdout
    );
    assert_inert("history", &history.all_output());

    let outbox = cli(&config, &["outbox", "list"]).await;
    assert_eq!(outbox.code, Some(0), "{}", outbox.all_output());
    assert_inert("outbox list", &outbox.all_output());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_into_a_pipe_have_no_colour() {
    let sim = spawn_sim(3).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &sim.base_url(),
        "[channels.console]\nkind = \"console\"\n",
    );
    for env in [vec![], vec![("NO_COLOR", "1")]] {
        let config = config.display().to_string();
        let run = run_cli(&["--config", &config, "once"], &env).await;
        assert_eq!(run.code, Some(0), "{}", run.all_output());
        assert!(run.stderr.contains("DEBUG"), "logs: {}", run.stderr);
        assert!(
            !run.stderr.contains('\u{1b}'),
            "an ESC byte in logs written to a pipe: {:?}",
            run.stderr
        );
    }
}

/// A command whose stdout is a pipe nobody reads any more.
async fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    let mut child = tokio::process::Command::new(BIN)
        .args(args)
        .env_remove("SIGMAMIND_API_KEY")
        .env_remove("CAMPAIGN_WATCHER_CONFIG")
        .env_remove("NOTIFY_SOCKET")
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    // Closed before the command gets to print: every write meets EPIPE.
    drop(child.stdout.take());
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the command finishes")
        .expect("its output is read");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_every_command_quietly() {
    let sim = spawn_sim(3).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &sim.base_url(),
        "[channels.hook]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n",
    );
    let config = config.display().to_string();
    // A state with campaigns and events, so status and history print a lot.
    let once = run_cli(&["--config", &config, "once", "--wait", "1s"], &[]).await;
    assert_ne!(once.code, Some(101), "{}", once.all_output());
    let commands: [&[&str]; 6] = [
        &["status"],
        &["status", "--json"],
        &["history"],
        &["check-config"],
        &["render", "hook"],
        &["--help"],
    ];
    for command in commands {
        let mut args = vec!["--config", config.as_str()];
        args.extend_from_slice(command);
        let (code, stderr) = with_closed_stdout(&args).await;
        assert_ne!(code, Some(101), "{command:?} panicked: {stderr}");
        assert_eq!(code, Some(0), "{command:?}: {stderr}");
        for panic_text in ["panicked", "Broken pipe", "backtrace"] {
            assert!(
                !stderr.contains(panic_text),
                "{command:?} printed {panic_text:?}: {stderr}"
            );
        }
    }
}

// --- Every channel kind against receivers that enforce their limits ---------

/// One request a [`LimitReceiver`] got, and whether it was within the limits.
#[derive(Debug, Clone)]
struct Arrival {
    path: String,
    body: String,
    refusal: Option<String>,
}

/// A receiver for every chat and incident kind at its own path, refusing (400)
/// what the real service would refuse.
#[derive(Clone)]
struct LimitReceiver {
    addr: SocketAddr,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
}

impl LimitReceiver {
    async fn spawn() -> Self {
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .fallback(judge)
            // Our own limit checks decide, not axum's 2 MB default.
            .layer(DefaultBodyLimit::max(64 << 20))
            .with_state(arrivals.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, arrivals }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn at(&self, path: &str) -> Vec<Arrival> {
        self.arrivals
            .lock()
            .unwrap()
            .iter()
            .filter(|arrival| arrival.path == path)
            .cloned()
            .collect()
    }
}

async fn judge(
    State(arrivals): State<Arc<Mutex<Vec<Arrival>>>>,
    uri: Uri,
    body: String,
) -> (StatusCode, String) {
    let path = uri.path().to_string();
    let refusal = refusal(&path, &body);
    let answer = match &refusal {
        None => (StatusCode::OK, "ok".to_string()),
        Some(reason) => (StatusCode::BAD_REQUEST, reason.clone()),
    };
    arrivals.lock().unwrap().push(Arrival {
        path,
        body,
        refusal,
    });
    answer
}

fn chars(value: &Value) -> usize {
    value.as_str().map_or(0, |text| text.chars().count())
}

fn over(what: &str, length: usize, limit: usize) -> Option<String> {
    (length > limit).then(|| format!("{what} is {length}, over {limit}"))
}

/// Why the real service would refuse `body`, per the limits each documents.
fn refusal(path: &str, body: &str) -> Option<String> {
    let Ok(json) = serde_json::from_str::<Value>(body) else {
        return Some("not JSON".into());
    };
    match path {
        // api.slack.com/reference/block-kit/blocks: text 40,000; header 150; section 3,000; 50 blocks.
        "/slack" => {
            let blocks = json["blocks"].as_array().cloned().unwrap_or_default();
            over("text", chars(&json["text"]), 40_000)
                .or_else(|| over("blocks", blocks.len(), 50))
                .or_else(|| {
                    blocks
                        .iter()
                        .find_map(|block| match block["type"].as_str() {
                            Some("header") => over("header", chars(&block["text"]["text"]), 150),
                            Some("section") => {
                                over("section", chars(&block["text"]["text"]), 3_000)
                            }
                            _ => None,
                        })
                })
        }
        // discord.com/developers/docs/resources/message: content 2,000; embed
        // title 256, description 4,096, footer 2,048, all of it 6,000.
        "/discord" => {
            let embed = &json["embeds"][0];
            let total = chars(&embed["title"])
                + chars(&embed["description"])
                + chars(&embed["footer"]["text"]);
            over("content", chars(&json["content"]), 2_000)
                .or_else(|| over("title", chars(&embed["title"]), 256))
                .or_else(|| over("description", chars(&embed["description"]), 4_096))
                .or_else(|| over("embed total", total, 6_000))
        }
        // Teams refuses messages over about 28 KB.
        "/teams" => over("payload bytes", body.len(), 28 * 1024),
        // developer.pagerduty.com Events API v2: summary 1,024; payload 512 KB.
        "/pagerduty" => over("summary", chars(&json["payload"]["summary"]), 1_024)
            .or_else(|| over("payload bytes", body.len(), 512 * 1024)),
        "/am/api/v2/alerts" => json.as_array().and_then(|alerts| {
            alerts.iter().find_map(|alert| {
                alert["labels"]
                    .as_object()?
                    .iter()
                    .find_map(|(name, value)| {
                        let text = value.as_str().unwrap_or_default();
                        if raw_controls(text).iter().any(|c| *c != '\n') || text.contains('\n') {
                            return Some(format!("label {name} carries control characters"));
                        }
                        over(&format!("label {name}"), text.chars().count(), 1_024)
                    })
            })
        }),
        // docs.ntfy.sh: messages over 4,096 bytes become attachments (or are refused).
        "/ntfy/" => over(
            "message bytes",
            json["message"].as_str().map_or(0, str::len),
            4_096,
        ),
        // core.telegram.org/bots/api#sendmessage: text 1-4,096 characters.
        "/tg/bot123456:AAH_megabyte-test-token-0123456789/sendMessage" => {
            let text = json["text"].as_str().unwrap_or_default();
            over("text units", text.encode_utf16().count(), 4_096)
                .or_else(|| text.is_empty().then(|| "empty text".into()))
        }
        // docs.opsgenie.com Alert API: message 130, alias 512, description 15,000.
        "/og/v2/alerts" => over("message", chars(&json["message"]), 130)
            .or_else(|| over("alias", chars(&json["alias"]), 512))
            .or_else(|| over("description", chars(&json["description"]), 15_000)),
        // Google Chat: a message is at most 32,000 bytes.
        "/gchat/v1/spaces/S/messages" => over("message bytes", body.len(), 32_000),
        // Mattermost: posts of at most 16,383 characters.
        "/mm/hooks/k0123456789" => over(
            "post",
            chars(&json["text"]) + chars(&json["attachments"][0]["text"]),
            16_383,
        ),
        // The webhook payload caps the name (schemas/webhook-payload-v1.schema.json).
        "/hook" => over("campaign.name", chars(&json["campaign"]["name"]), 1_024)
            .or_else(|| over("payload bytes", body.len(), 64 * 1024)),
        // kind = "http" (config above): the name quoted in a JSON string stays one
        // string, cut as the webhook payload cuts it, within max_body_bytes.
        "/http" => over("text", chars(&json["text"]), 1_024 + 10)
            .or_else(|| over("payload bytes", body.len(), 64 * 1024)),
        _ => Some(format!("unexpected path {path}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_megabyte_name_reaches_every_kind_within_its_limits() {
    let huge_name = format!(
        "<!channel> <!here> <@U123> {HOSTILE_NAME} {}",
        "é&<x>".repeat((1 << 20) / 7)
    );
    let sim = spawn_sim(0).await;
    sim.control.insert(json!({
        "campaignId": "camp_huge",
        "campaignName": huge_name,
        "campaignStatus": "live",
        "errors": [],
    }));
    let receiver = LimitReceiver::spawn().await;
    let smtp = Aiosmtpd::start(SmtpTls::Plain).await;
    let dir = tempfile::tempdir().unwrap();
    let channels = format!(
        r#"
[channels.hook]
kind = "webhook"
url = "{hook}"
[channels.slack]
kind = "slack"
url = "{slack}"
[channels.discord]
kind = "discord"
url = "{discord}"
[channels.teams]
kind = "teams"
url = "{teams}"
[channels.pager]
kind = "pagerduty"
routing_key = "R0UTINGKEY0123456789012345678901"
url = "{pager}"
[channels.am]
kind = "alertmanager"
url = "{am}"
[channels.custom]
kind = "http"
url = "{http}?campaign={{{{ event.campaign.name if event.campaign }}}}"
headers = {{ "X-Campaign" = "{{{{ event.campaign.name if event.campaign }}}}" }}
body = '{{"text": "{{{{ event.campaign.name if event.campaign }}}} is {{{{ event.campaign.status if event.campaign }}}}", "id": "{{{{ event.id }}}}"}}'
[channels.mail]
kind = "email"
smtp_url = "{smtp}"
from = "Campaign Watcher <watcher@example.com>"
to = ["ops@example.com"]
[channels.ntfy]
kind = "ntfy"
url = "{ntfy}"
[channels.tg]
kind = "telegram"
bot_token = "123456:AAH_megabyte-test-token-0123456789"
chat_id = "-100123"
api_url = "{tg}"
[channels.og]
kind = "opsgenie"
api_key = "og-megabyte-key-0123"
api_url = "{og}"
[channels.gchat]
kind = "google_chat"
url = "{gchat}"
[channels.mm]
kind = "mattermost"
url = "{mm}"
"#,
        ntfy = receiver.url("/ntfy/topic"),
        tg = receiver.url("/tg"),
        og = receiver.url("/og"),
        gchat = receiver.url("/gchat/v1/spaces/S/messages?key=k&token=t"),
        mm = receiver.url("/mm/hooks/k0123456789"),
        hook = receiver.url("/hook"),
        slack = receiver.url("/slack"),
        discord = receiver.url("/discord"),
        teams = receiver.url("/teams"),
        pager = receiver.url("/pagerduty"),
        am = receiver.url("/am"),
        http = receiver.url("/http"),
        smtp = smtp.url(),
    );
    let config = config(dir.path(), &sim.base_url(), &channels);

    let baseline = cli(&config, &["once"]).await;
    assert_eq!(baseline.code, Some(0), "{}", baseline.all_output());
    sim.control.set_status("camp_huge", "paused");
    let paused = cli(&config, &["once", "--wait", "10s"]).await;
    assert_eq!(
        paused.code,
        Some(0),
        "every kind delivered: {}",
        paused.all_output()
    );

    let history = cli(&config, &["history", "--json"]).await;
    let entries: Value = serde_json::from_str(&history.stdout).expect("history --json is JSON");
    let event_id = entries
        .as_array()
        .and_then(|entries| {
            entries.iter().find_map(|entry| {
                (entry["event"]["type"] == "campaign.status_changed")
                    .then(|| entry["event"]["id"].as_str().map(String::from))
                    .flatten()
            })
        })
        .expect("the pause is in history");

    for path in [
        "/hook",
        "/slack",
        "/discord",
        "/teams",
        "/pagerduty",
        "/am/api/v2/alerts",
        "/http",
        "/ntfy/",
        "/tg/bot123456:AAH_megabyte-test-token-0123456789/sendMessage",
        "/og/v2/alerts",
        "/gchat/v1/spaces/S/messages",
        "/mm/hooks/k0123456789",
    ] {
        let arrivals = receiver.at(path);
        assert!(!arrivals.is_empty(), "nothing arrived at {path}");
        for arrival in &arrivals {
            assert_eq!(arrival.refusal, None, "{path} refused it");
        }
        assert!(
            arrivals
                .iter()
                .any(|arrival| arrival.body.contains(&event_id)),
            "{path} lost the event id {event_id}"
        );
    }
    // The Slack fallback text is what notifications show: mentions inert there too.
    for arrival in receiver.at("/slack") {
        let text = serde_json::from_str::<Value>(&arrival.body).unwrap()["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for mention in ["<!channel>", "<!here>", "<@U123>"] {
            assert!(
                !text.contains(mention),
                "Slack fallback carries {mention}: {text}"
            );
        }
        assert!(text.contains("&lt;!channel&gt;"), "{text}");
    }

    let mails = smtp.wait_for(1).await;
    let mail = mails.last().expect("one mail");
    assert!(
        mail.raw.len() < 512 * 1024,
        "a {}-byte email",
        mail.raw.len()
    );
    let subject = mail.header("Subject");
    assert!(
        subject.chars().count() <= 250,
        "a {}-character subject",
        subject.chars().count()
    );
    assert!(raw_controls(&subject).is_empty(), "{subject:?}");
    let text = mail.part("text/plain");
    assert!(text.contains(&event_id), "the email lost the event id");
    // Line ends are CRLF on the wire; nothing else may reach a terminal mail reader.
    let raw: Vec<char> = raw_controls(&text)
        .into_iter()
        .filter(|c| !matches!(c, '\r' | '\t'))
        .collect();
    assert!(raw.is_empty(), "the text part carries raw {raw:?}");
}
