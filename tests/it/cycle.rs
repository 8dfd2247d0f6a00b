//! The pipeline end to end, in-process, against the simulator over HTTP.

use campaign_watcher::diff::CycleVerdict;
use campaign_watcher::sim::{Fault, FaultKind};

use crate::helpers::{outage, run_sql, Receiver, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_cycle_is_a_silent_baseline() {
    let app = TestApp::spawn(6).await;
    let report = app.cycle().await;
    assert_eq!(report.campaigns_read(), 6);
    assert!(
        report.events.is_empty(),
        "baseline announced {:?}",
        report.events
    );
    assert!(app.receiver.received().is_empty());
    assert_eq!(app.daemon.store().load_states().await.unwrap().len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_transition_is_announced_once() {
    let app = TestApp::spawn(4).await;
    app.cycle().await;
    let paused = app.id(0);
    let errored = app.id(1);
    app.sim.control.set_status(&paused, "live");
    app.sim.control.set_errors(&errored, vec![]);
    app.cycle().await;
    let before = app.receiver.received().len();

    app.sim.control.set_status(&paused, "paused");
    app.sim
        .control
        .set_errors(&errored, vec!["Row 7: invalid phone number".into()]);
    let report = app.cycle().await;
    let mut kinds: Vec<String> = report.events.iter().map(|e| e.kind.to_string()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        ["campaign.status_changed", "campaign.upload_errors_added"]
    );

    let received = &app.receiver.received()[before..];
    assert_eq!(received.len(), 2);
    let status = received
        .iter()
        .map(|r| r.json())
        .find(|body| body["type"] == "campaign.status_changed")
        .expect("the pause was delivered");
    assert_eq!(status["campaign"]["id"], paused.as_str());
    assert_eq!(status["campaign"]["previous_status"], "live");
    assert_eq!(status["campaign"]["status"], "paused");
    let errors = received
        .iter()
        .map(|r| r.json())
        .find(|body| body["type"] == "campaign.upload_errors_added")
        .unwrap();
    assert_eq!(
        errors["upload_errors"]["added"],
        serde_json::json!(["Row 7: invalid phone number"])
    );

    // Nothing changed: nothing is sent again.
    let quiet = app.cycle().await;
    assert!(quiet.events.is_empty());
    assert_eq!(app.receiver.received().len(), before + 2);

    // Reordered and duplicated errors are the same set.
    app.sim.control.set_errors(
        &errored,
        vec![
            "Row 7: invalid phone number".into(),
            "Row 7: invalid phone number".into(),
        ],
    );
    assert!(app.cycle().await.events.is_empty());

    app.sim.control.set_errors(&errored, vec![]);
    let cleared = app.cycle().await;
    assert_eq!(cleared.events.len(), 1);
    assert_eq!(
        cleared.events[0].kind.to_string(),
        "campaign.upload_errors_cleared"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_announces_only_what_changed_while_down() {
    let mut app = TestApp::spawn(5).await;
    app.cycle().await;
    let id = app.id(2);
    app.sim.control.set_status(&id, "live");
    app.cycle().await;
    let sent_before = app.receiver.received().len();

    app.restart().await;
    assert!(
        app.cycle().await.events.is_empty(),
        "nothing unchanged is re-announced"
    );

    app.sim.control.set_status(&id, "completed");
    app.restart().await;
    let report = app.cycle().await;
    assert_eq!(report.events.len(), 1);
    assert_eq!(
        report.events[0]
            .transition()
            .map(|(f, t)| (f.to_string(), t.to_string())),
        Some(("live".to_string(), "completed".to_string()))
    );
    app.restart().await;
    assert!(
        app.cycle().await.events.is_empty(),
        "announced once, not again"
    );
    assert_eq!(app.receiver.received().len(), sent_before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_campaign_is_announced_as_not_found() {
    let app = TestApp::spawn(3).await;
    app.cycle().await;
    let gone = app.id(1);
    let raw = app.sim.control.raw(&gone).unwrap();
    assert!(app.sim.control.remove(&gone));
    let report = app.cycle().await;
    assert_eq!(report.events.len(), 1);
    assert_eq!(report.events[0].kind.to_string(), "campaign.not_found");
    assert_eq!(report.events[0].campaign.as_ref().unwrap().id, gone);
    assert!(app.cycle().await.events.is_empty());

    // It comes back: announced once, and delivered like any other event.
    app.sim.control.insert(raw);
    let report = app.cycle().await;
    let kinds: Vec<String> = report.events.iter().map(|e| e.kind.to_string()).collect();
    assert_eq!(kinds, ["campaign.found_again"]);
    assert!(app.cycle().await.events.is_empty());
    assert_eq!(
        app.receiver.event_types(),
        ["campaign.not_found", "campaign.found_again"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_all_lists_in_pages() {
    let app = TestApp::spawn_with(250, |settings| {
        settings.watch.campaigns.clear();
        settings.watch.all = true;
        settings.watch.page_size = 100;
    })
    .await;
    let report = app.cycle().await;
    assert_eq!(report.campaigns_read(), 250);
    assert_eq!(report.requests(), 3, "250 campaigns at 100 a page");

    // A campaign that drops out of the listing is confirmed by a direct GET.
    let gone = app.id(10);
    app.sim.control.remove(&gone);
    let report = app.cycle().await;
    assert_eq!(report.requests(), 4, "three pages and one confirming GET");
    assert_eq!(report.events.len(), 1);
    assert_eq!(report.events[0].kind.to_string(), "campaign.not_found");
}

/// More campaigns than one commit slice (1,000): the first cycle is committed in
/// slices, stays silent and stores every campaign; afterwards the watcher knows
/// them by fingerprint, before and after a restart, and misses no change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_cycle_larger_than_a_commit_slice_is_silent_and_complete() {
    let mut app = TestApp::spawn_with(2_345, |settings| {
        settings.watch.campaigns.clear();
        settings.watch.all = true;
        settings.watch.page_size = 100;
    })
    .await;
    app.all_live();
    let baseline = app.cycle().await;
    assert_eq!(baseline.campaigns_read(), 2_345);
    assert!(baseline.events.is_empty(), "{:?}", baseline.events);
    let stored = app.daemon.store().load_states().await.unwrap();
    assert_eq!(stored.len(), 2_345);
    assert!(stored
        .values()
        .all(|state| state.snapshot.status.as_str() == "live"));
    assert_eq!(baseline.campaigns_by_status().get("live"), Some(&2_345));

    let (paused, errored, renamed) = (app.id(3), app.id(1_500), app.id(2_344));
    app.sim.control.set_status(&paused, "paused");
    app.sim
        .control
        .set_errors(&errored, vec!["Row 2: missing phone".into()]);
    app.sim.control.patch(
        &renamed,
        serde_json::json!({ "campaignName": "Renamed campaign" }),
    );
    let mut changed: Vec<(String, String)> = app
        .cycle()
        .await
        .events
        .iter()
        .map(|event| {
            let campaign = event.campaign.as_ref().expect("a campaign event");
            (campaign.id.clone(), event.kind.to_string())
        })
        .collect();
    changed.sort();
    let mut expected = vec![
        (paused.clone(), "campaign.status_changed".to_string()),
        (errored, "campaign.upload_errors_added".to_string()),
        (renamed, "campaign.settings_changed".to_string()),
    ];
    expected.sort();
    assert_eq!(changed, expected);
    assert!(app.cycle().await.events.is_empty(), "announced once");

    app.restart().await;
    assert!(
        app.cycle().await.events.is_empty(),
        "a restart re-announces nothing"
    );
    app.sim.control.set_status(&paused, "live");
    let resumed = app.cycle().await;
    assert_eq!(resumed.events.len(), 1);
    assert_eq!(
        resumed.events[0]
            .transition()
            .map(|(from, to)| (from.to_string(), to.to_string())),
        Some(("paused".to_string(), "live".to_string()))
    );
}

/// The first sightings committed in slices carry no event, so a cycle whose
/// final commit fails after some slices loses nothing: the change it held is
/// announced by the next cycle, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_after_quiet_slices_loses_no_change() {
    let mut app = TestApp::spawn_with(2_345, |settings| {
        settings.watch.campaigns.truncate(1);
        settings.watch.page_size = 100;
    })
    .await;
    app.all_live();
    let watched = app.settings.watch.campaigns[0].clone();
    assert!(app.cycle().await.events.is_empty());

    // Now every campaign: 2,344 first sightings (two full slices) and one pause.
    app.settings.watch.campaigns.clear();
    app.settings.watch.all = true;
    app.restart().await;
    let db = std::path::PathBuf::from(app.settings.state.url.trim_start_matches("sqlite://"));
    app.sim.control.set_status(&watched, "paused");
    run_sql(
        &db,
        "CREATE TRIGGER refuse_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'refused'); END",
    )
    .await;
    assert!(app.daemon.tick().await.is_err(), "the final commit fails");
    let stored = app.daemon.store().load_states().await.unwrap();
    assert_eq!(
        stored.len(),
        2_001,
        "two slices of first sightings were kept"
    );
    assert_eq!(stored[&watched].snapshot.status.as_str(), "live");

    run_sql(&db, "DROP TRIGGER refuse_events").await;
    let report = app.cycle().await;
    let kinds: Vec<String> = report.events.iter().map(|e| e.kind.to_string()).collect();
    assert_eq!(kinds, ["campaign.status_changed"]);
    assert_eq!(app.daemon.store().load_states().await.unwrap().len(), 2_345);
    assert!(app.cycle().await.events.is_empty());
    assert_eq!(app.receiver.event_types(), ["campaign.status_changed"]);
}

/// `[heartbeat]`: one GET per cycle that read the API, none while it cannot
/// (so the dead-man's switch fires); a refused ping does not fail the cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_pings_after_each_readable_cycle_only() {
    let pings = Receiver::spawn().await;
    let url = pings.url_for("/ping/5f1c");
    let app = TestApp::spawn_with(2, |settings| settings.heartbeat.url = Some(url)).await;
    let count = || pings.received_at("/ping/5f1c").len();
    app.cycle().await;
    assert_eq!(count(), 1);
    let ping = &pings.received_at("/ping/5f1c")[0];
    assert!(ping.body.is_empty());
    assert!(ping.header("user-agent").starts_with("campaign-watcher/"));

    app.sim.control.inject(outage());
    let blind = app.cycle_with_failures().await;
    assert!(!blind.api_readable());
    assert_eq!(count(), 1, "no heartbeat while the API cannot be read");

    app.sim.control.clear_faults();
    pings.answer_at("/ping/5f1c", &[500]);
    assert!(
        app.cycle().await.api_readable(),
        "a refused ping fails nothing"
    );
    assert_eq!(count(), 2);
    app.cycle().await;
    assert_eq!(count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_api_raises_one_alert_and_then_recovers() {
    let app = TestApp::spawn(2).await;
    app.cycle().await;
    app.sim.control.inject(outage());
    let mut kinds = vec![];
    for _ in 0..4 {
        let report = app.cycle_with_failures().await;
        assert!(matches!(report.verdict(), CycleVerdict::Unreadable { .. }));
        kinds.extend(report.events.iter().map(|e| e.kind.to_string()));
    }
    assert_eq!(
        kinds,
        ["watcher.api_unhealthy"],
        "after the third failed cycle, once"
    );

    app.sim.control.clear_faults();
    let report = app.cycle().await;
    let kinds: Vec<String> = report.events.iter().map(|e| e.kind.to_string()).collect();
    assert_eq!(kinds, ["watcher.api_recovered"]);
    let delivered = app.receiver.event_types();
    assert_eq!(
        delivered,
        ["watcher.api_unhealthy", "watcher.api_recovered"]
    );
    let body = app.receiver.received()[0].json();
    assert!(body["campaign"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_alerts_at_once_and_stops_asking() {
    let app = TestApp::spawn(20).await;
    app.cycle().await;
    app.sim.control.inject(Fault {
        kind: FaultKind::Status {
            status: 401,
            retry_after: None,
        },
        times: None,
        campaign: None,
    });
    let before = app.sim.control.requests();
    let report = app.cycle_with_failures().await;
    let kinds: Vec<String> = report.events.iter().map(|e| e.kind.to_string()).collect();
    assert_eq!(kinds, ["watcher.api_unhealthy"]);
    let asked = app.sim.control.requests() - before;
    assert!(
        asked < 20,
        "a rejected key is not retried for every campaign ({asked} requests)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_explicit_ids_are_read_by_listing_while_that_is_cheaper() {
    // 150 of 2,000 campaigns: 20 pages beat 150 GETs.
    let app = TestApp::spawn_with(2_000, |settings| {
        settings.watch.campaigns.truncate(150);
        settings.watch.list_threshold = 100;
    })
    .await;
    let report = app.cycle().await;
    assert_eq!((report.campaigns_read(), report.requests()), (150, 20));
    let gone = app.id(3);
    app.sim.control.remove(&gone);
    let report = app.cycle().await;
    assert_eq!(
        report.requests(),
        21,
        "20 pages and one GET confirming the 404"
    );
    assert_eq!(report.events[0].kind.to_string(), "campaign.not_found");

    // 12 of 2,000: the first cycle finds out the account's size, then GETs win.
    let app = TestApp::spawn_with(2_000, |settings| {
        settings.watch.campaigns.truncate(12);
        settings.watch.list_threshold = 10;
    })
    .await;
    assert_eq!(app.cycle().await.requests(), 20);
    let report = app.cycle().await;
    assert_eq!((report.campaigns_read(), report.requests()), (12, 12));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_and_exclude_globs_narrow_a_listing() {
    let app = TestApp::spawn_with(60, |settings| {
        settings.watch.campaigns.clear();
        settings.watch.all = true;
        settings.watch.exclude = vec!["camp-*".into()];
    })
    .await;
    let expected = app
        .sim
        .control
        .ids()
        .iter()
        .filter(|id| !id.starts_with("camp-"))
        .count();
    assert!(expected < 60, "the simulator mixes id prefixes");
    assert_eq!(app.cycle().await.campaigns_read(), expected);
    let stored = app.daemon.store().load_states().await.unwrap();
    assert!(stored.keys().all(|id| !id.starts_with("camp-")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_seen_costs_a_write_only_when_a_campaign_stops_or_restarts_being_read() {
    let app = TestApp::spawn(5).await;
    let first = app.cycle().await;
    let quiet = app.cycle().await;
    let store = app.daemon.store();
    assert!(
        store.unseen_campaigns().await.unwrap().is_empty(),
        "every campaign read: no per-campaign row"
    );
    let activity = store.campaign_activity().await.unwrap();
    assert!(activity
        .values()
        .all(|a| a.last_seen_at == ms(quiet.started_at)));

    let victim = app.id(2);
    app.sim.control.inject(Fault {
        kind: FaultKind::Status {
            status: 500,
            retry_after: None,
        },
        times: None,
        campaign: Some(victim.clone()),
    });
    let failing = app.cycle_with_failures().await;
    assert_eq!(failing.campaigns_failed(), 1);
    let unseen = store.unseen_campaigns().await.unwrap();
    assert_eq!(
        unseen.into_iter().collect::<Vec<_>>(),
        std::slice::from_ref(&victim)
    );
    let activity = store.campaign_activity().await.unwrap();
    assert_eq!(
        activity[&victim].last_seen_at,
        ms(quiet.started_at),
        "last read by the quiet cycle"
    );
    assert_eq!(activity[&app.id(0)].last_seen_at, ms(failing.started_at));
    assert!(first.started_at < quiet.started_at);

    app.sim.control.clear_faults();
    let back = app.cycle().await;
    assert!(store.unseen_campaigns().await.unwrap().is_empty());
    assert_eq!(
        store.campaign_activity().await.unwrap()[&victim].last_seen_at,
        ms(back.started_at)
    );
}

/// The store keeps milliseconds.
fn ms(at: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(at.timestamp_millis())
}
