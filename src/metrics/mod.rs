//! Prometheus metrics (`/metrics`), recorded through a cheap-to-clone [`Metrics`]
//! handle that the watcher loop, the API client and the dispatcher hold.
//!
//! A leaf: it knows events and campaign statuses but no pipeline step, so the
//! client, the watcher, the dispatcher and `/metrics` all use it without a circle.
//!
//! Names follow Prometheus conventions: `campaign_watcher_` prefix, base units in
//! the name (`_seconds`), counters registered without `_total` (prometheus-client
//! appends it). Labels are low-cardinality on purpose: endpoint, status class,
//! channel name, event type, result, never a campaign id or name.

mod families;
use families::*;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::event::Event;
use crate::observe::CampaignStatus;

/// What a finished cycle tells the metrics, as plain values.
#[derive(Debug, Clone)]
pub struct CycleFigures<'a> {
    pub started_at: DateTime<Utc>,
    /// The API was read (a few campaigns may still have failed).
    pub api_readable: bool,
    pub duration: Duration,
    pub events: &'a [Event],
    /// Each account's watched campaigns by status bucket ([`CAMPAIGN_STATUS_BUCKETS`]).
    pub campaigns_by_status: Vec<(&'a str, &'a BTreeMap<&'static str, u64>)>,
    /// How the cycle went for each account.
    pub accounts: Vec<AccountFigures<'a>>,
}

/// How one cycle went for one account.
#[derive(Debug, Clone)]
pub struct AccountFigures<'a> {
    pub account: &'a str,
    /// Its API was read (a few campaigns may still have failed).
    pub readable: bool,
    /// Its API is unhealthy (failed `unhealthy_after` cycles, or rejected the key).
    pub api_unhealthy: bool,
    /// The live lane was read this cycle, and the cycles the last sweep took.
    pub lane: bool,
    pub sweep_cycles: Option<u64>,
}

/// How a cycle ended, as the `result` label of `campaign_watcher_cycles_total`.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum CycleResult {
    /// The API was read (a few campaigns may still have failed).
    success,
    /// The API could not be read at all.
    api_unreadable,
    /// The cycle could not be committed to the state store.
    store_failed,
}

/// What one delivery attempt came to, as the `result` label of notifications.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum NotificationResult {
    sent,
    retry,
    dead,
}

/// Which SigmaMind endpoint a request went to.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum ApiEndpoint {
    get_campaign,
    list_campaigns,
}

/// The status buckets of `campaign_watcher_campaigns`: the documented statuses,
/// `not_found`, and `other` for any text the API invents (kept out of the label
/// so an odd API cannot grow the series without bound).
pub const CAMPAIGN_STATUS_BUCKETS: [&str; 7] = {
    let [live, scheduled, paused, completed] = CampaignStatus::SPELLINGS;
    [
        live,
        scheduled,
        paused,
        completed,
        "not_found",
        "unreadable",
        "other",
    ]
};

/// The daemon's metrics. Clones share one registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Families>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A fresh registry with every family registered (and `leader` = 1: this
    /// version runs one replica, which always polls and sends).
    /// A fresh registry with every family registered.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Families::new()),
        }
    }

    /// Everything a finished cycle tells: its result, duration, events and the
    /// campaigns by status.
    pub fn record_cycle(&self, report: &CycleFigures<'_>) {
        let m = &self.inner;
        let result = if report.api_readable {
            m.last_success.set(timestamp_seconds(report.started_at));
            CycleResult::success
        } else {
            CycleResult::api_unreadable
        };
        m.cycles.get_or_create(&CycleLabels { result }).inc();
        m.cycle_duration.observe(report.duration.as_secs_f64());
        for event in report.events {
            m.events
                .get_or_create(&EventLabels {
                    account: event.account().unwrap_or_default().to_string(),
                    r#type: event.kind.as_str().to_string(),
                })
                .inc();
        }
        for figures in &report.accounts {
            let labels = AccountLabels {
                account: figures.account.to_string(),
            };
            let result = match figures.readable {
                true => {
                    m.account_last_success
                        .get_or_create(&labels)
                        .set(timestamp_seconds(report.started_at));
                    CycleResult::success
                }
                false => CycleResult::api_unreadable,
            };
            m.account_cycles
                .get_or_create(&AccountCycleLabels {
                    account: figures.account.to_string(),
                    result,
                })
                .inc();
            m.account_api_healthy
                .get_or_create(&labels)
                .set(i64::from(!figures.api_unhealthy));
            match (figures.lane, figures.sweep_cycles) {
                (true, Some(cycles)) => {
                    m.sweep_cycles
                        .get_or_create(&labels)
                        .set(i64::try_from(cycles).unwrap_or(i64::MAX));
                }
                (true, None) => {}
                (false, _) => {
                    m.sweep_cycles.remove(&labels);
                }
            }
        }
        for (account, by_status) in &report.campaigns_by_status {
            for bucket in CAMPAIGN_STATUS_BUCKETS {
                let count = by_status.get(bucket).copied().unwrap_or(0);
                m.campaigns
                    .get_or_create(&StatusLabels {
                        account: account.to_string(),
                        status: bucket,
                    })
                    .set(i64::try_from(count).unwrap_or(i64::MAX));
            }
        }
    }

    /// What one retention round removed, rows by table.
    pub fn record_pruned(&self, pruned: &BTreeMap<&'static str, u64>) {
        let m = &self.inner;
        for (table, rows) in pruned {
            m.store_pruned
                .get_or_create(&TableLabels {
                    table: (*table).to_string(),
                })
                .inc_by(*rows);
        }
    }

    /// Whether a retention round could prune; `consecutive` counts the
    /// failed rounds in a row (0 after one that succeeded).
    pub fn record_prune_outcome(&self, failed: bool, consecutive: u32) {
        let m = &self.inner;
        if failed {
            m.prune_failures.inc();
        }
        m.prune_failing_rounds.set(i64::from(consecutive));
    }

    /// The store's size and the age of its oldest kept event.
    pub fn record_store(&self, size_bytes: u64, oldest_event_age: Duration) {
        let m = &self.inner;
        m.store_size
            .set(i64::try_from(size_bytes).unwrap_or(i64::MAX));
        m.oldest_event_age
            .set(i64::try_from(oldest_event_age.as_secs()).unwrap_or(i64::MAX));
    }

    /// How a configuration reload ended (the start counts as a success).
    pub fn record_reload(&self, successful: bool, at: DateTime<Utc>) {
        let m = &self.inner;
        m.reload_successful.set(i64::from(successful));
        if successful {
            m.reload_success_at.set(timestamp_seconds(at));
        }
    }

    pub fn set_schedule_period(&self, period: Duration) {
        self.inner.schedule_period.set(period.as_secs_f64());
    }

    /// What a scrape counts in the store and the process.
    pub fn set_scraped(&self, silences_in_force: u64, held_for_quiet_hours: u64) {
        let m = &self.inner;
        m.silences_in_force
            .set(i64::try_from(silences_in_force).unwrap_or(i64::MAX));
        m.outbox_held
            .set(i64::try_from(held_for_quiet_hours).unwrap_or(i64::MAX));
        if let Some(bytes) = resident_memory_bytes() {
            m.resident_memory
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
    }

    /// An interval tick `late` behind its time, `every` being the period.
    pub fn record_late_tick(&self, late: Duration, every: Duration) {
        let m = &self.inner;
        m.late_ticks.inc();
        let missed = late.as_nanos() / every.as_nanos().max(1);
        m.missed_ticks
            .inc_by(u64::try_from(missed).unwrap_or(u64::MAX));
    }

    /// A cycle that could not be committed.
    pub fn record_store_failure(&self, duration: Duration) {
        let m = &self.inner;
        m.cycles
            .get_or_create(&CycleLabels {
                result: CycleResult::store_failed,
            })
            .inc();
        m.cycle_duration.observe(duration.as_secs_f64());
    }

    /// One HTTP request to the API; `status` is `None` when no answer came.
    pub fn record_api_request(
        &self,
        account: &str,
        endpoint: ApiEndpoint,
        status: Option<u16>,
        took: Duration,
    ) {
        let m = &self.inner;
        m.api_requests
            .get_or_create(&ApiRequestLabels {
                account: account.to_string(),
                endpoint,
                status_class: status_class(status),
            })
            .inc();
        m.api_latency
            .get_or_create(&EndpointLabels {
                account: account.to_string(),
                endpoint,
            })
            .observe(took.as_secs_f64());
    }

    /// One delivery attempt's outcome.
    pub fn record_notification(&self, channel: &str, result: NotificationResult) {
        self.inner
            .notifications
            .get_or_create(&NotificationLabels {
                channel: channel.to_string(),
                result,
            })
            .inc();
    }

    pub fn set_outbox(&self, pending: u64, dead: u64) {
        let m = &self.inner;
        m.outbox_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        m.outbox_dead.set(i64::try_from(dead).unwrap_or(i64::MAX));
    }

    /// One bcrypt check of a password (board login or Basic credentials).
    pub fn record_password_check(&self, matched: bool) {
        let result = if matched { "match" } else { "mismatch" };
        self.inner
            .password_checks
            .get_or_create(&PasswordCheckLabels { result })
            .inc();
    }

    /// A login refused without a check: its address failed too often.
    pub fn record_login_held_back(&self) {
        self.inner.logins_held_back.inc();
    }

    /// A connection closed unserved: `per_client` or `full`.
    pub fn record_connection_refused(&self, reason: &'static str) {
        self.inner
            .connections_refused
            .get_or_create(&RefusedConnectionLabels { reason })
            .inc();
    }

    /// 1 while this process polls and sends.
    pub fn set_leader(&self, leader: bool) {
        self.inner.leader.set(i64::from(leader));
    }

    /// The OpenMetrics text exposition of every family.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; an error would only mean a bug in a family.
        if let Err(error) =
            prometheus_client::encoding::text::encode(&mut text, &self.inner.registry)
        {
            tracing::error!(%error, "metrics could not be encoded");
        }
        text
    }
}

/// The status bucket of a campaign for `campaign_watcher_campaigns`.
pub fn status_bucket(status: &CampaignStatus, not_found: bool, unreadable: bool) -> &'static str {
    if not_found {
        return "not_found";
    }
    if unreadable {
        return "unreadable";
    }
    status.documented().unwrap_or("other")
}

/// Counts per status bucket, every bucket present.
pub fn count_by_status<'a>(
    buckets: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<&'static str, u64> {
    let mut counts: BTreeMap<&'static str, u64> =
        CAMPAIGN_STATUS_BUCKETS.iter().map(|b| (*b, 0)).collect();
    for bucket in buckets {
        if let Some(known) = CAMPAIGN_STATUS_BUCKETS.iter().find(|b| **b == bucket) {
            *counts.entry(known).or_default() += 1;
        }
    }
    counts
}

fn status_class(status: Option<u16>) -> &'static str {
    match status {
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) | None => "error",
    }
}

/// Resident pages of this process times the page size, from `/proc/self/statm`
/// (Linux); none elsewhere.
fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * rustix::param::page_size() as u64)
}

fn timestamp_seconds(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

#[cfg(test)]
mod tests;
