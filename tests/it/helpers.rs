use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::Router;
use campaign_watcher::config::{
    ChannelSettings, Settings, SigmaMindSettings, StateSettings, WatchSettings,
};
use campaign_watcher::daemon::Daemon;
use campaign_watcher::deliver::webhook::WebhookSettings;
use campaign_watcher::setting::secret::Secret;
use campaign_watcher::sim::{self, SimOptions, SimServer};
use tempfile::TempDir;

/// A key nobody could mistake for anything else: tests grep every output for it.
pub const TEST_KEY: &str = "sk_live_RECOGNISABLE_9f8e7d6c";
/// Standard Webhooks test secret from the reliability checklist.
pub const TEST_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

pub const BIN: &str = env!("CARGO_BIN_EXE_campaign-watcher");

/// Put every simulated campaign in a known state (live, no upload errors).
/// The operator the tests act as, through the CLI.
pub fn ops() -> campaign_watcher::commit::Actor {
    campaign_watcher::commit::Actor {
        name: "ops".to_string(),
        via: "cli",
    }
}

/// A simulator that takes only `key`.
pub async fn spawn_sim_with_key(campaigns: usize, key: &str) -> SimServer {
    sim::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        SimOptions {
            campaigns,
            api_key: Some(key.into()),
        },
    )
    .await
    .expect("the simulator binds a loopback port")
}

pub fn all_live(sim: &SimServer) {
    for id in sim.control.ids() {
        sim.control.set_status(&id, "live");
        sim.control.set_errors(&id, vec![]);
    }
}

pub async fn spawn_sim(campaigns: usize) -> SimServer {
    spawn_sim_with_key(campaigns, TEST_KEY).await
}

/// One HTTP request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request path, e.g. `/hook`.
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| {
            panic!(
                "the request to {} has a body that is not JSON ({error}): {:?}",
                self.path, self.body
            )
        })
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

/// What a receiver answers at: a path of a URL it handed out, or everything
/// under a prefix handed out by [`Receiver::url_under`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Served {
    Path(String),
    Under(String),
}

impl Served {
    fn covers(&self, path: &str) -> bool {
        match self {
            Self::Path(served) => path == served,
            Self::Under(prefix) => path.starts_with(prefix.as_str()),
        }
    }
}

#[derive(Default)]
struct ReceiverState {
    served: Vec<Served>,
    received: Vec<Received>,
    /// Statuses to answer at each served path or prefix, in order; 200 once they run out.
    scripts: BTreeMap<Served, VecDeque<u16>>,
    /// Requests at paths no URL of this receiver names (answered 404).
    strays: Vec<String>,
    /// Requests still to be recorded and then never answered (a send in flight).
    hold: u32,
    /// Requests recorded and left hanging so far.
    held: u32,
}

impl ReceiverState {
    fn serve(&mut self, served: Served) {
        if !self.served.contains(&served) {
            self.served.push(served);
        }
    }

    /// The most specific served entry for `path`: an exact path, else the longest prefix.
    fn serving(&self, path: &str) -> Option<Served> {
        self.served
            .iter()
            .filter(|served| served.covers(path))
            .max_by_key(|served| match served {
                Served::Path(_) => usize::MAX,
                Served::Under(prefix) => prefix.len(),
            })
            .cloned()
    }
}

/// A webhook receiver on a real loopback socket that records what it gets. It
/// answers only at the paths of the URLs it handed out ([`Receiver::url`],
/// [`Receiver::url_for`], [`Receiver::url_under`]); any other request gets 404
/// and fails the test that reads what was received, naming its path.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    pub async fn spawn() -> Self {
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let app = Router::new().fallback(receive).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state }
    }

    /// `http://127.0.0.1:PORT/hook`.
    pub fn url(&self) -> String {
        self.url_for("/hook")
    }

    /// `http://127.0.0.1:PORT{path}`, answered from now on.
    pub fn url_for(&self, path: &str) -> String {
        self.state
            .lock()
            .unwrap()
            .serve(Served::Path(path.to_string()));
        format!("http://{}{path}", self.addr)
    }

    /// `http://127.0.0.1:PORT{prefix}`, with every path that starts with
    /// `prefix` answered from now on (for URLs made from templates).
    pub fn url_under(&self, prefix: &str) -> String {
        self.state
            .lock()
            .unwrap()
            .serve(Served::Under(prefix.to_string()));
        format!("http://{}{prefix}", self.addr)
    }

    /// The next requests to [`Receiver::url`] get these statuses, in order.
    pub fn answer_with(&self, statuses: &[u16]) {
        self.url();
        self.answer_at("/hook", statuses);
    }

    /// The next requests to `path` (a path of [`Receiver::url_for`], or a
    /// prefix of [`Receiver::url_under`]) get these statuses, in order.
    pub fn answer_at(&self, path: &str, statuses: &[u16]) {
        let mut state = self.state.lock().unwrap();
        let served = state
            .served
            .iter()
            .find(|served| matches!(served, Served::Path(p) | Served::Under(p) if p == path))
            .cloned()
            .unwrap_or_else(|| panic!("the receiver hands out no URL for {path}"));
        state.scripts.entry(served).or_default().extend(statuses);
    }

    /// Drop every script: 200 from now on.
    pub fn answer_ok(&self) {
        self.state.lock().unwrap().scripts.clear();
    }

    /// Leave the next `n` requests unanswered (and out of [`Receiver::received`]),
    /// so a sender is caught mid-send.
    pub fn hold_next(&self, n: u32) {
        self.state.lock().unwrap().hold += n;
    }

    /// How many requests have been left hanging.
    pub fn held(&self) -> u32 {
        self.state.lock().unwrap().held
    }

    /// Every request at a served path, in order.
    pub fn received(&self) -> Vec<Received> {
        let state = self.state.lock().unwrap();
        assert!(
            state.strays.is_empty(),
            "the receiver got requests at paths none of its URLs name: {:?}",
            state.strays
        );
        state.received.clone()
    }

    /// What arrived at `path` (e.g. "/slack"), in order.
    pub fn received_at(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|request| request.path == path)
            .collect()
    }

    pub fn event_types(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| r.json()["type"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

async fn receive(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    method: axum::http::Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let headers = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                v.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let path = uri.path().to_string();
    let answer = {
        let mut guard = state.lock().unwrap();
        match guard.serving(&path) {
            None => {
                guard.strays.push(format!("{method} {path}"));
                Some(404)
            }
            // A request left unanswered was never acknowledged: it is not in `received`.
            Some(_) if guard.hold > 0 => {
                guard.hold -= 1;
                guard.held += 1;
                None
            }
            Some(served) => {
                guard.received.push(Received {
                    path,
                    headers,
                    body,
                });
                Some(
                    guard
                        .scripts
                        .get_mut(&served)
                        .and_then(VecDeque::pop_front)
                        .unwrap_or(200),
                )
            }
        }
    };
    let Some(status) = answer else {
        return std::future::pending().await;
    };
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

/// Settings for an in-process daemon: fast timeouts, short backoffs, one signed webhook.
pub fn settings(sim: &SimServer, state_dir: &Path, receiver: &Receiver) -> Settings {
    let mut hook = ChannelSettings::new(WebhookSettings {
        url: Some(receiver.url()),
        secret: Some(Secret::new(TEST_SECRET)),
        ..WebhookSettings::default()
    });
    hook.shared.retry_initial_backoff = Duration::from_millis(100);
    hook.shared.retry_max_backoff = Duration::from_millis(400);
    let mut channels = BTreeMap::new();
    channels.insert("hook".to_string(), hook);
    Settings {
        sigmamind: SigmaMindSettings {
            base_url: sim.base_url(),
            api_key: Some(Secret::new(TEST_KEY)),
            // Generous: on a loaded machine a loopback read may take seconds,
            // and a read that times out shifts the counts the tests assert.
            // The tests of timeouts set their own.
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_requests_per_second: 0.0,
            max_retries: 2,
            retry_base: Duration::from_millis(10),
            retry_max: Duration::from_secs(3),
            ..SigmaMindSettings::default()
        },
        watch: WatchSettings {
            campaigns: sim.control.ids(),
            interval: Some(Duration::from_secs(1)),
            ..WatchSettings::default()
        },
        state: StateSettings {
            url: format!("sqlite://{}", state_dir.join("state.db").display()),
            ..StateSettings::default()
        },
        channels,
        ..Settings::default()
    }
}

/// Everything one in-process test needs: a simulator, a receiver, a state dir and a daemon.
pub struct TestApp {
    pub sim: SimServer,
    pub receiver: Receiver,
    /// Holds the state file; dropped with the app.
    _dir: TempDir,
    pub settings: Settings,
    pub daemon: Daemon,
}

impl TestApp {
    pub async fn spawn(campaigns: usize) -> Self {
        Self::spawn_with(campaigns, |_| {}).await
    }

    pub async fn spawn_with(campaigns: usize, adjust: impl FnOnce(&mut Settings)) -> Self {
        let sim = spawn_sim(campaigns).await;
        let receiver = Receiver::spawn().await;
        let dir = tempfile::tempdir().unwrap();
        let mut settings = settings(&sim, dir.path(), &receiver);
        adjust(&mut settings);
        let daemon = Daemon::build(&settings)
            .await
            .expect("the test settings are valid");
        Self {
            sim,
            receiver,
            _dir: dir,
            settings,
            daemon,
        }
    }

    /// A fresh daemon on the same state, as after a restart.
    pub async fn restart(&mut self) {
        self.daemon = Daemon::build(&self.settings).await.expect("restart");
    }

    /// One cycle and delivery of what it produced (retries included, bounded),
    /// in which every campaign was read: the tests that count polls, requests
    /// or debounce steps would otherwise be off by a read that failed under load.
    pub async fn cycle(&self) -> campaign_watcher::watcher::CycleReport {
        let report = self.cycle_with_failures().await;
        assert!(
            report.failures().is_empty() && report.campaigns_failed() == 0,
            "no campaign read failed: {:?}",
            report.failures()
        );
        report
    }

    /// [`TestApp::cycle`] for the fault tests, whose reads are meant to fail.
    pub async fn cycle_with_failures(&self) -> campaign_watcher::watcher::CycleReport {
        let (report, pending) = self
            .daemon
            .run_once(Duration::from_secs(5))
            .await
            .expect("cycle");
        assert_eq!(pending, 0, "every delivery of the cycle went out");
        report
    }

    /// Put every campaign in a known state (live, no upload errors) before a baseline.
    pub fn all_live(&self) {
        all_live(&self.sim);
    }

    pub fn id(&self, index: usize) -> String {
        self.sim.control.ids()[index].clone()
    }
}

/// A TOML config file for the real binary.
pub fn write_config(
    dir: &Path,
    sim_url: &str,
    campaigns: &[String],
    receiver_url: &str,
    extra: &str,
) -> PathBuf {
    let ids: Vec<String> = campaigns.iter().map(|id| format!("{id:?}")).collect();
    let text = format!(
        r#"[sigmamind]
base_url = "{sim_url}"
api_key = "{TEST_KEY}"
timeout = "2s"
max_retries = 1
retry_base = "10ms"
max_requests_per_second = 0

[watch]
campaigns = [{ids}]
interval = "1s"

[state]
url = "sqlite://{state}"

[http]
listen = "127.0.0.1:0"

[channels.hook]
kind = "webhook"
url = "{receiver_url}"
secret = "{TEST_SECRET}"
retry_initial_backoff = "100ms"
retry_max_backoff = "1s"
{extra}
"#,
        ids = ids.join(", "),
        state = dir.join("state.db").display(),
    );
    let path = dir.join("campaign-watcher.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Everything a test of the real binary needs: a simulator, a receiver, a state
/// directory and a config file (from [`write_config`]) pointing at them.
pub struct BinaryApp {
    pub sim: SimServer,
    pub receiver: Receiver,
    pub dir: TempDir,
    pub config: PathBuf,
}

impl BinaryApp {
    /// `extra` is appended to the config file (more channels, sections).
    pub async fn spawn(campaigns: usize, extra: &str) -> Self {
        let sim = spawn_sim(campaigns).await;
        let receiver = Receiver::spawn().await;
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(
            dir.path(),
            &sim.base_url(),
            &sim.control.ids(),
            &receiver.url(),
            extra,
        );
        Self {
            sim,
            receiver,
            dir,
            config,
        }
    }
}

/// What a finished command printed and how it ended.
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Run the real binary to completion (bounded), without inheriting the test's environment secrets.
pub async fn run_cli(args: &[&str], env: &[(&str, &str)]) -> Finished {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(args)
        .env_remove("SIGMAMIND_API_KEY")
        .env_remove("CAMPAIGN_WATCHER_CONFIG")
        .env_remove("NOTIFY_SOCKET")
        .env("RUST_LOG", "trace")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    finish(command).await
}

/// Runs `command` to its end (bounded) and keeps what it printed.
pub async fn finish(mut command: tokio::process::Command) -> Finished {
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the command finishes within 60 s")
        .expect("the binary starts");
    Finished {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A scratch PostgreSQL database holding the version-5 store of
/// `tests/fixtures/v5/postgres.sql`, for the upgrade tests.
pub async fn v5_postgres_store() -> campaign_watcher::commit::scratch::ScratchDatabase {
    use sqlx::Connection;
    let db = campaign_watcher::commit::scratch::ScratchDatabase::create().await;
    let dump = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/v5/postgres.sql"
    ))
    .unwrap();
    let mut connection = sqlx::PgConnection::connect(db.url()).await.unwrap();
    sqlx::raw_sql(&dump).execute(&mut connection).await.unwrap();
    connection.close().await.unwrap();
    db
}

/// `campaign-watcher run` as a child process with its output captured to files.
pub struct DaemonProcess {
    pub child: tokio::process::Child,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

pub fn spawn_daemon(config: &Path, dir: &Path) -> DaemonProcess {
    spawn_daemon_with(config, dir, "", &[])
}

/// [`spawn_daemon`] with extra environment; `tag` keeps each run's logs apart.
pub fn spawn_daemon_with(
    config: &Path,
    dir: &Path,
    tag: &str,
    env: &[(&str, &str)],
) -> DaemonProcess {
    let stdout = dir.join(format!("stdout{tag}.log"));
    let stderr = dir.join(format!("stderr{tag}.log"));
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(["--config", &config.display().to_string(), "run"])
        .env_remove("SIGMAMIND_API_KEY")
        // A test runner under systemd must not have its children talk to systemd.
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env("RUST_LOG", "debug");
    // After the defaults, so a test may ask for RUST_LOG=trace.
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    DaemonProcess {
        child,
        stdout,
        stderr,
    }
}

impl DaemonProcess {
    pub fn logs(&self) -> String {
        format!(
            "{}\n{}",
            std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }

    /// Send a signal (`-HUP`, `-TERM`) to the daemon.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("the daemon is running");
        let status = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// The address the daemon's HTTP server bound (it logs it at startup).
    pub async fn http_addr(&self) -> SocketAddr {
        let mut found = None;
        let logged = eventually(Duration::from_secs(15), || {
            found = self.logs().lines().find_map(|line| {
                let rest = line.split("http listening on ").nth(1)?;
                let addr = rest.split_whitespace().next()?;
                addr.trim_matches(|c: char| c == '"' || c == ',')
                    .parse()
                    .ok()
            });
            found.is_some()
        })
        .await;
        assert!(logged, "the daemon logs its http address: {}", self.logs());
        found.expect("checked above")
    }

    /// Send SIGTERM and wait (bounded) for the exit status.
    pub async fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let pid = self.child.id()? as i32;
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        tokio::time::timeout(within, self.child.wait())
            .await
            .ok()?
            .ok()
    }
}

/// A loopback port nothing listens on, for as long as the returned socket
/// lives: it is bound without listening, so a connection is refused and no
/// other socket can take the port meanwhile.
pub fn port_nothing_listens_on() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("a loopback port");
    let port = socket.local_addr().expect("a bound socket").port();
    (socket, port)
}

/// Poll `check` every 50 ms until it holds or `within` passes.
pub async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

/// How many cycles the daemon serving `addr` has finished (every result), from its `/metrics`.
pub async fn cycles_finished(addr: SocketAddr) -> u64 {
    let Ok(answer) = reqwest::get(format!("http://{addr}/metrics")).await else {
        return 0;
    };
    let text = answer.text().await.unwrap_or_default();
    text.lines()
        .filter(|line| line.starts_with("campaign_watcher_cycles_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Waits until the daemon serving `addr` has finished `count` more cycles than
/// now: what a test waits for before it says nothing more arrived.
pub async fn wait_cycles(addr: SocketAddr, count: u64) {
    let target = cycles_finished(addr).await + count;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let finished = cycles_finished(addr).await;
        if finished >= target {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the daemon on {addr} finished {count} more cycles (at {finished} of {target})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Make a state file look as if a newer campaign-watcher had migrated it.
pub async fn pretend_newer_schema(path: &Path) {
    run_sql(
        path,
        "INSERT INTO schema_version (version, applied_at) VALUES (999, 0)",
    )
    .await;
}

/// Every API request answers `status` until the faults are cleared.
fn every_request_answers(status: u16) -> campaign_watcher::sim::Fault {
    campaign_watcher::sim::Fault {
        kind: campaign_watcher::sim::FaultKind::Status {
            status,
            retry_after: None,
        },
        times: None,
        campaign: None,
    }
}

/// Every API request answers 503 until the faults are cleared.
pub fn outage() -> campaign_watcher::sim::Fault {
    every_request_answers(503)
}

/// The API rejects the key (401) until the faults are cleared.
pub fn key_rejected() -> campaign_watcher::sim::Fault {
    every_request_answers(401)
}

/// One statement on a SQLite state file, over a connection of its own.
pub async fn run_sql(path: &Path, sql: &str) {
    use sqlx::Connection;
    let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut connection).await.unwrap();
    connection.close().await.unwrap();
}

/// Campaign id → the `(from, to)` status transitions announced for it.
pub type Transitions = BTreeMap<String, Vec<(String, String)>>;

/// Flip the status of a campaign whose last change a cycle already committed
/// (starting the search at `round`), so that every change the simulator makes
/// is one the watcher can observe before the campaign changes again. Records
/// the flip in `sim_status` and `expected`.
pub async fn change_a_settled_campaign(
    round: usize,
    sim: &SimServer,
    state_url: &str,
    sim_status: &mut BTreeMap<String, &'static str>,
    expected: &mut Transitions,
) {
    let stored = campaign_watcher::commit::Store::open(state_url)
        .await
        .unwrap()
        .load_states()
        .await
        .unwrap();
    let ids: Vec<String> = sim_status.keys().cloned().collect();
    let settled = (0..ids.len())
        .map(|offset| ids[(round + offset) % ids.len()].clone())
        .find(|id| stored[id].snapshot.status.as_str() == sim_status[id]);
    if let Some(id) = settled {
        let from = sim_status[&id];
        let to = if from == "live" { "paused" } else { "live" };
        sim.control.set_status(&id, to);
        sim_status.insert(id.clone(), to);
        expected
            .entry(id)
            .or_default()
            .push((from.to_string(), to.to_string()));
    }
}

/// What `receiver` got, by `webhook-id` (each id matching its payload, each
/// redelivery carrying the same event), and the status transitions those
/// events announce, sorted per campaign.
pub fn delivered_transitions(
    receiver: &Receiver,
) -> (BTreeMap<String, serde_json::Value>, Transitions) {
    let mut by_id: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for request in receiver.received() {
        let body = request.json();
        let id = request.header("webhook-id").to_string();
        assert_eq!(body["id"], id.as_str());
        if let Some(first) = by_id.get(&id) {
            assert_eq!(first, &body, "a redelivery carries the same event");
        }
        by_id.insert(id, body);
    }
    let mut delivered = Transitions::new();
    for body in by_id.values() {
        assert_eq!(body["type"], "campaign.status_changed", "{body}");
        let campaign = &body["campaign"];
        delivered
            .entry(campaign["id"].as_str().unwrap().to_string())
            .or_default()
            .push((
                campaign["previous_status"].as_str().unwrap().to_string(),
                campaign["status"].as_str().unwrap().to_string(),
            ));
    }
    for transitions in delivered.values_mut() {
        transitions.sort();
    }
    (by_id, delivered)
}

/// An app whose only channel is `settings`, with one pending row (a pause)
/// committed but not sent, and a dispatcher over the same store.
pub async fn one_pending_row(
    settings: campaign_watcher::config::ChannelSettings,
) -> (TestApp, campaign_watcher::deliver::Dispatcher) {
    let app = TestApp::spawn_with(1, |all| {
        all.channels.clear();
        all.channels.insert("target".into(), settings);
    })
    .await;
    app.all_live();
    app.daemon.tick().await.unwrap();
    app.sim.control.set_status(&app.id(0), "paused");
    let report = app.daemon.tick().await.unwrap();
    assert_eq!(report.events.len(), 1);
    let channels = campaign_watcher::deliver::ChannelSet::build_for_instance(
        &app.settings.channels,
        &app.settings.instance_name(),
    )
    .unwrap();
    let dispatcher =
        campaign_watcher::deliver::Dispatcher::new(app.daemon.store().clone(), Arc::new(channels));
    (app, dispatcher)
}

/// Drains at `at` and returns (sent, retried, dead).
pub async fn drain_at(
    dispatcher: &campaign_watcher::deliver::Dispatcher,
    at: chrono::DateTime<chrono::Utc>,
) -> (u32, u32, u32) {
    let report = dispatcher.drain_due(at).await.unwrap();
    (report.sent, report.retried, report.dead)
}
