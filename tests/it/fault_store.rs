//! The state store's disk fills up under the real binary (issue 11, item 1):
//! the watcher must not go deaf. While commits fail it says so (`/readyz`,
//! then `/healthz`, and `watcher.store_unhealthy` sent around the store); once
//! space comes back, the change made meanwhile arrives exactly once, followed
//! by `watcher.store_recovered`.
//!
//! On a shared PostgreSQL store the same holds, and only the replica that
//! leads announces it.
//!
//! The disk is a real one: a small tmpfs mounted for the test, filled by a
//! file and emptied again, so SQLite fails exactly as on a full volume. That
//! needs root (CI runs as root); without it the test fails with a sentence
//! saying so rather than pretend.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use campaign_watcher::commit::scratch::ScratchDatabase;
use sqlx::Connection;

use crate::helpers::{eventually, run_cli, spawn_daemon, spawn_daemon_with, BinaryApp};

/// Consecutive failed commits before `/healthz` answers 503 (the watcher's
/// documented bound), at one cycle a second.
const HEALTHZ_AFTER: u64 = 10;

/// A tmpfs of its own, unmounted again when dropped (even after a failed
/// assertion), so a full disk never outlives its test.
struct SmallDisk {
    path: PathBuf,
    filler: PathBuf,
}

impl SmallDisk {
    fn mount(at: PathBuf) -> Self {
        std::fs::create_dir_all(&at).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs"])
            .arg(&at)
            .output()
            .expect("mount runs");
        assert!(
            mounted.status.success(),
            "this test fills a disk of its own: it mounts a 4 MiB tmpfs at {}, which needs root \
             (CI runs as root); mount said: {}",
            at.display(),
            String::from_utf8_lossy(&mounted.stderr).trim()
        );
        Self {
            filler: at.join("filler"),
            path: at,
        }
    }

    /// Write a file until the disk refuses another byte.
    fn fill(&self) {
        let mut file = std::fs::File::create(&self.filler).unwrap();
        let block = vec![0u8; 4096];
        loop {
            if let Err(error) = file.write_all(&block).and_then(|()| file.sync_data()) {
                assert_eq!(
                    error.raw_os_error(),
                    Some(28),
                    "the filler stops at ENOSPC: {error}"
                );
                break;
            }
        }
        // The last partial block, byte by byte.
        while file.write_all(&[0]).and_then(|()| file.sync_data()).is_ok() {}
    }

    fn free(&self) {
        std::fs::remove_file(&self.filler).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

struct Answer {
    status: u16,
    body: String,
}

async fn get(addr: SocketAddr, path: &str) -> Answer {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("the daemon answers over HTTP while its disk is full");
    Answer {
        status: response.status().as_u16(),
        body: response.text().await.unwrap_or_default(),
    }
}

/// Poll `path` until `check` holds on its answer, or `within` passes.
async fn answer_eventually(
    addr: SocketAddr,
    path: &str,
    within: Duration,
    check: impl Fn(&Answer) -> bool,
) -> Answer {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let answer = get(addr, path).await;
        if check(&answer) || tokio::time::Instant::now() >= deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The config `BinaryApp` wrote, with the state file moved onto `disk`.
fn state_on(config: &Path, dir: &Path, disk: &Path) {
    let text = std::fs::read_to_string(config).unwrap();
    let from = format!("sqlite://{}", dir.join("state.db").display());
    assert!(text.contains(&from), "the config names {from}");
    let to = format!("sqlite://{}", disk.join("state.db").display());
    std::fs::write(config, text.replace(&from, &to)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_announced_and_what_changed_meanwhile_arrives_once_after() {
    let app = BinaryApp::spawn(2, "").await;
    let disk = SmallDisk::mount(app.dir.path().join("disk"));
    state_on(&app.config, app.dir.path(), &disk.path);
    let ids = app.sim.control.ids();
    for id in &ids {
        app.sim.control.set_status(id, "live");
    }
    let mut daemon = spawn_daemon(&app.config, app.dir.path());
    let addr = daemon.http_addr().await;
    let ready = answer_eventually(addr, "/readyz", Duration::from_secs(20), |a| {
        a.status == 200
    })
    .await;
    assert_eq!(ready.status, 200, "the baseline committed: {}", ready.body);

    // The disk fills; then a campaign pauses.
    disk.fill();
    app.sim.control.set_status(&ids[0], "paused");

    let ready = answer_eventually(addr, "/readyz", Duration::from_secs(20), |a| {
        a.status == 503
    })
    .await;
    assert_eq!(ready.status, 503, "not ready while commits fail");
    assert!(
        ready.body.contains("state store") && ready.body.contains("full"),
        "the reason names the store and the error: {}",
        ready.body
    );
    let announced = eventually(Duration::from_secs(20), || {
        app.receiver
            .event_types()
            .contains(&"watcher.store_unhealthy".to_string())
    })
    .await;
    assert!(
        announced,
        "watcher.store_unhealthy arrives while the store is broken: {:?}\n{}",
        app.receiver.event_types(),
        daemon.logs()
    );
    let health = answer_eventually(
        addr,
        "/healthz",
        Duration::from_secs(HEALTHZ_AFTER * 2 + 10),
        |a| a.status == 503,
    )
    .await;
    assert_eq!(
        health.status, 503,
        "not alive after {HEALTHZ_AFTER} failed commits: {}",
        health.body
    );
    assert!(health.body.contains("commit"), "{}", health.body);
    assert!(
        !app.receiver
            .event_types()
            .contains(&"campaign.status_changed".to_string()),
        "nothing is announced that was not committed"
    );

    // Space comes back: the pause arrives once, then the recovery.
    disk.free();
    let recovered = eventually(Duration::from_secs(20), || {
        app.receiver
            .event_types()
            .contains(&"watcher.store_recovered".to_string())
    })
    .await;
    assert!(
        recovered,
        "watcher.store_recovered arrives: {:?}\n{}",
        app.receiver.event_types(),
        daemon.logs()
    );
    let ready = answer_eventually(addr, "/readyz", Duration::from_secs(10), |a| {
        a.status == 200
    })
    .await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(get(addr, "/healthz").await.status, 200);
    // A few more cycles: nothing arrives twice.
    crate::helpers::wait_cycles(addr, 3).await;
    let received = app.receiver.received();
    let kinds = app.receiver.event_types();
    assert_eq!(
        kinds,
        [
            "watcher.store_unhealthy",
            "campaign.status_changed",
            "watcher.store_recovered"
        ],
        "{}",
        daemon.logs()
    );
    let pause = received[1].json();
    assert_eq!(pause["campaign"]["id"], ids[0].as_str());
    assert_eq!(pause["campaign"]["status"], "paused");
    assert!(
        received[0].json()["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("full"),
        "the announcement says why: {}",
        received[0].body
    );

    let status = daemon.terminate(Duration::from_secs(15)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        daemon.logs()
    );
    let logs = daemon.logs();
    assert!(!logs.contains("panicked"), "{logs}");
    assert!(!logs.contains("non-zero transaction depth"), "{logs}");
}

/// `campaign_watcher_leader` as the replica at `addr` reports it.
async fn leads(addr: SocketAddr) -> bool {
    get(addr, "/metrics")
        .await
        .body
        .lines()
        .any(|line| line.trim() == "campaign_watcher_leader 1")
}

/// Run `sql` on the scratch database over a connection of its own.
async fn on_database(db: &ScratchDatabase, sql: &str) {
    let mut connection = sqlx::PgConnection::connect(db.url()).await.unwrap();
    sqlx::raw_sql(sql).execute(&mut connection).await.unwrap();
    connection.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_shared_store_only_the_leader_announces_refused_commits() {
    let app = BinaryApp::spawn(2, "").await;
    let db = ScratchDatabase::create().await;
    let text = std::fs::read_to_string(&app.config).unwrap();
    let sqlite = format!(
        "url = \"sqlite://{}\"",
        app.dir.path().join("state.db").display()
    );
    assert!(text.contains(&sqlite));
    let text = text.replace(
        &sqlite,
        &format!("url = \"{}\"\nlease_ttl = \"3s\"", db.url()),
    );
    std::fs::write(&app.config, text).unwrap();
    let ids = app.sim.control.ids();
    for id in &ids {
        app.sim.control.set_status(id, "live");
    }
    let config = app.config.to_str().unwrap();
    let baseline = run_cli(&["--config", config, "once"], &[]).await;
    assert_eq!(baseline.code, Some(0), "{}", baseline.all_output());

    let mut replicas = Vec::new();
    for tag in ["-a", "-b"] {
        let process = spawn_daemon_with(&app.config, app.dir.path(), tag, &[]);
        let addr = process.http_addr().await;
        replicas.push((process, addr));
    }
    let mut leader = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while leader.is_none() && tokio::time::Instant::now() < deadline {
        for (index, (_, addr)) in replicas.iter().enumerate() {
            if leads(*addr).await {
                leader = Some(index);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let leader = leader.expect("one replica leads within 15 s");
    let standby = 1 - leader;

    // The server refuses every new event, as a full disk would.
    on_database(
        &db,
        "CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$;
         CREATE TRIGGER refuse_events BEFORE INSERT ON events
           FOR EACH ROW EXECUTE FUNCTION refuse_events();",
    )
    .await;
    app.sim.control.set_status(&ids[0], "paused");
    let announced = eventually(Duration::from_secs(20), || {
        app.receiver
            .event_types()
            .contains(&"watcher.store_unhealthy".to_string())
    })
    .await;
    assert!(
        announced,
        "the leader announces: {}",
        replicas[leader].0.logs()
    );
    let ready = get(replicas[leader].1, "/readyz").await;
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(ready.body.contains("No space left"), "{}", ready.body);
    assert_eq!(get(replicas[standby].1, "/readyz").await.status, 200);

    on_database(&db, "DROP TRIGGER refuse_events ON events").await;
    let recovered = eventually(Duration::from_secs(20), || {
        app.receiver
            .event_types()
            .contains(&"watcher.store_recovered".to_string())
    })
    .await;
    assert!(recovered, "{}", replicas[leader].0.logs());
    crate::helpers::wait_cycles(replicas[leader].1, 3).await;
    assert_eq!(
        app.receiver.event_types(),
        [
            "watcher.store_unhealthy",
            "campaign.status_changed",
            "watcher.store_recovered"
        ],
        "once each, from the leader alone"
    );
    assert!(
        !replicas[standby].0.logs().contains("announced around it"),
        "the standby stays quiet: {}",
        replicas[standby].0.logs()
    );
    for (mut process, _) in replicas {
        let status = process.terminate(Duration::from_secs(15)).await;
        assert!(status.is_some_and(|s| s.success()), "{}", process.logs());
        assert!(!process.logs().contains("panicked"));
    }
}
