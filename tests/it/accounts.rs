//! Several SigmaMind accounts in one watcher (issue 18), with the real binary
//! and one simulator per account, each with its own key.

use campaign_watcher::sim::SimServer;

use crate::helpers::*;

pub(crate) const KEY_ACME: &str = "sk_live_ACME_RECOGNISABLE_1a2b";
pub(crate) const KEY_GLOBEX: &str = "sk_live_GLOBEX_RECOGNISABLE_3c4d";

/// `[sigmamind.accounts.NAME]` for each (name, simulator, key): every campaign
/// of that simulator, by id.
pub(crate) fn accounts_toml(accounts: &[(&str, &SimServer, &str)]) -> String {
    let mut text = String::new();
    for (name, sim, key) in accounts {
        let ids: Vec<String> = sim
            .control
            .ids()
            .iter()
            .map(|id| format!("\"{id}\""))
            .collect();
        text.push_str(&format!(
            "[sigmamind.accounts.{name}]\nbase_url = \"{}\"\napi_key = \"{key}\"\ncampaigns = [{}]\nmax_retries = 0\n",
            sim.base_url(),
            ids.join(", ")
        ));
    }
    text
}

/// `check-config` says what each account watches; `--online` asks each account
/// once and names the one whose key is refused, never a key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_reports_each_account_and_online_asks_each_once() {
    let acme = spawn_sim_with_key(2, KEY_ACME).await;
    let globex = spawn_sim_with_key(3, KEY_GLOBEX).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("accounts.toml");
    std::fs::write(
        &config,
        accounts_toml(&[("acme", &acme, KEY_ACME), ("globex", &globex, KEY_GLOBEX)]),
    )
    .unwrap();
    let path = config.to_str().unwrap();

    let offline = run_cli(&["--config", path, "check-config"], &[]).await;
    assert_eq!(offline.code, Some(0), "{}", offline.stderr);
    assert!(
        offline.stderr.contains("account acme: 2 campaigns by id"),
        "{}",
        offline.stderr
    );
    assert!(
        offline.stderr.contains("account globex: 3 campaigns by id"),
        "{}",
        offline.stderr
    );
    assert!(
        offline.stdout.contains("[sigmamind.accounts.acme]"),
        "{}",
        offline.stdout
    );

    let good = run_cli(&["--config", path, "check-config", "--online"], &[]).await;
    assert_eq!(good.code, Some(0), "{}", good.stderr);
    for name in ["acme", "globex"] {
        assert!(
            good.stderr
                .contains(&format!("account {name}: the SigmaMind API at")),
            "{}",
            good.stderr
        );
    }
    let before = (acme.control.requests(), globex.control.requests());
    globex.control.inject(key_rejected());
    let rejected = run_cli(&["--config", path, "check-config", "--online"], &[]).await;
    assert_eq!(rejected.code, Some(1), "{}", rejected.stderr);
    assert!(
        rejected
            .stderr
            .contains("account acme: the SigmaMind API at"),
        "{}",
        rejected.stderr
    );
    let last = rejected.stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("account globex: ") && last.contains("rejected the API key (HTTP 401)"),
        "{last}"
    );
    assert_eq!(
        acme.control.requests() - before.0,
        1,
        "one request per account"
    );
    assert_eq!(
        globex.control.requests() - before.1,
        1,
        "one request per account"
    );
    for output in [
        offline.all_output(),
        good.all_output(),
        rejected.all_output(),
    ] {
        assert!(!output.contains(KEY_ACME) && !output.contains(KEY_GLOBEX));
    }
}

/// The fixture's pending outbox row: (event id, campaign id).
const PENDING_ROW: &str = "SELECT outbox.event_id, events.campaign_id FROM outbox
     JOIN events ON events.id = outbox.event_id WHERE outbox.status = 'pending'";

/// A store written by the schema-version-5 release (tests/fixtures/v5) is
/// migrated in place to the account `default`: its pending outbox row goes out
/// under its original event id, and nothing else is sent, on the first run or
/// the next.
async fn upgrade_from_v5(state_url: &str, sql: impl Fn(&'static str) -> SqlRun) {
    let sim = spawn_sim(6).await;
    // As the fixture's README says: the first live campaign was read as paused.
    let first_live = sim
        .control
        .all_raw()
        .into_iter()
        .find(|campaign| campaign["campaignStatus"] == "live")
        .and_then(|campaign| campaign["campaignId"].as_str().map(str::to_string))
        .expect("the generated campaigns have a live one");
    sim.control.set_status(&first_live, "paused");
    let receiver = Receiver::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let pending = sql(PENDING_ROW).rows().await;
    assert_eq!(pending.len(), 1, "the fixture holds one pending row");
    let (event_id, campaign_id) = (pending[0][0].clone(), pending[0][1].clone());
    assert_eq!(
        campaign_id, first_live,
        "the fixture and the simulator agree"
    );
    // Its retry was an hour away; the hour has passed.
    sql("UPDATE outbox SET next_attempt_at = 0 WHERE status = 'pending'")
        .execute()
        .await;

    let config = dir.path().join("upgrade.toml");
    std::fs::write(
        &config,
        format!(
            "[sigmamind]\nbase_url = \"{}\"\napi_key = \"{TEST_KEY}\"\nmax_retries = 0\n[watch]\nall = true\n[state]\nurl = \"{state_url}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[channels.hook]\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"{TEST_SECRET}\"\n",
            sim.base_url(),
            receiver.url()
        ),
    )
    .unwrap();
    let path = config.to_str().unwrap();
    let first = run_cli(&["--config", path, "once", "--wait", "10s"], &[]).await;
    assert_eq!(first.code, Some(0), "{}", first.all_output());
    let received = receiver.received();
    assert_eq!(
        received.len(),
        1,
        "only the pending row: {:?}",
        receiver.event_types()
    );
    assert_eq!(
        received[0].header("webhook-id"),
        event_id,
        "under its original id"
    );
    assert_eq!(received[0].json()["id"], event_id.as_str());
    assert_eq!(received[0].json()["type"], "campaign.status_changed");

    let versions = sql("SELECT CAST(MAX(version) AS TEXT) FROM schema_version")
        .rows()
        .await;
    assert!(versions[0][0].parse::<i64>().unwrap() > 5, "migrated");
    assert_eq!(
        sql("SELECT account, CAST(COUNT(*) AS TEXT) FROM campaign_state GROUP BY account")
            .rows()
            .await,
        [["default".to_string(), "6".to_string()]],
        "every campaign is the default account's"
    );
    let accounts = sql("SELECT DISTINCT account FROM events").rows().await;
    assert_eq!(accounts, [["default".to_string()]]);
    let silences = sql("SELECT CAST(COUNT(*) AS TEXT) FROM silences WHERE account IS NULL")
        .rows()
        .await;
    assert_eq!(
        silences,
        [["1".to_string()]],
        "the silence still matches every account"
    );

    let again = run_cli(&["--config", path, "once", "--wait", "10s"], &[]).await;
    assert_eq!(again.code, Some(0), "{}", again.all_output());
    assert_eq!(receiver.received().len(), 1, "nothing re-sent");
}

/// One statement on the test's store, SQLite or PostgreSQL; every column
/// selected is text (`CAST(... AS TEXT)`), so one reader serves both.
struct SqlRun {
    url: String,
    sql: &'static str,
}

impl SqlRun {
    async fn execute(self) {
        use sqlx::Connection;
        if self.url.starts_with("sqlite:") {
            let mut connection = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query(self.sql)
                .execute(&mut connection)
                .await
                .unwrap();
        } else {
            let mut connection = sqlx::PgConnection::connect(&self.url).await.unwrap();
            sqlx::query(self.sql)
                .execute(&mut connection)
                .await
                .unwrap();
        }
    }

    async fn rows(self) -> Vec<Vec<String>> {
        use sqlx::{Connection, Row};
        fn texts<R: Row>(row: &R) -> Vec<String>
        where
            for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
            usize: sqlx::ColumnIndex<R>,
        {
            (0..row.len()).map(|at| row.get::<String, _>(at)).collect()
        }
        if self.url.starts_with("sqlite:") {
            let mut connection = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            let rows = sqlx::query(self.sql)
                .fetch_all(&mut connection)
                .await
                .unwrap();
            rows.iter().map(texts).collect()
        } else {
            let mut connection = sqlx::PgConnection::connect(&self.url).await.unwrap();
            let rows = sqlx::query(self.sql)
                .fetch_all(&mut connection)
                .await
                .unwrap();
            rows.iter().map(texts).collect()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v5_sqlite_store_is_migrated_to_the_default_account_and_resends_nothing() {
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
    let url = format!("sqlite://{}", file.display());
    let for_sql = url.clone();
    upgrade_from_v5(&url, move |sql| SqlRun {
        url: for_sql.clone(),
        sql,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v5_postgres_store_is_migrated_to_the_default_account_and_resends_nothing() {
    let db = crate::helpers::v5_postgres_store().await;
    let url = db.url().to_string();
    upgrade_from_v5(&url, |sql| SqlRun {
        url: url.clone(),
        sql,
    })
    .await;
}

/// One account's watcher over its simulator, with its own client and its
/// account's view of `store`.
fn account_watcher(
    store: &campaign_watcher::commit::Store,
    account: &str,
    sim: &SimServer,
    key: &str,
) -> campaign_watcher::watcher::Watcher {
    use campaign_watcher::config::{SigmaMindSettings, WatchSettings};
    use campaign_watcher::setting::secret::Secret;
    let api = SigmaMindSettings {
        base_url: sim.base_url(),
        api_key: Some(Secret::new(key)),
        max_retries: 0,
        max_requests_per_second: 0.0,
        ..SigmaMindSettings::default()
    };
    let client = campaign_watcher::fetch::SigmaMindClient::new(&api, Secret::new(key)).unwrap();
    let watch = WatchSettings {
        campaigns: sim.control.ids(),
        unhealthy_after: 1,
        ..WatchSettings::default()
    };
    campaign_watcher::watcher::Watcher::new(
        client,
        store.for_account(account),
        campaign_watcher::route::Router::new(vec![], &[], &[]).unwrap(),
        watch,
        4,
        Default::default(),
    )
}

/// Two accounts with different keys and the same campaign ids, in one watcher:
/// each account's change is announced once under an id of its own; one
/// account's revoked key makes only that account unreadable (and unhealthy)
/// while the other's changes are still committed and announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_with_one_campaign_id_are_two_campaigns() {
    let acme = spawn_sim_with_key(2, KEY_ACME).await;
    let globex = spawn_sim_with_key(2, KEY_GLOBEX).await;
    all_live(&acme);
    all_live(&globex);
    let shared = acme.control.ids()[0].clone();
    assert_eq!(
        globex.control.ids()[0],
        shared,
        "one campaign id in both accounts"
    );
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("state.db").display());
    let store = campaign_watcher::commit::Store::open(&url).await.unwrap();
    let watcher = campaign_watcher::watcher::Watchers::new(vec![
        account_watcher(&store, "acme", &acme, KEY_ACME),
        account_watcher(&store, "globex", &globex, KEY_GLOBEX),
    ]);
    let now = chrono::Utc::now();

    let baseline = watcher.tick(now).await.unwrap();
    assert_eq!(
        baseline.campaigns_read(),
        4,
        "two campaigns in each account"
    );
    assert!(baseline.events.is_empty());

    acme.control.set_status(&shared, "paused");
    let first = watcher
        .tick(now + chrono::TimeDelta::seconds(60))
        .await
        .unwrap();
    assert_eq!(first.events.len(), 1, "{:?}", first.events);
    globex.control.set_status(&shared, "paused");
    let second = watcher
        .tick(now + chrono::TimeDelta::seconds(120))
        .await
        .unwrap();
    assert_eq!(
        second.events.len(),
        1,
        "globex's own pause, once: {:?}",
        second.events
    );
    assert_ne!(
        first.events[0].id, second.events[0].id,
        "two campaigns, two ids"
    );
    let quiet = watcher
        .tick(now + chrono::TimeDelta::seconds(180))
        .await
        .unwrap();
    assert!(quiet.events.is_empty(), "nothing announced twice");
    let by_account = SqlRun {
        url: url.clone(),
        sql: "SELECT account, id FROM events ORDER BY account",
    }
    .rows()
    .await;
    assert_eq!(
        by_account,
        [
            vec!["acme".to_string(), first.events[0].id.clone()],
            vec!["globex".to_string(), second.events[0].id.clone()]
        ]
    );

    globex.control.inject(key_rejected());
    acme.control.set_status(&shared, "completed");
    let revoked = watcher
        .tick(now + chrono::TimeDelta::seconds(240))
        .await
        .unwrap();
    let campaign_watcher::diff::CycleVerdict::Unreadable {
        reason,
        auth_rejected,
    } = revoked.verdict()
    else {
        panic!(
            "the revoked account makes the cycle unreadable: {:?}",
            revoked.verdict()
        );
    };
    assert!(reason.starts_with("account globex: "), "{reason}");
    assert!(!reason.contains("acme"), "{reason}");
    assert!(auth_rejected);
    let kinds: Vec<(&str, Option<&str>)> = revoked
        .events
        .iter()
        .map(|event| {
            (
                event.kind.as_str(),
                event
                    .campaign
                    .as_ref()
                    .map(|campaign| campaign.status.as_str()),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("campaign.status_changed", Some("completed"))),
        "acme still alerts: {kinds:?}"
    );
    assert!(
        kinds.contains(&("watcher.api_unhealthy", None)),
        "{kinds:?}"
    );
    let unhealthy = SqlRun {
        url: url.clone(),
        sql: "SELECT account FROM events WHERE type = 'watcher.api_unhealthy'",
    }
    .rows()
    .await;
    assert_eq!(
        unhealthy,
        [["globex".to_string()]],
        "only globex is unhealthy"
    );
}

/// The real binary with two accounts, one simulator each (one campaign id in
/// both), a webhook, PagerDuty (a local receiver) and a real Alertmanager:
/// each account's change is sent once under its own account and incident
/// keys; a silence of one account does not hold the same id in the other;
/// one account's revoked key makes only it unhealthy (named, ready still)
/// while the other's changes go on being sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_watches_two_accounts_apart_end_to_end() {
    use std::time::Duration;
    let acme = spawn_sim_with_key(2, KEY_ACME).await;
    let globex = spawn_sim_with_key(2, KEY_GLOBEX).await;
    all_live(&acme);
    all_live(&globex);
    let ids = acme.control.ids();
    let (shared, other) = (ids[0].clone(), ids[1].clone());
    assert_eq!(globex.control.ids(), ids, "the same campaign ids in both");
    let receiver = Receiver::spawn().await;
    let alertmanager = crate::alertmanager::AlertmanagerServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("campaign-watcher.toml");
    std::fs::write(
        &config,
        format!(
            r#"[sigmamind]
timeout = "2s"
max_requests_per_second = 0

{accounts}
[watch]
interval = "1s"
unhealthy_after = 2

[state]
url = "sqlite://{state}"

[http]
listen = "127.0.0.1:0"

[channels.hook]
kind = "webhook"
url = "{hook}"
secret = "{TEST_SECRET}"
retry_initial_backoff = "100ms"

[channels.pager]
kind = "pagerduty"
url = "{pager}"
routing_key = "rk_0123456789abcdef0123456789abcdef"
retry_initial_backoff = "100ms"

[channels.am]
kind = "alertmanager"
urls = ["{am}"]
resend_interval = "1s"

[[rules]]
events = ["campaign.status_changed"]
transitions = ["live->paused"]
channels = ["hook", "pager", "am"]

[[rules]]
events = ["watcher.api_unhealthy"]
accounts = ["glob*"]
channels = ["hook"]
"#,
            accounts = accounts_toml(&[("acme", &acme, KEY_ACME), ("globex", &globex, KEY_GLOBEX)]),
            state = dir.path().join("state.db").display(),
            hook = receiver.url(),
            pager = receiver.url_for("/pager"),
            am = alertmanager.base_url,
        ),
    )
    .unwrap();
    let config_arg = config.display().to_string();
    // A silence of globex's campaign, made before the daemon starts.
    let silenced = run_cli(
        &[
            "--config",
            &config_arg,
            "silence",
            "add",
            "--campaign",
            &shared,
            "--account",
            "globex",
            "--for",
            "1h",
            "--reason",
            "globex dialler maintenance",
            "--author",
            "ops",
        ],
        &[],
    )
    .await;
    assert_eq!(silenced.code, Some(0), "{}", silenced.all_output());
    assert!(
        silenced.stdout.contains("in account \"globex\""),
        "{}",
        silenced.stdout
    );
    let typo = run_cli(
        &[
            "--config",
            &config_arg,
            "silence",
            "add",
            "--campaign",
            &shared,
            "--account",
            "globx",
            "--for",
            "1h",
            "--reason",
            "typo",
        ],
        &[],
    )
    .await;
    assert_eq!(typo.code, Some(2), "{}", typo.all_output());
    assert!(
        typo.stderr.contains("did you mean \"globex\""),
        "{}",
        typo.stderr
    );

    let mut daemon = spawn_daemon(&config, dir.path());
    let http = daemon.http_addr().await;
    let client = reqwest::Client::new();
    let ready = || async {
        let answer = client
            .get(format!("http://{http}/readyz"))
            .send()
            .await
            .ok()?;
        Some((answer.status().as_u16(), answer.text().await.ok()?))
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut readiness = ready().await;
    while readiness.as_ref().map(|(status, _)| *status) != Some(200)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        readiness = ready().await;
    }
    let baseline = readiness.as_ref().map(|(status, _)| *status) == Some(200);
    assert!(
        baseline,
        "ready after the first cycle: {readiness:?} {}",
        daemon.logs()
    );

    // The same id paused in both accounts (globex's is silenced), and
    // globex's other campaign paused.
    acme.control.set_status(&shared, "paused");
    globex.control.set_status(&shared, "paused");
    globex.control.set_status(&other, "paused");
    let hook = |receiver: &Receiver| -> Vec<serde_json::Value> {
        receiver
            .received_at("/hook")
            .iter()
            .map(Received::json)
            .collect()
    };
    assert!(
        eventually(Duration::from_secs(20), || hook(&receiver).len() >= 2).await,
        "both accounts' pauses arrive: {:?} {}",
        hook(&receiver),
        daemon.logs()
    );
    crate::helpers::wait_cycles(http, 2).await;
    let sent = hook(&receiver);
    let mut seen: Vec<(String, String)> = sent
        .iter()
        .map(|event| {
            (
                event["account"].as_str().unwrap_or("?").to_string(),
                event["campaign"]["id"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("acme".to_string(), shared.clone()),
            ("globex".to_string(), other.clone())
        ],
        "each once, the silenced globex pause not at all: {sent:?}"
    );
    assert_ne!(sent[0]["id"], sent[1]["id"]);
    // PagerDuty: one incident per account and campaign, keyed apart.
    let dedup_keys: Vec<String> = receiver
        .received_at("/pager")
        .iter()
        .map(|message| {
            message.json()["dedup_key"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    let mut expected = vec![
        format!("campaign-watcher@acme/{shared}/paused"),
        format!("campaign-watcher@globex/{other}/paused"),
    ];
    expected.sort();
    let mut got = dedup_keys.clone();
    got.sort();
    got.dedup();
    assert_eq!(got, expected, "{dedup_keys:?}");
    // Alertmanager: the same campaign label with two accounts are two alerts.
    let wanted = [
        ("acme".to_string(), shared.clone()),
        ("globex".to_string(), other.clone()),
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let alerting = loop {
        let mut alerting = alertmanager
            .active_alerts()
            .await
            .iter()
            .map(|alert| {
                (
                    alert["labels"]["account"]
                        .as_str()
                        .unwrap_or("?")
                        .to_string(),
                    alert["labels"]["campaign_id"]
                        .as_str()
                        .unwrap_or("?")
                        .to_string(),
                )
            })
            .collect::<Vec<_>>();
        alerting.sort();
        if alerting == wanted || tokio::time::Instant::now() >= deadline {
            break alerting;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let both = alerting == wanted;
    assert!(both, "{alerting:?}");

    // globex's key is revoked: only globex turns unhealthy, acme still alerts.
    globex.control.inject(key_rejected());
    acme.control.set_status(&other, "paused");
    let unhealthy = |receiver: &Receiver| {
        hook(receiver)
            .into_iter()
            .filter(|event| event["type"] == "watcher.api_unhealthy")
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(Duration::from_secs(20), || !unhealthy(&receiver).is_empty()).await,
        "globex's outage is announced: {:?} {}",
        hook(&receiver),
        daemon.logs()
    );
    let outage = &unhealthy(&receiver)[0];
    assert_eq!(outage["account"], "globex", "{outage}");
    assert!(
        eventually(Duration::from_secs(20), || hook(&receiver).iter().any(
            |event| { event["account"] == "acme" && event["campaign"]["id"] == other.as_str() }
        ))
        .await,
        "acme's change is still sent while globex is unreadable: {:?}",
        hook(&receiver)
    );
    crate::helpers::wait_cycles(http, 2).await;
    assert_eq!(
        unhealthy(&receiver).len(),
        1,
        "one outage, one message, no acme outage"
    );
    let (status, body) = ready().await.expect("/readyz answers");
    assert_eq!(status, 200, "one readable account keeps it ready: {body}");
    assert!(body.contains("account globex"), "{body}");
    let metrics = client
        .get(format!("http://{http}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "campaign_watcher_campaigns{account=\"acme\",status=\"paused\"} 2",
        "campaign_watcher_campaigns{account=\"globex\",status=\"paused\"} 2",
        "campaign_watcher_api_requests_total{account=\"globex\",endpoint=\"get_campaign\",status_class=\"4xx\"}",
    ] {
        assert!(metrics.contains(series), "{series} missing from\n{metrics}");
    }
    // `status --account` shows one account, `status` both, apart.
    let status = run_cli(
        &[
            "--config",
            &config_arg,
            "status",
            "--account",
            "globex",
            "--json",
        ],
        &[],
    )
    .await;
    assert_eq!(status.code, Some(0), "{}", status.all_output());
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let accounts: Vec<&str> = status["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|campaign| campaign["account"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, ["globex", "globex"], "{status}");
    assert_eq!(status["accounts"][0]["unhealthy"], true, "{status}");
    let both = run_cli(&["--config", &config_arg, "status"], &[]).await;
    assert!(
        both.stdout.contains(&format!("acme/{shared}")),
        "{}",
        both.stdout
    );
    assert!(
        both.stdout.contains(&format!("globex/{shared}")),
        "{}",
        both.stdout
    );
    assert!(
        both.stdout.contains("api globex: UNHEALTHY"),
        "{}",
        both.stdout
    );
    let _ = daemon.terminate(Duration::from_secs(10)).await;
}

/// `state rename-account` beside a live `run` or `once` on the same SQLite
/// file would race its writes under the old name: it takes the state file's
/// lock as they do, and is refused while they hold it.
#[tokio::test]
async fn a_rename_is_refused_beside_a_live_watcher() {
    let dir = tempfile::tempdir().unwrap();
    let state_url = format!("sqlite://{}", dir.path().join("state.db").display());
    let config = dir.path().join("campaign-watcher.toml");
    std::fs::write(
        &config,
        format!(
            "[sigmamind]\napi_key = \"{TEST_KEY}\"\n[watch]\nall = true\n[state]\nurl = \"{state_url}\"\n"
        ),
    )
    .unwrap();
    let live = campaign_watcher::commit::StateLock::acquire(&state_url)
        .unwrap()
        .expect("a file store is locked");
    let path = config.to_str().unwrap();
    let refused = run_cli(
        &["--config", path, "state", "rename-account", "acme", "emea"],
        &[],
    )
    .await;
    assert_eq!(refused.code, Some(2), "{}", refused.all_output());
    assert!(
        refused.stderr.contains("stop it first") && refused.stderr.contains(".lock"),
        "{}",
        refused.stderr
    );
    drop(live);
    let unlocked = run_cli(
        &["--config", path, "state", "rename-account", "acme", "emea"],
        &[],
    )
    .await;
    assert!(
        !unlocked.stderr.contains("stop it first"),
        "{}",
        unlocked.stderr
    );
}
