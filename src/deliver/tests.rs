//! Delivery tests against a real HTTP receiver on 127.0.0.1.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::*;
use crate::commit::{CycleCommit, OutboxCounts, RoutedEvent, Store};
use crate::deliver::console::ConsoleSettings;
use crate::deliver::email::EmailSettings;
use crate::deliver::slack::SlackSettings;
use crate::deliver::webhook::WebhookSettings;
use crate::event::{CampaignInfo, Event, EventType, UploadErrors};
use crate::observe::CampaignStatus;
use crate::setting::secret::Secret;

const KEY: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const OLD_KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Clone)]
struct Recorded {
    uri: String,
    headers: HeaderMap,
    body: String,
}

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: &'static str,
}

fn reply_with(status: u16, body: &'static str) -> Reply {
    Reply {
        status,
        headers: vec![],
        body,
    }
}

fn reply(status: u16) -> Reply {
    reply_with(status, "")
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    replies: VecDeque<Reply>,
}

/// Records every request and answers from a programmed queue (then 200).
#[derive(Clone, Default)]
struct Receiver {
    inner: Arc<Mutex<Inner>>,
    addr: Option<SocketAddr>,
}

async fn handle(
    State(receiver): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut inner = receiver.inner.lock().unwrap();
    inner.requests.push(Recorded {
        uri: uri.to_string(),
        headers,
        body,
    });
    let reply = inner.replies.pop_front().unwrap_or_else(|| reply(200));
    let mut headers = HeaderMap::new();
    for (name, value) in reply.headers {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    (
        StatusCode::from_u16(reply.status).unwrap(),
        headers,
        reply.body,
    )
        .into_response()
}

impl Receiver {
    async fn start(replies: Vec<Reply>) -> Self {
        let mut receiver = Receiver::default();
        receiver.inner.lock().unwrap().replies = replies.into();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        receiver.addr = Some(listener.local_addr().unwrap());
        let app = Router::new().fallback(handle).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    fn url(&self) -> String {
        format!("http://{}/hook?token=s3cr3t-token", self.addr.unwrap())
    }

    fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap()
}

fn event(id: &str) -> Event {
    Event {
        version: "1".into(),
        id: id.into(),
        kind: EventType::StatusChanged,
        occurred_at: t0(),
        campaign: Some(CampaignInfo {
            id: "camp_XiQEBcj9cc5TFRB4".into(),
            name: "Q4 Outreach Campaign".into(),
            status: CampaignStatus::Paused,
            previous_status: Some(CampaignStatus::Live),
            agent: None,
            caller_number: Some("+14155552671".into()),
        }),
        upload_errors: UploadErrors::default(),
        changes: vec![],
        hints: vec![],
        summary: "Q4 Outreach Campaign (camp_XiQEBcj9cc5TFRB4): live -> paused".into(),
        account: crate::event::default_account(),
        incident: None,
        links: None,
    }
}

fn webhook_settings(url: &str, secret: Option<&str>) -> ChannelSettings {
    let mut settings = ChannelSettings::new(WebhookSettings {
        url: Some(url.to_string()),
        secret: secret.map(Secret::new),
        ..WebhookSettings::default()
    });
    settings.shared.timeout = Duration::from_secs(5);
    settings.shared.retry_initial_backoff = Duration::from_secs(1);
    settings.shared.retry_max_backoff = Duration::from_secs(60);
    settings.shared.max_age = Duration::from_secs(3600);
    settings
}

/// A store with one event routed to `channels`, and a dispatcher over `settings`.
async fn setup(
    settings: BTreeMap<String, ChannelSettings>,
    channels: &[&str],
) -> (Store, Dispatcher) {
    let store = Store::open("sqlite::memory:").await.unwrap();
    store
        .commit_cycle(&CycleCommit {
            now: t0(),
            states: vec![],
            health: None,
            reminders: vec![],
            events: vec![RoutedEvent::new(
                event("evt_1"),
                channels.iter().map(|c| c.to_string()).collect(),
            )],
        })
        .await
        .unwrap();
    let set = Arc::new(ChannelSet::build(&settings).unwrap());
    (store.clone(), Dispatcher::new(store, set))
}

/// [`setup`] for one webhook channel `hook` posting to `receiver`.
async fn webhook_to(receiver: &Receiver, secret: Option<&str>) -> (Store, Dispatcher) {
    setup(
        one("hook", webhook_settings(&receiver.url(), secret)),
        &["hook"],
    )
    .await
}

fn counts(pending: u64, dead: u64, sent: u64) -> OutboxCounts {
    OutboxCounts {
        pending,
        dead,
        sent,
    }
}

fn one(name: &str, settings: ChannelSettings) -> BTreeMap<String, ChannelSettings> {
    BTreeMap::from([(name.to_string(), settings)])
}

fn header<'a>(request: &'a Recorded, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Recomputed here from the spec rather than with `signing::sign`.
fn expected_signature(key: &str, id: &str, timestamp: &str, body: &str) -> String {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(key.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&raw).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let digest = mac.finalize().into_bytes();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn report(sent: u32, retried: u32, dead: u32) -> DrainReport {
    DrainReport {
        sent,
        retried,
        dead,
        ..DrainReport::default()
    }
}

#[tokio::test]
async fn webhook_posts_payload_v1_with_a_verifiable_signature() {
    let receiver = Receiver::start(vec![]).await;
    let (store, dispatcher) = webhook_to(&receiver, Some(KEY)).await;
    assert_eq!(dispatcher.drain_due(t0()).await.unwrap(), report(1, 0, 0));

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.uri, "/hook?token=s3cr3t-token");
    assert_eq!(header(request, "content-type"), "application/json");
    assert!(header(request, "user-agent").starts_with("campaign-watcher/"));
    assert_eq!(header(request, "webhook-id"), "evt_1");
    let timestamp = header(request, "webhook-timestamp");
    let ts: i64 = timestamp.parse().unwrap();
    assert!((Utc::now().timestamp() - ts).abs() < 60);

    assert_eq!(request.body, event("evt_1").to_json());
    let payload: serde_json::Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(payload["version"], "1");
    assert_eq!(payload["type"], "campaign.status_changed");
    assert_eq!(payload["occurred_at"], "2026-11-26T09:00:00Z");
    assert_eq!(payload["campaign"]["previous_status"], "live");

    assert_eq!(
        header(request, "webhook-signature"),
        expected_signature(KEY, "evt_1", timestamp, &request.body)
    );
    assert_eq!(store.outbox_counts().await.unwrap(), counts(0, 0, 1));
}

#[tokio::test]
async fn unsigned_channels_send_no_signature() {
    let receiver = Receiver::start(vec![]).await;
    let (_, dispatcher) = webhook_to(&receiver, None).await;
    assert_eq!(dispatcher.drain_due(t0()).await.unwrap(), report(1, 0, 0));
    let requests = receiver.requests();
    assert!(requests[0].headers.get("webhook-signature").is_none());
    assert_eq!(header(&requests[0], "webhook-id"), "evt_1");
}

#[tokio::test]
async fn a_500_is_retried_with_the_same_webhook_id() {
    let receiver = Receiver::start(vec![reply_with(500, "upstream\n  exploded")]).await;
    let (store, dispatcher) = webhook_to(&receiver, Some(KEY)).await;
    assert_eq!(dispatcher.drain_due(t0()).await.unwrap(), report(0, 1, 0));
    // Rescheduled with backoff: nothing is due at the same instant.
    assert_eq!(dispatcher.drain_due(t0()).await.unwrap(), report(0, 0, 0));
    let next = store.next_due_at().await.unwrap().unwrap();
    assert!(
        next > t0() && next <= t0() + TimeDelta::seconds(2),
        "{next}"
    );

    assert_eq!(
        dispatcher
            .drain_due(t0() + TimeDelta::minutes(10))
            .await
            .unwrap(),
        report(1, 0, 0)
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(header(&requests[0], "webhook-id"), "evt_1");
    assert_eq!(header(&requests[1], "webhook-id"), "evt_1");
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(store.outbox_counts().await.unwrap(), counts(0, 0, 1));
}

#[tokio::test]
async fn retry_reasons_name_the_status_and_body_but_not_the_url_secrets() {
    let receiver = Receiver::start(vec![reply_with(503, "maintenance\n  window")]).await;
    let settings = webhook_settings(
        &format!(
            "http://user:pa55word@{}/hook?token=s3cr3t-token",
            receiver.addr.unwrap()
        ),
        None,
    );
    let channel = settings.build("hook", "host-1").unwrap();
    match channel.send(&event("evt_1")).await {
        SendOutcome::Retry {
            reason,
            retry_after,
        } => {
            assert!(reason.contains("503"), "{reason}");
            assert!(reason.contains("maintenance window"), "{reason}");
            assert!(
                !reason.contains("s3cr3t") && !reason.contains("pa55word"),
                "{reason}"
            );
            assert_eq!(retry_after, None);
        }
        other => panic!("expected Retry, got {other:?}"),
    }
    assert!(!format!("{channel:?}").contains("s3cr3t"));
}

#[tokio::test]
async fn connection_errors_are_retried_without_leaking_the_url() {
    // Bound but not listening: connections are refused, and no other socket
    // can take the port while the test holds it.
    let nothing_listens = tokio::net::TcpSocket::new_v4().unwrap();
    nothing_listens.bind(([127, 0, 0, 1], 0).into()).unwrap();
    let addr = nothing_listens.local_addr().unwrap();
    let settings = webhook_settings(&format!("http://{addr}/hook?token=s3cr3t-token"), None);
    let channel = settings.build("hook", "host-1").unwrap();
    match channel.send(&event("evt_1")).await {
        SendOutcome::Retry { reason, .. } => {
            assert!(reason.contains("could not connect"), "{reason}");
            assert!(!reason.contains("s3cr3t"), "{reason}");
        }
        other => panic!("expected Retry, got {other:?}"),
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let receiver = Receiver::start(vec![Reply {
        status: 429,
        headers: vec![("retry-after", "120".into())],
        body: "slow down",
    }])
    .await;
    let (store, dispatcher) = webhook_to(&receiver, Some(KEY)).await;
    assert_eq!(dispatcher.drain_due(t0()).await.unwrap(), report(0, 1, 0));
    let next = store.next_due_at().await.unwrap().unwrap();
    assert!(next >= t0() + TimeDelta::seconds(120), "{next}");
    assert!(
        dispatcher
            .drain_due(t0() + TimeDelta::seconds(119))
            .await
            .unwrap()
            == report(0, 0, 0)
    );
}

#[tokio::test]
async fn redirects_are_not_followed_and_count_as_failures() {
    let receiver = Receiver::start(vec![]).await;
    let elsewhere = format!("http://{}/elsewhere", receiver.addr.unwrap());
    receiver.inner.lock().unwrap().replies.push_back(Reply {
        status: 302,
        headers: vec![("location", elsewhere)],
        body: "",
    });
    let (store, dispatcher) = webhook_to(&receiver, Some(KEY)).await;
    assert_eq!(dispatcher.drain_due(t0()).await.unwrap(), report(0, 1, 0));
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].uri.starts_with("/hook"));
    assert_eq!(store.outbox_counts().await.unwrap().pending, 1);
}

#[tokio::test]
async fn gone_is_permanent() {
    let receiver = Receiver::start(vec![reply(410)]).await;
    let (store, dispatcher) = webhook_to(&receiver, Some(KEY)).await;
    assert_eq!(dispatcher.drain_due(t0()).await.unwrap(), report(0, 0, 1));
    assert_eq!(store.outbox_counts().await.unwrap(), counts(0, 1, 0));
    // Dead rows are never sent again.
    assert_eq!(
        dispatcher
            .drain_due(t0() + TimeDelta::hours(1))
            .await
            .unwrap(),
        report(0, 0, 0)
    );
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test]
async fn a_row_past_max_age_that_fails_is_dead() {
    let receiver = Receiver::start(vec![reply(500), reply(500)]).await;
    let (store, dispatcher) = webhook_to(&receiver, None).await;
    // Within max_age (1 h): retried.
    assert_eq!(
        dispatcher
            .drain_due(t0() + TimeDelta::minutes(59))
            .await
            .unwrap(),
        report(0, 1, 0)
    );
    assert_eq!(
        dispatcher
            .drain_due(t0() + TimeDelta::hours(2))
            .await
            .unwrap(),
        report(0, 0, 1)
    );
    assert_eq!(store.outbox_counts().await.unwrap().dead, 1);
}

#[tokio::test]
async fn rotation_sends_both_signatures() {
    let receiver = Receiver::start(vec![]).await;
    let mut settings = webhook_settings(&receiver.url(), Some(KEY));
    settings
        .kind
        .get_mut::<WebhookSettings>()
        .unwrap()
        .previous_secret = Some(Secret::new(OLD_KEY));
    let (_, dispatcher) = setup(one("hook", settings), &["hook"]).await;
    assert_eq!(dispatcher.drain_due(t0()).await.unwrap(), report(1, 0, 0));
    let request = &receiver.requests()[0];
    let timestamp = header(request, "webhook-timestamp");
    let signatures: Vec<&str> = header(request, "webhook-signature").split(' ').collect();
    assert_eq!(
        signatures,
        [
            expected_signature(KEY, "evt_1", timestamp, &request.body),
            expected_signature(OLD_KEY, "evt_1", timestamp, &request.body),
        ]
    );
}

#[tokio::test]
async fn rows_for_removed_channels_are_dead() {
    let (store, dispatcher) = setup(
        one("screen", ChannelSettings::new(ConsoleSettings::default())),
        &["screen", "gone-hook"],
    )
    .await;
    assert_eq!(dispatcher.drain_due(t0()).await.unwrap(), report(1, 0, 1));
    let recent = store.recent_events(5).await.unwrap();
    assert_eq!(
        recent[0].deliveries,
        vec![
            ("gone-hook".to_string(), "dead".to_string()),
            ("screen".to_string(), "sent".to_string())
        ]
    );
}

#[tokio::test]
async fn channels_drain_independently() {
    let failing = Receiver::start(vec![reply(500)]).await;
    let working = Receiver::start(vec![]).await;
    let settings = BTreeMap::from([
        ("a".to_string(), webhook_settings(&failing.url(), None)),
        ("b".to_string(), webhook_settings(&working.url(), None)),
    ]);
    let (_, dispatcher) = setup(settings, &["a", "b"]).await;
    assert_eq!(dispatcher.drain_due(t0()).await.unwrap(), report(1, 1, 0));
}

#[tokio::test]
async fn run_delivers_when_woken_and_stops_on_shutdown() {
    let receiver = Receiver::start(vec![]).await;
    let store = Store::open("sqlite::memory:").await.unwrap();
    let set = Arc::new(
        ChannelSet::build(&one("hook", webhook_settings(&receiver.url(), Some(KEY)))).unwrap(),
    );
    let wake = Arc::new(tokio::sync::Notify::new());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task =
        tokio::spawn(Dispatcher::new(store.clone(), set).run(wake.clone(), shutdown.clone()));
    // Let the first (empty) drain pass, then commit and wake the dispatcher.
    tokio::time::sleep(Duration::from_millis(50)).await;
    store
        .commit_cycle(&CycleCommit {
            now: Utc::now(),
            states: vec![],
            health: None,
            reminders: vec![],
            events: vec![RoutedEvent::new(event("evt_run"), vec!["hook".into()])],
        })
        .await
        .unwrap();
    wake.notify_one();
    let ids = vec!["evt_run".to_string()];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while store.pending_for(&ids).await.unwrap() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not delivered in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.outbox_counts().await.unwrap().sent, 1);
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

#[test]
fn build_rejects_what_it_cannot_send() {
    let err = ChannelSet::build(&one("chat", ChannelSettings::new(SlackSettings::default())))
        .unwrap_err();
    assert!(matches!(err, DeliverError::MissingUrl { .. }), "{err}");
    assert!(err.to_string().contains("\"chat\""), "{err}");

    let err = ChannelSet::build(&one("mail", ChannelSettings::new(EmailSettings::default())))
        .unwrap_err();
    assert!(matches!(err, DeliverError::Email { .. }), "{err}");
    assert!(err.to_string().contains("smtp_url"), "{err}");

    let err = ChannelSet::build(&one(
        "hook",
        ChannelSettings::new(WebhookSettings::default()),
    ))
    .unwrap_err();
    assert!(matches!(err, DeliverError::MissingUrl { .. }), "{err}");

    let err = ChannelSet::build(&one(
        "hook",
        webhook_settings("ftp://user:pw@example.com/x", None),
    ))
    .unwrap_err();
    assert!(matches!(err, DeliverError::InvalidUrl { .. }), "{err}");
    assert!(!err.to_string().contains("pw@"), "{err}");

    let err = ChannelSet::build(&one(
        "hook",
        webhook_settings("https://example.com/x", Some("plainsecretvalue")),
    ))
    .unwrap_err();
    assert!(matches!(err, DeliverError::InvalidSecret { .. }), "{err}");
    assert!(!err.to_string().contains("plainsecretvalue"), "{err}");
    assert!(!format!("{err:?}").contains("plainsecretvalue"), "{err:?}");

    let mut rotated = webhook_settings("https://example.com/x", Some(KEY));
    rotated
        .kind
        .get_mut::<WebhookSettings>()
        .unwrap()
        .previous_secret = Some(Secret::new("whsec_%%%"));
    let err = ChannelSet::build(&one("hook", rotated)).unwrap_err();
    assert!(err.to_string().contains("previous_secret"), "{err}");

    let set = ChannelSet::build(&BTreeMap::from([
        (
            "screen".to_string(),
            ChannelSettings::new(ConsoleSettings::default()),
        ),
        (
            "hook".to_string(),
            webhook_settings("https://example.com/x?token=t0k", Some(KEY)),
        ),
    ]))
    .unwrap();
    assert_eq!(set.names(), ["hook", "screen"]);
    let hook = set.get("hook").unwrap();
    assert_eq!(hook.retry.max_age, Duration::from_secs(3600));
    let debug = format!("{hook:?}");
    assert!(
        !debug.contains("t0k") && !debug.contains("C2FVsBQ"),
        "{debug}"
    );
    assert!(set.get("nope").is_none());
}

#[tokio::test]
async fn a_failing_target_is_probed_with_one_row_and_the_rest_wait_for_its_retry() {
    let receiver = Receiver::start(vec![reply(503), reply(503)]).await;
    let (store, dispatcher) = webhook_to(&receiver, None).await;
    for id in ["evt_2", "evt_3"] {
        store
            .commit_cycle(&CycleCommit {
                now: t0(),
                states: vec![],
                health: None,
                reminders: vec![],
                events: vec![RoutedEvent::new(event(id), vec!["hook".into()])],
            })
            .await
            .unwrap();
    }
    let first = dispatcher.drain_due(t0()).await.unwrap();
    assert_eq!((first.retried, first.deferred, first.sent), (1, 2, 0));
    assert_eq!(
        receiver.requests().len(),
        1,
        "one probe, not one request per row"
    );
    // Every row waits for the probe's retry time, none has spent an attempt but the probe.
    let retry_at = store.next_due_at().await.unwrap().unwrap();
    assert!(retry_at > t0());
    assert_eq!(
        dispatcher.drain_due(t0()).await.unwrap(),
        DrainReport::default()
    );

    let later = dispatcher
        .drain_due(t0() + TimeDelta::minutes(10))
        .await
        .unwrap();
    assert_eq!(
        (later.retried, later.deferred),
        (1, 2),
        "the second probe fails too"
    );
    let recovered = dispatcher
        .drain_due(t0() + TimeDelta::hours(1))
        .await
        .unwrap();
    assert_eq!(recovered.sent, 3);
    assert_eq!(receiver.requests().len(), 5);
}

/// Everything a channel shows of itself: its preview of one sample event of
/// every type, then its `Debug`. A secret found in it leaks.
pub(crate) fn everything_shown<C>(channel: &C) -> String
where
    C: crate::deliver::Deliver + std::fmt::Debug,
{
    let events: Vec<Event> = EventType::ALL
        .into_iter()
        .map(crate::fixtures::sample)
        .collect();
    channel.preview(&events, false).unwrap() + &format!("{channel:?}")
}
