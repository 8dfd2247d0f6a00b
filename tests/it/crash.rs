//! Crash safety, proven against the real binary: `run` dies at every stage of a
//! cycle (aborted at an exact point by `CAMPAIGN_WATCHER_CRASH_AT`, or SIGKILLed
//! in the middle of a send or at a random moment) while the simulated campaigns
//! keep changing. At the end every transition has reached the receiver at least
//! once, each under exactly one event id, and no transition has two.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use campaign_watcher::commit::Store;

use crate::helpers::{
    all_live, change_a_settled_campaign, delivered_transitions, eventually, run_cli,
    spawn_daemon_with, BinaryApp,
};

/// What one round does to the running daemon.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// Abort at this `CAMPAIGN_WATCHER_CRASH_AT` stage.
    At(&'static str),
    /// SIGKILL while the receiver holds a request open.
    DuringSend,
    /// SIGKILL as soon as the receiver has something new.
    AfterTraffic,
}

const ROUNDS: [Kill; 12] = [
    Kill::At("after_fetch"),
    Kill::At("after_commit"),
    Kill::DuringSend,
    Kill::At("after_send"),
    Kill::AfterTraffic,
    Kill::At("after_commit"),
    Kill::At("after_fetch"),
    Kill::DuringSend,
    Kill::At("after_send"),
    Kill::At("after_commit"),
    Kill::AfterTraffic,
    Kill::DuringSend,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_run_at_every_stage_loses_and_duplicates_nothing() {
    let BinaryApp {
        sim,
        receiver,
        dir,
        config,
    } = BinaryApp::spawn(4, "").await;
    let ids = sim.control.ids();
    all_live(&sim);
    let config_arg = config.to_str().unwrap();
    let baseline = run_cli(&["--config", config_arg, "once"], &[]).await;
    assert_eq!(baseline.code, Some(0), "{}", baseline.stderr);
    assert!(receiver.received().is_empty(), "a baseline sends nothing");

    let state_url = format!("sqlite://{}", dir.path().join("state.db").display());
    let mut sim_status: BTreeMap<String, &'static str> =
        ids.iter().map(|id| (id.clone(), "live")).collect();
    let mut expected: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();

    for (round, kill) in ROUNDS.iter().enumerate() {
        change_a_settled_campaign(round, &sim, &state_url, &mut sim_status, &mut expected).await;
        let tag = format!("-{round}");
        let received_before = receiver.received().len();
        match kill {
            Kill::At(stage) => {
                let mut daemon = spawn_daemon_with(
                    &config,
                    dir.path(),
                    &tag,
                    &[("CAMPAIGN_WATCHER_CRASH_AT", stage)],
                );
                let status = tokio::time::timeout(Duration::from_secs(20), daemon.child.wait())
                    .await
                    .unwrap_or_else(|_| {
                        panic!("round {round}: no crash at {stage}: {}", daemon.logs())
                    })
                    .unwrap();
                assert!(!status.success(), "round {round}: {status:?}");
                assert!(
                    daemon.logs().contains(&format!("aborting at {stage}")),
                    "round {round}: {}",
                    daemon.logs()
                );
            }
            Kill::DuringSend => {
                let held_before = receiver.held();
                receiver.hold_next(1);
                let mut daemon = spawn_daemon_with(&config, dir.path(), &tag, &[]);
                let r = receiver.clone();
                assert!(
                    eventually(Duration::from_secs(20), || r.held() > held_before).await,
                    "round {round}: a send reached the receiver: {}",
                    daemon.logs()
                );
                daemon.child.start_kill().unwrap();
                daemon.child.wait().await.unwrap();
            }
            Kill::AfterTraffic => {
                let mut daemon = spawn_daemon_with(&config, dir.path(), &tag, &[]);
                // A change while it runs: its first cycle may or may not see it.
                change_a_settled_campaign(
                    round + 1,
                    &sim,
                    &state_url,
                    &mut sim_status,
                    &mut expected,
                )
                .await;
                let r = receiver.clone();
                assert!(
                    eventually(Duration::from_secs(20), || r.received().len()
                        > received_before)
                    .await,
                    "round {round}: something was delivered: {}",
                    daemon.logs()
                );
                daemon.child.start_kill().unwrap();
                daemon.child.wait().await.unwrap();
            }
        }
    }

    // A clean run sends whatever the crashes left pending, promptly.
    let mut daemon = spawn_daemon_with(&config, dir.path(), "-final", &[]);
    let want: usize = expected.values().map(Vec::len).sum();
    assert!(want >= 8, "the rounds made enough changes: {expected:?}");
    let r = receiver.clone();
    let delivered_ids = move || -> BTreeSet<String> {
        r.received()
            .iter()
            .map(|request| request.header("webhook-id").to_string())
            .collect()
    };
    let all_out = || {
        let ids = delivered_ids.clone()();
        ids.len() >= want
    };
    assert!(
        eventually(Duration::from_secs(15), all_out).await,
        "every transition was delivered after the last restart: {} of {want}: {}",
        delivered_ids.clone()().len(),
        daemon.logs()
    );
    // SIGTERM only once the signal handler is surely installed.
    assert!(
        eventually(Duration::from_secs(10), || daemon
            .logs()
            .contains("cycle finished"))
        .await
    );
    let stopped = daemon.terminate(Duration::from_secs(10)).await.unwrap();
    assert!(stopped.success(), "{stopped:?}: {}", daemon.logs());

    // Every transition once per id, and one id per transition.
    let (by_id, delivered) = delivered_transitions(&receiver);
    for transitions in expected.values_mut() {
        transitions.sort();
    }
    assert_eq!(
        delivered, expected,
        "each transition the simulator made arrived under exactly one id"
    );

    // And the history agrees: every committed event was delivered, nothing pending.
    let store = Store::open(&state_url).await.unwrap();
    let history = store.recent_events(1000).await.unwrap();
    let committed: BTreeSet<String> = history.iter().map(|e| e.event.id.clone()).collect();
    assert_eq!(committed, by_id.keys().cloned().collect::<BTreeSet<_>>());
    for stored in &history {
        assert_eq!(
            stored.deliveries,
            [("hook".to_string(), "sent".to_string())]
        );
    }
}
