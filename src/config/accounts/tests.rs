//! Accounts: inheritance, names, keys, environment overrides, validation.

use std::time::Duration;

use super::*;
use crate::config::ConfigError;

fn load(toml: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    Settings::load_from_str_with_env(toml, "test.toml", env)
}

fn problems(settings: &Settings) -> Vec<String> {
    settings.validate().err().unwrap_or_default()
}

const TWO: &str = r#"
[sigmamind]
timeout = "7s"
max_in_flight = 3
[watch]
all = true
statuses = ["live"]
page_size = 50
confirm_polls = 2
[sigmamind.accounts.acme]
api_key = "key-acme"
max_in_flight = 9
[sigmamind.accounts.globex-eu]
api_key = "key-globex"
base_url = "http://127.0.0.1:9"
all = false
campaigns = ["camp_1"]
"#;

#[test]
fn account_names() {
    for good in ["default", "acme", "acme-eu", "client_7", "7eleven"] {
        assert_eq!(account_name_problem(good), None, "{good}");
    }
    let long = "a".repeat(MAX_ACCOUNT_NAME + 1);
    for bad in [
        "",
        "Acme",
        "-acme",
        "_x",
        "a.b",
        "a b",
        "a/b",
        "é",
        long.as_str(),
    ] {
        assert!(account_name_problem(bad).is_some(), "{bad:?}");
    }
}

#[test]
fn without_accounts_there_is_one_account_named_default_made_of_sigmamind_and_watch() {
    let settings = load(
        "[sigmamind]\napi_key = \"k\"\nmax_in_flight = 4\n[watch]\ncampaigns = [\"c\"]\n",
        &[],
    )
    .unwrap();
    let accounts = settings.accounts();
    assert_eq!(accounts.len(), 1);
    let only = &accounts[0];
    assert_eq!(only.name, DEFAULT_ACCOUNT);
    assert_eq!(
        (only.api_at.as_str(), only.watch_at.as_str()),
        ("sigmamind", "watch")
    );
    assert_eq!(only.api.api_key.as_ref().unwrap().expose(), "k");
    assert_eq!(only.api.max_in_flight, 4);
    assert_eq!(only.watch.campaigns, ["c"]);
    assert!(!settings.has_named_accounts());
    assert_eq!(problems(&settings), Vec::<String>::new());
}

#[test]
fn unset_account_values_inherit_from_sigmamind_and_watch_but_campaigns_and_keys_do_not() {
    let settings = load(TWO, &[("SIGMAMIND_API_KEY", "shared")]).unwrap();
    assert_eq!(problems(&settings), Vec::<String>::new());
    let accounts = settings.accounts();
    let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["acme", "globex-eu"]);
    let (acme, globex) = (&accounts[0], &accounts[1]);
    assert_eq!(acme.api.max_in_flight, 9, "its own value wins");
    assert_eq!(globex.api.max_in_flight, 3, "unset: from [sigmamind]");
    assert_eq!(acme.api.timeout, Duration::from_secs(7));
    assert_eq!(acme.api.base_url, "https://api.sigmamind.ai");
    assert_eq!(globex.api.base_url, "http://127.0.0.1:9");
    assert!(acme.watch.all, "unset: from [watch]");
    assert_eq!(acme.watch.statuses, [crate::observe::CampaignStatus::Live]);
    assert_eq!(acme.watch.page_size, 50);
    assert!(!globex.watch.all);
    assert_eq!(globex.watch.campaigns, ["camp_1"]);
    assert!(acme.watch.campaigns.is_empty());
    // The schedule and confirmation stay global.
    assert_eq!(globex.watch.confirm_polls, 2);
    // SIGMAMIND_API_KEY is not given to any account, nor to [sigmamind].
    assert!(settings.sigmamind.api_key.is_none());
    assert_eq!(acme.api.api_key.as_ref().unwrap().expose(), "key-acme");
    assert_eq!(settings.secret_values().len(), 2);
}

#[test]
fn account_keys_come_from_files_and_environment_overrides() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("acme_key"), "from-file\n").unwrap();
    let toml = format!(
        "[sigmamind.accounts.acme]\napi_key_file = \"{}\"\ncampaigns = [\"a\"]\n[sigmamind.accounts.globex-eu]\ncampaigns = [\"b\"]\n",
        dir.path().join("acme_key").display()
    );
    let settings = load(
        &toml,
        &[
            (
                "CAMPAIGN_WATCHER__SIGMAMIND__ACCOUNTS__GLOBEX_EU__API_KEY",
                "from-env",
            ),
            (
                "CAMPAIGN_WATCHER__SIGMAMIND__ACCOUNTS__GLOBEX_EU__CAMPAIGNS",
                "b, c",
            ),
        ],
    )
    .unwrap();
    let accounts = settings.accounts();
    assert_eq!(accounts.len(), 2, "the variable names the file's account");
    assert_eq!(
        accounts[0].api.api_key.as_ref().unwrap().expose(),
        "from-file"
    );
    assert_eq!(
        accounts[1].api.api_key.as_ref().unwrap().expose(),
        "from-env"
    );
    assert_eq!(accounts[1].watch.campaigns, ["b", "c"]);
    assert_eq!(problems(&settings), Vec::<String>::new());
}

#[test]
fn account_problems_name_the_account_section() {
    let toml = r#"
[sigmamind]
api_key = "top"
[watch]
campaigns = ["x"]
[sigmamind.accounts.Acme]
api_key = "a"
campaigns = ["c"]
[sigmamind.accounts.b]
max_in_flight = 0
page_size = 0
"#;
    let found = problems(&load(toml, &[]).unwrap());
    let expected_starts = [
        "sigmamind.api_key: with [sigmamind.accounts.*] each account has its own key",
        "watch.campaigns: with [sigmamind.accounts.*] each account lists its own campaigns",
        "sigmamind.accounts.Acme: an account name is lower-case",
        "sigmamind.accounts.b.api_key: no API key: set api_key, api_key_file",
        "sigmamind.accounts.b.max_in_flight: must be at least 1",
        "sigmamind.accounts.b.campaigns: nothing to watch",
        "sigmamind.accounts.b.page_size: 0 is outside",
    ];
    for start in expected_starts {
        assert!(
            found.iter().any(|problem| problem.starts_with(start)),
            "{start} in {found:#?}"
        );
    }
    assert!(
        !found.iter().any(|p| p.contains("SIGMAMIND_API_KEY")),
        "{found:#?}"
    );
    assert!(!found
        .iter()
        .any(|p| p.contains("\"top\"") || p.contains("\"a\"")));
}

#[test]
fn unknown_keys_in_an_account_are_named_with_their_path() {
    let toml =
        "[sigmamind.accounts.acme]\napi_key = \"k\"\ncampaigns = [\"c\"]\nintervall = \"5s\"\n";
    let Err(ConfigError::Invalid { problems, .. }) = load(toml, &[]) else {
        panic!("expected an unknown key");
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("unknown key \"sigmamind.accounts.acme.intervall\""),
        "{problems:?}"
    );
}

#[test]
fn two_accounts_with_one_key_are_a_warning_not_an_error() {
    let toml = "[sigmamind.accounts.a]\napi_key = \"same\"\ncampaigns = [\"c\"]\n[sigmamind.accounts.b]\napi_key = \"same\"\ncampaigns = [\"d\"]\n[sigmamind.accounts.c]\napi_key = \"other\"\ncampaigns = [\"e\"]\n";
    let settings = load(toml, &[]).unwrap();
    assert_eq!(problems(&settings), Vec::<String>::new());
    let shared: Vec<String> = settings
        .warnings()
        .into_iter()
        .filter(|warning| warning.contains("same API key"))
        .collect();
    assert_eq!(shared.len(), 1, "{shared:?}");
    assert!(
        shared[0].starts_with("sigmamind.accounts.b: has the same API key as sigmamind.accounts.a")
    );
    assert!(!shared[0].contains("same\""), "never the key itself");
}

#[test]
fn check_config_shows_accounts_with_keys_redacted() {
    let settings = load(TWO, &[]).unwrap();
    let shown = settings.to_redacted_toml();
    assert!(shown.contains("[sigmamind.accounts.acme]"), "{shown}");
    assert!(shown.contains("[sigmamind.accounts.globex-eu]"), "{shown}");
    assert!(
        !shown.contains("key-acme") && !shown.contains("key-globex"),
        "{shown}"
    );
    let again = Settings::load_from_str(&shown, "shown").unwrap();
    assert_eq!(again.accounts().len(), 2, "the output loads back");
}
