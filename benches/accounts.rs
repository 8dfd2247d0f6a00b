//! `cargo bench --bench accounts`: several SigmaMind accounts in one watcher
//! (issue 18), against one simulator per account over loopback HTTP, each with
//! its own key and a budget of 10 requests per second. Prints a Markdown table
//! for BENCHMARKS.md.
//!
//! Measured: a steady cycle (nothing changed) of 50 accounts x 200 campaigns
//! (10,000 in all, each account listed in pages of 100) against one account of
//! 200 watched alone; the peak RSS of this process (the 50 simulators run in it
//! too, so an upper bound for the watcher); and, with one account answering in
//! 5 s, how long another account's change takes to be committed (and so to
//! reach the outbox), against how long the whole cycle takes.

use std::time::{Duration, Instant};

use campaign_watcher::commit::Store;
use campaign_watcher::config::{SigmaMindSettings, WatchSettings};
use campaign_watcher::setting::secret::Secret;
use campaign_watcher::sim::{self, Fault, FaultKind, SimOptions, SimServer};
use campaign_watcher::watcher::{Watcher, Watchers};

const ACCOUNTS: usize = 50;
const CAMPAIGNS: usize = 200;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn simulator(key: &str) -> SimServer {
    sim::start(
        ([127, 0, 0, 1], 0).into(),
        SimOptions {
            campaigns: CAMPAIGNS,
            api_key: Some(key.into()),
        },
    )
    .await
    .expect("simulator")
}

fn watcher(store: &Store, account: &str, sim: &SimServer, key: &str) -> Watcher {
    let api = SigmaMindSettings {
        base_url: sim.base_url(),
        api_key: Some(Secret::new(key)),
        max_requests_per_second: 10.0,
        max_retries: 0,
        timeout: Duration::from_secs(30),
        ..SigmaMindSettings::default()
    };
    let client =
        campaign_watcher::fetch::SigmaMindClient::new(&api, Secret::new(key)).expect("client");
    let watch = WatchSettings {
        all: true,
        page_size: 100,
        ..WatchSettings::default()
    };
    Watcher::new(
        client,
        store.for_account(account),
        campaign_watcher::route::Router::new(vec![], &[], &[]).expect("router"),
        watch,
        8,
        Default::default(),
    )
}

/// Several cycles: the first is the baseline; returns the median steady one.
async fn steady_cycle(watcher: &Watchers) -> Duration {
    let now = chrono::Utc::now();
    watcher.tick(now).await.expect("baseline");
    let mut walls = Vec::new();
    for round in 1..=5 {
        let started = Instant::now();
        let report = watcher
            .tick(now + chrono::TimeDelta::seconds(60 * round))
            .await
            .expect("cycle");
        assert!(report.api_readable(), "{:?}", report.verdict());
        walls.push(started.elapsed());
    }
    walls.sort();
    walls[walls.len() / 2]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("state.db").display()
    ))
    .await
    .expect("store");

    // One account alone.
    let alone_sim = simulator("key-alone").await;
    let alone = steady_cycle(&Watchers::new(vec![watcher(
        &store,
        "alone",
        &alone_sim,
        "key-alone",
    )]))
    .await;

    // 50 accounts at once.
    let mut sims = Vec::new();
    for index in 0..ACCOUNTS {
        sims.push(simulator(&format!("key-{index}")).await);
    }
    let watchers: Vec<Watcher> = sims
        .iter()
        .enumerate()
        .map(|(index, sim)| {
            watcher(
                &store,
                &format!("acct-{index}"),
                sim,
                &format!("key-{index}"),
            )
        })
        .collect();
    let all = Watchers::new(watchers);
    let many = steady_cycle(&all).await;
    let rss = peak_rss_kib();

    // One account answers in 5 s; another's change must not wait for it.
    sims[1].control.inject(Fault {
        kind: FaultKind::Delay { millis: 5_000 },
        times: None,
        campaign: None,
    });
    let changed = sims[2].control.ids()[0].clone();
    sims[2].control.set_status(&changed, "paused");
    let state_url = format!("sqlite://{}", dir.path().join("state.db").display());
    let watch_store = Store::open(&state_url).await.expect("store");
    let started = Instant::now();
    let cycle = all.tick(chrono::Utc::now() + chrono::TimeDelta::hours(1));
    let committed = async {
        loop {
            let events = watch_store.recent_events(5).await.expect("history");
            if events
                .iter()
                .any(|stored| stored.event.kind.as_str() == "campaign.status_changed")
            {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (report, committed) = tokio::join!(cycle, committed);
    let whole = started.elapsed();
    let report = report.expect("cycle");

    println!("| measurement | value |");
    println!("|---|---|");
    println!("| steady cycle, 1 account x {CAMPAIGNS} (alone), median of 5 | {alone:.2?} |");
    println!(
        "| steady cycle, {ACCOUNTS} accounts x {CAMPAIGNS} ({} in all), median of 5 | {many:.2?} ({:.2}x the account alone) |",
        ACCOUNTS * CAMPAIGNS,
        many.as_secs_f64() / alone.as_secs_f64()
    );
    println!(
        "| peak RSS of the bench process (50 simulators included) | {:.1} MB |",
        rss as f64 / 1024.0
    );
    println!(
        "| one account answering in 5 s: another account's change committed after | {committed:.2?} (whole cycle {whole:.2?}, {} events) |",
        report.events.len()
    );
}
