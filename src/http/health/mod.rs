//! `/healthz` and `/readyz`: what the daemon last did, shared between the cycle
//! loop (which writes it) and the HTTP handlers and the systemd watchdog (which
//! read it). The verdicts are pure functions of that record and the clock.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// How many schedule periods may pass without a cycle starting before the
/// scheduler counts as dead.
pub const LIVENESS_PERIODS: u32 = 3;

/// Consecutive cycles the state store may refuse to commit before the daemon
/// counts as dead (`/healthz` 503, the systemd watchdog starves), so that a
/// supervisor restarts it: a process that cannot write its state is watching
/// nobody. Readiness fails from the first refused commit.
pub const LIVENESS_FAILED_COMMITS: u32 = 10;

/// What the loop last did; all times are monotonic except `last_success_at`.
#[derive(Debug, Clone)]
pub struct StatusRecord {
    /// When the loop began (liveness is measured from here until the first cycle).
    pub started: Instant,
    /// The longest gap between two scheduled cycles.
    pub period: Duration,
    pub last_cycle_started: Option<Instant>,
    /// Start of the last cycle that read the API.
    pub last_success_at: Option<DateTime<Utc>>,
    /// The last cycle read the API.
    pub last_cycle_readable: bool,
    /// `watcher.api_unhealthy` is in force (N unreadable cycles, or a
    /// rejected key) for every account: nothing can be watched.
    pub api_unhealthy: bool,
    /// The accounts it is in force for while others are still read (with
    /// several accounts: ready, and said).
    pub unhealthy_accounts: Vec<String>,
    /// The last cycle (or probe) could use the state store.
    pub store_reachable: bool,
    /// Cycles in a row whose commit the state store refused (a full disk, a
    /// lost database), and why the last one was refused.
    pub failed_commits: u32,
    pub commit_error: Option<String>,
    /// At least one cycle read the API since start.
    pub ever_succeeded: bool,
    /// Another replica leads (shared PostgreSQL store): this one neither polls
    /// nor sends, and is ready to take over.
    pub standby: bool,
}

/// Why a probe fails, as the sentence in its 503 body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok(String),
    Failing(String),
}

impl Verdict {
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok(_))
    }
}

/// Alive while a cycle started within [`LIVENESS_PERIODS`] periods (or, before the
/// first, since the loop began). A hung cycle blocks every later one, so this
/// also catches a loop stuck inside a cycle.
pub fn liveness(record: &StatusRecord, now: Instant) -> Verdict {
    if record.failed_commits >= LIVENESS_FAILED_COMMITS {
        return Verdict::Failing(format!(
            "the state store refused the commit of the last {} cycles ({}): nothing is recorded or announced; restart the watcher once the store is fixed",
            record.failed_commits,
            record.commit_error.as_deref().unwrap_or("no reason given")
        ));
    }
    let budget = record.period.saturating_mul(LIVENESS_PERIODS);
    let since = record.last_cycle_started.unwrap_or(record.started);
    let quiet = now.saturating_duration_since(since);
    if quiet <= budget {
        Verdict::Ok("ok: the scheduler is running".into())
    } else {
        Verdict::Failing(format!(
            "no cycle has started for {}s (more than {LIVENESS_PERIODS} periods of {}s): the scheduler is stuck",
            quiet.as_secs(),
            record.period.as_secs()
        ))
    }
}

/// Ready after the first cycle that read the API, while the store answers and
/// takes commits, and the API is not declared unhealthy.
pub fn readiness(record: &StatusRecord) -> Verdict {
    if record.failed_commits > 0 {
        return Verdict::Failing(format!(
            "the state store refused the commit of the last {} cycle(s): {}",
            record.failed_commits,
            record.commit_error.as_deref().unwrap_or("no reason given")
        ));
    }
    if !record.store_reachable {
        return Verdict::Failing("the state store cannot be reached".into());
    }
    // A standby is ready by design: marking it unready would take it out of
    // rotation exactly when it is needed (campaign_watcher_leader tells them apart).
    if record.standby {
        return Verdict::Ok("ready (standby: another replica is the leader)".into());
    }
    if !record.ever_succeeded {
        return Verdict::Failing("no cycle has read the SigmaMind API yet".into());
    }
    if record.api_unhealthy {
        return Verdict::Failing(match record.unhealthy_accounts.as_slice() {
            [] | [_] => "the SigmaMind API is unhealthy (watcher.api_unhealthy)".into(),
            accounts => format!(
                "the SigmaMind API is unhealthy for every account ({}): watcher.api_unhealthy",
                accounts.join(", ")
            ),
        });
    }
    if !record.unhealthy_accounts.is_empty() {
        return Verdict::Ok(format!(
            "ready; the SigmaMind API is unhealthy for account {} (watcher.api_unhealthy), the other accounts are watched",
            record.unhealthy_accounts.join(", ")
        ));
    }
    Verdict::Ok("ready".into())
}

/// The shared record; cheap to clone.
#[derive(Debug, Clone)]
pub struct ServiceStatus {
    inner: Arc<Mutex<StatusRecord>>,
}

impl ServiceStatus {
    pub fn new(period: Duration, api_unhealthy: bool) -> Self {
        Self {
            inner: Arc::new(Mutex::new(StatusRecord {
                started: Instant::now(),
                period,
                last_cycle_started: None,
                last_success_at: None,
                last_cycle_readable: false,
                api_unhealthy,
                unhealthy_accounts: Vec::new(),
                store_reachable: true,
                failed_commits: 0,
                commit_error: None,
                ever_succeeded: false,
                standby: false,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, StatusRecord> {
        // Nothing panics while holding this lock; a poisoned one still holds valid data.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn snapshot(&self) -> StatusRecord {
        self.lock().clone()
    }

    pub fn set_period(&self, period: Duration) {
        self.lock().period = period;
    }

    pub fn cycle_started(&self) {
        self.lock().last_cycle_started = Some(Instant::now());
    }

    /// A cycle committed. `readable`: at least one account's API was read;
    /// `unhealthy`: the accounts `watcher.api_unhealthy` is in force for, of
    /// `accounts` in all (the API counts as unhealthy when it is for all).
    pub fn cycle_finished(
        &self,
        started_at: DateTime<Utc>,
        readable: bool,
        unhealthy: Vec<String>,
        accounts: usize,
    ) {
        let mut record = self.lock();
        record.store_reachable = true;
        record.failed_commits = 0;
        record.commit_error = None;
        record.last_cycle_readable = readable;
        record.api_unhealthy = !unhealthy.is_empty() && unhealthy.len() >= accounts;
        record.unhealthy_accounts = unhealthy;
        if readable {
            record.ever_succeeded = true;
            record.last_success_at = Some(started_at);
        }
    }

    /// Leading (polls and sends) or standing by.
    pub fn set_standby(&self, standby: bool) {
        self.lock().standby = standby;
    }

    /// A tick a standby skipped: the scheduler is alive (liveness), nothing ran.
    pub fn standby_tick(&self) {
        let mut record = self.lock();
        record.last_cycle_started = Some(Instant::now());
        record.standby = true;
    }

    /// A cycle the store refused to commit; returns how many in a row.
    pub fn commit_failed(&self, reason: String) -> u32 {
        let mut record = self.lock();
        record.store_reachable = false;
        record.failed_commits = record.failed_commits.saturating_add(1);
        record.commit_error = Some(reason);
        record.failed_commits
    }

    /// The store answers again outside a cycle (a replica that lost the lease
    /// while its commits were refused).
    pub fn commits_resumed(&self) {
        let mut record = self.lock();
        record.failed_commits = 0;
        record.commit_error = None;
    }

    pub fn set_store_reachable(&self, reachable: bool) {
        self.lock().store_reachable = reachable;
    }

    pub fn liveness(&self) -> Verdict {
        liveness(&self.lock(), Instant::now())
    }

    pub fn readiness(&self) -> Verdict {
        readiness(&self.lock())
    }
}

#[cfg(test)]
mod tests;
