//! What one cycle saw and did: a report per account, in configuration order,
//! and the cycle's totals computed from them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::diff::CycleVerdict;
use crate::event::Event;
use crate::fetch::Reading;

/// What one cycle saw and did, over every account.
#[derive(Debug, Clone)]
pub struct CycleReport {
    pub started_at: DateTime<Utc>,
    pub duration: std::time::Duration,
    /// Every event the cycle committed, routed or not, account by account.
    pub events: Vec<Event>,
    /// Each account's part, in configuration order.
    pub accounts: Vec<AccountReport>,
}

/// How one account's part of a cycle went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountReport {
    pub account: String,
    pub campaigns_read: usize,
    pub campaigns_failed: usize,
    /// `(campaign, reason)` for every campaign that could not be read.
    pub failures: Vec<(String, String)>,
    pub verdict: CycleVerdict,
    pub requests: u64,
    /// `watcher.api_unhealthy` is in force for it after this cycle.
    pub api_unhealthy: bool,
    /// Its watched campaigns by status bucket (`crate::metrics::CAMPAIGN_STATUS_BUCKETS`).
    pub campaigns_by_status: BTreeMap<&'static str, u64>,
    /// How it was read: whole, or by the live lane and the sweep.
    pub reading: Reading,
}

impl AccountReport {
    /// Its API could be read this cycle.
    pub fn readable(&self) -> bool {
        self.verdict == CycleVerdict::Readable
    }
}

impl CycleReport {
    pub fn campaigns_read(&self) -> usize {
        self.accounts
            .iter()
            .map(|account| account.campaigns_read)
            .sum()
    }

    pub fn campaigns_failed(&self) -> usize {
        self.accounts
            .iter()
            .map(|account| account.campaigns_failed)
            .sum()
    }

    pub fn requests(&self) -> u64 {
        self.accounts.iter().map(|account| account.requests).sum()
    }

    /// `(campaign, reason)` for every campaign that could not be read; with
    /// several accounts each reason names its account, as one campaign id may
    /// be two campaigns.
    pub fn failures(&self) -> Vec<(String, String)> {
        let named = self.accounts.len() > 1;
        self.accounts
            .iter()
            .flat_map(|account| {
                account
                    .failures
                    .iter()
                    .map(move |(key, reason)| match named {
                        true => (
                            key.clone(),
                            format!("account {}: {reason}", account.account),
                        ),
                        false => (key.clone(), reason.clone()),
                    })
            })
            .collect()
    }

    /// Unreadable when any account was (so `once` exits 1 and the metrics say
    /// so), with every unreadable account named when there are several.
    pub fn verdict(&self) -> CycleVerdict {
        if let [only] = self.accounts.as_slice() {
            return only.verdict.clone();
        }
        let mut reasons = Vec::new();
        let mut auth_rejected = false;
        for account in &self.accounts {
            if let CycleVerdict::Unreadable {
                reason,
                auth_rejected: rejected,
            } = &account.verdict
            {
                reasons.push(format!("account {}: {reason}", account.account));
                auth_rejected |= rejected;
            }
        }
        match reasons.is_empty() {
            true => CycleVerdict::Readable,
            false => CycleVerdict::Unreadable {
                reason: reasons.join("; "),
                auth_rejected,
            },
        }
    }

    /// Watched campaigns by status bucket, over every account.
    pub fn campaigns_by_status(&self) -> BTreeMap<&'static str, u64> {
        let mut total = BTreeMap::new();
        for account in &self.accounts {
            for (bucket, count) in &account.campaigns_by_status {
                *total.entry(*bucket).or_default() += count;
            }
        }
        total
    }

    /// `watcher.api_unhealthy` is in force after this cycle (for some account).
    pub fn api_unhealthy(&self) -> bool {
        self.accounts.iter().any(|account| account.api_unhealthy)
    }

    /// Every account's API could be read this cycle.
    pub fn api_readable(&self) -> bool {
        self.accounts.iter().all(AccountReport::readable)
    }

    /// At least one account's API could be read this cycle.
    pub fn any_account_readable(&self) -> bool {
        self.accounts.iter().any(AccountReport::readable)
    }

    /// The accounts `watcher.api_unhealthy` is in force for.
    pub fn unhealthy_accounts(&self) -> Vec<String> {
        self.accounts
            .iter()
            .filter(|account| account.api_unhealthy)
            .map(|account| account.account.clone())
            .collect()
    }

    /// What the metrics record of this cycle.
    pub fn figures(&self) -> crate::metrics::CycleFigures<'_> {
        crate::metrics::CycleFigures {
            started_at: self.started_at,
            api_readable: self.api_readable(),
            duration: self.duration,
            events: &self.events,
            campaigns_by_status: self
                .accounts
                .iter()
                .map(|account| (account.account.as_str(), &account.campaigns_by_status))
                .collect(),
            accounts: self
                .accounts
                .iter()
                .map(|account| crate::metrics::AccountFigures {
                    account: &account.account,
                    readable: account.readable(),
                    api_unhealthy: account.api_unhealthy,
                    lane: account.reading.lane_requests.is_some(),
                    sweep_cycles: account.reading.last_sweep.map(|sweep| sweep.cycles),
                })
                .collect(),
        }
    }
}
