//! Retention against the real binary: a daemon killed in the middle of a
//! prune (aborted inside a batch's transaction, as abrupt as SIGKILL) leaves a
//! consistent store, and the next daemon prunes it; `state backup` copies a
//! store while the daemon runs.

use std::path::Path;
use std::time::Duration;

use sqlx::{Connection, Row};

use crate::helpers::{
    all_live, eventually, outage, run_cli, run_sql, spawn_daemon, spawn_daemon_with, BinaryApp,
    TestApp,
};

/// Old rows no cycle would write: 300 events of a campaign no longer watched,
/// an hour old, each sent; and one old event whose row is still pending (due
/// far in the future, so that nothing sends it during the test).
const OLD_HISTORY: &[&str] = &[
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
     INSERT INTO events (id, type, campaign_id, occurred_at, payload_json)
     SELECT 'old_' || i, 'campaign.settings_changed', 'camp_old',
            CAST(strftime('%s', 'now') AS INTEGER) * 1000 - 3600000 + i, '{}' FROM n",
    "INSERT INTO outbox (event_id, channel, status, attempts, created_at, next_attempt_at, sent_at)
     SELECT id, 'hook', 'sent', 1, occurred_at, occurred_at, occurred_at FROM events WHERE id LIKE 'old_%'",
    "INSERT INTO events (id, type, campaign_id, occurred_at, payload_json)
     VALUES ('old_pending', 'campaign.settings_changed', 'camp_old',
             CAST(strftime('%s', 'now') AS INTEGER) * 1000 - 7200000, '{}')",
    "INSERT INTO outbox (event_id, channel, status, attempts, created_at, next_attempt_at)
     VALUES ('old_pending', 'hook', 'pending', 0, 0, 4102444800000)",
];

async fn scalar(path: &Path, sql: &str) -> String {
    let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let value: String = sqlx::query(sql)
        .fetch_one(&mut connection)
        .await
        .unwrap()
        .get(0);
    connection.close().await.unwrap();
    value
}

/// The config with `[state] retention` set.
fn with_retention(config: &Path, retention: &str) {
    let text = std::fs::read_to_string(config).unwrap();
    let text = text.replace(
        "[state]\n",
        &format!("[state]\nretention = \"{retention}\"\n"),
    );
    std::fs::write(config, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_killed_midway_leaves_a_consistent_store_that_the_next_run_prunes() {
    let BinaryApp {
        sim, dir, config, ..
    } = BinaryApp::spawn(2, "").await;
    all_live(&sim);
    let config_arg = config.to_str().unwrap();
    let baseline = run_cli(&["--config", config_arg, "once"], &[]).await;
    assert_eq!(baseline.code, Some(0), "{}", baseline.stderr);
    let state = dir.path().join("state.db");
    for sql in OLD_HISTORY {
        run_sql(&state, sql).await;
    }
    with_retention(&config, "1m");
    let old_events = "SELECT CAST(COUNT(*) AS TEXT) FROM events WHERE campaign_id = 'camp_old'";

    let mut daemon = spawn_daemon_with(
        &config,
        dir.path(),
        "-killed",
        &[("CAMPAIGN_WATCHER_CRASH_AT", "during_prune")],
    );
    let status = tokio::time::timeout(Duration::from_secs(30), daemon.child.wait())
        .await
        .unwrap_or_else(|_| panic!("no crash during the prune: {}", daemon.logs()))
        .unwrap();
    assert!(!status.success());
    assert!(
        daemon.logs().contains("aborting at during_prune"),
        "{}",
        daemon.logs()
    );

    // The batch's transaction never committed: nothing of it is half done.
    assert_eq!(scalar(&state, "PRAGMA integrity_check").await, "ok");
    assert_eq!(scalar(&state, old_events).await, "301");
    assert_eq!(
        scalar(&state, "SELECT CAST(COUNT(*) AS TEXT) FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = o.event_id)").await,
        "0"
    );

    // The next daemon prunes: the pending row's event and the campaign's last stay.
    let mut daemon = spawn_daemon(&config, dir.path());
    let pruned = eventually(Duration::from_secs(30), || {
        let state = state.clone();
        let count = std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(scalar(
                &state,
                "SELECT CAST(COUNT(*) AS TEXT) FROM events WHERE campaign_id = 'camp_old'",
            ))
        })
        .join()
        .unwrap();
        count == "2"
    })
    .await;
    assert!(pruned, "{}", daemon.logs());
    let kept = scalar(&state, "SELECT group_concat(id) FROM (SELECT id FROM events WHERE campaign_id = 'camp_old' ORDER BY id)").await;
    assert_eq!(kept, "old_300,old_pending");
    assert_eq!(
        scalar(
            &state,
            "SELECT status FROM outbox WHERE event_id = 'old_pending'"
        )
        .await,
        "pending"
    );
    let _ = daemon.terminate(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_backup_copies_a_running_store_and_never_overwrites() {
    let BinaryApp {
        sim, dir, config, ..
    } = BinaryApp::spawn(2, "").await;
    all_live(&sim);
    let config_arg = config.to_str().unwrap();
    let mut daemon = spawn_daemon(&config, dir.path());
    let state = dir.path().join("state.db");
    let running = eventually(Duration::from_secs(20), || {
        daemon.logs().contains("campaign-watcher running")
    })
    .await;
    assert!(running, "{}", daemon.logs());
    // A few cycles commit meanwhile; the copy is whatever one commit left.
    crate::helpers::wait_cycles(daemon.http_addr().await, 3).await;
    let copy = dir.path().join("backup.db");
    let copy_arg = copy.to_str().unwrap();
    let made = run_cli(&["--config", config_arg, "state", "backup", copy_arg], &[]).await;
    assert_eq!(made.code, Some(0), "{}", made.stderr);
    assert!(made.stdout.contains("integrity checked"), "{}", made.stdout);
    assert_eq!(scalar(&copy, "PRAGMA integrity_check").await, "ok");
    let campaigns = "SELECT CAST(COUNT(*) AS TEXT) FROM campaign_state";
    assert_eq!(
        scalar(&copy, campaigns).await,
        scalar(&state, campaigns).await
    );

    let again = run_cli(&["--config", config_arg, "state", "backup", copy_arg], &[]).await;
    assert_eq!(again.code, Some(2), "{}", again.stderr);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    let _ = daemon.terminate(Duration::from_secs(10)).await;
}

/// An API outage longer than the retention: campaigns unreadable through it are
/// not forgotten, so what changed meanwhile is announced at recovery, and an
/// episode of `campaign.unreadable` open before it ends. Time is injected: the
/// retention of one minute passes without waiting for it.
async fn an_outage_longer_than_the_retention(watch_all: bool) {
    use campaign_watcher::sim::{Fault, FaultKind};
    use chrono::{TimeDelta, Utc};

    let app = TestApp::spawn_with(3, |settings| {
        settings.watch.unhealthy_after = 2;
        if watch_all {
            settings.watch.all = true;
            settings.watch.campaigns.clear();
        }
    })
    .await;
    app.all_live();
    let (a, b, c) = (app.id(0), app.id(1), app.id(2));
    let t0 = Utc::now();
    let at = |seconds: i64| t0 + TimeDelta::seconds(seconds);
    let tick = |seconds: i64| {
        let daemon = &app.daemon;
        async move { daemon.tick_at(at(seconds)).await.expect("cycle") }
    };
    tick(0).await;

    // One campaign unreadable while the others read: its episode opens.
    if !watch_all {
        app.sim.control.inject(Fault {
            kind: FaultKind::WrongShape,
            times: None,
            campaign: Some(c.clone()),
        });
        tick(5).await;
        tick(10).await;
    }

    // The whole API down for 80 s; two campaigns pause meanwhile.
    app.sim.control.inject(outage());
    for seconds in [20, 40, 60, 80, 90] {
        let report = tick(seconds).await;
        assert!(!report.api_readable(), "the outage reads nothing");
    }
    app.sim.control.set_status(&a, "paused");
    app.sim.control.set_status(&b, "paused");
    let pruned = app
        .daemon
        .store()
        .prune(at(90) - TimeDelta::minutes(1), 500, Duration::from_secs(30))
        .await
        .expect("prune");
    assert_eq!(
        pruned.removed.0.get("campaign_state").copied().unwrap_or(0),
        0,
        "no campaign unreadable through the outage is forgotten: {pruned:?}"
    );

    app.sim.control.clear_faults();
    let recovered = tick(95).await;
    assert!(recovered.api_readable());
    app.daemon
        .drain_at(at(100))
        .await
        .expect("the recovery's events are sent");
    let received: Vec<serde_json::Value> = app
        .receiver
        .received()
        .iter()
        .map(|request| request.json())
        .collect();
    for paused in [&a, &b] {
        assert!(
            received
                .iter()
                .any(|event| event["type"] == "campaign.status_changed"
                    && event["campaign"]["id"] == paused.as_str()
                    && event["campaign"]["status"] == "paused"),
            "the pause of {paused} made during the outage is announced: {received:#?}"
        );
    }
    if !watch_all {
        assert!(
            received
                .iter()
                .any(|event| event["type"] == "campaign.readable"
                    && event["campaign"]["id"] == c.as_str()),
            "the unreadable campaign's episode ends: {received:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_read_by_id_are_not_forgotten_through_an_outage_longer_than_the_retention() {
    an_outage_longer_than_the_retention(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_campaigns_are_not_forgotten_through_an_outage_longer_than_the_retention() {
    an_outage_longer_than_the_retention(true).await;
}

/// A campaign that answers 404 starts its unseen clock: the retention forgets
/// it, and its 404s afterwards announce nothing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_answering_404_is_forgotten_after_the_retention_and_not_announced_again() {
    use chrono::{TimeDelta, Utc};

    let app = TestApp::spawn(3).await;
    app.all_live();
    let gone = app.id(2);
    let t0 = Utc::now();
    let at = |seconds: i64| t0 + TimeDelta::seconds(seconds);
    app.daemon.tick_at(at(0)).await.expect("cycle");
    app.sim.control.remove(&gone);
    for seconds in [5, 10] {
        app.daemon.tick_at(at(seconds)).await.expect("cycle");
    }
    let pruned = app
        .daemon
        .store()
        .prune(at(80) - TimeDelta::minutes(1), 500, Duration::from_secs(30))
        .await
        .expect("prune");
    assert_eq!(
        pruned.removed.0.get("campaign_state").copied(),
        Some(1),
        "the deleted campaign alone is forgotten: {pruned:?}"
    );
    app.daemon.tick_at(at(85)).await.expect("cycle");
    app.daemon.drain_at(at(90)).await.expect("drain");
    let not_found: Vec<serde_json::Value> = app
        .receiver
        .received()
        .iter()
        .map(|request| request.json())
        .filter(|event| event["type"] == "campaign.not_found")
        .collect();
    assert_eq!(not_found.len(), 1, "{not_found:#?}");
    assert_eq!(not_found[0]["campaign"]["id"], gone.as_str());
}
