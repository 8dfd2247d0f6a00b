//! Delivery to a real webhook receiver: signing, retries under one id, rules.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use campaign_watcher::config::RuleSettings;

use crate::helpers::{Received, TestApp, TEST_SECRET};

/// Verify a Standard Webhooks signature the way a receiver would.
fn signature_is_valid(request: &Received) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(TEST_SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let signed = format!(
        "{}.{}.{}",
        request.header("webhook-id"),
        request.header("webhook-timestamp"),
        request.body
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(signed.as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    request
        .header("webhook-signature")
        .split(' ')
        .any(|candidate| candidate == expected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_answering_500_then_200_gets_the_same_webhook_id_twice() {
    let app = TestApp::spawn(2).await;
    app.all_live();
    app.cycle().await;
    app.receiver.answer_with(&[500]);
    let id = app.id(0);
    app.sim.control.set_status(&id, "paused");
    let report = app.cycle().await;
    let received = app.receiver.received();
    assert_eq!(received.len(), 2, "one failed attempt, one retry");
    assert_eq!(received[0].header("webhook-id"), report.events[0].id);
    assert_eq!(
        received[0].header("webhook-id"),
        received[1].header("webhook-id")
    );
    assert_eq!(
        received[0].body, received[1].body,
        "the same payload both times"
    );
    for request in &received {
        assert!(
            signature_is_valid(request),
            "signature verifies: {:?}",
            request.headers
        );
        assert_eq!(request.header("content-type"), "application/json");
        let timestamp: i64 = request.header("webhook-timestamp").parse().unwrap();
        assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
    }
    let counts = app.daemon.store().outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.dead, counts.sent), (0, 0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_choose_which_transitions_are_sent() {
    let app = TestApp::spawn_with(3, |settings| {
        settings.rules = vec![RuleSettings {
            name: Some("pauses".into()),
            events: vec!["campaign.status_changed".into()],
            transitions: vec!["*->paused".into()],
            campaigns: vec![],
            channels: vec!["hook".into()],
            ..RuleSettings::default()
        }];
    })
    .await;
    app.cycle().await;
    let (a, b) = (app.id(0), app.id(1));
    app.sim.control.set_status(&a, "live");
    app.sim.control.set_status(&b, "live");
    app.cycle().await;
    let before = app.receiver.received().len();
    app.sim.control.set_status(&a, "paused");
    app.sim.control.set_status(&b, "completed");
    app.sim
        .control
        .set_errors(&b, vec!["Row 3: duplicate number".into()]);
    let report = app.cycle().await;
    assert_eq!(report.events.len(), 3, "every change is recorded");
    let sent: Vec<serde_json::Value> = app.receiver.received()[before..]
        .iter()
        .map(Received::json)
        .collect();
    assert_eq!(sent.len(), 1, "only the pause matches the rule");
    assert_eq!(sent[0]["campaign"]["id"], a.as_str());
    assert_eq!(sent[0]["campaign"]["status"], "paused");
}
