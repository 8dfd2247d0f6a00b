//! Reading faults against the real binary (issue 11, items 3 and 4): a campaign
//! whose answer cannot be decoded, one that cannot be read at all, and a
//! listing that never ends. Each must end in the alert an operator needs, never
//! in silence.

use std::time::Duration;

use campaign_watcher::sim::{Fault, FaultKind};

use crate::helpers::{all_live, eventually, run_cli, spawn_daemon, BinaryApp};

/// `campaign-watcher --config <config> <args>`, which must succeed.
async fn cli_ok(config: &std::path::Path, args: &[&str]) -> String {
    let mut full = vec!["--config", config.to_str().unwrap()];
    full.extend(args);
    let finished = run_cli(&full, &[]).await;
    assert_eq!(
        finished.code,
        Some(0),
        "{args:?}: {}",
        finished.all_output()
    );
    finished.stdout
}

/// The events delivered for `campaign`, as `(type, status)`.
fn delivered_for(app: &BinaryApp, campaign: &str) -> Vec<(String, String)> {
    app.receiver
        .received()
        .iter()
        .map(|request| request.json())
        .filter(|event| event["campaign"]["id"] == campaign)
        .map(|event| {
            (
                event["type"].as_str().unwrap_or_default().to_string(),
                event["campaign"]["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

async fn a_pause_arrives_despite(kind: FaultKind) {
    let app = BinaryApp::spawn(2, "").await;
    all_live(&app.sim);
    let victim = app.sim.control.ids()[0].clone();
    cli_ok(&app.config, &["once"]).await;
    app.sim.control.inject(Fault {
        kind,
        times: None,
        campaign: Some(victim.clone()),
    });
    app.sim.control.set_status(&victim, "paused");
    cli_ok(&app.config, &["once"]).await;
    let delivered = delivered_for(&app, &victim);
    assert!(
        delivered.contains(&("campaign.status_changed".into(), "paused".into())),
        "the pause of the campaign with an undecodable name arrives: {delivered:?}"
    );
    let paused = app
        .receiver
        .received()
        .iter()
        .map(|request| request.json())
        .find(|event| event["type"] == "campaign.status_changed")
        .expect("checked above");
    assert!(
        paused["campaign"]["name"]
            .as_str()
            .is_some_and(|name| name.contains('\u{FFFD}')),
        "what could not be decoded is replaced, not dropped: {paused}"
    );
    let status = cli_ok(&app.config, &["status"]).await;
    let line = status
        .lines()
        .find(|line| line.starts_with(&victim))
        .unwrap_or_default();
    assert!(line.contains("paused"), "status shows the pause: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_named_with_a_lone_surrogate_is_paused_and_the_pause_arrives() {
    a_pause_arrives_despite(FaultKind::LoneSurrogate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_named_in_invalid_utf8_is_paused_and_the_pause_arrives() {
    a_pause_arrives_despite(FaultKind::InvalidUtf8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_that_cannot_be_read_is_announced_unreadable_then_readable() {
    let app = BinaryApp::spawn(3, "").await;
    all_live(&app.sim);
    let victim = app.sim.control.ids()[0].clone();
    cli_ok(&app.config, &["once"]).await;
    app.sim.control.inject(Fault {
        kind: FaultKind::WrongShape,
        times: None,
        campaign: Some(victim.clone()),
    });
    // unhealthy_after is 3: two failed reads say nothing yet.
    for _ in 0..2 {
        cli_ok(&app.config, &["once"]).await;
    }
    assert_eq!(delivered_for(&app, &victim), []);
    cli_ok(&app.config, &["once"]).await;
    assert_eq!(
        delivered_for(&app, &victim),
        [("campaign.unreadable".into(), "live".into())]
    );
    assert!(
        !app.receiver
            .event_types()
            .iter()
            .any(|kind| kind.starts_with("watcher.")),
        "one unreadable campaign is not an API outage: {:?}",
        app.receiver.event_types()
    );
    let status = cli_ok(&app.config, &["status"]).await;
    let line = status
        .lines()
        .find(|line| line.starts_with(&victim))
        .unwrap_or_default();
    assert!(
        line.contains("unreadable"),
        "status shows it unreadable: {status}"
    );
    assert!(
        status.contains(&format!("unreadable: {victim} since")),
        "{status}"
    );
    // Still failing: announced once per episode.
    cli_ok(&app.config, &["once"]).await;
    assert_eq!(delivered_for(&app, &victim).len(), 1);

    // Fixed, and paused meanwhile: readable first, then the pause.
    app.sim.control.clear_faults();
    app.sim.control.set_status(&victim, "paused");
    cli_ok(&app.config, &["once"]).await;
    assert_eq!(
        delivered_for(&app, &victim),
        [
            ("campaign.unreadable".into(), "live".into()),
            ("campaign.readable".into(), "live".into()),
            ("campaign.status_changed".into(), "paused".into()),
        ]
    );
    let status = cli_ok(&app.config, &["status"]).await;
    assert!(!status.contains("unreadable"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_listing_ends_the_cycle_and_the_api_is_announced_unhealthy() {
    let app = BinaryApp::spawn(25, "").await;
    all_live(&app.sim);
    // Watch the whole account, so every cycle lists.
    let text = std::fs::read_to_string(&app.config).unwrap();
    let start = text.find("campaigns = [").unwrap();
    let end = start + text[start..].find(']').unwrap() + 1;
    let text = format!(
        "{}all = true\npage_size = 10{}",
        &text[..start],
        &text[end..]
    );
    std::fs::write(&app.config, text).unwrap();
    cli_ok(&app.config, &["once"]).await;
    app.sim.control.inject(Fault {
        kind: FaultKind::EndlessListing,
        times: None,
        campaign: None,
    });
    let requests_before = app.sim.control.requests();
    let mut daemon = spawn_daemon(&app.config, app.dir.path());
    let announced = eventually(Duration::from_secs(30), || {
        app.receiver
            .event_types()
            .contains(&"watcher.api_unhealthy".to_string())
    })
    .await;
    assert!(
        announced,
        "watcher.api_unhealthy arrives: {}",
        daemon.logs()
    );
    let requests = app.sim.control.requests() - requests_before;
    // Three cycles, each given up at its second page (a repeat).
    assert!(
        requests < 100,
        "each cycle stops paging early: {requests} requests"
    );
    let unhealthy = app
        .receiver
        .received()
        .iter()
        .map(|request| request.json())
        .find(|event| event["type"] == "watcher.api_unhealthy")
        .expect("checked above");
    assert!(
        unhealthy["summary"]
            .as_str()
            .is_some_and(|summary| summary.contains("listing does not end")),
        "{unhealthy}"
    );

    app.sim.control.clear_faults();
    let recovered = eventually(Duration::from_secs(20), || {
        app.receiver
            .event_types()
            .contains(&"watcher.api_recovered".to_string())
    })
    .await;
    assert!(
        recovered,
        "watcher.api_recovered arrives: {}",
        daemon.logs()
    );
    assert!(!daemon.logs().contains("panicked"), "{}", daemon.logs());
    daemon.terminate(Duration::from_secs(10)).await;
}

/// A second webhook channel on a receiver of its own, answering `status` for
/// good; `settings` are more of its keys.
async fn a_dead_channel_is_announced_on_the_other(status: u16, settings: &str) {
    let broken = crate::helpers::Receiver::spawn().await;
    broken.answer_with(&[status; 1000]);
    let extra = format!(
        r#"
[channels.broken]
kind = "webhook"
url = "{}"
secret = "{}"
retry_initial_backoff = "100ms"
retry_max_backoff = "1s"
{settings}
"#,
        broken.url(),
        crate::helpers::TEST_SECRET
    );
    let app = BinaryApp::spawn(2, &extra).await;
    all_live(&app.sim);
    let victim = app.sim.control.ids()[0].clone();
    cli_ok(&app.config, &["once"]).await;
    let mut daemon = spawn_daemon(&app.config, app.dir.path());
    app.sim.control.set_status(&victim, "paused");
    let has = |receiver: &crate::helpers::Receiver, kind: &str| {
        receiver.event_types().iter().any(|seen| seen == kind)
    };
    let announced = eventually(Duration::from_secs(45), || {
        has(&app.receiver, "watcher.channel_unhealthy")
    })
    .await;
    assert!(
        announced,
        "the other channel hears of it: {}",
        daemon.logs()
    );
    let unhealthy = app
        .receiver
        .received()
        .iter()
        .map(|request| request.json())
        .find(|event| event["type"] == "watcher.channel_unhealthy")
        .expect("checked above");
    let summary = unhealthy["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("\"broken\""),
        "it names the channel: {summary}"
    );
    assert!(
        summary.contains(&status.to_string()),
        "and its last error: {summary}"
    );
    assert!(
        !unhealthy.to_string().contains(&broken.addr.to_string()),
        "never its URL: {unhealthy}"
    );
    assert!(unhealthy["campaign"].is_null());
    assert!(
        !has(&broken, "watcher.channel_unhealthy"),
        "a channel never announces its own failure through itself"
    );

    // It answers again: the next event it sends announces the recovery.
    broken.answer_ok();
    app.sim.control.set_status(&victim, "live");
    let recovered = eventually(Duration::from_secs(30), || {
        has(&app.receiver, "watcher.channel_recovered")
    })
    .await;
    assert!(recovered, "the recovery arrives: {}", daemon.logs());
    let unhealthy_count = app
        .receiver
        .event_types()
        .iter()
        .filter(|kind| *kind == "watcher.channel_unhealthy")
        .count();
    assert_eq!(unhealthy_count, 1, "announced once per episode");
    assert!(!daemon.logs().contains("panicked"), "{}", daemon.logs());
    daemon.terminate(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_answering_410_for_good_is_announced_on_the_other_channel() {
    // A 410 kills the delivery at once: announced at once.
    a_dead_channel_is_announced_on_the_other(410, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_answering_401_for_good_is_announced_on_the_other_channel() {
    // A webhook's 401 is retried (a key being rotated): announced once it has
    // failed for the health window, a quarter of max_age (15 s here).
    a_dead_channel_is_announced_on_the_other(401, "max_age = \"1m\"").await;
}
