//! Bad answers from the API: each fails only its campaign's observation, leaves its
//! stored state untouched, and lets the other campaigns proceed.

use std::time::{Duration, Instant};

use campaign_watcher::sim::{Fault, FaultKind};

use crate::helpers::TestApp;

async fn one_campaign_answers(kind: FaultKind) -> (TestApp, String) {
    one_campaign_answers_with(kind, |_| {}).await
}

async fn one_campaign_answers_with(
    kind: FaultKind,
    adjust: impl FnOnce(&mut campaign_watcher::config::Settings),
) -> (TestApp, String) {
    let app = TestApp::spawn_with(3, adjust).await;
    app.all_live();
    app.cycle().await;
    let victim = app.id(0);
    let other = app.id(1);
    // The victim changes too, but its answer is broken: that change must wait.
    app.sim.control.set_status(&victim, "completed");
    app.sim.control.set_status(&other, "completed");
    app.sim.control.inject(Fault {
        kind,
        times: None,
        campaign: Some(victim.clone()),
    });
    (app, victim)
}

async fn assert_only_the_victim_failed(app: &TestApp, victim: &str, reason_contains: &str) {
    let stored_before = app.daemon.store().load_states().await.unwrap()[victim].clone();
    let report = app.cycle_with_failures().await;
    assert_eq!(report.campaigns_failed(), 1);
    assert_eq!(report.campaigns_read(), 2);
    let changed: Vec<&str> = report
        .events
        .iter()
        .filter_map(|e| e.campaign.as_ref().map(|c| c.id.as_str()))
        .collect();
    assert_eq!(changed, [app.id(1).as_str()], "the other campaign proceeds");
    let stored_after = app.daemon.store().load_states().await.unwrap()[victim].clone();
    // Only its failed read is counted (see diff::unreadable).
    assert_eq!(stored_after.reads.failed, 1);
    let stored_after = campaign_watcher::state::CampaignState {
        reads: Default::default(),
        ..stored_after
    };
    assert_eq!(
        stored_before, stored_after,
        "the victim's stored state is untouched"
    );
    assert!(
        report.verdict() == campaign_watcher::diff::CycleVerdict::Readable,
        "one bad campaign is not an outage"
    );
    let reason = &report.failures()[0];
    assert_eq!(reason.0, victim);
    assert!(
        reason
            .1
            .to_lowercase()
            .contains(&reason_contains.to_lowercase()),
        "the reason {:?} names the problem ({reason_contains})",
        reason.1
    );

    // Once the API answers properly, the victim's change is announced.
    app.sim.control.clear_faults();
    let report = app.cycle().await;
    assert_eq!(report.events.len(), 1);
    assert_eq!(report.events[0].campaign.as_ref().unwrap().id, victim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_json_answer_fails_only_that_campaign() {
    let (app, victim) = one_campaign_answers(FaultKind::NotJson).await;
    assert_only_the_victim_failed(&app, &victim, "JSON").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_error_page_fails_only_that_campaign() {
    let (app, victim) = one_campaign_answers(FaultKind::Html).await;
    assert_only_the_victim_failed(&app, &victim, "HTML").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_fails_only_that_campaign_after_retries() {
    let (app, victim) = one_campaign_answers(FaultKind::Status {
        status: 500,
        retry_after: None,
    })
    .await;
    let before = app.sim.control.requests();
    assert_only_the_victim_failed(&app, &victim, "500").await;
    // 3 campaigns, the victim tried 1 + max_retries (2) times, then the clean cycle's 3.
    assert_eq!(app.sim.control.requests() - before, 5 + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_shape_fails_only_that_campaign() {
    let (app, victim) = one_campaign_answers(FaultKind::WrongShape).await;
    assert_only_the_victim_failed(&app, &victim, "campaignStatus").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_past_the_timeout_fails_only_that_campaign() {
    // An answer that never comes in the test's lifetime, against a timeout of
    // its own: the verdict does not depend on how loaded the machine is.
    let (app, victim) = one_campaign_answers_with(FaultKind::Delay { millis: 3_600_000 }, |all| {
        all.sigmamind.timeout = Duration::from_secs(3)
    })
    .await;
    assert_only_the_victim_failed(&app, &victim, "did not answer within").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_is_waited_for_and_then_read() {
    let app = TestApp::spawn(2).await;
    app.all_live();
    app.cycle().await;
    let id = app.id(0);
    app.sim.control.set_status(&id, "paused");
    app.sim.control.inject(Fault {
        kind: FaultKind::Status {
            status: 429,
            retry_after: Some("1".into()),
        },
        times: Some(1),
        campaign: Some(id.clone()),
    });
    let started = Instant::now();
    let report = app.cycle().await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(report.campaigns_failed(), 0);
    assert_eq!(
        report.events.len(),
        1,
        "the campaign was read after the wait"
    );
}
