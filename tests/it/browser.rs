//! The board in a real browser (issue 16, item 13): Debian's chromium driven
//! over WebDriver (W3C, spoken with reqwest: a handful of JSON requests)
//! against the real `run` binary watching the simulator. A missing chromium
//! or chromedriver fails the test.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::board::{Board, HOSTILE};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The paused badge's background in `board.css` (#d97706).
const PAUSED_RGB: [u8; 3] = [0xd9, 0x77, 0x06];

/// Marks the profile directory of every chromium a test starts, so one left
/// behind can be found (`scripts/stress-test` looks for it after each run).
pub const PROFILE_PREFIX: &str = "campaign-watcher-chromium-";

/// chromedriver and the chromium it starts, in a process group of their own.
/// Dropping it (a finished test or a panicking one) ends the WebDriver session
/// if it can and kills the group and every process that uses the profile.
struct Driver {
    process: tokio::process::Child,
    base: String,
    session: String,
    http: reqwest::Client,
    profile: tempfile::TempDir,
}

/// The port chromedriver reports once it listens (`--port=0` lets it pick).
async fn reported_port(log: &Path, process: &mut tokio::process::Child) -> u16 {
    const STARTED: &str = "was started successfully on port ";
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(port) = text.lines().find_map(|line| {
            let rest = line.split(STARTED).nth(1)?;
            rest.trim_end_matches('.').trim().parse().ok()
        }) {
            return port;
        }
        if let Some(status) = process.try_wait().unwrap() {
            panic!("chromedriver exited ({status}) before it listened: {text}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Driver {
    async fn start() -> Self {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: install Debian's chromium and chromium-driver (scripts/test does)"
            );
        }
        let profile = tempfile::Builder::new()
            .prefix(PROFILE_PREFIX)
            .tempdir()
            .unwrap();
        let log = profile.path().join("chromedriver.log");
        let mut process = tokio::process::Command::new(CHROMEDRIVER)
            .args(["--port=0", "--allowed-ips=127.0.0.1"])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::process::Stdio::null())
            // Chromium inherits the group, so one signal reaches them all.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let port = tokio::time::timeout(Duration::from_secs(60), reported_port(&log, &mut process))
            .await
            .expect("chromedriver reports its port");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        // The port is chromedriver's own: no other server can have it.
        let status: Value = http
            .get(format!("{base}/status"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            status["value"]["ready"], true,
            "chromedriver is ready: {status}"
        );
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1400,1000".into(),
            format!(
                "--user-data-dir={}",
                profile.path().join("chromium").display()
            ),
        ];
        let mut driver = Self {
            process,
            base,
            session: String::new(),
            http,
            profile,
        };
        let created: Value = driver
            .http
            .post(format!("{}/session", driver.base))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            }}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        driver.session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromium starts a session: {created}"))
            .to_string();
        driver
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap().json().await.unwrap()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn script(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await["value"]
            .clone()
    }

    /// The open alert's text, if a script opened one.
    async fn alert(&self) -> Option<String> {
        let answer = self.call(reqwest::Method::GET, "/alert/text", None).await;
        answer["value"].as_str().map(str::to_string)
    }

    async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let answer = self.call(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(answer["value"].as_str().expect("a screenshot"))
            .unwrap()
    }

    /// Ends the session; dropping the driver stops the processes.
    async fn quit(mut self) {
        self.call(reqwest::Method::DELETE, "", None).await;
        self.session.clear();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Best effort, blocking (no runtime in a destructor): a chromium whose
        // session ended leaves no lock in its profile.
        if !self.session.is_empty() {
            end_session(&self.base, &self.session);
        }
        if let Some(pid) = self.process.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(std::process::Stdio::null())
                .status();
        }
        let _ = self.process.start_kill();
        // A helper chromium moved to a group of its own still names the profile.
        for pid in processes_naming(self.profile.path()) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// `DELETE /session/{id}` over a plain socket, ignoring the answer and any failure.
fn end_session(base: &str, session: &str) {
    use std::io::{Read, Write};
    let Some(addr) = base.strip_prefix("http://") else {
        return;
    };
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let _ = stream.read_to_end(&mut Vec::new());
    }
}

/// Every process whose command line mentions `path`.
pub fn processes_naming(path: &Path) -> Vec<u32> {
    let needle = path.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|line| String::from_utf8_lossy(&line).contains(&needle))
        })
        .collect()
}

/// Whether the PNG has a pixel within a few steps of `rgb`.
fn shows_colour(png_bytes: &[u8], rgb: [u8; 3]) -> bool {
    let decoder = png::Decoder::new(png_bytes);
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let channels = frame.color_type.samples();
    assert!(channels >= 3, "an RGB screenshot");
    pixels[..frame.buffer_size()]
        .chunks(channels)
        .any(|p| p.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 6))
}

const BADGE: &str = "var row = document.querySelector('tr[data-campaign=\"' + arguments[0] + '\"] .badge'); return row ? row.textContent : null;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_in_chromium_lists_updates_live_and_shows_hostile_names_as_text() {
    let board = Board::start(3, "").await;
    let ids = board.app.sim.control.ids();
    let driver = Driver::start().await;
    driver.goto(&board.url("/")).await;
    // Every campaign with its status.
    for id in ids.iter().filter(|id| id.as_str() != "camp_hostile") {
        assert_eq!(driver.script(BADGE, json!([id])).await, "live", "{id}");
    }
    // The hostile name is text: no image element, no dialog, the name as written.
    let name = driver
        .script("return document.querySelector('tr[data-campaign=\"camp_hostile\"] td.name').textContent;", json!([]))
        .await;
    assert_eq!(name, HOSTILE);
    assert_eq!(
        driver
            .script("return document.querySelectorAll('img').length;", json!([]))
            .await,
        0
    );
    assert_eq!(driver.alert().await, None, "no alert dialog");
    // Live: the row changes without a reload (a value set on this window survives).
    driver.script("window.notReloaded = true;", json!([])).await;
    let paused = &ids[0];
    board.app.sim.control.set_status(paused, "paused");
    let mut badge = Value::Null;
    for _ in 0..300 {
        badge = driver.script(BADGE, json!([paused])).await;
        if badge == "paused" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(badge, "paused", "the open page shows the pause");
    assert_eq!(
        driver
            .script("return window.notReloaded === true;", json!([]))
            .await,
        true,
        "updated in place"
    );
    assert_eq!(
        driver
            .script(
                "return document.getElementById('live-state').textContent;",
                json!([])
            )
            .await,
        "live"
    );
    assert_eq!(driver.alert().await, None, "still no alert dialog");
    // The screenshot, kept under target/, shows the paused badge's colour.
    let png = driver.screenshot().await;
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("board-screenshot.png"), &png).unwrap();
    assert!(
        shows_colour(&png, PAUSED_RGB),
        "the screenshot shows the paused badge"
    );
    // The campaign's page, in the browser too: its upload-error rows as text.
    driver
        .goto(&board.url("/accounts/default/campaigns/camp_hostile"))
        .await;
    let rows = driver
        .script(
            "return document.querySelector('ol.rows').textContent;",
            json!([]),
        )
        .await;
    assert_eq!(rows, "row 2: <script>alert(2)</script>");
    assert_eq!(
        driver
            .script(
                "return document.querySelectorAll('main script, img').length;",
                json!([])
            )
            .await,
        0
    );
    assert_eq!(driver.alert().await, None);
    driver.quit().await;
}

/// Times read as how long ago, with the exact time on hover in the viewer's
/// own zone (Tokyo here: UTC+9 all year); the event as a word; a way back
/// from a campaign to the list; the silence form's accounts to choose from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_shows_times_in_the_viewers_zone_and_events_as_words() {
    let board = Board::start(2, "").await;
    let id = board.app.sim.control.ids()[0].clone();
    board.pause(&id).await;
    let driver = Driver::start().await;
    let zone = driver
        .call(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setTimezoneOverride", "params": {"timezoneId": "Asia/Tokyo"}})),
        )
        .await;
    assert!(zone.get("value").is_some_and(Value::is_object), "{zone}");
    driver
        .goto(&board.url(&format!("/accounts/default/campaigns/{id}")))
        .await;
    // The newest event is the pause; its time once the script has localised it.
    let read = "var t = document.querySelector('ol.events time'); \
                var w = document.querySelector('ol.events .type'); \
                return t && w && document.getElementById('live').getAttribute('data-times') === 'local' \
                  ? [t.title, t.textContent, w.textContent, w.title] : null;";
    let mut seen = Value::Null;
    for _ in 0..300 {
        seen = driver.script(read, json!([])).await;
        if !seen.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let [title, words, what, kind] =
        [0, 1, 2, 3].map(|i| seen[i].as_str().unwrap_or_default().to_string());
    assert!(
        title.contains("GMT+9"),
        "the exact time in the viewer's zone: {seen}"
    );
    assert!(!title.contains("UTC"), "{seen}");
    assert!(words == "just now" || words.ends_with(" ago"), "{seen}");
    assert_eq!(
        (what.as_str(), kind.as_str()),
        ("paused", "campaign.status_changed"),
        "{seen}"
    );
    // Back to the list.
    submit(
        &driver,
        "var a = document.getElementById('back-to-campaigns'); if (a) { a.click(); } return !!a;",
        json!([]),
        "the campaign page's link back",
    )
    .await;
    assert_eq!(wait_for(&driver, PATH, json!("/")).await, "/");
    driver.goto(&board.url("/silences")).await;
    let accounts = "var s = document.getElementById('silence-account'); \
                    return s && s.tagName === 'SELECT' ? Array.from(s.options).map(function (o) { return o.value; }) : null;";
    assert_eq!(
        wait_for(&driver, accounts, json!(["", "default"])).await,
        json!(["", "default"])
    );
    driver.quit().await;
}

#[test]
fn the_colour_check_can_fail() {
    // A 1x1 white PNG has no paused badge in it.
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, 1, 1);
        encoder.set_color(png::ColorType::Rgb);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&[255, 255, 255]).unwrap();
    }
    assert!(!shows_colour(&bytes, PAUSED_RGB));
    assert!(shows_colour(&bytes, [255, 255, 255]));
}

/// On an exposed listener with users: chromium is sent to the login form, a
/// read user who logs in gets the board, and a request without credentials
/// gets 401 from the API and a redirect to the login page from the board.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_user_logs_in_to_the_board_and_nobody_else_gets_in() {
    const PASSWORD: &str = "correct horse battery";
    let app = crate::helpers::BinaryApp::spawn(2, "").await;
    crate::helpers::all_live(&app.sim);
    let ids = app.sim.control.ids();
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    crate::access::expose(
        &app,
        "0.0.0.0:0",
        "",
        &format!("[http.users.viewer]\npassword_hash = \"{hash}\"\nrole = \"read\"\n"),
    );
    let mut daemon = crate::helpers::spawn_daemon(&app.config, app.dir.path());
    let base = crate::access::on_loopback(daemon.http_addr().await);

    // Without credentials: the API says 401, the board sends to the login form.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let api = plain
        .get(format!("{base}/api/v1/campaigns"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    let page = plain.get(format!("{base}/")).send().await.unwrap();
    assert!(page.status().is_redirection(), "{}", page.status());
    assert!(page.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login"));

    let driver = Driver::start().await;
    driver.goto(&format!("{base}/")).await;
    let path = "return window.location.pathname;";
    assert_eq!(driver.script(path, json!([])).await, "/login");
    // A wrong password keeps the form; the right one opens the board.
    let log_in = "document.getElementById('username').value = arguments[0]; \
                  document.getElementById('password').value = arguments[1]; \
                  document.querySelector('form').submit();";
    driver
        .script(log_in, json!(["viewer", "not the password"]))
        .await;
    // The refusal is a new page with the problem stated: wait for it, then
    // see where it is.
    let refused = "return document.querySelector('p[role=alert]') !== null;";
    assert_eq!(wait_for(&driver, refused, json!(true)).await, true);
    assert_eq!(driver.script(path, json!([])).await, "/login");
    driver.script(log_in, json!(["viewer", PASSWORD])).await;
    let mut badge = Value::Null;
    for _ in 0..100 {
        badge = driver.script(BADGE, json!([ids[0]])).await;
        if badge == "live" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shown = driver
        .script(
            "return window.location.pathname + ' ' + document.body.innerText;",
            json!([]),
        )
        .await;
    assert_eq!(
        badge,
        "live",
        "the read user sees the board: {shown}\n{}",
        daemon.logs()
    );
    let whoami = driver
        .script(
            "return fetch('/api/v1/whoami').then(function (r) { return r.json(); });",
            json!([]),
        )
        .await;
    assert_eq!(whoami["user"], "viewer", "{whoami}");
    assert_eq!(whoami["role"], "read", "{whoami}");
    driver.quit().await;
    daemon.terminate(Duration::from_secs(10)).await;
}

/// Polls `script` in the page until it returns `expected` (bounded); the last value.
async fn wait_for(driver: &Driver, script: &str, expected: Value) -> Value {
    let mut seen = Value::Null;
    for _ in 0..300 {
        seen = driver.script(script, json!([])).await;
        if seen == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

/// Runs `act`, a script that submits a form by clicking its button (filling
/// it first if need be) and returns whether it found the button, until the
/// page navigates. The board swaps its `<main>`, forms included, after every
/// commit; a submission whose form is swapped out before it goes is lost, and
/// only then is `act` run again (a marker on the page tells: a navigation
/// drops it). `what` names the button for the failure.
async fn submit(driver: &Driver, act: &str, args: Value, what: &str) {
    let act = format!("window.notNavigated = true; {act}");
    let navigated = "return window.notNavigated === undefined;";
    for _ in 0..5 {
        let clicked = driver.script(&act, args.clone()).await;
        assert_eq!(clicked, true, "the page has {what}");
        if wait_for(driver, navigated, json!(true)).await == true {
            return;
        }
    }
    let shown = driver
        .script(
            "return document.body ? document.body.innerText : '';",
            json!([]),
        )
        .await;
    panic!("{what} never submitted its form: {shown}");
}

/// How many webhooks the receiver got for one campaign, and their webhook ids.
fn webhooks_for(board: &Board, id: &str) -> Vec<String> {
    board
        .app
        .receiver
        .received()
        .iter()
        .filter(|r| r.json()["campaign"]["id"] == id)
        .map(|r| r.header("webhook-id").to_string())
        .collect()
}

async fn eventually_true(check: impl Fn() -> bool) -> bool {
    crate::helpers::eventually(Duration::from_secs(30), check).await
}

const PATH: &str = "return window.location.pathname;";

/// Issue 17 on the open loopback board (the admin is the local user): a
/// silence made through the form after its preview holds the campaign's next
/// change back; ended, the next change is sent; a dead delivery sent again
/// reaches the receiver with the same webhook id; the campaign's page says
/// who did what; a cross-site form's POST is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_silences_ends_and_replays_from_the_board() {
    let board = Board::start(2, "").await;
    let ids = board.app.sim.control.ids();
    let quiet = ids[0].clone();
    // Two events in the last 24 hours for the preview to count.
    board.pause(&quiet).await;
    assert!(eventually_true(|| webhooks_for(&board, &quiet).len() == 1).await);
    board.app.sim.control.set_status(&quiet, "live");
    assert!(eventually_true(|| webhooks_for(&board, &quiet).len() == 2).await);

    let driver = Driver::start().await;
    driver.goto(&board.url("/silences")).await;
    // While one types, the script shows the same preview in place. A live
    // update of the page replaces the form (and what was typed in it), so the
    // campaign is typed again whenever the field no longer holds it.
    let type_and_read = "var c = document.getElementById('silence-campaign'); \
         if (c && c.value !== arguments[0]) { c.value = arguments[0]; \
         c.dispatchEvent(new Event('input', {bubbles: true})); } \
         var out = document.getElementById('silence-live-preview'); return out ? out.textContent : null;";
    let wanted = "Matches 1 campaign now; would have held 2 events over the last 24 hours.";
    let mut preview = Value::Null;
    for _ in 0..300 {
        preview = driver.script(type_and_read, json!([quiet])).await;
        if preview == wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(preview, wanted);
    let fill = "document.getElementById('silence-campaign').value = arguments[0]; \
                document.getElementById('silence-duration').value = '1h'; \
                document.getElementById('silence-reason').value = arguments[1]; \
                document.getElementById('silence-preview').click(); return true;";
    submit(
        &driver,
        fill,
        json!([quiet, "carrier maintenance <b>tonight</b>"]),
        "the new-silence form's Preview",
    )
    .await;
    assert_eq!(
        wait_for(&driver, PATH, json!("/silences/new")).await,
        "/silences/new"
    );
    let count = "var c = document.getElementById('preview-campaigns'); var e = document.getElementById('preview-events'); \
                 return c && e ? c.textContent + ' ' + e.textContent : null;";
    assert_eq!(
        wait_for(&driver, count, json!("1 2")).await,
        "1 2",
        "the preview: one campaign now, two events in the last 24 h"
    );
    submit(
        &driver,
        "var b = document.getElementById('silence-create'); if (b) { b.click(); } return !!b;",
        json!([]),
        "the preview's Create silence",
    )
    .await;
    assert_eq!(
        wait_for(&driver, PATH, json!("/silences")).await,
        "/silences"
    );
    let row = "var r = document.querySelector('tr[data-silence] .badge'); return r ? r.textContent : null;";
    assert_eq!(wait_for(&driver, row, json!("in force")).await, "in force");
    let silences = board.json("/api/v1/silences").await;
    let made = &silences["silences"][0];
    assert_eq!(made["author"], "local", "{silences}");
    assert_eq!(made["reason"], "carrier maintenance <b>tonight</b>");
    assert_eq!(made["matcher"], quiet.as_str());

    // The silenced campaign's next change is kept, not sent; made after a
    // cycle that knew of the silence, never judged against the time before it.
    board
        .cycle_started_after(made["created_at"].as_str().unwrap())
        .await;
    board.app.sim.control.set_status(&quiet, "paused");
    let mut events = Value::Null;
    for _ in 0..300 {
        events = board.json("/api/v1/events").await;
        if events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["campaign"]["id"] == quiet.as_str() && !e["silenced_by"].is_null())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        events["events"][0]["silenced_by"].is_object(),
        "the change is kept, silenced: {events}"
    );
    board.cycles(2).await;
    assert_eq!(
        webhooks_for(&board, &quiet).len(),
        2,
        "the silenced change is not sent"
    );

    // Ended from the board, the next change is sent.
    driver.goto(&board.url("/silences")).await;
    submit(
        &driver,
        "var b = document.querySelector('button.end-silence'); if (b) { b.click(); } return !!b;",
        json!([]),
        "the silence's End now",
    )
    .await;
    assert_eq!(wait_for(&driver, row, json!("ended")).await, "ended");
    let ended = board.json("/api/v1/silences").await;
    let ended_at = ended["silences"][0]["expires_at"].as_str().unwrap();
    assert_eq!(ended["silences"][0]["active"], false, "{ended}");
    board.cycle_started_after(ended_at).await;
    board.app.sim.control.set_status(&quiet, "live");
    assert!(
        eventually_true(|| webhooks_for(&board, &quiet).len() == 3).await,
        "the change after the silence is sent: {}",
        board.daemon.logs()
    );

    // A dead delivery, sent again from its campaign's page: the same webhook id.
    let failing = ids[1].clone();
    board.app.receiver.answer_with(&[410]);
    board.pause(&failing).await;
    board
        .until(|status| status["outbox"]["dead"] == 1, "/api/v1/status")
        .await;
    driver
        .goto(&board.url(&format!("/accounts/default/campaigns/{failing}")))
        .await;
    submit(
        &driver,
        "var b = document.querySelector('button.replay'); if (b) { b.click(); } return !!b;",
        json!([]),
        "the dead delivery's Send again",
    )
    .await;
    let shown = driver
        .script(
            "return document.body ? document.body.innerText : '';",
            json!([]),
        )
        .await;
    assert!(
        eventually_true(|| webhooks_for(&board, &failing).len() == 2).await,
        "the replay is delivered (the page after the post: {shown}): {}",
        board.daemon.logs()
    );
    let sent = webhooks_for(&board, &failing);
    assert_eq!(sent[0], sent[1], "a replay keeps the webhook id");
    // The board shows the outcome when it comes, and who did what.
    let outcome =
        "var b = document.querySelector('ul.deliveries .badge'); return b ? b.textContent : null;";
    assert_eq!(wait_for(&driver, outcome, json!("sent")).await, "sent");
    driver
        .goto(&board.url(&format!("/accounts/default/campaigns/{failing}")))
        .await;
    let actions = "return Array.prototype.map.call(document.querySelectorAll('#audit li'), function (li) { return li.getAttribute('data-action'); }).join(' ');";
    assert_eq!(driver.script(actions, json!([])).await, "outbox.replay");
    driver
        .goto(&board.url(&format!("/accounts/default/campaigns/{quiet}")))
        .await;
    assert_eq!(
        driver.script(actions, json!([])).await,
        "silence.end silence.create"
    );
    assert_eq!(driver.alert().await, None, "the hostile reason stays text");

    // Another site's form posting to the board is refused, and makes nothing.
    let before = board.json("/api/v1/silences").await["silences"]
        .as_array()
        .unwrap()
        .len();
    let attack = format!(
        "data:text/html,<form method=post action='{}'><input name=campaign value='*'><input name=duration value=1h>\
         <input name=reason value=x><input name=confirm_all value=true></form><script>document.forms[0].submit()</script>",
        board.url("/silences")
    );
    driver.goto(&attack).await;
    let text = "return document.body ? document.body.innerText : '';";
    let mut refused = Value::Null;
    for _ in 0..100 {
        refused = driver.script(text, json!([])).await;
        if refused.as_str().is_some_and(|t| t.contains("another site")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        refused
            .as_str()
            .is_some_and(|t| t.contains("comes from another site")),
        "{refused}"
    );
    let after = board.json("/api/v1/silences").await["silences"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(after, before, "the cross-site POST made no silence");
    driver.quit().await;
}

/// Issue 17 with users: a read user who logs in sees no admin control (no
/// new-silence form, no "end now", no "send again" on a dead delivery), and
/// the admin API answers 403 to the read user and the read token; the admin
/// user and the admin token may use it, and their actions carry their names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_user_has_no_admin_controls_and_the_admin_api_refuses_read_callers() {
    const READ_PASSWORD: &str = "read-only horse battery";
    const ADMIN_PASSWORD: &str = "admin staple battery";
    const READ_TOKEN: &str = "tok_read_0f9e8d7c6b5a4f3e2d1c0b9a";
    const ADMIN_TOKEN: &str = "tok_admin_1a2b3c4d5e6f7a8b9c0d1e2f";
    let app = crate::helpers::BinaryApp::spawn(1, "").await;
    crate::helpers::all_live(&app.sim);
    let id = app.sim.control.ids()[0].clone();
    let read_token = app.dir.path().join("read-token");
    let admin_token = app.dir.path().join("admin-token");
    std::fs::write(&read_token, READ_TOKEN).unwrap();
    std::fs::write(&admin_token, ADMIN_TOKEN).unwrap();
    crate::access::expose(
        &app,
        "0.0.0.0:0",
        "",
        &format!(
            "[http.users.viewer]\npassword_hash = \"{}\"\nrole = \"read\"\n\
             [http.users.boss]\npassword_hash = \"{}\"\nrole = \"admin\"\n\
             [http.tokens.dash]\ntoken_file = \"{}\"\nrole = \"read\"\n\
             [http.tokens.deploy]\ntoken_file = \"{}\"\nrole = \"admin\"\n",
            bcrypt::hash(READ_PASSWORD, 4).unwrap(),
            bcrypt::hash(ADMIN_PASSWORD, 4).unwrap(),
            read_token.display(),
            admin_token.display()
        ),
    );
    // The campaign's first pause dies at the receiver: a dead delivery to offer.
    app.receiver.answer_with(&[410]);
    let mut daemon = crate::helpers::spawn_daemon(&app.config, app.dir.path());
    let base = crate::access::on_loopback(daemon.http_addr().await);
    let http = reqwest::Client::new();
    let status = |auth: Option<(&'static str, &'static str)>, bearer: Option<&'static str>| {
        let mut request = http.get(format!("{base}/api/v1/status"));
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let mut dead = false;
    for _ in 0..100 {
        let answer: Value = status(None, Some(READ_TOKEN))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if answer["last_cycle"].is_object() {
            app.sim.control.set_status(&id, "paused");
        }
        if answer["outbox"]["dead"] == 1 {
            dead = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(dead, "a dead delivery: {}", daemon.logs());

    let new_silence = json!({"campaign": id, "duration": "1h", "reason": "deploy window"});
    let post = |bearer: Option<&'static str>, basic: Option<(&'static str, &'static str)>| {
        let mut request = http
            .post(format!("{base}/api/v1/silences"))
            .json(&new_silence);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some((user, password)) = basic {
            request = request.basic_auth(user, Some(password));
        }
        request.send()
    };
    for (who, answer) in [
        ("read token", post(Some(READ_TOKEN), None).await.unwrap()),
        (
            "read user",
            post(None, Some(("viewer", READ_PASSWORD))).await.unwrap(),
        ),
    ] {
        assert_eq!(answer.status(), 403, "{who}");
        let body: Value = answer.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("admin role"),
            "{who}: {body}"
        );
    }
    let replay = http
        .post(format!("{base}/api/v1/outbox/1/replay"))
        .bearer_auth(READ_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 403);
    let end = http
        .delete(format!("{base}/api/v1/silences/1"))
        .basic_auth("viewer", Some(READ_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(end.status(), 403);
    assert!(
        http.get(format!("{base}/api/v1/silences"))
            .bearer_auth(READ_TOKEN)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["silences"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was made"
    );
    // Admins may: the token's silence carries its name, the user's its.
    let made = post(Some(ADMIN_TOKEN), None).await.unwrap();
    assert_eq!(made.status(), 201);
    let made: Value = made.json().await.unwrap();
    assert_eq!(made["author"], "token:deploy", "{made}");
    let ended = http
        .delete(format!("{base}/api/v1/silences/{}", made["id"]))
        .basic_auth("boss", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 200);
    let ended: Value = ended.json().await.unwrap();
    assert_eq!(ended["active"], false, "{ended}");

    // The read user's board: no controls anywhere.
    let driver = Driver::start().await;
    driver.goto(&format!("{base}/login")).await;
    driver
        .script(
            "document.getElementById('username').value = arguments[0]; \
             document.getElementById('password').value = arguments[1]; \
             document.querySelector('form').submit();",
            json!(["viewer", READ_PASSWORD]),
        )
        .await;
    assert_eq!(wait_for(&driver, PATH, json!("/")).await, "/");
    let controls = "return document.querySelectorAll('#silence-new, button.end-silence, button.replay, form[method=post]:not([action=\"/logout\"])').length;";
    let page_of = format!("{base}/accounts/default/campaigns/{id}");
    for page in [
        format!("{base}/silences"),
        format!("{base}/events"),
        page_of.clone(),
    ] {
        driver.goto(&page).await;
        let shown = driver
            .script("return document.querySelector('main') ? document.querySelector('main').innerText : '';", json!([]))
            .await;
        assert!(
            shown.as_str().is_some_and(|t| !t.contains("log in")),
            "{page}: {shown}"
        );
        assert_eq!(
            driver.script(controls, json!([])).await,
            0,
            "{page}: {shown}"
        );
    }
    // The dead delivery is shown to the read user, without the button.
    let outcome =
        "var b = document.querySelector('ul.deliveries .badge'); return b ? b.textContent : null;";
    assert_eq!(driver.script(outcome, json!([])).await, "dead");
    // The board's own form, posted by a read user's browser: 403 too.
    let forged = driver
        .script(
            "return fetch('/silences', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, \
             body: 'campaign=x&duration=1h&reason=y'}).then(function (r) { return r.status; });",
            json!([]),
        )
        .await;
    assert_eq!(
        forged, 403,
        "no CSRF token: refused before the role is even asked"
    );
    driver.quit().await;
    daemon.terminate(Duration::from_secs(10)).await;
}

/// A driver dropped mid-test, as a panicking test drops it, leaves no
/// chromedriver and no chromium behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_driver_leaves_no_browser_running() {
    let driver = Driver::start().await;
    driver.goto("about:blank").await;
    let profile = driver.profile.path().to_path_buf();
    let chromedriver = driver.process.id().expect("chromedriver runs");
    assert!(
        processes_naming(&profile).len() > 1,
        "chromium runs with the profile"
    );
    drop(driver);
    let gone = crate::helpers::eventually(Duration::from_secs(30), || {
        processes_naming(&profile).is_empty()
            && std::fs::read_to_string(format!("/proc/{chromedriver}/stat"))
                .map_or(true, |stat| stat.contains(") Z "))
    })
    .await;
    assert!(
        gone,
        "nothing of the browser is left: {:?}",
        processes_naming(&profile)
    );
}
