//! When the daemon applies `[state] retention`: after a committed cycle, in
//! the cycle loop, so that a prune never runs beside a cycle's commit and only
//! the replica that polls (the leader) prunes. A round removes what
//! [`Store::prune`] lets go within a small time budget; what is left waits for
//! the next cycle. Each round also refreshes the store-size metrics.

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

/// Pure: the gap between two rounds: a twentieth of the retention (so rows
/// overstay it by at most 5 %), between 1 s and a minute; a minute when
/// everything is kept (only the metrics are refreshed then).
pub fn round_gap(retention: Option<Duration>) -> Duration {
    match retention {
        Some(retention) => (retention / 20).clamp(Duration::from_secs(1), MAX_GAP),
        None => MAX_GAP,
    }
}

/// The retention's schedule and what it reports.
#[derive(Debug)]
pub struct Pruner {
    retention: Option<Duration>,
    metrics: Metrics,
    next_at: DateTime<Utc>,
}

impl Pruner {
    pub fn new(retention: Option<Duration>, metrics: Metrics) -> Self {
        Self {
            retention,
            metrics,
            next_at: DateTime::<Utc>::MIN_UTC,
        }
    }

    /// After a committed cycle: one round if one is due. A failure is logged
    /// and retried next round: the cycle itself is committed, and pruning late
    /// costs only disk space.
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
                }
                Err(error) => {
                    tracing::warn!(%error, "retention: could not prune the state store; trying again next round");
                }
            }
        }
        let size = store.size_bytes().await;
        let oldest = store.oldest_event_at().await;
        match (size, oldest) {
            (Ok(size), Ok(oldest)) => {
                let age = oldest
                    .and_then(|at| (now - at).to_std().ok())
                    .unwrap_or_default();
                self.metrics.record_store(&pruned, size, age);
            }
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "retention: could not measure the state store");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_come_every_twentieth_of_the_retention_within_bounds() {
        let cases = [
            (None, MAX_GAP),
            (Some(Duration::from_secs(10)), Duration::from_secs(1)),
            (Some(Duration::from_secs(180)), Duration::from_secs(9)),
            (Some(Duration::from_secs(90 * 86_400)), MAX_GAP),
        ];
        for (retention, gap) in cases {
            assert_eq!(round_gap(retention), gap, "{retention:?}");
        }
    }
}
