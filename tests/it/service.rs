//! Running it as a service: the real binary's HTTP endpoints, SIGHUP reload,
//! systemd notifications, JSON logs and `status`, against the simulator.

use std::net::SocketAddr;
use std::time::Duration;

use crate::helpers::{
    all_live, eventually, outage, run_cli, spawn_daemon, spawn_sim, write_config, BinaryApp,
    Receiver, TEST_KEY,
};

const WITHIN: Duration = Duration::from_secs(20);

struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

async fn get(addr: SocketAddr, path: &str) -> Answer {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("the daemon answers over HTTP");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Answer {
        status,
        content_type,
        body: response.text().await.unwrap_or_default(),
    }
}

/// Poll `path` until `check` holds on its answer (bounded).
async fn http_eventually(addr: SocketAddr, path: &str, check: impl Fn(&Answer) -> bool) -> Answer {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let answer = get(addr, path).await;
        if check(&answer) || tokio::time::Instant::now() >= deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of one sample line (`name{labels} value`) in a metrics exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_follow_the_api_over_real_http() {
    let BinaryApp {
        sim,
        receiver: _receiver,
        dir,
        config,
    } = BinaryApp::spawn(3, "").await;
    let ids = sim.control.ids();
    for id in &ids {
        sim.control.set_status(id, "live");
    }
    sim.control.inject(outage());
    let mut daemon = spawn_daemon(&config, dir.path());
    let addr = daemon.http_addr().await;

    // The API is down from the start: alive, but not ready.
    let health = get(addr, "/healthz").await;
    assert_eq!(health.status, 200, "{}", health.body);
    let metrics = http_eventually(addr, "/metrics", |a| {
        sample(
            &a.body,
            "campaign_watcher_cycles_total{result=\"api_unreadable\"}",
        ) >= Some(1.0)
    })
    .await;
    assert!(
        sample(
            &metrics.body,
            "campaign_watcher_cycles_total{result=\"api_unreadable\"}"
        ) >= Some(1.0),
        "{}",
        metrics.body
    );
    let ready = get(addr, "/readyz").await;
    assert_eq!(ready.status, 503, "not ready before a good cycle");
    assert!(ready.body.contains("no cycle has read"), "{}", ready.body);

    // The API comes back: ready, and the metrics say what happened.
    sim.control.clear_faults();
    let ready = http_eventually(addr, "/readyz", |a| a.status == 200).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    let metrics = get(addr, "/metrics").await;
    assert!(
        metrics
            .content_type
            .starts_with("application/openmetrics-text"),
        "{}",
        metrics.content_type
    );
    let text = &metrics.body;
    let expectations = [
        ("campaign_watcher_cycles_total{result=\"success\"}", 1.0),
        (
            "campaign_watcher_api_requests_total{account=\"default\",endpoint=\"get_campaign\",status_class=\"5xx\"}",
            1.0,
        ),
        (
            "campaign_watcher_api_requests_total{account=\"default\",endpoint=\"get_campaign\",status_class=\"2xx\"}",
            3.0,
        ),
        ("campaign_watcher_campaigns{account=\"default\",status=\"live\"}", 3.0),
        ("campaign_watcher_leader", 1.0),
        ("campaign_watcher_cycle_duration_seconds_count", 2.0),
        (
            "campaign_watcher_api_request_duration_seconds_count{account=\"default\",endpoint=\"get_campaign\"}",
            4.0,
        ),
        (
            "campaign_watcher_last_successful_cycle_timestamp_seconds",
            1.0e9,
        ),
    ];
    for (series, at_least) in expectations {
        let value = sample(text, series);
        assert!(
            value >= Some(at_least),
            "{series} = {value:?}, expected >= {at_least}\n{text}"
        );
    }
    assert!(text.contains("campaign_watcher_build_info{version=\""));
    assert!(text.contains("campaign_watcher_outbox_pending 0"));
    assert!(text.contains("campaign_watcher_outbox_dead 0"));
    for id in &ids {
        assert!(!text.contains(id.as_str()), "no per-campaign label: {id}");
    }

    // A lasting outage (3 unreadable cycles) makes it unready; it stays alive.
    sim.control.inject(outage());
    let ready = http_eventually(addr, "/readyz", |a| a.status == 503).await;
    assert_eq!(ready.status, 503);
    assert!(ready.body.contains("unhealthy"), "{}", ready.body);
    assert_eq!(get(addr, "/healthz").await.status, 200);
    let metrics = get(addr, "/metrics").await;
    assert!(
        sample(
            &metrics.body,
            "campaign_watcher_events_total{account=\"default\",type=\"watcher.api_unhealthy\"}"
        ) == Some(1.0),
        "{}",
        metrics.body
    );

    let status = daemon.terminate(Duration::from_secs(15)).await;
    assert!(status.is_some_and(|s| s.success()), "{}", daemon.logs());
}

/// `healthcheck` is what a container HEALTHCHECK runs: 0 while the daemon
/// answers 200, 1 with the reason otherwise, 2 when it cannot know where to ask.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_follows_the_daemon_and_says_why_it_fails() {
    let BinaryApp {
        sim,
        receiver: _receiver,
        dir,
        config,
    } = BinaryApp::spawn(2, "").await;
    sim.control.inject(outage());
    let mut daemon = spawn_daemon(&config, dir.path());
    let url = format!("http://{}", daemon.http_addr().await);
    let config = config.to_str().unwrap();
    let check = |extra: &'static [&'static str]| {
        let url = url.clone();
        async move {
            let mut args = vec!["--config", config, "healthcheck", "--url", url.as_str()];
            args.extend_from_slice(extra);
            run_cli(&args, &[]).await
        }
    };

    let alive = check(&[]).await;
    assert_eq!(alive.code, Some(0), "{}", alive.all_output());
    assert!(
        alive.stdout.contains("/healthz answered 200"),
        "{}",
        alive.stdout
    );
    let unready = check(&["--ready"]).await;
    assert_eq!(unready.code, Some(1), "{}", unready.all_output());
    assert!(
        unready
            .stderr
            .contains("/readyz answered 503: no cycle has read"),
        "{}",
        unready.stderr
    );

    sim.control.clear_faults();
    let addr = url.trim_start_matches("http://").parse().unwrap();
    http_eventually(addr, "/readyz", |a| a.status == 200).await;
    let ready = check(&["--ready"]).await;
    assert_eq!(ready.code, Some(0), "{}", ready.all_output());

    // The test configuration listens on port 0: only --url can say where.
    let unknown = run_cli(&["--config", config, "healthcheck"], &[]).await;
    assert_eq!(unknown.code, Some(2), "{}", unknown.all_output());
    assert!(unknown.stderr.contains("pass --url"), "{}", unknown.stderr);

    daemon.terminate(WITHIN).await;
    let gone = check(&[]).await;
    assert_eq!(gone.code, Some(1), "{}", gone.all_output());
    assert!(
        gone.stderr.contains("nothing is listening"),
        "{}",
        gone.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_http_port_stops_startup_with_exit_2() {
    let sim = spawn_sim(1).await;
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap();
    let receiver = Receiver::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        &sim.control.ids(),
        &receiver.url(),
        "",
    );
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("127.0.0.1:0", &taken.to_string());
    std::fs::write(&config, text).unwrap();
    let finished = run_cli(&["--config", config.to_str().unwrap(), "run"], &[]).await;
    assert_eq!(finished.code, Some(2), "{}", finished.stderr);
    let last = finished.stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("http.listen") && last.contains(&taken.to_string()),
        "{last}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_campaigns_and_channels_keeps_the_outbox_and_rejects_bad_files() {
    let sim = spawn_sim(3).await;
    let ids = sim.control.ids();
    for id in &ids {
        sim.control.set_status(id, "live");
    }
    let old_receiver = Receiver::spawn().await;
    let new_receiver = Receiver::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        &ids[..1],
        &old_receiver.url(),
        "",
    );
    let mut daemon = spawn_daemon(&config, dir.path());
    let addr = daemon.http_addr().await;
    assert_eq!(
        http_eventually(addr, "/readyz", |a| a.status == 200)
            .await
            .status,
        200,
        "{}",
        daemon.logs()
    );

    // An alert the old channel target keeps refusing: it waits in the outbox.
    old_receiver.answer_with(&[500; 1000]);
    sim.control.set_status(&ids[0], "paused");
    assert!(eventually(WITHIN, || !old_receiver.received().is_empty()).await);
    let pending_id = old_receiver.received()[0].header("webhook-id").to_string();

    // New file: one more campaign, the same channel name pointing elsewhere.
    write_config(
        dir.path(),
        &sim.base_url(),
        &ids[..2],
        &new_receiver.url(),
        "",
    );
    daemon.signal("-HUP");
    assert!(
        eventually(WITHIN, || daemon.logs().contains("configuration reloaded")).await,
        "{}",
        daemon.logs()
    );
    // The pending row went out under its original id, to the new target.
    assert!(
        eventually(WITHIN, || new_receiver
            .received()
            .iter()
            .any(|r| r.header("webhook-id") == pending_id))
        .await,
        "the pending delivery survived the reload: {}",
        daemon.logs()
    );
    let refused_before = old_receiver.received().len();

    // The newly watched campaign gets a baseline, then its change is announced.
    let both_watched = http_eventually(addr, "/metrics", |a| {
        sample(
            &a.body,
            "campaign_watcher_campaigns{account=\"default\",status=\"live\"}",
        ) == Some(1.0)
            && sample(
                &a.body,
                "campaign_watcher_campaigns{account=\"default\",status=\"paused\"}",
            ) == Some(1.0)
    })
    .await;
    assert_eq!(
        sample(
            &both_watched.body,
            "campaign_watcher_campaigns{account=\"default\",status=\"live\"}"
        ),
        Some(1.0),
        "{}",
        both_watched.body
    );
    sim.control.set_status(&ids[1], "completed");
    let announced = |receiver: &Receiver, id: &str, status: &str| {
        receiver.received().iter().any(|r| {
            let json = r.json();
            json["campaign"]["id"] == id && json["campaign"]["status"] == status
        })
    };
    assert!(
        eventually(WITHIN, || announced(&new_receiver, &ids[1], "completed")).await,
        "{}",
        daemon.logs()
    );

    // Bad files: rejected with one line each; the running configuration keeps going.
    std::fs::write(&config, "[watch\ncampaigns = [").unwrap();
    daemon.signal("-HUP");
    assert!(
        eventually(WITHIN, || daemon.logs().matches("reload rejected").count()
            == 1)
        .await
    );
    write_config(
        dir.path(),
        &sim.base_url(),
        &ids,
        &new_receiver.url(),
        "\n[[rules]]\nchannels = [\"no-such-channel\"]\n",
    );
    daemon.signal("-HUP");
    assert!(
        eventually(WITHIN, || daemon.logs().matches("reload rejected").count()
            == 2)
        .await,
        "{}",
        daemon.logs()
    );
    let logs = daemon.logs();
    let rejections: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("reload rejected"))
        .collect();
    assert!(rejections[0].contains("campaign-watcher.toml"), "{logs}");
    assert!(rejections[1].contains("no-such-channel"), "{logs}");
    assert!(!logs.contains(TEST_KEY), "no secret in the log");
    assert!(daemon.child.try_wait().unwrap().is_none(), "still running");

    sim.control.set_status(&ids[1], "live");
    assert!(
        eventually(WITHIN, || announced(&new_receiver, &ids[1], "live")).await,
        "the previous configuration keeps working: {}",
        daemon.logs()
    );
    // ids[2] (live) was only in the rejected file: it is not watched. The
    // gauges are set when a cycle ends, which can be after its events were
    // delivered: read them after the next cycle.
    crate::helpers::wait_cycles(addr, 1).await;
    let metrics = get(addr, "/metrics").await;
    assert_eq!(
        sample(
            &metrics.body,
            "campaign_watcher_campaigns{account=\"default\",status=\"live\"}"
        ),
        Some(1.0),
        "{}",
        metrics.body
    );
    assert_eq!(old_receiver.received().len(), refused_before);
    assert_eq!(
        sample(
            &metrics.body,
            "campaign_watcher_config_last_reload_successful"
        ),
        Some(0.0),
        "the rejected reload is on /metrics: {}",
        metrics.body
    );
    assert_eq!(
        sample(&metrics.body, "campaign_watcher_schedule_period_seconds"),
        Some(1.0),
        "{}",
        metrics.body
    );

    let status = daemon.terminate(Duration::from_secs(15)).await;
    assert!(status.is_some_and(|s| s.success()), "{}", daemon.logs());
}

/// Read notifications until one has the line `wanted`; everything read is kept in `heard`.
async fn wait_for(socket: &tokio::net::UnixDatagram, heard: &mut Vec<String>, wanted: &str) {
    let mut buffer = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Ok(Ok(n)) = tokio::time::timeout(remaining, socket.recv(&mut buffer)).await else {
            panic!("systemd never heard {wanted}; heard {heard:?}");
        };
        let message = String::from_utf8_lossy(&buffer[..n]).to_string();
        heard.push(message.clone());
        if message.lines().any(|line| line == wanted) {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_watchdog_reloading_and_stopping() {
    let BinaryApp {
        sim: _sim,
        receiver: _receiver,
        dir,
        config,
    } = BinaryApp::spawn(1, "").await;
    let socket_path = dir.path().join("notify.sock");
    let socket = tokio::net::UnixDatagram::bind(&socket_path).unwrap();
    // systemd sets WATCHDOG_PID to the service's pid; a shell that execs the
    // binary knows it in advance.
    let stderr = dir.path().join("stderr.log");
    let child = tokio::process::Command::new("sh")
        .args([
            "-c",
            "WATCHDOG_PID=$$ exec \"$0\" \"$@\"",
            crate::helpers::BIN,
            "--config",
            config.to_str().unwrap(),
            "run",
        ])
        .env_remove("SIGMAMIND_API_KEY")
        .env("RUST_LOG", "debug")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "400000")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("sh starts");
    let mut daemon = crate::helpers::DaemonProcess {
        child,
        stdout: dir.path().join("stdout.log"),
        stderr,
    };
    let mut heard = Vec::<String>::new();
    wait_for(&socket, &mut heard, "READY=1").await;
    wait_for(&socket, &mut heard, "WATCHDOG=1").await;
    wait_for(&socket, &mut heard, "WATCHDOG=1").await;
    daemon.signal("-HUP");
    wait_for(&socket, &mut heard, "RELOADING=1").await;
    wait_for(&socket, &mut heard, "READY=1").await;
    daemon.signal("-TERM");
    wait_for(&socket, &mut heard, "STOPPING=1").await;
    let status = tokio::time::timeout(Duration::from_secs(15), daemon.child.wait())
        .await
        .expect("stops")
        .unwrap();
    assert!(status.success(), "{}", daemon.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_parse_line_by_line_with_one_span_per_cycle() {
    let sim = spawn_sim(2).await;
    let ids = sim.control.ids();
    let receiver = Receiver::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    // The format from the configuration file.
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        &ids,
        &receiver.url(),
        "\n[log]\nformat = \"json\"\n",
    );
    let mut daemon = spawn_daemon(&config, dir.path());
    let addr = daemon.http_addr().await;
    http_eventually(addr, "/metrics", |a| {
        sample(&a.body, "campaign_watcher_cycles_total{result=\"success\"}") >= Some(2.0)
    })
    .await;
    daemon.terminate(Duration::from_secs(15)).await;
    let stderr = std::fs::read_to_string(&daemon.stderr).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let cycles: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["message"] == "cycle finished")
        .collect();
    assert!(cycles.len() >= 2, "{stderr}");
    let mut cycle_ids = Vec::new();
    for line in &cycles {
        let span = &line["span"];
        assert_eq!(span["name"], "cycle", "{line}");
        assert_eq!(span["campaigns"], 2, "{line}");
        assert!(span["events"].is_number(), "{line}");
        assert!(span["duration_ms"].is_number(), "{line}");
        // Words a person reads, not `Readable` or `Every(1s)`.
        assert_eq!(span["verdict"], "readable", "{line}");
        cycle_ids.push(span["cycle_id"].as_u64().expect("a numeric cycle id"));
    }
    let mut unique = cycle_ids.clone();
    unique.dedup();
    assert_eq!(unique, cycle_ids, "one id per cycle");
    assert!(lines.iter().any(|l| l["level"] == "INFO"));
    let running = lines
        .iter()
        .find(|line| {
            line["fields"]["message"] == "campaign-watcher running"
                || line["message"] == "campaign-watcher running"
        })
        .unwrap_or_else(|| panic!("no start line: {stderr}"));
    let schedule = running["fields"]["schedule"]
        .as_str()
        .or_else(|| running["schedule"].as_str())
        .unwrap_or_default();
    assert!(schedule.starts_with("every "), "{running}");

    // And from the flag, for a one-off command.
    let finished = run_cli(
        &[
            "--log-format",
            "json",
            "--config",
            config.to_str().unwrap(),
            "once",
        ],
        &[],
    )
    .await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    for line in finished.stderr.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
}

/// Rows held by a channel's quiet hours are counted by `status`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_rows_held_for_quiet_hours() {
    // Quiet from an hour ago to an hour ahead, in UTC: in force now.
    let now = chrono::Utc::now();
    let hhmm = |at: chrono::DateTime<chrono::Utc>| at.format("%H:%M").to_string();
    let night = format!(
        "[channels.night]\nkind = \"console\"\nquiet_hours = {{ start = \"{}\", end = \"{}\", timezone = \"UTC\" }}\n",
        hhmm(now - chrono::TimeDelta::hours(1)),
        hhmm(now + chrono::TimeDelta::hours(1)),
    );
    let BinaryApp {
        sim,
        receiver,
        dir: _dir,
        config,
    } = BinaryApp::spawn(2, &night).await;
    let ids = sim.control.ids();
    for id in &ids {
        sim.control.set_status(id, "live");
    }
    let path = config.to_str().unwrap();
    let once = ["--config", path, "once", "--wait", "1s"];
    assert_eq!(run_cli(&once, &[]).await.code, Some(0));
    sim.control.set_status(&ids[0], "paused");
    // The webhook got it; the quiet channel holds its row (held on purpose: not
    // a failed delivery, so `once` still succeeds).
    let held_once = run_cli(&once, &[]).await;
    assert_eq!(held_once.code, Some(0), "{}", held_once.all_output());
    assert_eq!(receiver.event_types(), ["campaign.status_changed"]);

    let json = run_cli(&["--config", path, "status", "--json"], &[]).await;
    let body: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(body["held_for_quiet_hours"], 1, "{body}");
    assert_eq!(body["outbox"]["pending"], 1, "{body}");
    let text = run_cli(&["--config", path, "status"], &[]).await;
    assert!(
        text.stdout.contains("1 pending (1 held for quiet hours)"),
        "{}",
        text.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_last_seen_last_event_and_the_last_cycle() {
    let BinaryApp {
        sim,
        receiver: _receiver,
        dir: _dir,
        config,
    } = BinaryApp::spawn(2, "").await;
    let ids = sim.control.ids();
    for id in &ids {
        sim.control.set_status(id, "live");
    }
    let path = config.to_str().unwrap();
    let before = run_cli(&["--config", path, "status"], &[]).await;
    assert_eq!(before.code, Some(0), "{}", before.stderr);
    // A fresh watcher: nothing is created, and the API's health is unknown.
    assert!(
        before.stdout.contains("no cycle has run (api: unknown)"),
        "{}",
        before.stdout
    );
    assert!(
        !_dir.path().join("state.db").exists(),
        "status created the state file"
    );

    assert_eq!(
        run_cli(&["--config", path, "once"], &[]).await.code,
        Some(0)
    );
    sim.control.set_status(&ids[0], "paused");
    assert_eq!(
        run_cli(&["--config", path, "once"], &[]).await.code,
        Some(0)
    );

    let json = run_cli(&["--config", path, "status", "--json"], &[]).await;
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let body: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let campaigns = body["campaigns"].as_array().unwrap();
    assert_eq!(campaigns.len(), 2);
    for campaign in campaigns {
        assert!(campaign["last_seen_at"].is_string(), "{campaign}");
    }
    let paused = campaigns.iter().find(|c| c["id"] == ids[0]).unwrap();
    assert_eq!(paused["status"], "paused");
    assert_eq!(paused["last_event"]["type"], "campaign.status_changed");
    assert!(paused["last_event"]["id"]
        .as_str()
        .unwrap()
        .starts_with("evt_"));
    let quiet = campaigns.iter().find(|c| c["id"] == ids[1]).unwrap();
    assert!(quiet["last_event"].is_null(), "{quiet}");
    assert_eq!(body["last_cycle"]["result"], "success");
    assert_eq!(body["outbox"]["pending"], 0);
    assert_eq!(body["held_for_quiet_hours"], 0);
    assert_eq!(body["silences"], serde_json::json!([]));

    // A silence in force is part of the picture.
    let added = run_cli(
        &[
            "--config",
            path,
            "silence",
            "add",
            "--campaign",
            "camp_*",
            "--event",
            "campaign.not_found",
            "--for",
            "2h",
            "--reason",
            "migration",
        ],
        &[],
    )
    .await;
    assert_eq!(added.code, Some(0), "{}", added.all_output());
    let body: serde_json::Value = serde_json::from_str(
        &run_cli(&["--config", path, "status", "--json"], &[])
            .await
            .stdout,
    )
    .unwrap();
    let silences = body["silences"].as_array().unwrap();
    assert_eq!(silences.len(), 1, "{body}");
    assert_eq!(silences[0]["campaign"], "camp_*");
    assert_eq!(silences[0]["reason"], "migration");

    // The API goes away: the last cycle says so, last seen stays.
    sim.control.inject(outage());
    assert_eq!(
        run_cli(&["--config", path, "once"], &[]).await.code,
        Some(1)
    );
    let text = run_cli(&["--config", path, "status"], &[]).await;
    assert_eq!(text.code, Some(0), "{}", text.stderr);
    assert!(
        text.stdout.contains("last cycle: api_unreadable"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("campaign.status_changed at"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("last seen"), "{}", text.stdout);
    assert!(
        text.stdout.contains("camp_* campaign.not_found until"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("(migration)"), "{}", text.stdout);
}

/// `status` leads with the summary, then lists the campaigns newest change
/// first, filtered and limited, so a large account stays readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_leads_with_the_summary_and_filters_the_campaigns() {
    let BinaryApp {
        sim,
        receiver: _receiver,
        dir: _dir,
        config,
    } = BinaryApp::spawn(6, "").await;
    let ids = sim.control.ids();
    crate::helpers::all_live(&sim);
    let path = config.to_str().unwrap();
    assert_eq!(
        run_cli(&["--config", path, "once"], &[]).await.code,
        Some(0)
    );
    sim.control.set_status(&ids[0], "paused");
    sim.control
        .set_errors(&ids[1], vec!["Row 2: invalid number".into()]);
    assert_eq!(
        run_cli(&["--config", path, "once"], &[]).await.code,
        Some(0)
    );

    let all = run_cli(&["--config", path, "status"], &[]).await;
    assert_eq!(all.code, Some(0), "{}", all.stderr);
    let first = all.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("campaigns: 6 (")
            && first.contains("1 paused")
            && first.contains("5 live"),
        "the summary comes first: {}",
        all.stdout
    );
    assert!(first.contains("1 with upload errors"), "{first}");
    let table = all.stdout.find("campaign ").unwrap();
    assert!(
        all.stdout.find("api: healthy").unwrap() < table,
        "{}",
        all.stdout
    );

    let problems = run_cli(&["--config", path, "status", "--problems"], &[]).await;
    let listed: Vec<&str> = ids
        .iter()
        .map(String::as_str)
        .filter(|id| problems.stdout.contains(id))
        .collect();
    assert_eq!(
        listed,
        [ids[0].as_str(), ids[1].as_str()],
        "{}",
        problems.stdout
    );

    let paused = run_cli(&["--config", path, "status", "--status", "paused"], &[]).await;
    assert!(
        paused.stdout.contains(&ids[0]) && !paused.stdout.contains(&ids[2]),
        "{}",
        paused.stdout
    );

    let limited = run_cli(&["--config", path, "status", "--limit", "2"], &[]).await;
    assert!(
        limited.stdout.contains("… and 4 more campaigns"),
        "{}",
        limited.stdout
    );
    // Newest change first: the two campaigns that changed lead the table.
    assert!(
        limited.stdout.contains(&ids[0]) && limited.stdout.contains(&ids[1]),
        "{}",
        limited.stdout
    );

    let one = run_cli(&["--config", path, "status", "--campaign", &ids[3]], &[]).await;
    // Table rows start with the campaign id (recent events follow the table).
    let rows: Vec<&str> = one
        .stdout
        .lines()
        .filter(|line| ids.iter().any(|id| line.starts_with(id.as_str())))
        .collect();
    assert_eq!(rows.len(), 1, "{}", one.stdout);
    assert!(rows[0].starts_with(&ids[3]), "{}", one.stdout);
}

/// On a terminal the campaign table fits its width (long cells wrap); piped,
/// it stays one plain row per campaign for scripts and `grep`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_fits_the_terminal_and_stays_plain_when_piped() {
    let BinaryApp {
        sim,
        receiver: _receiver,
        dir: _dir,
        config,
    } = BinaryApp::spawn(3, "").await;
    let ids = sim.control.ids();
    crate::helpers::all_live(&sim);
    sim.control.patch(
        &ids[0],
        serde_json::json!({"campaignName": "A very long campaign name ".repeat(4)}),
    );
    let path = config.to_str().unwrap();
    assert_eq!(
        run_cli(&["--config", path, "once"], &[]).await.code,
        Some(0)
    );
    // A real terminal of 70 columns: util-linux `script` gives the command a pty.
    let command = format!(
        "stty cols 70 rows 40; {} --config {path} status",
        crate::helpers::BIN
    );
    let on_terminal = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .output(),
    )
    .await
    .expect("status on a terminal finished")
    .expect("`script` (util-linux, Debian's essential bsdutils) runs");
    let text = String::from_utf8_lossy(&on_terminal.stdout).replace('\r', "");
    let start = text
        .find("campaign ")
        .unwrap_or_else(|| panic!("no table: {text}"));
    let table: Vec<&str> = text[start..]
        .lines()
        .take_while(|line| !line.is_empty())
        .collect();
    assert!(table.iter().any(|line| line.contains('─')), "{text}");
    for line in &table {
        assert!(
            line.chars().count() <= 70,
            "{} columns: {line:?}\n{text}",
            line.chars().count()
        );
    }
    for id in &ids {
        assert!(text.contains(id.as_str()), "{id} listed: {text}");
    }

    let piped = run_cli(&["--config", path, "status"], &[]).await;
    assert!(!piped.stdout.contains('─'), "{}", piped.stdout);
    let row = piped
        .stdout
        .lines()
        .find(|line| line.starts_with(ids[0].as_str()))
        .unwrap_or_else(|| panic!("one line for {}: {}", ids[0], piped.stdout));
    assert!(row.contains("A very long campaign name A ver…"), "{row}");
    assert!(row.contains("live"), "{row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_stop_longer_than_the_interval_polling_resumes_and_a_pause_is_delivered() {
    const SUCCESS: &str = "campaign_watcher_cycles_total{result=\"success\"}";
    const BOUND: Duration = Duration::from_secs(60);
    let BinaryApp {
        sim,
        receiver,
        dir,
        config,
    } = BinaryApp::spawn(2, "").await;
    all_live(&sim);
    let ids = sim.control.ids();
    let mut daemon = spawn_daemon(&config, dir.path());
    let addr = daemon.http_addr().await;
    let cycles = |answer: &Answer| sample(&answer.body, SUCCESS).unwrap_or(0.0);
    let before = http_eventually(addr, "/metrics", |a| cycles(a) >= 1.0).await;
    assert!(cycles(&before) >= 1.0, "{}", daemon.logs());

    // The fault: the process frozen for three periods of `interval = "1s"`.
    daemon.signal("-STOP");
    tokio::time::sleep(Duration::from_secs(3)).await;
    daemon.signal("-CONT");

    let deadline = tokio::time::Instant::now() + BOUND;
    let resumed = loop {
        let answer = get(addr, "/metrics").await;
        if cycles(&answer) >= cycles(&before) + 2.0 || tokio::time::Instant::now() >= deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        cycles(&resumed) >= cycles(&before) + 2.0,
        "cycles resume after the stop: {}\n{}",
        resumed.body,
        daemon.logs()
    );
    assert!(
        sample(&resumed.body, "campaign_watcher_schedule_late_ticks_total") >= Some(1.0),
        "the stall is counted: {}",
        resumed.body
    );
    assert!(
        daemon.logs().contains("the schedule fell behind by"),
        "{}",
        daemon.logs()
    );

    sim.control.set_status(&ids[0], "paused");
    let paused = |received: &crate::helpers::Received| {
        let json = received.json();
        json["type"] == "campaign.status_changed"
            && json["campaign"]["id"] == ids[0].as_str()
            && json["campaign"]["status"] == "paused"
    };
    let delivered = eventually(BOUND, || receiver.received().iter().any(paused)).await;
    assert!(delivered, "the pause is delivered: {}", daemon.logs());
    daemon.terminate(Duration::from_secs(15)).await;
}
