//! `cargo bench --bench silences`: what silences in force cost, with 0, 1,000
//! and 10,000 of them (half prefix globs `camp_N_*`, half exact names), and
//! 10,000 globs that each need a compiled matcher; none matches the watched
//! campaigns, so each is tried against everything. Prints a Markdown table for
//! BENCHMARKS.md.
//!
//! Measured against the real binary (`run`, state on SQLite, 100 campaigns of
//! the simulator over loopback): the median of 10 reads of
//! `GET /api/v1/campaigns?per_page=100`, and the duration of the cycle that
//! finds 18 campaigns paused (its `duration_ms` from the JSON log), routing
//! 18 events past every silence.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use campaign_watcher::sim::{self, SimOptions};
use sqlx::Connection;

const KEY: &str = "bench-key";
const CAMPAIGNS: usize = 100;
const PAUSED: usize = 18;

/// `complex`: every silence a glob that needs a compiled matcher (`camp_N_?[0-9]`);
/// otherwise half exact names, half prefix globs (`camp_N_*`), as people write them.
async fn insert_silences(state: &std::path::Path, count: usize, complex: bool) {
    if count == 0 {
        return;
    }
    let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite://{}", state.display()))
        .await
        .expect("state file");
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
         INSERT INTO silences (campaign, event_type, reason, author, created_at, expires_at, account)
         SELECT CASE WHEN $2 THEN 'camp_' || i || '_?[0-9]'
                     WHEN i % 2 = 0 THEN 'camp_' || i || '_*' ELSE 'Campaign no ' || i END,
                NULL, 'bench', 'ops', 0, 4102444800000, NULL FROM n",
    )
    .bind(i64::try_from(count).expect("count"))
    .bind(complex)
    .execute(&mut connection)
    .await
    .expect("silences");
    connection.close().await.expect("close");
}

fn logged(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// (median API read, cycle of 18 events) with `count` silences in force.
async fn measure(count: usize, complex: bool) -> (Duration, Duration) {
    let server = sim::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        SimOptions {
            campaigns: CAMPAIGNS,
            api_key: Some(KEY.into()),
        },
    )
    .await
    .expect("simulator");
    let ids = server.control.ids();
    for id in &ids {
        server.control.set_status(id, "live");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.db");
    let config = dir.path().join("bench.toml");
    let quoted: Vec<String> = ids.iter().map(|id| format!("{id:?}")).collect();
    std::fs::write(
        &config,
        format!(
            "[sigmamind]\nbase_url = \"{}\"\napi_key = \"{KEY}\"\nmax_requests_per_second = 0\n[watch]\ncampaigns = [{}]\ninterval = \"1s\"\n[state]\nurl = \"sqlite://{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[log]\nformat = \"json\"\n[channels.null]\nkind = \"console\"\n",
            server.base_url(),
            quoted.join(","),
            state.display()
        ),
    )
    .expect("config");
    let bin = env!("CARGO_BIN_EXE_campaign-watcher");
    let baseline = tokio::process::Command::new(bin)
        .args(["--config", config.to_str().expect("path"), "once"])
        .output()
        .await
        .expect("once");
    assert!(baseline.status.success(), "{baseline:?}");
    insert_silences(&state, count, complex).await;

    let stderr = dir.path().join("stderr.log");
    let mut child = tokio::process::Command::new(bin)
        .args(["--config", config.to_str().expect("path"), "run"])
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("log"))
        .kill_on_drop(true)
        .spawn()
        .expect("run");
    let deadline = Instant::now() + Duration::from_secs(120);
    let addr = loop {
        assert!(Instant::now() < deadline, "no http address logged");
        let found = logged(&stderr).iter().find_map(|line| {
            let message = line["message"].as_str()?;
            message
                .strip_prefix("http listening on ")?
                .split_whitespace()
                .next()?
                .parse::<SocketAddr>()
                .ok()
        });
        if let Some(addr) = found {
            break addr;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let http = reqwest::Client::new();
    let mut reads = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let answer = http
            .get(format!("http://{addr}/api/v1/campaigns?per_page=100"))
            .send()
            .await
            .expect("api");
        assert!(answer.status().is_success());
        answer.bytes().await.expect("body");
        reads.push(started.elapsed());
    }
    reads.sort();

    for id in ids.iter().take(PAUSED) {
        server.control.set_status(id, "paused");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let cycle = loop {
        assert!(
            Instant::now() < deadline,
            "no cycle with {PAUSED} events logged"
        );
        let found = logged(&stderr).iter().find_map(|line| {
            let span = &line["span"];
            (line["message"] == "cycle finished" && span["events"] == PAUSED)
                .then(|| span["duration_ms"].as_u64())
                .flatten()
        });
        if let Some(ms) = found {
            break Duration::from_millis(ms);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().expect("pid").to_string()])
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    server.stop().await;
    (reads[reads.len() / 2], cycle)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing and should stay quick.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    println!("| silences in force | `GET /api/v1/campaigns?per_page=100` (median of 10) | cycle routing {PAUSED} events |");
    println!("|---|---|---|");
    for (count, complex) in [(0, false), (1_000, false), (10_000, false), (10_000, true)] {
        let (read, cycle) = runtime.block_on(measure(count, complex));
        let kind = if complex {
            " (every one `camp_N_?[0-9]`)"
        } else {
            ""
        };
        println!(
            "| {count}{kind} | {:.1} ms | {:.1} ms |",
            read.as_secs_f64() * 1000.0,
            cycle.as_secs_f64() * 1000.0
        );
    }
}
