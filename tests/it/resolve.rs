//! Every page resolves: an episode's end goes to every channel its start went
//! to, whatever the rules route, and says how long it lasted. On the real
//! binary, one `once` per step, with a loopback PagerDuty receiver.

use crate::helpers::{all_live, run_cli, BinaryApp, Received};

const ROUTING_KEY: &str = "R0UTINGKEY0123456789012345678901";

/// The operator's rule from the issue: pauses page, nothing else does.
fn pauses_page(pager_url: &str, quiet_url: &str) -> String {
    format!(
        r#"
[channels.pagerduty]
kind = "pagerduty"
routing_key = "{ROUTING_KEY}"
url = "{pager_url}"

[channels.quiet]
kind = "webhook"
url = "{quiet_url}"
send_resolved = false

[[rules]]
events = ["campaign.status_changed"]
transitions = ["*->paused"]
channels = ["pagerduty", "hook", "quiet"]
"#
    )
}

/// The board's address the messages link to (`[http] external_url`).
const BOARD: &str = "https://watcher.example.com";

async fn once(app: &BinaryApp) {
    let config = app.config.display().to_string();
    let board = [("CAMPAIGN_WATCHER__HTTP__EXTERNAL_URL", BOARD)];
    let out = run_cli(&["--config", &config, "once", "--wait", "20s"], &board).await;
    assert_eq!(out.code, Some(0), "{}", out.all_output());
}

fn json_of(received: &[Received]) -> Vec<serde_json::Value> {
    received.iter().map(Received::json).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_that_pages_resolves_its_incident_with_the_same_key() {
    let mut app = BinaryApp::spawn(1, "").await;
    let extra = pauses_page(
        &app.receiver.url_for("/pd"),
        &app.receiver.url_for("/quiet"),
    );
    app.config = crate::helpers::write_config(
        app.dir.path(),
        &app.sim.base_url(),
        &app.sim.control.ids(),
        &app.receiver.url(),
        &extra,
    );
    all_live(&app.sim);
    let id = app.sim.control.ids()[0].clone();
    once(&app).await; // the baseline

    app.sim.control.set_status(&id, "paused");
    once(&app).await;
    let pages = json_of(&app.receiver.received_at("/pd"));
    assert_eq!(pages.len(), 1, "{pages:?}");
    assert_eq!(pages[0]["event_action"], "trigger");
    let key = pages[0]["dedup_key"].as_str().unwrap().to_string();
    let pause = json_of(&app.receiver.received_at("/hook"));
    assert_eq!(pause.len(), 1);
    let incident = pause[0]["incident"].clone();
    assert!(
        incident["id"].as_str().unwrap().starts_with("inc_"),
        "{incident}"
    );
    assert!(incident["duration_seconds"].is_null());
    for later in ["acknowledged", "escalation", "storm"] {
        assert!(
            incident.get(later).is_some_and(serde_json::Value::is_null),
            "{incident}"
        );
    }
    assert_eq!(app.receiver.received_at("/quiet").len(), 1);
    // Links to the campaign's page on the board, computed as sent.
    let page = format!("{BOARD}/accounts/default/campaigns/{id}");
    assert_eq!(pause[0]["links"]["board"], page.as_str());
    assert_eq!(pages[0]["links"][0]["href"], page.as_str());

    // `incidents` lists it open, with every channel told.
    let config = app.config.display().to_string();
    let listed = run_cli(&["--config", &config, "incidents", "--json"], &[]).await;
    assert_eq!(listed.code, Some(0), "{}", listed.all_output());
    let open: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(open.as_array().unwrap().len(), 1, "{open}");
    assert_eq!(open[0]["id"], incident["id"]);
    assert_eq!(open[0]["subject"], id.as_str());
    assert_eq!(open[0]["condition"], "paused");
    assert_eq!(
        open[0]["channels_told"],
        serde_json::json!(["hook", "pagerduty", "quiet"])
    );
    assert!(open[0]["ended_at"].is_null());
    let lines = run_cli(&["--config", &config, "incidents"], &[]).await;
    let first = lines.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(incident["id"].as_str().unwrap()),
        "{}",
        lines.stdout
    );
    assert!(
        first.ends_with("told hook, pagerduty, quiet"),
        "{}",
        lines.stdout
    );
    assert!(lines.stdout.contains("1 open incident"), "{}", lines.stdout);

    // The resume: no rule routes it, yet it follows the pause.
    app.sim.control.set_status(&id, "live");
    once(&app).await;
    let listed = run_cli(&["--config", &config, "incidents"], &[]).await;
    assert!(
        listed.stdout.contains("no open incidents"),
        "{}",
        listed.all_output()
    );
    let all = run_cli(&["--config", &config, "incidents", "--all", "--json"], &[]).await;
    let ended: serde_json::Value = serde_json::from_str(&all.stdout).unwrap();
    assert_eq!(ended[0]["id"], incident["id"]);
    assert!(ended[0]["ended_at"].is_string(), "{ended}");
    let pages = json_of(&app.receiver.received_at("/pd"));
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!(pages[1]["event_action"], "resolve");
    assert_eq!(pages[1]["dedup_key"], key.as_str(), "the same incident");
    let hook = json_of(&app.receiver.received_at("/hook"));
    assert_eq!(
        hook.len(),
        2,
        "the webhook that got the pause gets the resume"
    );
    assert_eq!(hook[1]["type"], "campaign.status_changed");
    assert_eq!(hook[1]["incident"]["id"], incident["id"]);
    assert!(hook[1]["incident"]["duration_seconds"].as_i64().is_some());
    let summary = hook[1]["summary"].as_str().unwrap();
    assert!(summary.contains("live again after"), "{summary}");
    assert_eq!(
        app.receiver.received_at("/quiet").len(),
        1,
        "send_resolved = false: only the rules' rows"
    );
}

#[tokio::test]
async fn send_resolved_false_is_refused_on_the_incident_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        r#"
[channels.pager]
kind = "pagerduty"
routing_key = "{ROUTING_KEY}"
send_resolved = false

[channels.genie]
kind = "opsgenie"
api_key = "0123456789abcdef0123456789abcdef"
send_resolved = false

[channels.am]
kind = "alertmanager"
url = "http://127.0.0.1:9093"
send_resolved = false

[channels.fine]
kind = "webhook"
url = "http://127.0.0.1:9/fine"
send_resolved = false
"#
    );
    let config = crate::helpers::write_config(
        dir.path(),
        "http://127.0.0.1:9",
        &["camp_1".to_string()],
        "http://127.0.0.1:9/hook",
        &extra,
    );
    let out = run_cli(&["--config", config.to_str().unwrap(), "check-config"], &[]).await;
    assert_eq!(out.code, Some(2), "{}", out.all_output());
    let text = out.all_output();
    for kind in ["pagerduty", "opsgenie", "alertmanager"] {
        assert!(
            text.contains(&format!(
                "send_resolved: false is not supported for kind \"{kind}\""
            )),
            "{kind}: {text}"
        );
    }
    assert!(!text.contains("channels.fine.send_resolved"), "{text}");
}

/// A store written by the schema-version-5 release (tests/fixtures/v5) holds
/// a pause announced to `hook`, open when the upgrade runs: its resume, which
/// no rule routes, still reaches `hook`, carrying the episode the upgraded
/// store builds from the pause's outbox row.
async fn an_episode_open_before_the_upgrade_resolves_after_it(state_url: &str) {
    let sim = crate::helpers::spawn_sim(6).await;
    let first_live = sim
        .control
        .all_raw()
        .into_iter()
        .find(|campaign| campaign["campaignStatus"] == "live")
        .and_then(|campaign| campaign["campaignId"].as_str().map(str::to_string))
        .expect("the generated campaigns have a live one");
    // As the fixture's README says: the first live campaign was read as paused.
    sim.control.set_status(&first_live, "paused");
    let receiver = crate::helpers::Receiver::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("upgrade.toml");
    std::fs::write(
        &config,
        format!(
            "[sigmamind]\nbase_url = \"{}\"\napi_key = \"{}\"\nmax_retries = 0\n[watch]\nall = true\n[state]\nurl = \"{state_url}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[channels.hook]\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"{}\"\n[[rules]]\nevents = [\"campaign.status_changed\"]\ntransitions = [\"*->paused\"]\nchannels = [\"hook\"]\n",
            sim.base_url(),
            crate::helpers::TEST_KEY,
            receiver.url(),
            crate::helpers::TEST_SECRET,
        ),
    )
    .unwrap();
    let path = config.to_str().unwrap();
    // The fixture's pending pause row waits an hour for its retry; the resume
    // does not wait for it.
    sim.control.set_status(&first_live, "live");
    let out = run_cli(&["--config", path, "once", "--wait", "20s"], &[]).await;
    let resumes: Vec<serde_json::Value> = json_of(&receiver.received())
        .into_iter()
        .filter(|event| event["campaign"]["status"] == "live")
        .collect();
    assert_eq!(resumes.len(), 1, "{}", out.all_output());
    let incident = &resumes[0]["incident"];
    assert!(
        incident["id"].as_str().unwrap().starts_with("inc_"),
        "{incident}"
    );
    assert!(
        incident["duration_seconds"].as_i64().unwrap() > 0,
        "{incident}"
    );
    assert!(out
        .all_output()
        .contains("an episode open since before incidents were stored"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v5_sqlite_pause_resolves_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.db");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/v5/state.sqlite"
        ),
        &file,
    )
    .unwrap();
    an_episode_open_before_the_upgrade_resolves_after_it(&format!("sqlite://{}", file.display()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v5_postgres_pause_resolves_after_the_upgrade() {
    let db = crate::helpers::v5_postgres_store().await;
    an_episode_open_before_the_upgrade_resolves_after_it(db.url()).await;
}

/// One cycle resumes one campaign and pauses another: Slack's one message
/// for the cycle leads with the pause, in its notification text and body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grouped_cycle_leads_with_the_pause() {
    let mut app = BinaryApp::spawn(2, "").await;
    let slack = format!(
        "\n[channels.slack]\nkind = \"slack\"\nurl = \"{}\"\n",
        app.receiver.url_for("/services/T0/B0/SLACK")
    );
    app.config = crate::helpers::write_config(
        app.dir.path(),
        &app.sim.base_url(),
        &app.sim.control.ids(),
        &app.receiver.url(),
        &slack,
    );
    all_live(&app.sim);
    let ids = app.sim.control.ids();
    app.sim.control.set_status(&ids[0], "paused");
    once(&app).await; // the baseline: the first paused, the second live

    app.sim.control.set_status(&ids[0], "live");
    app.sim.control.set_status(&ids[1], "paused");
    once(&app).await;
    let messages = json_of(&app.receiver.received_at("/services/T0/B0/SLACK"));
    assert_eq!(messages.len(), 1, "one message for the cycle: {messages:?}");
    let text = messages[0]["text"].as_str().unwrap();
    let name = app.sim.control.raw(&ids[1]).unwrap()["campaignName"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| ids[1].clone());
    assert!(
        text.contains(&name) && text.ends_with(" paused, and 1 more change"),
        "{text}"
    );
    let body = serde_json::to_string(&messages[0]["blocks"]).unwrap();
    let at = |id: &str| body.find(id).unwrap_or(usize::MAX);
    assert!(at(&ids[1]) < at(&ids[0]), "the pause first: {body}");
}

#[tokio::test]
async fn a_misspelt_send_resolved_gets_a_did_you_mean() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::helpers::write_config(
        dir.path(),
        "http://127.0.0.1:9",
        &["camp_1".to_string()],
        "http://127.0.0.1:9/hook",
        "send_resolve = false\n",
    );
    let out = run_cli(&["--config", config.to_str().unwrap(), "check-config"], &[]).await;
    assert_eq!(out.code, Some(2), "{}", out.all_output());
    assert!(
        out.all_output().contains("send_resolved"),
        "{}",
        out.all_output()
    );
}
