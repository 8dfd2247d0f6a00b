//! `check-config`: validate the configuration and print it with secrets redacted;
//! with `--online`, also ask the SigmaMind API once whether the key opens the account
//! (and, with `watch.all` on a budget the whole listing exceeds, once more how
//! many campaigns are live, to say how the budget will be spent).

use std::path::Path;

use clap::Args;

use super::failure::Failure;
use crate::config::{ConfigError, Settings};
use crate::fetch::lane::{self, Listing};
use crate::fetch::SigmaMindClient;

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// Also ask the SigmaMind API once whether the key opens the account (no state written, nothing sent).
    #[arg(long)]
    online: bool,
}

impl CheckConfigArgs {
    pub(super) async fn run(self, config: &Path) -> Result<(), Failure> {
        let Self { online } = self;
        let settings = match Settings::load(config) {
            Ok(settings) => settings,
            Err(problems) => {
                // The one warning that needs no settings: an override spelled
                // with single underscores is ignored, which may be the problem.
                for warning in crate::setting::suggest::misspelled_overrides(std::env::vars()) {
                    super::output::complain(&format!("warning: {warning}"));
                }
                return Err(problems.into());
            }
        };
        let validated = settings.validate();
        // Before the errors too: a warning may explain one (a misspelled
        // override, a key the file sets where it is ignored).
        for warning in settings.warnings() {
            super::output::complain(&format!("warning: {warning}"));
        }
        if let Err(problems) = validated {
            return Err(ConfigError::invalid(config.display().to_string(), problems).into());
        }
        let written = std::fs::read_to_string(config).unwrap_or_default();
        super::output::verbatim(&settings.to_redacted_toml_as_written(&written));
        if settings.has_named_accounts() {
            describe_accounts(&settings);
        }
        super::output::complain(&format!("{}: the configuration is valid", config.display()));
        if online {
            check_online(&settings).await?;
        }
        Ok(())
    }
}

/// What each account watches, one line each, so an operator sees the
/// inheritance from `[sigmamind]` and `[watch]` resolved.
fn describe_accounts(settings: &Settings) {
    for account in settings.accounts() {
        let watch = &account.watch;
        let selection = if watch.all {
            let mut text = "every campaign the key can list".to_string();
            if !watch.statuses.is_empty() {
                let statuses: Vec<&str> = watch.statuses.iter().map(|s| s.as_str()).collect();
                text.push_str(&format!(" in {}", statuses.join(", ")));
            }
            if !watch.campaigns.is_empty() {
                text.push_str(&format!(" and {} by id", watch.campaigns.len()));
            }
            text
        } else {
            format!("{} campaigns by id", watch.campaigns.len())
        };
        super::output::complain(&format!(
            "account {}: {selection} at {}, at most {} requests in flight and {} per second",
            account.name,
            origin(&account.api.base_url),
            account.api.max_in_flight,
            account.api.max_requests_per_second
        ));
    }
}

/// One request per account; no state is opened or written and nothing is sent.
/// Every account is asked even when one fails, and each answer is one line.
async fn check_online(settings: &Settings) -> Result<(), Failure> {
    let mut failed = Vec::new();
    for account in settings.accounts() {
        let Some(api_key) = account.api.api_key.clone() else {
            let env = if settings.has_named_accounts() {
                ""
            } else {
                " or SIGMAMIND_API_KEY"
            };
            return Err(Failure::usage(format!(
                "{}.api_key: no API key to check: set api_key, api_key_file{env}",
                account.api_at
            )));
        };
        let client = SigmaMindClient::new(&account.api, api_key)
            .map_err(|error| Failure::usage(error.to_string()))?
            .with_secrets(settings.secret_values());
        match client.check_access().await {
            Ok(count) => {
                let campaigns =
                    count.map_or(String::new(), |count| format!(" ({count} campaigns)"));
                super::output::complain(&format!(
                    "{}the SigmaMind API at {} accepts the key{campaigns}",
                    account_prefix(settings, &account.name),
                    origin(&account.api.base_url)
                ));
                if let (true, Some(total)) = (account.watch.all, count) {
                    describe_budget(settings, &account, &client, total).await;
                }
            }
            Err(error) => {
                if settings.has_named_accounts() {
                    super::output::complain(&format!("account {}: {error}", account.name));
                }
                failed.push(format!(
                    "{}{error}",
                    account_prefix(settings, &account.name)
                ));
            }
        }
    }
    match failed.as_slice() {
        [] => Ok(()),
        [only] => Err(Failure::runtime(format!(
            "the configuration is valid, but {only}"
        ))),
        many => Err(Failure::runtime(format!(
            "the configuration is valid, but {} accounts cannot be read: {}",
            many.len(),
            many.join("; ")
        ))),
    }
}

/// How the request budget will be spent (the live lane and the sweep, or a
/// whole listing each cycle), from one more request: how many are live.
async fn describe_budget(
    settings: &Settings,
    account: &crate::config::Account,
    client: &SigmaMindClient,
    total: u64,
) {
    let watch = &account.watch;
    let budget = lane::budget_per_cycle(
        account.api.max_requests_per_second,
        watch.effective_interval(),
    );
    let spent = match lane::choose_listing(watch.lanes, budget, total, watch.page_size) {
        Listing::Whole => lane::describe(watch.lanes, budget, total, 0, watch.page_size),
        Listing::LaneAndSweep => match client.count(Some("live")).await {
            Ok(Some(live)) => lane::describe(watch.lanes, budget, total, live, watch.page_size),
            Ok(None) => {
                "live lane and sweep (the API did not say how many campaigns are live)".into()
            }
            Err(error) => {
                format!("live lane and sweep (counting the live campaigns failed: {error})")
            }
        },
    };
    super::output::complain(&format!(
        "{}request budget: {spent}",
        account_prefix(settings, &account.name)
    ));
}

/// `account acme: ` with named accounts; nothing for the single default one,
/// whose lines stay as they were.
fn account_prefix(settings: &Settings, name: &str) -> String {
    if settings.has_named_accounts() {
        format!("account {name}: ")
    } else {
        String::new()
    }
}

/// Scheme, host and port of the base URL: never a path or credentials.
fn origin(base_url: &str) -> String {
    reqwest::Url::parse(base_url)
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_else(|_| "the configured base_url".into())
}
