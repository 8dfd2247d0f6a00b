//! ntfy, Telegram, Opsgenie, Google Chat and Mattermost (issue 20): each
//! format's documented required fields at a real loopback receiver for a
//! pause, its resume, an upload-error digest and a watcher event; hostile
//! campaign names give valid bodies within each target's limits; each
//! target's 429 from wiremock; and no secret in any output of the real binary
//! at `RUST_LOG=trace`.

use std::time::Duration;

use campaign_watcher::config::{ChannelSettings, KindSettings, Settings};
use campaign_watcher::deliver::google_chat::GoogleChatSettings;
use campaign_watcher::deliver::mattermost::MattermostSettings;
use campaign_watcher::deliver::ntfy::NtfySettings;
use campaign_watcher::deliver::opsgenie::OpsgenieSettings;
use campaign_watcher::deliver::telegram::TelegramSettings;
use campaign_watcher::setting::secret::Secret;
use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    drain_at, key_rejected, one_pending_row, run_cli, write_config, Receiver, TestApp,
};

const TG_TOKEN: &str = "987654321:AAF_TGSECRET-recognisable0123456789";
const TG_SECRET_PART: &str = "AAF_TGSECRET-recognisable0123456789";
const GENIE_KEY: &str = "5e6f7a8b-GENIESECRET-4c3d-9e8f-0a1b2c3d4e5f";
const GCHAT_KEY: &str = "AIzaSyGCHATKEY-recognisable0123";
const GCHAT_TOKEN: &str = "GCHATTOKEN_recognisable_456789";
const MM_KEY: &str = "mmhookRECOGNISABLE0123456789";
const NTFY_TOKEN: &str = "tk_NTFYSECRET0123456789abcdefghij";
const NTFY_TOPIC: &str = "cw_NTFYTOPIC_secret42";

/// A campaign name built to break each format: quotes, backslashes, a CRLF,
/// markup of every kind, mentions, and 5,000 characters.
fn hostile_name() -> String {
    format!(
        "\"q\" \\ \r\n<b>bold</b></script> @channel <users/all> [x](https://evil) &amp; {}",
        "é<>&\"".repeat(1000)
    )
}

/// `kind` with fast retries.
fn channel(kind: impl Into<KindSettings>) -> ChannelSettings {
    let mut settings = ChannelSettings::new(kind);
    settings.shared.retry_initial_backoff = Duration::from_millis(100);
    settings.shared.retry_max_backoff = Duration::from_millis(400);
    settings
}

fn ntfy(url: &str) -> ChannelSettings {
    channel(NtfySettings {
        url: Some(url.to_string()),
        token: Some(Secret::new(NTFY_TOKEN)),
        tags: Some(vec!["outreach".into()]),
        ..NtfySettings::default()
    })
}

fn telegram(api_url: &str) -> ChannelSettings {
    channel(TelegramSettings {
        api_url: Some(api_url.to_string()),
        bot_token: Some(Secret::new(TG_TOKEN)),
        chat_id: Some("-1001234567890".into()),
        message_thread_id: Some(42),
        ..TelegramSettings::default()
    })
}

fn opsgenie(api_url: &str) -> ChannelSettings {
    channel(OpsgenieSettings {
        api_url: Some(api_url.to_string()),
        api_key: Some(Secret::new(GENIE_KEY)),
        ..OpsgenieSettings::default()
    })
}

fn google_chat(base: &str) -> ChannelSettings {
    channel(GoogleChatSettings {
        url: Some(format!(
            "{base}/v1/spaces/AAAA/messages?key={GCHAT_KEY}&token={GCHAT_TOKEN}"
        )),
        ..GoogleChatSettings::default()
    })
}

const GCHAT_PATH: &str = "/gchat/v1/spaces/AAAA/messages";

fn mattermost(base: &str) -> ChannelSettings {
    channel(MattermostSettings {
        url: Some(format!("{base}/hooks/{MM_KEY}")),
        channel: Some("ops-alerts".into()),
        username: Some("campaign-watcher".into()),
        ..MattermostSettings::default()
    })
}

fn mm_path() -> String {
    format!("/mm/hooks/{MM_KEY}")
}

fn tg_path() -> String {
    format!("/tg/bot{TG_TOKEN}/sendMessage")
}

/// Every tag in `text`.
fn tags(text: &str) -> Vec<String> {
    text.match_indices('<')
        .map(|(at, _)| text[at..].split('>').next().unwrap_or_default().to_string() + ">")
        .collect()
}

fn add_channels(settings: &mut Settings, receiver: &Receiver) {
    let channels = [
        // Each kind adds its API's path (and ntfy posts the topic to the root).
        (
            "ntfy",
            ntfy(&format!("{}cw_topic", receiver.url_under("/ntfy/"))),
        ),
        ("telegram", telegram(&receiver.url_under("/tg"))),
        ("opsgenie", opsgenie(&receiver.url_under("/og"))),
        ("gchat", google_chat(&receiver.url_under("/gchat"))),
        ("mattermost", mattermost(&receiver.url_under("/mm"))),
    ];
    settings
        .channels
        .extend(channels.map(|(name, channel)| (name.to_string(), channel)));
}

fn bodies(receiver: &Receiver, at: &str) -> Vec<Value> {
    receiver.received_at(at).iter().map(|r| r.json()).collect()
}

/// What one run of the scenario produced, by step.
struct Steps {
    /// After each step, how many requests each path had: baseline, pause and
    /// upload errors, resume and cleared, API rejected, API back, hostile pause.
    marks: Vec<Vec<(String, usize)>>,
}

impl Steps {
    /// The bodies `at` got in step `step`: 1 pause and upload errors, 2 resume
    /// and cleared, 3 API rejected, 4 API back, 5 hostile pause.
    fn of(&self, receiver: &Receiver, at: &str, step: usize) -> Vec<Value> {
        let count = |step: usize| {
            self.marks[step]
                .iter()
                .find(|(path, _)| path == at)
                .map_or(0, |(_, n)| *n)
        };
        let all = bodies(receiver, at);
        all[count(step - 1)..count(step)].to_vec()
    }
}

const PAUSE: usize = 1;
const RESUME: usize = 2;
const API_DOWN: usize = 3;
const API_BACK: usize = 4;
const HOSTILE: usize = 5;

fn paths() -> Vec<String> {
    vec![
        "/ntfy/".into(),
        tg_path(),
        "/og/v2/alerts".into(),
        GCHAT_PATH.into(),
        mm_path(),
    ]
}

/// Pause campaign 0 and give campaign 1 upload errors; resume and clear them;
/// the API rejects the key (`watcher.api_unhealthy`) and comes back; campaign
/// 2, renamed to [`hostile_name`], is paused.
async fn scenario(app: &TestApp) -> Steps {
    let receiver = &app.receiver;
    let mark = || {
        paths()
            .into_iter()
            .map(|p| {
                let n = receiver.received_at(&p).len();
                (p, n)
            })
            .collect::<Vec<_>>()
    };
    let mut marks = Vec::new();
    app.all_live();
    app.cycle().await;
    marks.push(mark());
    let (paused, failing, hostile) = (app.id(0), app.id(1), app.id(2));
    app.sim.control.set_status(&paused, "paused");
    app.sim
        .control
        .set_errors(&failing, vec!["Row 2: invalid phone <b>number</b>".into()]);
    assert_eq!(app.cycle().await.events.len(), 2);
    marks.push(mark());
    app.sim.control.set_status(&paused, "live");
    app.sim.control.set_errors(&failing, vec![]);
    assert_eq!(app.cycle().await.events.len(), 2);
    marks.push(mark());
    app.sim.control.inject(key_rejected());
    let kinds: Vec<String> = app
        .cycle_with_failures()
        .await
        .events
        .iter()
        .map(|e| e.kind.to_string())
        .collect();
    assert_eq!(kinds, ["watcher.api_unhealthy"]);
    marks.push(mark());
    app.sim.control.clear_faults();
    app.cycle().await;
    marks.push(mark());
    app.sim
        .control
        .patch(&hostile, json!({"campaignName": hostile_name()}));
    app.cycle().await;
    app.sim.control.set_status(&hostile, "paused");
    assert_eq!(app.cycle().await.events.len(), 1);
    marks.push(mark());
    Steps { marks }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_new_kind_carries_its_documented_fields() {
    let mut app = TestApp::spawn(3).await;
    let receiver = app.receiver.clone();
    add_channels(&mut app.settings, &receiver);
    app.restart().await;
    let steps = scenario(&app).await;
    let (paused, failing) = (app.id(0), app.id(1));

    // ntfy: JSON published to the server's root, topic in the body, bearer token.
    let requests = receiver.received_at("/ntfy/");
    assert!(!requests.is_empty());
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            format!("Bearer {NTFY_TOKEN}")
        );
        assert_eq!(request.header("content-type"), "application/json");
        let body = request.json();
        assert_eq!(body["topic"], "cw_topic");
        for field in ["title", "message"] {
            assert!(
                body[field].as_str().is_some_and(|s| !s.is_empty()),
                "{body}"
            );
        }
        assert!(body["message"].as_str().unwrap().len() <= 4096);
        assert!((1..=5).contains(&body["priority"].as_u64().unwrap()));
        assert_eq!(body["tags"][1], "campaign-watcher");
        assert!(body["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("outreach")));
    }
    let started = steps.of(&receiver, "/ntfy/", PAUSE);
    assert_eq!(started.len(), 2, "{started:#?}");
    let pause = started
        .iter()
        .find(|b| b["message"].as_str().unwrap().contains(&paused))
        .unwrap();
    assert_eq!(pause["priority"], 5, "a pause is urgent: {started:#?}");
    let errors = started
        .iter()
        .find(|b| b["message"].as_str().unwrap().contains(&failing))
        .unwrap();
    assert!(errors["message"]
        .as_str()
        .unwrap()
        .contains("Row 2: invalid phone <b>number</b>"));
    assert_eq!(errors["tags"][2], "upload_errors");
    for ended in steps.of(&receiver, "/ntfy/", RESUME) {
        assert_eq!(ended["priority"], 3, "a resume is default");
        assert_eq!(ended["tags"][0], "white_check_mark");
    }
    let down = steps.of(&receiver, "/ntfy/", API_DOWN);
    assert_eq!(down.len(), 1);
    assert_eq!(down[0]["tags"][2], "api_unhealthy");
    assert_eq!(down[0]["priority"], 5);
    let up = steps.of(&receiver, "/ntfy/", API_BACK);
    assert_eq!((up.len(), up[0]["priority"].clone()), (1, json!(3)));
    let hostile = steps.of(&receiver, "/ntfy/", HOSTILE);
    assert_eq!(hostile.len(), 1);
    assert!(hostile[0]["title"].as_str().unwrap().chars().count() <= 250);
    assert!(hostile[0]["message"].as_str().unwrap().len() <= 4096);
    assert!(!hostile[0]["title"].as_str().unwrap().contains('\r'));

    // Telegram: sendMessage at /bot<token>/, HTML with the chat and topic.
    let at = tg_path();
    for request in receiver.received_at(&at) {
        assert_eq!(request.header("content-type"), "application/json");
        let body = request.json();
        assert_eq!(body["chat_id"], -1001234567890i64);
        assert_eq!(body["message_thread_id"], 42);
        assert_eq!(body["parse_mode"], "HTML");
        let text = body["text"].as_str().unwrap();
        assert!(text.encode_utf16().count() <= 4096);
        assert_eq!(tags(text), ["<b>", "</b>", "<i>", "</i>"], "{text}");
    }
    let started = steps.of(&receiver, &at, PAUSE);
    assert_eq!(started.len(), 2);
    let texts: Vec<&str> = started
        .iter()
        .map(|b| b["text"].as_str().unwrap())
        .collect();
    assert!(texts
        .iter()
        .any(|t| t.contains(&paused) && t.contains("live → paused")));
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Row 2: invalid phone &lt;b&gt;number&lt;/b&gt;")),
        "{texts:?}"
    );
    assert_eq!(steps.of(&receiver, &at, RESUME).len(), 2);
    let down = steps.of(&receiver, &at, API_DOWN);
    assert!(down[0]["text"].as_str().unwrap().contains("<b>"));
    assert_eq!(steps.of(&receiver, &at, API_BACK).len(), 1);
    let hostile = steps.of(&receiver, &at, HOSTILE);
    let text = hostile[0]["text"].as_str().unwrap();
    assert_eq!(tags(text), ["<b>", "</b>", "<i>", "</i>"], "{text}");
    assert!(
        text.contains("&lt;b&gt;bold&lt;/b&gt;&lt;/script&gt;"),
        "{text}"
    );
    assert!(text.encode_utf16().count() <= 4096);

    // Opsgenie: creates with the Alert API's required `message`, closes by alias.
    let og: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| r.path.starts_with("/og/"))
        .collect();
    for request in &og {
        assert_eq!(
            request.header("authorization"),
            format!("GenieKey {GENIE_KEY}")
        );
        assert_eq!(request.header("content-type"), "application/json");
    }
    let creates = steps.of(&receiver, "/og/v2/alerts", PAUSE);
    let mut aliases: Vec<String> = creates
        .iter()
        .map(|body| {
            let message = body["message"].as_str().unwrap();
            assert!(!message.is_empty() && message.chars().count() <= 130);
            assert!(["P1", "P2", "P3", "P4", "P5"].contains(&body["priority"].as_str().unwrap()));
            assert_eq!(body["tags"][0], "campaign-watcher");
            body["alias"].as_str().unwrap().to_string()
        })
        .collect();
    aliases.sort();
    let mut expected = vec![
        format!("campaign-watcher:{paused}:paused"),
        format!("campaign-watcher:{failing}:upload_errors"),
    ];
    expected.sort();
    assert_eq!(aliases, expected);
    let mut closed: Vec<String> = og
        .iter()
        .filter_map(|r| {
            r.path
                .strip_prefix("/og/v2/alerts/")?
                .strip_suffix("/close")
                .map(str::to_string)
        })
        .collect();
    let down = "campaign-watcher:watcher:api_unhealthy".to_string();
    assert_eq!(
        closed.pop(),
        Some(down.clone()),
        "the API's return closes its alert"
    );
    closed.sort();
    assert_eq!(
        closed, expected,
        "the resume and the clearing close by the same aliases"
    );
    let outage = steps.of(&receiver, "/og/v2/alerts", API_DOWN);
    assert_eq!(outage[0]["alias"], down);
    assert_eq!(outage[0]["priority"], "P1");
    assert_eq!(outage[0]["entity"], "sigmamind-api");
    let hostile = steps.of(&receiver, "/og/v2/alerts", HOSTILE);
    assert!(hostile[0]["message"].as_str().unwrap().chars().count() <= 130);
    assert!(hostile[0]["description"].as_str().unwrap().chars().count() <= 15_000);

    // Google Chat: a cardsV2 card per event, threaded by campaign.
    let thread_of = |body: &Value| body["thread"]["threadKey"].as_str().unwrap().to_string();
    for body in bodies(&receiver, GCHAT_PATH) {
        let card = &body["cardsV2"][0]["card"];
        assert!(card["header"]["title"]
            .as_str()
            .is_some_and(|t| !t.is_empty()));
        assert!(!card["sections"].as_array().unwrap().is_empty());
        assert!(thread_of(&body).starts_with("campaign-watcher-"));
        assert!(serde_json::to_vec(&body).unwrap().len() <= 32_000);
    }
    let paused_thread = format!("campaign-watcher-{paused}");
    let threads = |step| {
        let mut keys: Vec<String> = steps
            .of(&receiver, GCHAT_PATH, step)
            .iter()
            .map(thread_of)
            .collect();
        keys.sort();
        keys
    };
    let mut expected = vec![paused_thread.clone(), format!("campaign-watcher-{failing}")];
    expected.sort();
    assert_eq!(threads(PAUSE), expected);
    assert_eq!(
        threads(RESUME),
        expected,
        "the resume replies in the pause's thread"
    );
    assert_eq!(threads(API_DOWN), ["campaign-watcher-watcher"]);
    let hostile = steps.of(&receiver, GCHAT_PATH, HOSTILE);
    let paragraph = hostile[0]["cardsV2"][0]["card"]["sections"][0]["widgets"][0]["textParagraph"]
        ["text"]
        .as_str()
        .unwrap();
    assert!(paragraph.contains("&lt;users/all&gt;"), "{paragraph}");
    assert!(!paragraph.contains("<b>bold"), "{paragraph}");

    // Mattermost: Slack-compatible text and one attachment, with the overrides.
    let at = mm_path();
    for body in bodies(&receiver, &at) {
        assert!(body["text"].as_str().is_some_and(|t| t.starts_with("**")));
        assert_eq!(body["channel"], "ops-alerts");
        assert_eq!(body["username"], "campaign-watcher");
        let attachment = &body["attachments"][0];
        assert!(attachment["fallback"]
            .as_str()
            .is_some_and(|t| !t.is_empty()));
        assert!(attachment["color"].as_str().unwrap().starts_with('#'));
    }
    assert_eq!(steps.of(&receiver, &at, PAUSE).len(), 2);
    for ended in steps.of(&receiver, &at, RESUME) {
        assert_eq!(ended["attachments"][0]["color"], "#388E3C");
    }
    assert_eq!(steps.of(&receiver, &at, API_DOWN).len(), 1);
    let hostile = &steps.of(&receiver, &at, HOSTILE)[0];
    let text = hostile["text"].as_str().unwrap().to_string()
        + hostile["attachments"][0]["text"].as_str().unwrap();
    assert!(
        !text.contains("@channel") && !text.contains("[x]("),
        "{text}"
    );
    assert!(text.chars().count() <= 16_383);
}

/// A 429 (`Retry-After: 30` unless `answer` says otherwise) then a 200 at
/// `at`: the row waits for the receiver's delay, not the 100 ms backoff.
async fn waits_after_429(settings: ChannelSettings, server: &MockServer, wait_secs: i64) {
    let (_app, dispatcher) = one_pending_row(settings).await;
    let start = Utc::now();
    assert_eq!(drain_at(&dispatcher, start).await, (0, 1, 0));
    assert_eq!(
        drain_at(&dispatcher, start + TimeDelta::seconds(wait_secs / 2)).await,
        (0, 0, 0),
        "not before the receiver's delay"
    );
    assert_eq!(
        drain_at(&dispatcher, start + TimeDelta::seconds(wait_secs + 1)).await,
        (1, 0, 0)
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

async fn mount_429_then(
    server: &MockServer,
    at: &str,
    first: ResponseTemplate,
    then: ResponseTemplate,
) {
    Mock::given(method("POST"))
        .and(path(at))
        .respond_with(first)
        .up_to_n_times(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(at))
        .respond_with(then)
        .mount(server)
        .await;
}

#[tokio::test]
async fn ntfy_429_waits_for_retry_after() {
    let server = MockServer::start().await;
    mount_429_then(
        &server,
        "/",
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "30")
            .set_body_string(
                r#"{"code":42901,"http":429,"error":"limit reached: too many requests"}"#,
            ),
        ResponseTemplate::new(200).set_body_string(r#"{"id":"x","event":"message"}"#),
    )
    .await;
    waits_after_429(ntfy(&format!("{}/alerts", server.uri())), &server, 30).await;
}

#[tokio::test]
async fn telegram_429_waits_for_parameters_retry_after() {
    let server = MockServer::start().await;
    // No Retry-After header: the JSON body alone says how long.
    mount_429_then(
        &server,
        &format!("/bot{TG_TOKEN}/sendMessage"),
        ResponseTemplate::new(429).set_body_raw(
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 40","parameters":{"retry_after":40}}"#,
            "application/json",
        ),
        ResponseTemplate::new(200).set_body_raw(r#"{"ok":true,"result":{}}"#, "application/json"),
    )
    .await;
    waits_after_429(telegram(&server.uri()), &server, 40).await;
}

#[tokio::test]
async fn opsgenie_retries_429_and_5xx() {
    let server = MockServer::start().await;
    mount_429_then(
        &server,
        "/v2/alerts",
        ResponseTemplate::new(429).insert_header("Retry-After", "30"),
        ResponseTemplate::new(202).set_body_raw(
            r#"{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c"}"#,
            "application/json",
        ),
    )
    .await;
    waits_after_429(opsgenie(&server.uri()), &server, 30).await;

    let receiver = Receiver::spawn().await;
    let url = receiver.url_under("/og");
    receiver.answer_at("/og", &[503, 422]);
    let (_app, dispatcher) = one_pending_row(opsgenie(&url)).await;
    let start = Utc::now();
    assert_eq!(drain_at(&dispatcher, start).await, (0, 1, 0), "503 retried");
    assert_eq!(
        drain_at(&dispatcher, start + TimeDelta::minutes(1)).await,
        (0, 0, 1),
        "422 dead"
    );
}

/// Like PagerDuty, Opsgenie refuses quiet hours: a digest cannot create or close alerts.
#[tokio::test]
async fn opsgenie_refuses_quiet_hours() {
    let dir = tempfile::tempdir().unwrap();
    let extra = r#"
[channels.og]
kind = "opsgenie"
api_key = "k-0123456789"
quiet_hours = { start = "22:00", end = "07:00", timezone = "Europe/Berlin" }
"#;
    let config = write_config(
        dir.path(),
        "http://127.0.0.1:9",
        &["c".into()],
        "http://127.0.0.1:9/h",
        extra,
    );
    let out = run_cli(&["--config", config.to_str().unwrap(), "check-config"], &[]).await;
    assert_eq!(out.code, Some(2), "{}", out.all_output());
    assert!(
        out.all_output()
            .contains("channels.og.quiet_hours: not supported for kind \"opsgenie\""),
        "{}",
        out.all_output()
    );
}

#[tokio::test]
async fn google_chat_429_waits_for_retry_after() {
    let server = MockServer::start().await;
    mount_429_then(
        &server,
        "/v1/spaces/AAAA/messages",
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "30")
            .set_body_raw(
                r#"{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}"#,
                "application/json",
            ),
        ResponseTemplate::new(200).set_body_raw(r#"{"name":"spaces/AAAA/messages/1"}"#, "application/json"),
    )
    .await;
    waits_after_429(google_chat(&server.uri()), &server, 30).await;
    let request = &server.received_requests().await.unwrap()[1];
    let query = request.url.query().unwrap_or_default();
    assert!(
        query.contains("messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"),
        "{query}"
    );
}

#[tokio::test]
async fn mattermost_429_waits_for_retry_after_and_404_is_dead() {
    let server = MockServer::start().await;
    mount_429_then(
        &server,
        &format!("/hooks/{MM_KEY}"),
        ResponseTemplate::new(429).insert_header("Retry-After", "30"),
        ResponseTemplate::new(200).set_body_string("ok"),
    )
    .await;
    waits_after_429(mattermost(&server.uri()), &server, 30).await;

    let receiver = Receiver::spawn().await;
    let url = receiver.url_under("/mm");
    receiver.answer_at("/mm", &[404]);
    let (_app, dispatcher) = one_pending_row(mattermost(&url)).await;
    assert_eq!(drain_at(&dispatcher, Utc::now()).await, (0, 0, 1));
}

/// The new kinds, each with its secrets in `*_file`s under `dir`, pointed at
/// `base` (a receiver); and, per kind, the path its requests go to and its
/// secret values, to grep every output for.
fn secret_channels(dir: &std::path::Path, base: &str) -> (String, Vec<KindSecrets>) {
    let file = |name: &str, value: &str| {
        let path = dir.join(name);
        std::fs::write(&path, format!("{value}\n")).unwrap();
        path.display().to_string()
    };
    let toml = format!(
        r#"
[channels.push]
kind = "ntfy"
url_file = "{ntfy_url}"
token_file = "{ntfy_token}"
retry_initial_backoff = "100ms"

[channels.tg]
kind = "telegram"
bot_token_file = "{tg_token}"
chat_id = "-100555"
api_url = "{base}/tg"
retry_initial_backoff = "100ms"

[channels.og]
kind = "opsgenie"
api_key_file = "{og_key}"
api_url = "{base}/og"
retry_initial_backoff = "100ms"

[channels.gchat]
kind = "google_chat"
url_file = "{gchat_url}"
retry_initial_backoff = "100ms"

[channels.mm]
kind = "mattermost"
url_file = "{mm_url}"
retry_initial_backoff = "100ms"
"#,
        ntfy_url = file("ntfy-url", &format!("{base}/ntfy/{NTFY_TOPIC}")),
        ntfy_token = file("ntfy-token", NTFY_TOKEN),
        tg_token = file("tg-token", TG_TOKEN),
        og_key = file("og-key", GENIE_KEY),
        mm_url = file("mm-url", &format!("{base}/mm/hooks/{MM_KEY}")),
        gchat_url = file(
            "gchat-url",
            &format!("{base}/gchat/v1/spaces/S/messages?key={GCHAT_KEY}&token={GCHAT_TOKEN}"),
        ),
    );
    let kinds = vec![
        ("^/ntfy/", vec![NTFY_TOKEN, NTFY_TOPIC]),
        ("^/tg/", vec![TG_TOKEN, TG_SECRET_PART]),
        ("^/og/", vec![GENIE_KEY]),
        ("^/gchat/", vec![GCHAT_KEY, GCHAT_TOKEN]),
        ("^/mm/", vec![MM_KEY]),
    ];
    (toml, kinds)
}

/// A path prefix (regex) and the secrets of the kind that sends there.
type KindSecrets = (&'static str, Vec<&'static str>);

fn all_secrets(kinds: &[KindSecrets]) -> Vec<&'static str> {
    kinds
        .iter()
        .flat_map(|(_, secrets)| secrets.clone())
        .collect()
}

fn assert_no_secret(output: &str, secrets: &[&str], what: &str) {
    for secret in secrets {
        assert!(!output.contains(secret), "{what} shows {secret}:\n{output}");
    }
}

/// The real binary at `RUST_LOG=trace` (what `run_cli` sets): `once` sending
/// to a receiver, `test-notify` to one that answers 400 echoing every secret,
/// `render` and `check-config`: no secret in any of their output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_of_a_new_kind_reaches_any_output_at_trace() {
    let secrets_dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::spawn().await;
    let (channels, kinds) = secret_channels(secrets_dir.path(), &receiver.url_under(""));
    let secrets = all_secrets(&kinds);
    let app = crate::helpers::BinaryApp::spawn(2, &channels).await;
    let config = app.config.display().to_string();
    let run = |args: &'static [&'static str]| {
        let config = config.clone();
        async move {
            let mut full = vec!["--config", config.as_str()];
            full.extend(args);
            run_cli(&full, &[]).await
        }
    };
    let baseline = run(&["once"]).await;
    assert_eq!(baseline.code, Some(0), "{}", baseline.all_output());
    app.sim
        .control
        .set_status(&app.sim.control.ids()[0], "paused");
    let sent = run(&["once", "--wait", "10s"]).await;
    assert_eq!(sent.code, Some(0), "{}", sent.all_output());
    assert!(
        sent.stderr.contains("TRACE") || sent.stderr.contains("trace"),
        "trace logging is on"
    );
    assert!(
        !receiver.received_at("/ntfy/").is_empty(),
        "ntfy got the pause"
    );
    for at in [
        tg_path().as_str(),
        "/og/v2/alerts",
        "/gchat/v1/spaces/S/messages",
        mm_path().as_str(),
    ] {
        assert!(!receiver.received_at(at).is_empty(), "{at} got the pause");
    }
    assert_no_secret(&sent.all_output(), &secrets, "once");
    for args in [
        &["check-config"][..],
        &["render", "push"],
        &["render", "push", "--digest"],
        &["render", "tg"],
        &["render", "og"],
        &["render", "gchat"],
        &["render", "mm"],
        &["test-notify"],
    ] {
        let out = run(args).await;
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.all_output());
        assert_no_secret(&out.all_output(), &secrets, &args.join(" "));
    }

    // A receiver echoing each kind's secrets in its error answer: scrubbed
    // from the reasons `test-notify` prints and the logs.
    let echo = MockServer::start().await;
    for (at, secrets) in &kinds {
        Mock::given(method("POST"))
            .and(wiremock::matchers::path_regex(*at))
            .respond_with(
                ResponseTemplate::new(400)
                    .set_body_string(format!("{{\"error\": \"rejected {}\"}}", secrets.join(" "))),
            )
            .mount(&echo)
            .await;
    }
    let echo_dir = tempfile::tempdir().unwrap();
    let (channels, _) = secret_channels(echo_dir.path(), &echo.uri());
    let config = write_config(
        echo_dir.path(),
        &app.sim.base_url(),
        &app.sim.control.ids(),
        &receiver.url(),
        &channels,
    );
    let out = run_cli(&["--config", config.to_str().unwrap(), "test-notify"], &[]).await;
    assert_ne!(
        out.code,
        Some(0),
        "the 400s fail test-notify: {}",
        out.all_output()
    );
    assert!(
        out.all_output().contains("<redacted>"),
        "{}",
        out.all_output()
    );
    assert_no_secret(&out.all_output(), &secrets, "test-notify against an echo");
}
