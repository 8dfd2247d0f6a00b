//! The leader fence the store enforces: which replica may write and send.
//!
//! The store owns it because every commit checks it inside its transaction;
//! the election that renews it (`lead.rs`) sits above the store and
//! imports it from here, never the other way round.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The advisory lock (two-int form: shows in `pg_locks` as classid, objid with
/// objsubid = 2): "cwat", 1. One per database, as the tables are.
pub const LOCK_KEY: (i32, i32) = (0x6377_6174, 1);

/// This replica is not (or no longer) the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this replica is not the leader")]
pub struct NotLeader;

/// Whether a lease renewed at `renewed_at` may still be trusted at `now`: for
/// two thirds of the TTL, leaving a third as margin before the server can end
/// the session (after a whole TTL without renewal).
pub fn lease_fresh(renewed_at: Instant, now: Instant, ttl: Duration) -> bool {
    now.saturating_duration_since(renewed_at) < ttl.saturating_mul(2) / 3
}

#[derive(Debug, Default)]
struct Holding {
    /// When the last successful renewal (or acquisition) was sent.
    renewed_at: Option<Instant>,
    /// The lock session's server process, for the in-transaction check.
    backend_pid: i32,
}

/// What the election knows, shared with the store (fence) and the daemon.
#[derive(Debug)]
pub struct LeaseState {
    ttl: Duration,
    holding: Mutex<Holding>,
}

impl LeaseState {
    pub fn new(ttl: Duration) -> Arc<Self> {
        Arc::new(Self {
            ttl,
            holding: Mutex::new(Holding::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Holding> {
        // Nothing panics while holding it; a poisoned one still holds valid data.
        self.holding
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The fence: the lock session's backend pid while the lease is held and
    /// freshly renewed; `NotLeader` otherwise.
    pub fn check(&self) -> Result<i32, NotLeader> {
        let holding = self.lock();
        match holding.renewed_at {
            Some(at) if lease_fresh(at, Instant::now(), self.ttl) => Ok(holding.backend_pid),
            _ => Err(NotLeader),
        }
    }

    pub fn is_leader(&self) -> bool {
        self.check().is_ok()
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The election renewed (or took) the lock on session `backend_pid`,
    /// asking at `at`. Only the election may say so.
    pub(crate) fn renewed(&self, backend_pid: i32, at: Instant) {
        let mut holding = self.lock();
        holding.renewed_at = Some(at);
        holding.backend_pid = backend_pid;
    }

    /// Stop trusting the lease at once (lock session lost, or the server said so).
    pub fn lost(&self) {
        *self.lock() = Holding::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_trusted_for_two_thirds_of_its_ttl() {
        let ttl = Duration::from_secs(15);
        let renewed = Instant::now();
        let table = [(0, true), (5, true), (9, true), (10, false), (15, false)];
        for (after, fresh) in table {
            assert_eq!(
                lease_fresh(renewed, renewed + Duration::from_secs(after), ttl),
                fresh,
                "{after}s after renewal"
            );
        }
    }

    #[test]
    fn a_lost_lease_fails_the_fence_at_once() {
        let lease = LeaseState::new(Duration::from_secs(15));
        assert_eq!(lease.check(), Err(NotLeader));
        lease.renewed(42, Instant::now());
        assert_eq!(lease.check(), Ok(42));
        lease.lost();
        assert_eq!(lease.check(), Err(NotLeader));
    }
}
