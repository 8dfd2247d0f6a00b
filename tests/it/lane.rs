//! The live lane: when a whole listing does not fit in one interval's request
//! budget, live campaigns are listed every cycle and the rest swept with what
//! the budget leaves. Request counts are the plan's (lane + sweep + reads by
//! id), never rates in wall time.

use std::collections::BTreeMap;
use std::time::Duration;

use campaign_watcher::config::Settings;
use campaign_watcher::fetch::Reading;
use campaign_watcher::sim::{Fault, FaultKind};
use campaign_watcher::watcher::CycleReport;

use crate::helpers::TestApp;

/// 40 campaigns (10 of each status: index % 4 is live, scheduled, paused,
/// completed) in pages of 4: 10 pages, and 3 for the 10 live ones.
const CAMPAIGNS: usize = 40;
const PAGE_SIZE: u32 = 4;
/// 6 requests a second over a 1 s interval: 6 a cycle, fewer than 10 pages.
const RATE: f64 = 6.0;

fn by_listing_on_a_budget(settings: &mut Settings) {
    settings.watch.campaigns.clear();
    settings.watch.all = true;
    settings.watch.page_size = PAGE_SIZE;
    settings.watch.interval = Some(Duration::from_secs(1));
    settings.sigmamind.max_requests_per_second = RATE;
}

fn reading(report: &CycleReport) -> &Reading {
    &report.accounts[0].reading
}

/// The cycle's requests are what its plan spent: the lane's, the sweep's
/// pages and the reads by id, and no more than the budget allows.
fn assert_planned(report: &CycleReport) {
    let reading = reading(report);
    let lane = reading.lane_requests.expect("the lane was read");
    let sweep = reading.sweep_pages.expect("the sweep read its pages");
    assert_eq!(
        report.requests(),
        reading.count_requests + lane + sweep + reading.direct_reads,
        "requests as planned: {reading:?}"
    );
    assert!(
        report.requests() <= RATE as u64 || sweep == 1,
        "within the budget of {RATE} a cycle unless the sweep's one page is over it: {reading:?}"
    );
}

/// Every delivered event as (type, campaign id, status), counted.
fn delivered(app: &TestApp) -> BTreeMap<(String, String, String), usize> {
    let mut counts = BTreeMap::new();
    for received in app.receiver.received() {
        let body = received.json();
        let key = (
            body["type"].as_str().unwrap_or_default().to_string(),
            body["campaign"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            body["campaign"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_changes_are_seen_the_next_cycle_and_the_rest_within_one_sweep() {
    let app = TestApp::spawn_with(CAMPAIGNS, by_listing_on_a_budget).await;

    // The account's size is found out by one request (a page of one), then
    // the baseline is one whole listing.
    let baseline = app.cycle().await;
    assert_eq!(reading(&baseline).count_requests, 1);
    assert_eq!(reading(&baseline).lane_requests, None);
    assert_eq!(baseline.requests(), 1 + 10);
    assert!(baseline.events.is_empty());

    // From then on: the lane (3 pages of live campaigns) and 3 sweep pages.
    let quiet = app.cycle().await;
    assert_planned(&quiet);
    assert_eq!(reading(&quiet).lane_requests, Some(3));
    assert_eq!(reading(&quiet).sweep_pages, Some(3));
    assert_eq!(reading(&quiet).direct_reads, 0);
    assert!(quiet.events.is_empty(), "{:?}", quiet.events);

    let (pauses, completes, goes_live, gains_errors) = (app.id(0), app.id(4), app.id(1), app.id(2));
    app.sim.control.set_status(&pauses, "paused");
    app.sim.control.set_status(&completes, "completed");
    app.sim.control.set_status(&goes_live, "live");
    app.sim
        .control
        .set_errors(&gains_errors, vec!["Row 3: invalid phone number".into()]);

    // The next cycle: the two missing from the lane are read by id, the new
    // live one is in the lane; all three announced.
    let next = app.cycle().await;
    assert_planned(&next);
    assert_eq!(reading(&next).direct_reads, 2, "{:?}", reading(&next));
    let mut changed: Vec<(String, String)> = next
        .events
        .iter()
        .filter(|event| event.kind.to_string() == "campaign.status_changed")
        .map(|event| {
            let campaign = event.campaign.as_ref().expect("a campaign event");
            (campaign.id.clone(), campaign.status.as_str().to_string())
        })
        .collect();
    changed.sort();
    let mut expected = vec![
        (pauses.clone(), "paused".to_string()),
        (completes.clone(), "completed".to_string()),
        (goes_live.clone(), "live".to_string()),
    ];
    expected.sort();
    assert_eq!(changed, expected);

    // The paused campaign's upload errors: within one sweep (10 pages, at
    // least one a cycle), whichever page it is on.
    let mut cycles = 0;
    let mut ended = 0;
    while ended < 2 {
        let report = app.cycle().await;
        assert_planned(&report);
        cycles += 1;
        ended += usize::from(reading(&report).sweep_ended.is_some());
        if delivered(&app)
            .keys()
            .any(|(kind, _, _)| kind == "campaign.upload_errors_added")
        {
            break;
        }
        assert!(cycles <= 10, "a sweep is at most 10 cycles: {report:?}");
    }

    // A few more cycles, a whole sweep among them: nothing is announced twice.
    for _ in 0..5 {
        let report = app.cycle().await;
        assert_planned(&report);
        assert!(report.events.is_empty(), "{:?}", report.events);
    }
    let last = app.cycle().await;
    let period = reading(&last).last_sweep.expect("a sweep ended");
    assert_eq!(period.pages, 10);
    assert_eq!(period.campaigns, CAMPAIGNS as u64);

    let expected: BTreeMap<(String, String, String), usize> = [
        ("campaign.status_changed", &pauses, "paused"),
        ("campaign.status_changed", &completes, "completed"),
        ("campaign.status_changed", &goes_live, "live"),
        ("campaign.upload_errors_added", &gains_errors, "paused"),
    ]
    .into_iter()
    .map(|(kind, id, status)| ((kind.to_string(), id.to_string(), status.to_string()), 1))
    .collect();
    assert_eq!(delivered(&app), expected, "each announced once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_debounced_change_is_read_every_cycle_until_confirmed() {
    let app = TestApp::spawn_with(CAMPAIGNS, |settings| {
        by_listing_on_a_budget(settings);
        settings.watch.confirm_polls = 2;
    })
    .await;
    app.cycle().await;
    app.cycle().await;
    let pauses = app.id(8);
    app.sim.control.set_status(&pauses, "paused");

    // Missing from the lane: read by id, a candidate only.
    let first = app.cycle().await;
    assert_planned(&first);
    assert_eq!(reading(&first).direct_reads, 1);
    assert!(first.events.is_empty(), "{:?}", first.events);
    // Still a candidate, so read again (by id) however far the sweep is: confirmed.
    let second = app.cycle().await;
    assert_planned(&second);
    assert_eq!(reading(&second).direct_reads, 1);
    assert_eq!(second.events.len(), 1, "{:?}", second.events);
    assert_eq!(
        second.events[0].campaign.as_ref().unwrap().status.as_str(),
        "paused"
    );
    // Settled: no longer read by id.
    let third = app.cycle().await;
    assert_eq!(reading(&third).direct_reads, 0);
    assert!(third.events.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_that_ignores_the_status_filter_turns_the_lane_off() {
    let app = TestApp::spawn_with(CAMPAIGNS, by_listing_on_a_budget).await;
    app.cycle().await;
    assert_eq!(reading(&app.cycle().await).lane_requests, Some(3));

    app.sim.control.inject(Fault {
        kind: FaultKind::IgnoreStatusFilter,
        times: None,
        campaign: None,
    });
    let pauses = app.id(0);
    app.sim.control.set_status(&pauses, "paused");
    // The lane's first page holds a campaign that is not live: the lane is
    // off, and this cycle lists whole instead (1 + 10 requests).
    let refused = app.cycle().await;
    assert_eq!(reading(&refused).lane_requests, None);
    assert_eq!(refused.requests(), 11);
    assert_eq!(refused.events.len(), 1, "{:?}", refused.events);

    // And stays off, even once the filter works again.
    app.sim.control.clear_faults();
    let after = app.cycle().await;
    assert_eq!(reading(&after).lane_requests, None);
    assert_eq!(after.requests(), 10);
    assert!(after.events.is_empty());
}

/// `check-config --online` says how the budget will be spent, from the
/// account's size and one more request for how many are live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_online_says_how_the_budget_is_spent() {
    let sim = crate::helpers::spawn_sim(CAMPAIGNS).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lane.toml");
    let text = format!(
        r#"[sigmamind]
base_url = "{}"
api_key = "{}"
max_requests_per_second = {RATE}
[watch]
all = true
page_size = {PAGE_SIZE}
interval = "1s"
[state]
url = "sqlite://{}"
[channels.out]
kind = "console"
"#,
        sim.base_url(),
        crate::helpers::TEST_KEY,
        dir.path().join("state.db").display()
    );
    std::fs::write(&config, text).unwrap();
    let before = sim.control.requests();
    let path = config.to_str().unwrap();
    let finished =
        crate::helpers::run_cli(&["--config", path, "check-config", "--online"], &[]).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    // 10 pages, a budget of 6 a cycle: a lane of 3 pages, 3 sweep pages a cycle.
    assert!(
        finished.stderr.contains(
            "request budget: live lane 3 requests a cycle, sweep 10 pages every 4 cycles"
        ),
        "{}",
        finished.stderr
    );
    assert_eq!(
        sim.control.requests() - before,
        2,
        "the key, then the live count"
    );
}
