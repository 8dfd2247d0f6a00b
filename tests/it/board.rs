//! The board and the JSON API (issue 16) against the real `run` binary
//! watching the simulator: every API answer checked against
//! `docs/openapi.yaml`, schemathesis fuzzing the running daemon, no secret in
//! any page or answer, the board's pages, `demo` serving the board.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

/// A hostile campaign name: must show as text everywhere.
pub const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// The real daemon on a simulator with `campaigns` campaigns plus one named [`HOSTILE`].
pub struct Board {
    pub app: BinaryApp,
    pub daemon: DaemonProcess,
    pub addr: SocketAddr,
}

impl Board {
    pub async fn start(campaigns: usize, extra: &str) -> Self {
        let sim = spawn_sim(campaigns).await;
        all_live(&sim);
        sim.control.insert(json!({
            "campaignId": "camp_hostile",
            "campaignName": HOSTILE,
            "campaignStatus": "live",
            "errors": ["row 2: <script>alert(2)</script>"],
        }));
        let receiver = Receiver::spawn().await;
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(
            dir.path(),
            &sim.base_url(),
            &sim.control.ids(),
            &receiver.url(),
            extra,
        );
        let app = BinaryApp {
            sim,
            receiver,
            dir,
            config,
        };
        let daemon = spawn_daemon(&app.config, app.dir.path());
        let addr = daemon.http_addr().await;
        let board = Self { app, daemon, addr };
        board
            .until(|status| !status["last_cycle"].is_null(), "/api/v1/status")
            .await;
        board
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Status, content type and body of a GET.
    pub async fn get(&self, path: &str) -> (u16, String, String) {
        let answer = reqwest::get(self.url(path)).await.unwrap();
        let status = answer.status().as_u16();
        let kind = answer
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, kind, answer.text().await.unwrap())
    }

    pub async fn json(&self, path: &str) -> Value {
        let (status, kind, body) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(kind, "application/json", "{path}");
        serde_json::from_str(&body).unwrap()
    }

    /// Poll `path` until `check` holds of its JSON (bounded).
    pub async fn until(&self, check: impl Fn(&Value) -> bool, path: &str) -> Value {
        for _ in 0..300 {
            let (status, _, body) = self.get(path).await;
            if status == 200 {
                let value: Value = serde_json::from_str(&body).unwrap();
                if check(&value) {
                    return value;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{path} never reached the expected state: {}",
            self.daemon.logs()
        );
    }

    /// Pause a campaign in the simulator and wait until the store says so.
    /// Waits for a cycle that started after `at` to finish: one that saw
    /// whatever changed at `at` (a silence made or ended), since a cycle reads
    /// its clock before it fetches.
    pub async fn cycle_started_after(&self, at: &str) {
        let at = chrono::DateTime::parse_from_rfc3339(at).expect("an RFC 3339 time");
        self.until(
            |status| {
                status["last_cycle"]["started_at"]
                    .as_str()
                    .and_then(|started| chrono::DateTime::parse_from_rfc3339(started).ok())
                    .is_some_and(|started| started > at)
            },
            "/api/v1/status",
        )
        .await;
    }

    /// Waits until `count` more cycles than now have finished.
    pub async fn cycles(&self, count: usize) {
        for _ in 0..count {
            let status = self.json("/api/v1/status").await;
            let started = status["last_cycle"]["started_at"]
                .as_str()
                .expect("a cycle ran before")
                .to_string();
            self.cycle_started_after(&started).await;
        }
    }

    pub async fn pause(&self, id: &str) {
        self.app.sim.control.set_status(id, "paused");
        self.until(
            |list| {
                list["campaigns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["id"] == id)
            },
            "/api/v1/campaigns?status=paused",
        )
        .await;
    }
}

/// `docs/openapi.yaml` as JSON.
pub(crate) fn openapi() -> Value {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.yaml"))
            .unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// OpenAPI 3.0's `nullable: true` as JSON Schema's `null` alternative.
fn json_schema(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out: serde_json::Map<String, Value> = map
                .iter()
                .filter(|(key, _)| key.as_str() != "nullable")
                .map(|(key, value)| (key.clone(), json_schema(value)))
                .collect();
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::Array(values)) = out.get_mut("enum") {
                    values.push(Value::Null);
                }
                let inner = Value::Object(out);
                return json!({"anyOf": [inner, {"type": "null"}]});
            }
            // `format` is an annotation by default; make date-time an assertion.
            if out.get("format") == Some(&json!("date-time")) {
                out.insert(
                    "pattern".into(),
                    json!(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"),
                );
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(json_schema).collect()),
        other => other.clone(),
    }
}

/// The schema of `operation`'s answer with `status`, as a validator.
pub(crate) fn answer_validator(document: &Value, path: &str, status: u16) -> jsonschema::Validator {
    operation_validator(document, path, "get", status)
}

/// The schema of the answer with `status` to `method` on `path`, as a validator.
fn operation_validator(
    document: &Value,
    path: &str,
    method: &str,
    status: u16,
) -> jsonschema::Validator {
    let mut answer = &document["paths"][path][method]["responses"][status.to_string()];
    assert!(
        !answer.is_null(),
        "the document has no {status} answer to {method} {path}"
    );
    if let Some(reference) = answer["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        answer = &document["components"]["responses"][name];
    }
    let schema = &answer["content"]["application/json"]["schema"];
    let mut root = json_schema(schema);
    root.as_object_mut()
        .unwrap()
        .insert("components".into(), json_schema(&document["components"]));
    jsonschema::validator_for(&root).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_answer_matches_the_openapi_document() {
    let board = Board::start(4, "").await;
    let ids = board.app.sim.control.ids();
    board.pause(&ids[0]).await;
    let silence = run_cli(
        &[
            "--config",
            board.app.config.to_str().unwrap(),
            "silence",
            "add",
            "--campaign",
            &ids[1],
            "--for",
            "1h",
            "--reason",
            "maintenance",
            "--author",
            "dana",
        ],
        &[],
    )
    .await;
    assert_eq!(silence.code, Some(0), "{}", silence.all_output());
    board.app.sim.control.set_status(&ids[1], "completed");
    board
        .until(
            |list| list["events"].as_array().unwrap().len() >= 2,
            "/api/v1/events",
        )
        .await;
    let document = openapi();
    let one = |id: &str| format!("/api/v1/accounts/default/campaigns/{id}");
    let template = "/accounts/{account}/campaigns/{id}";
    let cases: Vec<(String, &str, u16)> = vec![
        ("/api/v1/status".into(), "/status", 200),
        ("/api/v1/campaigns".into(), "/campaigns", 200),
        (
            "/api/v1/campaigns?status=paused&per_page=1&page=1".into(),
            "/campaigns",
            200,
        ),
        (
            "/api/v1/campaigns?q=IMG&problems=true".into(),
            "/campaigns",
            200,
        ),
        ("/api/v1/campaigns?status=&q=".into(), "/campaigns", 200),
        ("/api/v1/campaigns?per_page=0".into(), "/campaigns", 400),
        ("/api/v1/campaigns?per_page=201".into(), "/campaigns", 400),
        ("/api/v1/campaigns?page=0".into(), "/campaigns", 400),
        (
            "/api/v1/campaigns?status=exploded".into(),
            "/campaigns",
            400,
        ),
        ("/api/v1/campaigns?problems=maybe".into(), "/campaigns", 400),
        ("/api/v1/campaigns?colour=red".into(), "/campaigns", 400),
        (one(&ids[0]), template, 200),
        (one("camp_hostile"), template, 200),
        (one("camp_nobody"), template, 404),
        (
            format!("/api/v1/accounts/other/campaigns/{}", ids[0]),
            template,
            404,
        ),
        ("/api/v1/events".into(), "/events", 200),
        (
            "/api/v1/events?type=campaign.status_changed&channel=hook&per_page=1".into(),
            "/events",
            200,
        ),
        (
            format!(
                "/api/v1/events?campaign={}&since=2020-01-01T00:00:00Z",
                ids[0]
            ),
            "/events",
            200,
        ),
        ("/api/v1/events?page=2&per_page=1".into(), "/events", 200),
        (
            "/api/v1/events?type=campaign.exploded".into(),
            "/events",
            400,
        ),
        ("/api/v1/events?since=yesterday".into(), "/events", 400),
        ("/api/v1/events?since=".into(), "/events", 400),
        ("/api/v1/silences".into(), "/silences", 200),
        ("/api/v1/silences?state=active".into(), "/silences", 200),
        ("/api/v1/silences?state=ended".into(), "/silences", 200),
        ("/api/v1/silences?state=forgotten".into(), "/silences", 400),
    ];
    for (url, operation, expected) in &cases {
        let (status, kind, body) = board.get(url).await;
        assert_eq!(status, *expected, "{url}: {body}");
        assert_eq!(kind, "application/json", "{url}");
        let value: Value = serde_json::from_str(&body).unwrap();
        let validator = answer_validator(&document, operation, status);
        let problems: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(
            problems.is_empty(),
            "{url} does not match the document: {problems:?}\n{body}"
        );
        if status >= 400 {
            let sentence = value["error"].as_str().unwrap();
            assert!(
                sentence.len() > 10 && !sentence.contains('\n'),
                "{url}: {sentence}"
            );
        }
    }
    // What the answers say, beyond their shape.
    let paused = board.json("/api/v1/campaigns?status=paused").await;
    assert_eq!(paused["total"], 1);
    assert_eq!(paused["campaigns"][0]["id"], ids[0].as_str());
    let status = board.json("/api/v1/status").await;
    assert_eq!(status["campaigns"]["by_status"]["paused"], 1);
    assert_eq!(status["role"], "leader");
    assert_eq!(status["silences_in_force"], 1);
    let campaign = board.json(&one(&ids[0])).await;
    let event = &campaign["events"][0];
    assert_eq!(event["type"], "campaign.status_changed");
    assert_eq!(event["deliveries"][0]["channel"], "hook");
    let silenced = board.json(&one(&ids[1])).await;
    assert_eq!(
        silenced["events"][0]["silenced_by"]["reason"],
        "maintenance"
    );
    // Silenced by whom: the author `silence add --author` gave.
    assert_eq!(silenced["events"][0]["silenced_by"]["author"], "dana");
    assert_eq!(silenced["events"][0]["deliveries"], json!([]));
    let silences = board.json("/api/v1/silences").await;
    assert_eq!(silences["silences"][0]["events_held"], 1);
    assert_eq!(silences["silences"][0]["author"], "dana");
    let hostile = board.json(&one("camp_hostile")).await;
    assert_eq!(hostile["campaign"]["name"], HOSTILE);
    assert_eq!(
        hostile["campaign"]["upload_errors"][0],
        "row 2: <script>alert(2)</script>"
    );
    // Unknown API paths and other methods answer JSON too.
    let (status, kind, body) = board.get("/api/v1/nothing").await;
    assert_eq!((status, kind.as_str()), (404, "application/json"), "{body}");
    let posted = reqwest::Client::new()
        .post(board.url("/api/v1/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 405);
    assert!(posted.text().await.unwrap().contains("\"error\""));
    // The document is served as shipped.
    let (status, _, served) = board.get("/api/v1/openapi.yaml").await;
    assert_eq!(status, 200);
    assert_eq!(
        served,
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.yaml"))
            .unwrap()
    );
}

#[test]
fn the_documented_event_types_are_every_type() {
    let document = openapi();
    let documented: Vec<String> = document["components"]["schemas"]["EventTypeFilter"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_string))
        .collect();
    let known: Vec<String> = campaign_watcher::event::EventType::ALL
        .iter()
        .map(|k| k.as_str().to_string())
        .collect();
    assert_eq!(documented, known);
}

/// schemathesis (from PyPI) fuzzes the running daemon against the document:
/// a few hundred requests, every check. Missing schemathesis fails the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_against_the_running_daemon() {
    let board = Board::start(3, "").await;
    board.pause(&board.app.sim.control.ids()[0]).await;
    schemathesis_finds_nothing(&board.url(""), board.app.dir.path()).await;
}

/// schemathesis over the API of the daemon at `base` (`http://ADDR`), run in `dir`.
pub(crate) async fn schemathesis_finds_nothing(base: &str, dir: &Path) {
    let settings = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/schemathesis.toml");
    let output = tokio::process::Command::new("schemathesis")
        .arg("--config-file")
        .arg(&settings)
        .args([
            "run",
            &format!("{base}/api/v1/openapi.yaml"),
            "--url",
            &format!("{base}/api/v1"),
            "--checks",
            "all",
            "--max-examples",
            "30",
            "--seed",
            "16",
            "--workers",
            "1",
            "--no-color",
        ])
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .current_dir(dir)
        .kill_on_drop(true)
        .output()
        .await
        .expect(
            "schemathesis is installed (pip install schemathesis; scripts/test and .ci/run do)",
        );
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{text}"
    );
    assert!(
        text.contains("generated"),
        "schemathesis ran test cases:\n{text}"
    );
}

/// Every secret the configuration holds, in recognisable form.
const SECRETS: [&str; 7] = [
    TEST_KEY,
    "RECOGNISABLE",
    "whsec_C2FVsBQIhrscChlQIMV",
    "SLACKTOKEN0x42",
    "R0UTINGKEY0123456789012345678901",
    "SMTPPASSWORD77",
    "HBSECRET42",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_any_page_or_answer() {
    let pings = Receiver::spawn().await;
    let extra = format!(
        r#"
[heartbeat]
url = "{ping}"

[channels.slack]
kind = "slack"
url = "{slack}"

[channels.pager]
kind = "pagerduty"
routing_key = "R0UTINGKEY0123456789012345678901"
url = "{pager}"

[channels.mail]
kind = "email"
smtp_url = "smtp://watcher:SMTPPASSWORD77@127.0.0.1:9/"
from = "Campaign Watcher <watcher@example.com>"
to = ["ops@example.com"]
"#,
        ping = pings.url_for("/ping/HBSECRET42"),
        slack = pings.url_for("/services/T000/B000/SLACKTOKEN0x42"),
        pager = pings.url_for("/pagerduty"),
    );
    let board = Board::start(3, &extra).await;
    let ids = board.app.sim.control.ids();
    board.pause(&ids[0]).await;
    // Let the failing email channel record an error with its address in it, if it would.
    board
        .until(
            |list| {
                list["events"][0]["deliveries"].as_array().is_some_and(|d| {
                    d.iter()
                        .any(|d| d["channel"] == "mail" && d["attempts"].as_u64() > Some(0))
                })
            },
            "/api/v1/events?type=campaign.status_changed",
        )
        .await;
    let mut paths = vec![
        "/".to_string(),
        "/?problems=true".into(),
        "/events".into(),
        "/silences".into(),
        "/assets/board.js".into(),
        "/assets/board.css".into(),
        "/api/v1/status".into(),
        "/api/v1/campaigns".into(),
        "/api/v1/events".into(),
        "/api/v1/silences".into(),
        "/api/v1/openapi.yaml".into(),
        "/metrics".into(),
    ];
    for channel in ["hook", "slack", "pager", "mail"] {
        paths.push(format!("/events?channel={channel}"));
        paths.push(format!("/api/v1/events?channel={channel}"));
    }
    for id in &ids {
        paths.push(format!("/accounts/default/campaigns/{id}"));
        paths.push(format!("/api/v1/accounts/default/campaigns/{id}"));
    }
    for path in &paths {
        let (status, _, body) = board.get(path).await;
        assert_eq!(status, 200, "{path}");
        for secret in SECRETS {
            assert!(!body.contains(secret), "{path} shows {secret}:\n{body}");
        }
        assert!(!body.contains("/ping/"), "{path} shows the heartbeat URL");
        assert!(
            !body.contains("/services/T000"),
            "{path} shows the Slack URL"
        );
    }
    assert!(
        !pings.received_at("/ping/HBSECRET42").is_empty(),
        "the heartbeat was configured and used"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_pages_show_campaigns_events_and_silences_without_javascript() {
    let board = Board::start(3, "").await;
    let ids = board.app.sim.control.ids();
    board.pause(&ids[0]).await;
    let (status, kind, home) = board.get("/").await;
    assert_eq!((status, kind.as_str()), (200, "text/html; charset=utf-8"));
    assert!(
        home.contains("status-paused\">paused</span>"),
        "a coloured badge with its text"
    );
    assert!(home.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!home.contains(HOSTILE));
    assert!(home.contains("<form class=\"filters\" method=\"get\" action=\"/\">"));
    assert!(home.contains("Needs a look"), "problems first");
    let (_, _, filtered) = board.get("/?status=paused").await;
    assert!(
        filtered.contains(&ids[0]) && !filtered.contains(&ids[1]),
        "{filtered}"
    );
    let (_, _, text) = board.get("/?q=onerror").await;
    assert!(text.contains("camp_hostile") && !text.contains(&ids[0]));
    let (_, _, page) = board
        .get(&format!("/accounts/default/campaigns/{}", ids[0]))
        .await;
    assert!(page.contains("live → paused"), "the timeline: {page}");
    // A way back to the list; the event as a word (its type on hover); a
    // time as how long ago, the exact one on hover; one attempt, singular.
    assert!(
        page.contains("<a href=\"/\" id=\"back-to-campaigns\">"),
        "{page}"
    );
    assert!(
        page.contains("<span class=\"type\" title=\"campaign.status_changed\">paused</span>"),
        "{page}"
    );
    assert!(page.contains("<time datetime=\""), "{page}");
    assert!(page.contains(" UTC\">"), "{page}");
    assert!(page.contains("(1 attempt)"), "{page}");
    assert!(
        page.contains("class=\"channel\">hook</span>"),
        "each channel's outcome: {page}"
    );
    let (_, _, hostile) = board.get("/accounts/default/campaigns/camp_hostile").await;
    assert!(
        hostile.contains("row 2: &lt;script&gt;alert(2)&lt;"),
        "the rows one click away: {hostile}"
    );
    assert!(!hostile.contains("<script>alert"));
    let (status, _, missing) = board.get("/accounts/default/campaigns/camp_nobody").await;
    assert_eq!(status, 404);
    assert!(missing.contains("no campaign"));
    let (_, _, events) = board
        .get("/events?type=campaign.status_changed&channel=hook")
        .await;
    assert!(events.contains(&ids[0]) || events.contains("campaign.status_changed"));
    let (status, _, bad) = board.get("/events?type=exploded").await;
    assert_eq!(status, 400, "{bad}");
    let (status, kind, nowhere) = board.get("/nowhere").await;
    assert_eq!((status, kind.as_str()), (404, "text/html; charset=utf-8"));
    assert!(nowhere.contains("no such page"));
    let (status, _, _) = board.get("/healthz").await;
    assert_eq!(status, 200, "the probes are untouched");
    let (_, _, silences) = board.get("/silences").await;
    assert!(silences.contains("No silence yet"));
    for page in [&home, &page, &events, &silences] {
        assert!(!page.contains("style="), "no inline style");
        assert!(!page.contains("<script>"), "no inline script");
    }
    let (_, css_kind, css) = board.get("/assets/board.css").await;
    assert_eq!(css_kind, "text/css; charset=utf-8");
    assert!(css.contains(".badge.status-paused"));
    let (_, js_kind, _) = board.get("/assets/board.js").await;
    assert_eq!(js_kind, "text/javascript; charset=utf-8");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_stream_announces_a_commit() {
    let board = Board::start(2, "").await;
    let mut answer = reqwest::get(board.url("/board/live")).await.unwrap();
    assert_eq!(answer.headers()["content-type"], "text/event-stream");
    board
        .app
        .sim
        .control
        .set_status(&board.app.sim.control.ids()[0], "paused");
    let mut seen = String::new();
    while !seen.contains("event: commit") {
        let chunk = tokio::time::timeout(Duration::from_secs(30), answer.chunk())
            .await
            .expect("a commit arrives")
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_prints_the_boards_address_and_serves_it() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(BIN)
        .args([
            "--config",
            dir.path().join("none.toml").to_str().unwrap(),
            "demo",
            "--duration",
            "20s",
            "--step",
            "1s",
        ])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("demo prints the board's address");
        if let Some(rest) = line.split("The board: ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let mut page = String::new();
    for _ in 0..100 {
        if let Ok(answer) = reqwest::get(&url).await {
            page = answer.text().await.unwrap();
            if page.contains("campaigns") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        page.contains("<table class=\"campaigns\">"),
        "{url}: {page}"
    );
    let _ = child.kill().await;
}

/// A standby replica on a shared PostgreSQL store serves the same board from
/// the store and stays live from the leader's commits (it never polls the API).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_on_shared_postgres_serves_the_board_and_stays_live() {
    let db = campaign_watcher::commit::scratch::ScratchDatabase::create().await;
    let app = BinaryApp::spawn(2, "").await;
    all_live(&app.sim);
    let text = std::fs::read_to_string(&app.config).unwrap();
    let sqlite_line = format!(
        "url = \"sqlite://{}\"",
        app.dir.path().join("state.db").display()
    );
    assert!(text.contains(&sqlite_line));
    std::fs::write(
        &app.config,
        text.replace(
            &sqlite_line,
            &format!("url = \"{}\"\nlease_ttl = \"3s\"", db.url()),
        ),
    )
    .unwrap();
    let first = spawn_daemon_with(&app.config, app.dir.path(), "-a", &[]);
    let second = spawn_daemon_with(&app.config, app.dir.path(), "-b", &[]);
    let addrs = [first.http_addr().await, second.http_addr().await];
    let role = |addr: SocketAddr| async move {
        let answer = reqwest::get(format!("http://{addr}/api/v1/status"))
            .await
            .ok()?;
        let status: Value = answer.json().await.ok()?;
        status["role"].as_str().map(str::to_string)
    };
    let mut standby = None;
    for _ in 0..300 {
        let roles = [role(addrs[0]).await, role(addrs[1]).await];
        if roles.contains(&Some("leader".into())) {
            standby = roles.iter().position(|r| r.as_deref() == Some("standby"));
            if standby.is_some() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let standby = addrs[standby.expect("one leader and one standby")];
    let mut stream = reqwest::get(format!("http://{standby}/board/live"))
        .await
        .unwrap();
    let id = &app.sim.control.ids()[0];
    app.sim.control.set_status(id, "paused");
    let mut paused = false;
    for _ in 0..60 {
        let chunk = tokio::time::timeout(Duration::from_secs(30), stream.chunk())
            .await
            .expect("the standby's stream announces the leader's commits")
            .unwrap()
            .expect("the stream stays open");
        if String::from_utf8_lossy(&chunk).contains("event: commit") {
            let list: Value =
                reqwest::get(format!("http://{standby}/api/v1/campaigns?status=paused"))
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
            if list["campaigns"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["id"] == id.as_str())
            {
                paused = true;
                break;
            }
        }
    }
    assert!(paused, "the standby's board shows the pause");
    let page = reqwest::get(format!("http://{standby}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("role-standby\">standby</span>"),
        "the standby says so"
    );
    drop((first, second));
}

/// The admin API (issue 17) on the open loopback listener, as a local script
/// calls it: every answer as documented, one sentence per problem, a silence
/// of everything only when confirmed, a foreign Origin refused, and each
/// action in the audit log that `history --audit --json` prints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_previews_makes_ends_and_replays_as_documented() {
    let board = Board::start(2, "").await;
    let ids = board.app.sim.control.ids();
    board.pause(&ids[0]).await;
    board
        .until(|status| status["outbox"]["sent"] == 1, "/api/v1/status")
        .await;
    let document = openapi();
    let http = reqwest::Client::new();
    let check = |path: &str, method: &str, status: u16, body: &Value| {
        let validator = operation_validator(&document, path, method, status);
        assert!(validator.is_valid(body), "{method} {path} {status}: {body}");
    };
    async fn answer(response: reqwest::Response) -> (u16, Value) {
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    let (status, preview) = answer(
        http.get(board.url(&format!("/api/v1/silences/preview?campaign={}", ids[0])))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    check("/silences/preview", "get", 200, &preview);
    assert_eq!(preview["campaigns"][0]["id"], ids[0].as_str());
    assert_eq!(preview["events_last_24h"], 1);
    assert_eq!(preview["matches_every_campaign"], false);

    let post = |body: Value| http.post(board.url("/api/v1/silences")).json(&body).send();
    let (status, wrong) = answer(
        post(json!({"campaign": "camp_[", "duration": "soon", "reason": " ", "event_type": "campaign.paused"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    check("/silences", "post", 400, &wrong);
    let sentence = wrong["error"].as_str().unwrap();
    for part in [
        "campaign \"camp_[\" is not a valid glob",
        "event_type \"campaign.paused\" is not an event type",
        "duration \"soon\" is not a duration",
        "reason is empty",
    ] {
        assert!(sentence.contains(part), "{part}: {sentence}");
    }
    let (status, other) = answer(
        post(json!({"campaign": "x", "duration": "1h", "reason": "r", "account": "emea"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        other["error"]
            .as_str()
            .unwrap()
            .contains("account \"emea\" is not a configured account"),
        "{other}"
    );
    let everything = json!({"campaign": "*", "duration": "1h", "reason": "all hands"});
    let (status, unconfirmed) = answer(post(everything.clone()).await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(
        unconfirmed["error"]
            .as_str()
            .unwrap()
            .contains("confirm_all"),
        "{unconfirmed}"
    );
    let mut confirmed = everything.clone();
    confirmed["confirm_all"] = json!(true);
    let (status, made) = answer(post(confirmed).await.unwrap()).await;
    assert_eq!(status, 201, "{made}");
    check("/silences", "post", 201, &made);
    assert_eq!(made["author"], "local");
    assert_eq!(made["active"], true);
    // Not JSON, or an unknown field: a 400 with a sentence too.
    let (status, _) = answer(
        http.post(board.url("/api/v1/silences"))
            .body("campaign=x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = answer(
        post(json!({"campaign": "x", "duration": "1h", "reason": "r", "colour": 1}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);

    // A browser page of another site is refused, whatever it sends.
    let foreign = http
        .post(board.url("/api/v1/silences"))
        .header("origin", "https://evil.example")
        .json(&json!({"campaign": "x", "duration": "1h", "reason": "r"}))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);

    let id = made["id"].as_i64().unwrap();
    let end = |path: String| http.delete(board.url(&path)).send();
    let (status, ended) = answer(end(format!("/api/v1/silences/{id}")).await.unwrap()).await;
    assert_eq!(status, 200, "{ended}");
    check("/silences/{id}", "delete", 200, &ended);
    assert_eq!(ended["active"], false);
    let (status, missing) = answer(end("/api/v1/silences/999".into()).await.unwrap()).await;
    assert_eq!(status, 404);
    check("/silences/{id}", "delete", 404, &missing);
    let (status, _) = answer(end("/api/v1/silences/abc".into()).await.unwrap()).await;
    assert_eq!(status, 400);

    let replay = |id: i64| {
        http.post(board.url(&format!("/api/v1/outbox/{id}/replay")))
            .send()
    };
    let (status, sent) = answer(replay(1).await.unwrap()).await;
    assert_eq!(status, 409, "{sent}");
    check("/outbox/{id}/replay", "post", 409, &sent);
    assert!(
        sent["error"]
            .as_str()
            .unwrap()
            .contains("is sent, not dead"),
        "{sent}"
    );
    let (status, _) = answer(replay(999).await.unwrap()).await;
    assert_eq!(status, 404);

    let audit = run_cli(
        &[
            "--config",
            board.app.config.to_str().unwrap(),
            "history",
            "--audit",
            "--json",
        ],
        &[],
    )
    .await;
    assert_eq!(audit.code, Some(0), "{}", audit.all_output());
    let records: Value = serde_json::from_str(&audit.stdout).unwrap();
    let seen: Vec<(String, String, String)> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_string(),
                r["actor"].as_str().unwrap().to_string(),
                r["via"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let local = |action: &str| (action.to_string(), "local".to_string(), "api".to_string());
    assert_eq!(seen, [local("silence.end"), local("silence.create")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_ten_thousand_silences_in_force_the_cli_the_api_and_the_board_refuse_another() {
    const REFUSAL: &str = "10000 silences are already in force or yet to start";
    let board = Board::start(2, "").await;
    let id = board.app.sim.control.ids()[0].clone();
    let state = board.app.dir.path().join("state.db");
    crate::helpers::run_sql(
        &state,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
         INSERT INTO silences (campaign, event_type, reason, author, created_at, expires_at, account)
         SELECT 'camp_' || i || '_*', NULL, 'load', 'ops', 0, 4102444800000, NULL FROM n",
    )
    .await;

    let config = board.app.config.to_str().unwrap();
    let cli = crate::helpers::run_cli(
        &[
            "--config",
            config,
            "silence",
            "add",
            "--campaign",
            &id,
            "--for",
            "1h",
            "--reason",
            "one more",
        ],
        &[],
    )
    .await;
    assert_ne!(cli.code, Some(0), "{}", cli.all_output());
    assert!(cli.stderr.contains(REFUSAL), "{}", cli.all_output());

    let http = reqwest::Client::new();
    let api = || {
        http.post(board.url("/api/v1/silences"))
            .json(&json!({"campaign": id, "duration": "1h", "reason": "one more"}))
            .send()
    };
    let refused = api().await.unwrap();
    assert_eq!(refused.status(), 409);
    let body: Value = refused.json().await.unwrap();
    assert!(body.to_string().contains(REFUSAL), "{body}");

    // The board's own form, as a script (no browser, so no CSRF token) posts it.
    let form = http
        .post(board.url("/silences"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("campaign={id}&duration=1h&reason=one+more"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 409);
    let page = form.text().await.unwrap();
    assert!(page.contains(REFUSAL), "{page}");

    // One ended: room for one more.
    crate::helpers::run_sql(&state, "UPDATE silences SET expires_at = 1 WHERE id = 1").await;
    assert_eq!(api().await.unwrap().status(), 201);
    assert_eq!(api().await.unwrap().status(), 409);
}
