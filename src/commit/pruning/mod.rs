//! When the daemon applies `[state] retention`: after a committed cycle, in
//! the cycle loop, so that a prune never runs beside a cycle's commit and only
//! the replica that polls (the leader) prunes. A round removes what
//! [`Store::prune`] lets go within a small time budget; what is left waits for
//! the next cycle. Each round also refreshes the store-size metrics.
//!
//! A failed round is retried the next round and logged as a warning; after
//! [`FAILURES_BEFORE_ERROR`] failed rounds in a row the log says so once at
//! error level, and `/metrics` shows the streak
//! (`campaign_watcher_store_prune_consecutive_failures`) beside the total
//! (`campaign_watcher_store_prune_failures_total`).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::Store;
use crate::metrics::Metrics;

/// Rows per batch: one batch's write transaction takes a few milliseconds.
pub const PRUNE_BATCH: u32 = 500;
/// The most a round spends after a cycle before it leaves the rest for later.
pub const ROUND_BUDGET: Duration = Duration::from_millis(250);
/// The longest gap between two rounds (the size metrics' freshness).
const MAX_GAP: Duration = Duration::from_secs(60);
/// Failed rounds in a row before the log says error (once per episode): a
/// passing failure (a busy store, a restarting server) stays a warning; five
/// rounds are 15 seconds at the shortest retention (1m) and five minutes at
/// the default one.
pub const FAILURES_BEFORE_ERROR: u32 = 5;

/// Pure: the gap between two rounds: a twentieth of the retention (so rows
/// overstay it by at most 5 %), between 1 s and a minute; a minute when
/// everything is kept (only the metrics are refreshed then).
pub fn round_gap(retention: Option<Duration>) -> Duration {
    match retention {
        Some(retention) => (retention / 20).clamp(Duration::from_secs(1), MAX_GAP),
        None => MAX_GAP,
    }
}

/// How loudly to log a failed round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loudness {
    Warn,
    /// The round that makes the streak [`FAILURES_BEFORE_ERROR`] long.
    Error,
}

/// Failed rounds in a row.
#[derive(Debug, Default)]
struct FailureStreak {
    rounds: u32,
}

impl FailureStreak {
    fn failed(&mut self) -> Loudness {
        self.rounds = self.rounds.saturating_add(1);
        if self.rounds == FAILURES_BEFORE_ERROR {
            Loudness::Error
        } else {
            Loudness::Warn
        }
    }

    /// A round that pruned: how many failed rounds it ends.
    fn succeeded(&mut self) -> u32 {
        std::mem::take(&mut self.rounds)
    }
}

/// The retention's schedule and what it reports.
#[derive(Debug)]
pub struct Pruner {
    retention: Option<Duration>,
    metrics: Metrics,
    next_at: DateTime<Utc>,
    failures: FailureStreak,
}

impl Pruner {
    pub fn new(retention: Option<Duration>, metrics: Metrics) -> Self {
        Self {
            retention,
            metrics,
            next_at: DateTime::<Utc>::MIN_UTC,
            failures: FailureStreak::default(),
        }
    }

    /// After a committed cycle: one round if one is due. A failure is logged
    /// and retried next round: the cycle itself is committed, and pruning late
    /// costs only disk space (a long streak of failures is an error, see the
    /// module). What was pruned is counted even when the size cannot be read.
    pub async fn after_cycle(&mut self, store: &Store, now: DateTime<Utc>) {
        if now < self.next_at {
            return;
        }
        let gap = round_gap(self.retention);
        self.next_at = now + TimeDelta::from_std(gap).unwrap_or(TimeDelta::MAX);
        let mut pruned = Default::default();
        if let Some(retention) = self.retention {
            let cutoff = now - TimeDelta::from_std(retention).unwrap_or(TimeDelta::MAX);
            match store.prune(cutoff, PRUNE_BATCH, ROUND_BUDGET).await {
                Ok(report) => {
                    if report.removed.total() > 0 || report.pages_released > 0 {
                        tracing::info!(
                            removed = ?report.removed.0,
                            batches = report.batches,
                            longest_batch_ms = report.longest_batch.as_millis() as u64,
                            pages_released = report.pages_released,
                            unfinished = report.unfinished,
                            "retention: pruned the state store"
                        );
                    }
                    // Old rows remain: go on after the next cycle, not a gap later.
                    if report.unfinished {
                        self.next_at = now;
                    }
                    pruned = report.removed.0;
                    let ended = self.failures.succeeded();
                    if ended >= FAILURES_BEFORE_ERROR {
                        tracing::info!(
                            failed_rounds = ended,
                            "retention: the state store is pruned again"
                        );
                    }
                    self.metrics.record_prune_outcome(false, 0);
                }
                Err(error) => {
                    let loudness = self.failures.failed();
                    let failed_rounds = self.failures.rounds;
                    match loudness {
                        Loudness::Warn => {
                            tracing::warn!(%error, failed_rounds, "retention: could not prune the state store; trying again next round")
                        }
                        Loudness::Error => {
                            tracing::error!(%error, failed_rounds, "retention: the state store could not be pruned in {failed_rounds} rounds in a row; it keeps growing until pruning works again (trying every round)")
                        }
                    }
                    self.metrics.record_prune_outcome(true, failed_rounds);
                }
            }
        }
        self.metrics.record_pruned(&pruned);
        let size = store.size_bytes().await;
        let oldest = store.oldest_event_at().await;
        match (size, oldest) {
            (Ok(size), Ok(oldest)) => {
                let age = oldest
                    .and_then(|at| (now - at).to_std().ok())
                    .unwrap_or_default();
                self.metrics.record_store(size, age);
            }
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "retention: could not measure the state store");
            }
        }
    }
}

/// What to say when a PostgreSQL server has `autovacuum` off while retention
/// prunes: the deleted rows would stay as dead tuples and the database grow
/// as if nothing were pruned (BENCHMARKS.md, the PostgreSQL soak).
pub fn autovacuum_warning(setting: Option<&str>, retention: Option<Duration>) -> Option<String> {
    let off = setting.is_some_and(|setting| setting.trim().eq_ignore_ascii_case("off"));
    (off && retention.is_some()).then(|| {
        "the PostgreSQL server has autovacuum off: pruned rows stay as dead tuples and the state database keeps growing; turn it on (ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf()) or vacuum the database regularly".to_string()
    })
}

#[cfg(test)]
mod tests;
