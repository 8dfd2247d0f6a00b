//! `[sigmamind.accounts.NAME]`: several SigmaMind accounts (workspaces) in one
//! watcher, each with its own key and its own watch selection.
//!
//! Without any account section the configuration is one account named
//! [`DEFAULT_ACCOUNT`] made of `[sigmamind]` and `[watch]`, exactly as before.
//! With accounts, each account's unset API settings come from `[sigmamind]` and
//! its unset selection settings from `[watch]`, except the key and the explicit
//! `campaigns`, which are never inherited (two accounts would otherwise watch
//! the same thing under two names). [`Settings::accounts`] is the one place that
//! resolves them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Settings, SigmaMindSettings, WatchSettings};
pub use crate::setting::account_pattern::check_account_pattern;
use crate::setting::secret::Secret;

use crate::event::DEFAULT_ACCOUNT;

/// Longest account name: it goes into event ids' inputs, incident keys, metric
/// labels and URL paths, so it stays short.
pub const MAX_ACCOUNT_NAME: usize = 32;

/// One `[sigmamind.accounts.NAME]` section as written; unset values inherit.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccountSettings {
    /// Never inherited from `[sigmamind]`: each account has its own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub connect_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_base: Option<Duration>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_max: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_bytes: Option<usize>,
    /// Never inherited from `[watch]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub campaigns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
    #[serde(
        default,
        deserialize_with = "super::optional_statuses_as_written",
        skip_serializing_if = "Option::is_none"
    )]
    pub statuses: Option<Vec<crate::observe::CampaignStatus>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_threshold: Option<usize>,
}

/// One account as the watcher uses it: every value resolved.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    /// Where problems with this account's API settings are reported:
    /// `sigmamind` for the default account, `sigmamind.accounts.NAME` otherwise.
    pub api_at: String,
    /// The same for its watch selection: `watch`, or `sigmamind.accounts.NAME`.
    pub watch_at: String,
    /// Its client settings (`accounts` always empty).
    pub api: SigmaMindSettings,
    /// Its selection, with the global schedule, `confirm_polls` and `unhealthy_after`.
    pub watch: WatchSettings,
}

impl Settings {
    /// The names of [`Settings::accounts`], in the same order.
    pub fn account_names(&self) -> Vec<String> {
        self.accounts()
            .into_iter()
            .map(|account| account.name)
            .collect()
    }

    /// Every account this configuration watches, sorted by name: the
    /// `[sigmamind.accounts.*]` sections, or the one account `default`.
    pub fn accounts(&self) -> Vec<Account> {
        if self.sigmamind.accounts.is_empty() {
            let mut api = self.sigmamind.clone();
            api.accounts.clear();
            return vec![Account {
                name: DEFAULT_ACCOUNT.to_string(),
                api_at: "sigmamind".to_string(),
                watch_at: "watch".to_string(),
                api,
                watch: self.watch.clone(),
            }];
        }
        self.sigmamind
            .accounts
            .iter()
            .map(|(name, own)| resolve(name, own, &self.sigmamind, &self.watch))
            .collect()
    }

    /// Whether the configuration names its accounts (channels then show them).
    pub fn has_named_accounts(&self) -> bool {
        !self.sigmamind.accounts.is_empty()
    }
}

fn resolve(
    name: &str,
    own: &AccountSettings,
    api: &SigmaMindSettings,
    watch: &WatchSettings,
) -> Account {
    let at = format!("sigmamind.accounts.{name}");
    Account {
        name: name.to_string(),
        api_at: at.clone(),
        watch_at: at,
        api: SigmaMindSettings {
            base_url: own.base_url.clone().unwrap_or_else(|| api.base_url.clone()),
            api_key: own.api_key.clone(),
            api_key_file: own.api_key_file.clone(),
            timeout: own.timeout.unwrap_or(api.timeout),
            connect_timeout: own.connect_timeout.unwrap_or(api.connect_timeout),
            max_in_flight: own.max_in_flight.unwrap_or(api.max_in_flight),
            max_requests_per_second: own
                .max_requests_per_second
                .unwrap_or(api.max_requests_per_second),
            max_retries: own.max_retries.unwrap_or(api.max_retries),
            retry_base: own.retry_base.unwrap_or(api.retry_base),
            retry_max: own.retry_max.unwrap_or(api.retry_max),
            max_response_bytes: own.max_response_bytes.unwrap_or(api.max_response_bytes),
            accounts: BTreeMap::new(),
        },
        watch: WatchSettings {
            campaigns: own.campaigns.clone(),
            all: own.all.unwrap_or(watch.all),
            statuses: own
                .statuses
                .clone()
                .unwrap_or_else(|| watch.statuses.clone()),
            include: own.include.clone().unwrap_or_else(|| watch.include.clone()),
            exclude: own.exclude.clone().unwrap_or_else(|| watch.exclude.clone()),
            page_size: own.page_size.unwrap_or(watch.page_size),
            list_threshold: own.list_threshold.unwrap_or(watch.list_threshold),
            ..watch.clone()
        },
    }
}

/// `None` when `name` may name an account; otherwise why not. Lower case
/// because environment overrides arrive lower-cased.
pub fn account_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("an account name is empty".to_string());
    }
    if name.len() > MAX_ACCOUNT_NAME {
        return Some(format!(
            "the account name is longer than {MAX_ACCOUNT_NAME} characters"
        ));
    }
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    (!first_ok || !rest_ok).then(|| {
        "an account name is lower-case letters, digits, '_' and '-', starting with a letter or digit"
            .to_string()
    })
}

#[cfg(test)]
mod tests;
