//! The service's own faults (issue 11, items 2, 6 and 8), each against the
//! real binary: idle clients under a low descriptor limit, a configuration
//! value that cannot be used, and two daemons on one state file.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::helpers::{
    eventually, run_cli, spawn_daemon, spawn_daemon_with, BinaryApp, DaemonProcess, BIN,
};

const WITHIN: Duration = Duration::from_secs(20);

/// `run` under `prlimit --nofile=LIMIT`, as `ulimit -n` would start it.
fn spawn_daemon_with_nofile(app: &BinaryApp, limit: u32) -> DaemonProcess {
    let dir = app.dir.path();
    let stdout = dir.join("stdout.log");
    let stderr = dir.join("stderr.log");
    let child = tokio::process::Command::new("prlimit")
        .arg(format!("--nofile={limit}"))
        .arg(BIN)
        .args(["--config", &app.config.display().to_string(), "run"])
        .env_remove("SIGMAMIND_API_KEY")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("prlimit starts the binary");
    DaemonProcess {
        child,
        stdout,
        stderr,
    }
}

/// The status of one GET on a fresh connection, or None if none came within 2 s.
async fn status_of(addr: SocketAddr, path: &str) -> Option<u16> {
    let response = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .ok()?
        .get(format!("http://{addr}{path}"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    Some(response.status().as_u16())
}

/// The first moment `path` answers `status`, retrying on fresh connections.
async fn answers(addr: SocketAddr, path: &str, status: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if status_of(addr, path).await == Some(status) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn open_descriptors(daemon: &DaemonProcess) -> usize {
    // prlimit execs the binary in place: the child's pid is the daemon's.
    let pid = daemon.child.id().expect("running");
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|entries| entries.count())
        .unwrap_or(0)
}

fn status_changes(app: &BinaryApp) -> usize {
    app.receiver
        .event_types()
        .iter()
        .filter(|kind| *kind == "campaign.status_changed")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_hundred_idle_connections_under_a_256_descriptor_limit_starve_nothing() {
    let app = BinaryApp::spawn(1, "").await;
    let id = app.sim.control.ids()[0].clone();
    app.sim.control.set_status(&id, "live");
    let mut daemon = spawn_daemon_with_nofile(&app, 256);
    let addr = daemon.http_addr().await;
    assert!(
        answers(addr, "/readyz", 200, WITHIN).await,
        "{}",
        daemon.logs()
    );

    // 400 clients each send half a request head and then nothing.
    let mut idle = Vec::new();
    for _ in 0..400 {
        let mut stream = TcpStream::connect(addr).await.expect("the kernel accepts");
        let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHo").await;
        idle.push(stream);
    }
    app.sim.control.set_status(&id, "paused");

    // The probes answer while the idle clients still hold their connections
    // (their own header timeout is 10 s): the reserve serves them.
    assert!(
        answers(addr, "/healthz", 200, WITHIN).await,
        "/healthz answers beside 400 idle connections: {}",
        daemon.logs()
    );
    // Past its bounds (in all, and per client address) the daemon closes a new
    // connection at once; the ones it serves wait for their request head until
    // the header timeout (10 s).
    // Those must still be open, with nothing to read: the probe got through
    // beside them, not after they timed out.
    let still_open = idle
        .iter()
        .filter(|stream| {
            let mut byte = [0u8; 1];
            matches!(stream.try_read(&mut byte), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    // All 400 come from one address: the daemon serves that client its share.
    let limits = campaign_watcher::http::Limits::for_descriptors(256);
    let served = limits.per_client.min(limits.connections);
    assert!(
        still_open >= served,
        "the {served} idle connections the daemon serves this client are still open when the probe answers ({still_open} open)"
    );
    let descriptors = open_descriptors(&daemon);
    assert!(
        descriptors < 200,
        "{descriptors} descriptors open under a limit of 256"
    );
    // The pause is delivered, once: deliveries still get descriptors.
    assert!(
        eventually(WITHIN, || status_changes(&app) >= 1).await,
        "the pause is delivered: {}",
        daemon.logs()
    );
    drop(idle);
    crate::helpers::wait_cycles(addr, 2).await;
    assert_eq!(status_changes(&app), 1, "exactly once");
    let logs = daemon.logs();
    assert!(!logs.contains("Too many open files"), "{logs}");
    assert!(!logs.contains("panicked"), "{logs}");
    let status = daemon.terminate(WITHIN).await.expect("it stops");
    assert_eq!(status.code(), Some(0), "{}", daemon.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interval_of_aeons_is_refused_by_check_config_and_by_a_reload() {
    let app = BinaryApp::spawn(1, "").await;
    let id = app.sim.control.ids()[0].clone();
    app.sim.control.set_status(&id, "live");
    let good = std::fs::read_to_string(&app.config).unwrap();
    let aeons = good.replace("interval = \"1s\"", "interval = \"500000000years\"");
    assert_ne!(good, aeons);

    let bad_path = app.dir.path().join("aeons.toml");
    std::fs::write(&bad_path, &aeons).unwrap();
    let checked = run_cli(
        &["--config", bad_path.to_str().unwrap(), "check-config"],
        &[],
    )
    .await;
    assert_eq!(checked.code, Some(2), "{}", checked.all_output());
    assert!(
        checked
            .stderr
            .contains("watch.interval: 500000000years is outside the allowed range 1s..=7days"),
        "{}",
        checked.all_output()
    );
    assert!(!checked.all_output().contains("panicked"));

    let mut daemon = spawn_daemon(&app.config, app.dir.path());
    let addr = daemon.http_addr().await;
    assert!(
        answers(addr, "/readyz", 200, WITHIN).await,
        "{}",
        daemon.logs()
    );
    std::fs::write(&app.config, &aeons).unwrap();
    daemon.signal("-HUP");
    assert!(
        eventually(WITHIN, || daemon.logs().contains("reload rejected")).await,
        "{}",
        daemon.logs()
    );
    assert!(daemon.logs().contains("1s..=7days"), "{}", daemon.logs());
    // Still alive, still on the old one-second interval: a pause is announced.
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "{}",
        daemon.logs()
    );
    app.sim.control.set_status(&id, "paused");
    assert!(
        eventually(WITHIN, || status_changes(&app) == 1).await,
        "{}",
        daemon.logs()
    );
    assert!(answers(addr, "/healthz", 200, WITHIN).await);
    assert!(!daemon.logs().contains("panicked"), "{}", daemon.logs());
    let status = daemon.terminate(WITHIN).await.expect("it stops");
    assert_eq!(status.code(), Some(0), "{}", daemon.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_one_state_file_exits_naming_the_lock() {
    let app = BinaryApp::spawn(1, "").await;
    let id = app.sim.control.ids()[0].clone();
    app.sim.control.set_status(&id, "live");
    let config = app.config.to_str().unwrap().to_string();
    let mut first = spawn_daemon(&app.config, app.dir.path());
    let addr = first.http_addr().await;
    assert!(
        answers(addr, "/readyz", 200, WITHIN).await,
        "{}",
        first.logs()
    );

    let mut second = spawn_daemon_with(&app.config, app.dir.path(), "-second", &[]);
    let exited = tokio::time::timeout(WITHIN, second.child.wait())
        .await
        .expect("the second run exits")
        .unwrap();
    assert_eq!(exited.code(), Some(1), "{}", second.logs());
    let lock_file = app.dir.path().join("state.db.lock");
    assert!(
        second.logs().contains(&lock_file.display().to_string()),
        "the sentence names the lock file: {}",
        second.logs()
    );
    assert!(!second.logs().contains("http listening"), "it never served");

    // `once` would poll and send beside it: it is refused the same way.
    let once = run_cli(&["--config", &config, "once"], &[]).await;
    assert_eq!(once.code, Some(1), "{}", once.all_output());
    assert!(
        once.stderr.contains("state.db.lock"),
        "{}",
        once.all_output()
    );
    // The commands on the stored state work beside it.
    for args in [
        vec!["status"],
        vec!["history"],
        vec!["outbox", "list"],
        vec!["silence", "list"],
        vec![
            "silence",
            "add",
            "--campaign",
            "nothing_*",
            "--for",
            "1h",
            "--reason",
            "beside a daemon",
        ],
    ] {
        let mut full = vec!["--config", config.as_str()];
        full.extend(args.iter().copied());
        let finished = run_cli(&full, &[]).await;
        assert_eq!(
            finished.code,
            Some(0),
            "{args:?}: {}",
            finished.all_output()
        );
    }

    // Only the first polls: its cycles go on, and once it stops a new run starts.
    assert!(
        first.child.try_wait().unwrap().is_none(),
        "{}",
        first.logs()
    );
    assert_eq!(first.terminate(WITHIN).await.unwrap().code(), Some(0));
    let mut third = spawn_daemon_with(&app.config, app.dir.path(), "-third", &[]);
    let addr = third.http_addr().await;
    assert!(
        answers(addr, "/readyz", 200, WITHIN).await,
        "{}",
        third.logs()
    );
    assert_eq!(third.terminate(WITHIN).await.unwrap().code(), Some(0));
}
