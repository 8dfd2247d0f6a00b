//! A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`, which
//! `.ci/run` installs) on a loopback port, with a null receiver: a paused
//! campaign becomes an active alert labelled with its campaign id, and is no
//! longer active after it resumes; a restarted watcher re-asserts it into an
//! Alertmanager that lost its alerts.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use campaign_watcher::config::ChannelSettings;
use campaign_watcher::daemon::Daemon;
use campaign_watcher::deliver::alertmanager::AlertmanagerSettings;
use serde_json::Value;
use tempfile::TempDir;

use crate::helpers::TestApp;

const BINARY: &str = "/usr/bin/prometheus-alertmanager";
/// A null receiver whose name is this server's own, so the readiness check
/// knows it reached this Alertmanager and no other server.
fn config_text(receiver: &str) -> String {
    format!(
        r#"route:
  receiver: "{receiver}"
  group_wait: 1s
receivers:
  - name: "{receiver}"
"#
    )
}

/// One Alertmanager process, killed when dropped.
pub struct AlertmanagerServer {
    pub base_url: String,
    _child: tokio::process::Child,
    _dir: TempDir,
}

impl AlertmanagerServer {
    pub async fn start() -> Self {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} is missing: install Debian's prometheus-alertmanager (apt-get install -y prometheus-alertmanager; .ci/run does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let receiver = format!("null-{}", dir.path().file_name().unwrap().to_string_lossy());
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(&config, config_text(&receiver)).unwrap();
        let storage = dir.path().join("data");
        std::fs::create_dir(&storage).unwrap();
        let log_path = dir.path().join("alertmanager.log");
        let log = std::fs::File::create(&log_path).unwrap();
        // Port 0: Alertmanager binds a free port and logs the address it got.
        let mut child = tokio::process::Command::new(BINARY)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", storage.display()))
            .arg("--web.listen-address=127.0.0.1:0")
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BINARY}: {e}"));
        let log_text = || std::fs::read_to_string(&log_path).unwrap_or_default();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let address = loop {
            let listening = log_text().lines().find_map(|line| {
                let rest = line.split("msg=\"Listening on\" address=").nth(1)?;
                Some(rest.split_whitespace().next()?.to_string())
            });
            if let Some(address) = listening {
                break address;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "Alertmanager exited ({status}) before it listened: {}",
                    log_text()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Alertmanager logs the address it listens on: {}",
                log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let server = Self {
            base_url: format!("http://{address}"),
            _child: child,
            _dir: dir,
        };
        // Ready, and the one this test started: its status shows our receiver.
        let client = reqwest::Client::new();
        loop {
            let ready = client
                .get(format!("{}/-/ready", server.base_url))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            let ours = ready
                && match client
                    .get(format!("{}/api/v2/status", server.base_url))
                    .send()
                    .await
                {
                    Ok(answer) => answer.json::<Value>().await.is_ok_and(|status| {
                        status["config"]["original"]
                            .as_str()
                            .is_some_and(|config| config.contains(&receiver))
                    }),
                    Err(_) => false,
                };
            if ours {
                return server;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Alertmanager did not become ready on {}: {}",
                server.base_url,
                log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Active alerts (`GET /api/v2/alerts`), as JSON.
    pub async fn active_alerts(&self) -> Vec<Value> {
        let url = format!(
            "{}/api/v2/alerts?active=true&silenced=false&inhibited=false",
            self.base_url
        );
        let alerts: Vec<Value> = reqwest::get(url).await.unwrap().json().await.unwrap();
        alerts
            .into_iter()
            .filter(|alert| alert["status"]["state"] == "active")
            .collect()
    }

    /// Whether an active `alertname` alert for `campaign_id` is there.
    pub async fn has_active(&self, alertname: &str, campaign_id: &str) -> bool {
        self.active_alerts().await.iter().any(|alert| {
            alert["labels"]["alertname"] == alertname
                && alert["labels"]["campaign_id"] == campaign_id
        })
    }

    /// Polls until `has_active` equals `wanted` (bounded).
    pub async fn wait_for(&self, alertname: &str, campaign_id: &str, wanted: bool) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if self.has_active(alertname, campaign_id).await == wanted {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn alertmanager_channel(base_url: &str) -> ChannelSettings {
    let mut settings = ChannelSettings::new(AlertmanagerSettings {
        url: Some(base_url.to_string()),
        labels: Some([("team".to_string(), "outreach".to_string())].into()),
        // Long: an alert must resolve because the watcher said so, not because it
        // expired (endsAt is three intervals ahead).
        resend_interval: Some(Duration::from_secs(600)),
        ..AlertmanagerSettings::default()
    });
    settings.shared.retry_initial_backoff = Duration::from_millis(100);
    settings.shared.retry_max_backoff = Duration::from_millis(400);
    settings
}

#[tokio::test]
async fn a_paused_campaign_is_an_active_alert_until_it_resumes() {
    let alertmanager = AlertmanagerServer::start().await;
    let app = TestApp::spawn_with(2, |settings| {
        settings
            .channels
            .insert("am".into(), alertmanager_channel(&alertmanager.base_url));
    })
    .await;
    app.all_live();
    app.cycle().await;
    let (paused, other) = (app.id(0), app.id(1));
    app.sim.control.set_status(&paused, "paused");
    app.cycle().await;

    assert!(
        alertmanager.wait_for("CampaignPaused", &paused, true).await,
        "active alerts: {:#?}",
        alertmanager.active_alerts().await
    );
    let alerts = alertmanager.active_alerts().await;
    let alert = alerts
        .iter()
        .find(|alert| alert["labels"]["campaign_id"] == paused.as_str())
        .unwrap();
    assert_eq!(alert["labels"]["severity"], "warning");
    assert_eq!(alert["labels"]["team"], "outreach");
    assert!(alert["labels"]["campaign_name"]
        .as_str()
        .is_some_and(|n| !n.is_empty()));
    assert!(alert["annotations"]["summary"]
        .as_str()
        .unwrap()
        .contains("is paused"));
    assert!(!alertmanager.has_active("CampaignPaused", &other).await);

    app.sim.control.set_status(&paused, "live");
    app.cycle().await;
    assert!(
        alertmanager
            .wait_for("CampaignPaused", &paused, false)
            .await,
        "still active: {:#?}",
        alertmanager.active_alerts().await
    );
}

#[tokio::test]
async fn a_restarted_watcher_reasserts_alerts_an_alertmanager_lost() {
    let first = AlertmanagerServer::start().await;
    let mut app = TestApp::spawn_with(1, |settings| {
        settings
            .channels
            .insert("am".into(), alertmanager_channel(&first.base_url));
    })
    .await;
    app.all_live();
    app.cycle().await;
    let paused = app.id(0);
    app.sim.control.set_status(&paused, "paused");
    app.cycle().await;
    assert!(first.wait_for("CampaignPaused", &paused, true).await);

    // A fresh Alertmanager knows nothing; the watcher restarts pointing at it.
    // No event is pending: only the re-posting of stored state can tell it.
    let second = AlertmanagerServer::start().await;
    app.settings
        .channels
        .insert("am".into(), alertmanager_channel(&second.base_url));
    app.restart().await;
    let daemon = Daemon::build(&app.settings).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(daemon.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    assert!(
        second.wait_for("CampaignPaused", &paused, true).await,
        "re-asserted: {:#?}",
        second.active_alerts().await
    );

    // It resumes while the daemon runs: the alert resolves.
    app.sim.control.set_status(&paused, "live");
    assert!(
        second.wait_for("CampaignPaused", &paused, false).await,
        "still active: {:#?}",
        second.active_alerts().await
    );
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(15), running)
        .await
        .expect("the daemon stops")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_moves_the_re_posting_to_the_new_alertmanager() {
    let first = AlertmanagerServer::start().await;
    let second = AlertmanagerServer::start().await;
    let sim = crate::helpers::spawn_sim(2).await;
    let ids = sim.control.ids();
    for id in &ids {
        sim.control.set_status(id, "live");
    }
    let receiver = crate::helpers::Receiver::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let channel = |url: &str| {
        format!("[channels.am]\nkind = \"alertmanager\"\nurls = [\"{url}\"]\nresend_interval = \"1s\"\n")
    };
    let config = crate::helpers::write_config(
        dir.path(),
        &sim.base_url(),
        &ids,
        &receiver.url(),
        &channel(&first.base_url),
    );
    let mut daemon = crate::helpers::spawn_daemon(&config, dir.path());
    sim.control.set_status(&ids[0], "paused");
    assert!(
        first.wait_for("CampaignPaused", &ids[0], true).await,
        "{}",
        daemon.logs()
    );

    // Same campaigns, another Alertmanager: no new event, only re-posting can tell it.
    crate::helpers::write_config(
        dir.path(),
        &sim.base_url(),
        &ids,
        &receiver.url(),
        &channel(&second.base_url),
    );
    daemon.signal("-HUP");
    assert!(
        second.wait_for("CampaignPaused", &ids[0], true).await,
        "re-posted after the reload: {}",
        daemon.logs()
    );
    let status = daemon
        .terminate(Duration::from_secs(10))
        .await
        .expect("stops");
    assert!(status.success());
}
