//! `cargo bench --bench cycle` (`-- store` for the store-alone table only): what one cycle costs, against the simulated API
//! over loopback HTTP. Prints a Markdown table for BENCHMARKS.md.
//!
//! Measured: one cycle over 1,000 campaigns by id (`max_in_flight = 8`) and over
//! 10,000 by listing (page size 100): wall time, API requests, CPU time of this
//! process (simulator included, so an upper bound); then the peak RSS of the real
//! `campaign-watcher run` watching 1,000 campaigns for several cycles.
//!
//! Added with PostgreSQL (issue 7): one cycle over 100,000 by listing; the peak
//! RSS of `run` watching 100,000 by listing and idling with 100 by id; and the
//! store alone, on SQLite and on PostgreSQL (a throwaway database on the server
//! named by CAMPAIGN_WATCHER_TEST_POSTGRES, default 127.0.0.1:5432): committing
//! 10,000 new states, 10,000 changed states, and the 10,000-unchanged cycle
//! (load every stored state, commit nothing but the cycle's bookkeeping).
//!
//! Added with fingerprints: one cycle over 10,000 by listing with the state on
//! PostgreSQL, and the store's share of a steady cycle on a shared store (every
//! stored state read as a fingerprint).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use campaign_watcher::commit::scratch::ScratchDatabase;
use campaign_watcher::commit::{CycleCommit, Store};
use campaign_watcher::config::{
    ChannelSettings, Settings, SigmaMindSettings, StateSettings, WatchSettings,
};
use campaign_watcher::daemon::Daemon;
use campaign_watcher::setting::secret::Secret;
use campaign_watcher::sim::{self, SimOptions};
use campaign_watcher::state::CampaignState;

const KEY: &str = "bench-key";

fn cpu_time() -> Duration {
    // utime + stime of this process, in clock ticks (100 Hz on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn settings(base_url: String, ids: Vec<String>, all: bool, state_url: String) -> Settings {
    let mut channels = BTreeMap::new();
    channels.insert(
        "null".to_string(),
        ChannelSettings::new(campaign_watcher::deliver::console::ConsoleSettings::default()),
    );
    Settings {
        sigmamind: SigmaMindSettings {
            base_url,
            api_key: Some(Secret::new(KEY)),
            max_in_flight: 8,
            max_requests_per_second: 0.0,
            ..SigmaMindSettings::default()
        },
        watch: WatchSettings {
            campaigns: if all { vec![] } else { ids },
            all,
            page_size: 100,
            ..WatchSettings::default()
        },
        state: StateSettings {
            url: state_url,
            ..StateSettings::default()
        },
        channels,
        ..Settings::default()
    }
}

struct Row {
    name: String,
    cycle: &'static str,
    wall: Duration,
    cpu: Duration,
    requests: u64,
    events: usize,
}

/// Returns the stored states after the three cycles (for the store benchmark).
/// `state_url`: a PostgreSQL database, or `None` for a SQLite file.
async fn measure(
    name: &str,
    campaigns: usize,
    all: bool,
    state_url: Option<&str>,
    rows: &mut Vec<Row>,
) -> std::collections::HashMap<String, CampaignState> {
    let server = sim::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        SimOptions {
            campaigns,
            api_key: Some(KEY.into()),
        },
    )
    .await
    .expect("simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let ids = server.control.ids();
    let shared = state_url.is_some();
    let state_url = match state_url {
        Some(url) => url.to_string(),
        None => format!("sqlite://{}", dir.path().join("state.db").display()),
    };
    let daemon = Daemon::build(&settings(server.base_url(), ids.clone(), all, state_url))
        .await
        .expect("daemon");
    for (label, change) in [
        ("first (baseline)", false),
        ("steady, nothing changed", false),
        ("steady, 1% changed", true),
    ] {
        if change {
            for id in ids.iter().step_by(100) {
                server.control.set_status(id, "paused");
                server.control.set_errors(id, vec!["Row 2: bench".into()]);
            }
        }
        let cpu = cpu_time();
        let started = Instant::now();
        // A shared store commits only for the leader: the first cycle takes the
        // lease (one lock query), which holds for the few seconds measured here.
        let report = if shared && label == "first (baseline)" {
            daemon.run_once(Duration::ZERO).await.expect("cycle").0
        } else {
            daemon.tick().await.expect("cycle")
        };
        rows.push(Row {
            name: name.to_string(),
            cycle: label,
            wall: started.elapsed(),
            cpu: cpu_time().saturating_sub(cpu),
            requests: report.requests(),
            events: report.events.len(),
        });
    }
    let states = daemon.store().load_states().await.expect("states");
    server.stop().await;
    states
}

/// (what, wall) for the store alone at `url`, seeded with `states`.
async fn store_times(
    url: &str,
    states: &std::collections::HashMap<String, CampaignState>,
) -> Vec<(&'static str, Duration)> {
    let store = Store::open(url).await.expect("store");
    let now = chrono::Utc::now();
    let commit = |states: Vec<(String, CampaignState)>| CycleCommit {
        now,
        states,
        health: None,
        events: vec![],
        reminders: vec![],
    };
    let mut times = Vec::new();
    let all: Vec<(String, CampaignState)> =
        states.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let started = Instant::now();
    store
        .commit_cycle(&commit(all.clone()))
        .await
        .expect("commit");
    times.push(("commit 10,000 new states", started.elapsed()));
    let changed: Vec<(String, CampaignState)> = all
        .into_iter()
        .map(|(k, mut v)| {
            v.seq += 1;
            (k, v)
        })
        .collect();
    let started = Instant::now();
    store.commit_cycle(&commit(changed)).await.expect("commit");
    times.push(("commit 10,000 changed states", started.elapsed()));
    let started = Instant::now();
    let loaded = store.load_states().await.expect("load");
    assert_eq!(loaded.len(), states.len());
    store.commit_cycle(&commit(vec![])).await.expect("commit");
    times.push((
        "10,000 unchanged: load every state + empty commit",
        started.elapsed(),
    ));
    // What a cycle on a shared (PostgreSQL) store does when nothing changed: it
    // keeps no memory between cycles, so it reads every state as a fingerprint.
    let started = Instant::now();
    let mut fingerprints = Vec::with_capacity(states.len());
    store
        .each_state(|key, state| fingerprints.push((key, state.snapshot.fingerprint())))
        .await
        .expect("each_state");
    assert_eq!(fingerprints.len(), states.len());
    store.commit_cycle(&commit(vec![])).await.expect("commit");
    times.push((
        "10,000 unchanged: fingerprint every stored state + empty commit",
        started.elapsed(),
    ));
    times
}

fn peak_rss_of_run(
    campaigns: usize,
    by_listing: bool,
    interval_secs: u64,
    runtime: &tokio::runtime::Runtime,
) -> Option<(u64, u64)> {
    runtime.block_on(async {
        let server = sim::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            SimOptions { campaigns, api_key: Some(KEY.into()) },
        )
        .await
        .ok()?;
        let dir = tempfile::tempdir().ok()?;
        let ids: Vec<String> = server.control.ids().iter().map(|id| format!("{id:?}")).collect();
        let watch = if by_listing {
            "all = true\npage_size = 100".to_string()
        } else {
            format!("campaigns = [{}]", ids.join(","))
        };
        let config = dir.path().join("bench.toml");
        std::fs::write(
            &config,
            format!(
                "[sigmamind]\nbase_url = \"{}\"\napi_key = \"{KEY}\"\nmax_requests_per_second = 0\ntimeout = \"60s\"\n[watch]\n{watch}\ninterval = \"{interval_secs}s\"\n[state]\nurl = \"sqlite://{}\"\n[channels.null]\nkind = \"console\"\n",
                server.base_url(),
                dir.path().join("state.db").display()
            ),
        )
        .ok()?;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_campaign-watcher"))
            .args(["--config", config.to_str()?, "run"])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .ok()?;
        let pid = child.id()?;
        // Several cycles, with a few changes so the outbox and console work too.
        for round in 0..5 {
            tokio::time::sleep(Duration::from_secs(interval_secs)).await;
            let id = server.control.ids()[round * 7].clone();
            server.control.set_status(&id, if round % 2 == 0 { "paused" } else { "live" });
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib = |field: &str| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        };
        let peak = kib("VmHWM:")?;
        let now = kib("VmRSS:")?;
        let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
        server.stop().await;
        Some((peak, now))
    })
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing and should stay quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("cycle benchmark: run it with `cargo bench --bench cycle`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // `cargo bench --bench cycle -- store`: only the store-alone table (and the
    // 10,000-campaign cycle that seeds it).
    let only_store = std::env::args().any(|a| a == "store");
    let mut rows = Vec::new();
    let store_rows = runtime.block_on(async {
        if !only_store {
            measure(
                "1,000 by id, max_in_flight 8",
                1_000,
                false,
                None,
                &mut rows,
            )
            .await;
        }
        let states = measure("10,000 by listing, page 100", 10_000, true, None, &mut rows).await;
        if !only_store {
            measure(
                "100,000 by listing, page 100",
                100_000,
                true,
                None,
                &mut rows,
            )
            .await;
            let shared = ScratchDatabase::create().await;
            measure(
                "10,000 by listing, page 100, PostgreSQL state",
                10_000,
                true,
                Some(shared.url()),
                &mut rows,
            )
            .await;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
        let mut store_rows = Vec::new();
        for (what, time) in store_times(&sqlite, &states).await {
            store_rows.push(("SQLite (file, WAL, synchronous=FULL)", what, time));
        }
        let db = ScratchDatabase::create().await;
        for (what, time) in store_times(db.url(), &states).await {
            store_rows.push(("PostgreSQL 127.0.0.1", what, time));
        }
        store_rows
    });
    println!("| campaigns | cycle | wall | CPU (watcher + simulator) | requests | events |");
    println!("|---|---|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {:.1} ms | {:.0} ms | {} | {} |",
            row.name,
            row.cycle,
            row.wall.as_secs_f64() * 1000.0,
            row.cpu.as_secs_f64() * 1000.0,
            row.requests,
            row.events
        );
    }
    println!("\n| store | what | wall |\n|---|---|---|");
    for (store, what, time) in &store_rows {
        println!(
            "| {store} | {what} | {:.1} ms |",
            time.as_secs_f64() * 1000.0
        );
    }
    if only_store {
        return;
    }
    for (label, campaigns, by_listing, interval) in [
        ("100 campaigns by id, 2 s interval, idle", 100, false, 2),
        (
            "100,000 campaigns by listing, 8 s interval",
            100_000,
            true,
            8,
        ),
    ] {
        match peak_rss_of_run(campaigns, by_listing, interval, &runtime) {
            Some((peak, now)) => println!(
                "\n`campaign-watcher run`, {label}, after 5 cycles: peak RSS {:.1} MB, current RSS {:.1} MB",
                peak as f64 / 1024.0,
                now as f64 / 1024.0
            ),
            None => println!("\npeak RSS of run ({label}): could not be measured"),
        }
    }
    match peak_rss_of_run(1_000, false, 2, &runtime) {
        Some((peak, now)) => println!(
            "\n`campaign-watcher run` watching 1,000 campaigns by id, 2 s interval, after 5 cycles: peak RSS {:.1} MB, current RSS {:.1} MB",
            peak as f64 / 1024.0,
            now as f64 / 1024.0
        ),
        None => println!("\npeak RSS of run: could not be measured"),
    }
}
