//! Several SigmaMind accounts in one watcher (issue 18), with the real binary
//! and one simulator per account, each with its own key.

use std::net::SocketAddr;

use campaign_watcher::sim::{self, SimOptions, SimServer};

use crate::helpers::*;

const KEY_ACME: &str = "sk_live_ACME_RECOGNISABLE_1a2b";
const KEY_GLOBEX: &str = "sk_live_GLOBEX_RECOGNISABLE_3c4d";

async fn spawn_sim_with_key(campaigns: usize, key: &str) -> SimServer {
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

/// `[sigmamind.accounts.NAME]` for each (name, simulator, key): every campaign
/// of that simulator, by id.
fn accounts_toml(accounts: &[(&str, &SimServer, &str)]) -> String {
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
