//! The state store: campaign states, API health, event history and the outbox,
//! on SQLite (one replica) or PostgreSQL (several replicas, one leader).
//!
//! One `Store` type; its queries are split by what they store, one file per
//! concern, so a new table's queries go in a file of their own:
//!
//! - [`open`]: opening either database and migrating it;
//! - [`states`]: campaign states and the API health (the diff's memory);
//! - [`cycle`]: the cycle's one transaction ([`Store::commit_cycle`]);
//! - [`outbox`]: the delivery queue, its fates, and the operator's `outbox` commands;
//! - [`events`]: the event history (`status`, `history`, hints);
//! - [`silences`], [`reminders`]: the alerting controls' rows;
//! - [`incidents`]: the episodes of conditions, and the channels each told;
//! - [`audit`]: who made, ended or replayed what (the operators' actions go through it);
//! - [`activity`]: last seen and last cycle, for `status`;
//! - [`retention`]: pruning what `[state] retention` lets go;
//! - [`size`]: the store's size and giving a SQLite file's free pages back;
//! - [`backup`]: `state backup`, a consistent copy of a running SQLite store;
//! - [`board`]: the board's and the API's read model (pages, filters, counts,
//!   the commit marker the live board watches);
//! - [`dialect`]: what differs between SQLite and PostgreSQL, and the shared
//!   SQL helpers (placeholders, IN chunks, timestamps).
//!
//! This file holds the type itself and its administration (location, kind,
//! sharing, the leader fence).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;

pub use accounts::{RenameError, ACCOUNT_RENAME};
pub use activity::{CampaignActivity, CycleOutcome, LastCycle};
pub use audit::{Actor, AuditRecord, OUTBOX_REPLAY, SILENCE_CREATE, SILENCE_END};
pub use backup::BackupError;
pub use board::{
    page_bounds, status_label, AccountCounts, CampaignPage, CampaignQuery, CampaignRow,
    CommitMarker, EventPage, EventQuery, LastEvent, Summary, MAX_PER_PAGE, STATUS_LABELS,
};
pub use cycle::{CycleCommit, RoutedEvent};
pub use events::{DeliveryState, HistoryEntry, StoredEvent};
pub use outbox::{Delivery, OutboxCounts, OutboxEntry, ReplayOutcome};
pub use reminders::ReminderWrite;
pub use retention::{PruneCounts, PruneReport};
pub use silences::SilenceExpiry;

use super::lease::LeaseState;
use crate::route::silence::PatternCache;
use dialect::Backend;

#[macro_use]
mod dialect;
mod accounts;
mod activity;
mod audit;
mod backup;
mod board;
mod cycle;
mod events;
mod incidents;
mod open;
mod outbox;
mod reminders;
mod retention;
mod silences;
mod size;
mod states;
#[cfg(test)]
mod tests;

/// Cycle commits refused in a row before the store counts as unhealthy
/// (`watcher.store_unhealthy`): one refusal can be a lock held a little too
/// long by another process.
pub const STORE_UNHEALTHY_AFTER: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state url scheme \"{scheme}\" is not supported: use sqlite://PATH, sqlite::memory: or postgres://USER@HOST/DATABASE; change [state] url")]
    UnsupportedUrl { scheme: String },
    #[error("cannot open the state database {path}: {reason}; check that the directory exists and is writable by this user")]
    Open { path: String, reason: String },
    #[error("another replica is the leader now; this one stopped writing and sending")]
    NotLeader,
    #[error("{path} is not a SQLite database (or is damaged beyond reading); move it away or point [state] url at another file")]
    NotADatabase { path: String },
    #[error("the state database {path} has schema version {found}, newer than version {supported} this campaign-watcher knows; upgrade campaign-watcher or point [state] url at another file")]
    NewerSchema {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("cannot migrate the state database {path} to schema version {version}: {reason}; the file was left unchanged")]
    Migration {
        path: String,
        version: i64,
        reason: String,
    },
    #[error("stored {what} cannot be read ({reason}); the state database may be corrupt: restore a backup or move the file away")]
    Corrupt { what: String, reason: String },
    #[error("state database query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("{limit} silences are already in force or yet to start, the most a watcher keeps: end some (`silence end ID`, or End on the board's silences page) or let them expire, then add this one")]
    TooManySilences { limit: usize },
}

/// The state store; cheap to clone (a connection pool inside).
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// For error messages: the file path, "in-memory database", or the
    /// PostgreSQL url without its password.
    location: Arc<str>,
    /// Set on a replica that elects a leader: commits verify it inside their
    /// transaction, and the dispatcher checks it before each send.
    lease: Option<Arc<LeaseState>>,
    /// Cycle commits this process's store refused in a row (shared by clones),
    /// for those who cannot wait for the store to say so (the re-asserter).
    refused: Arc<AtomicU32>,
    /// The SigmaMind account whose campaigns this handle reads and writes
    /// (states, seen rows, reminders, health, new events): a campaign is
    /// (account, campaign id). `default` unless [`Store::for_account`] says.
    account: Arc<str>,
    /// Silence matchers compiled before (shared by clones): the silences are
    /// loaded every cycle and every board or API read, compiled once.
    patterns: Arc<PatternCache>,
}

impl Store {
    /// This store, fenced by `lease`: a cycle commits only while the lease is
    /// held (checked inside its transaction on PostgreSQL), and
    /// [`Store::check_leader`] reports it for the dispatcher.
    pub fn with_lease(mut self, lease: Arc<LeaseState>) -> Self {
        self.lease = Some(lease);
        self
    }

    /// This store, scoped to `account`'s campaigns (same pool and fence).
    pub fn for_account(&self, account: &str) -> Self {
        Self {
            account: Arc::from(account),
            ..self.clone()
        }
    }

    /// The account this handle's campaign reads and writes belong to.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Whether the last [`STORE_UNHEALTHY_AFTER`] cycle commits or more were
    /// refused (by anything but a lost lease).
    pub fn refusing_commits(&self) -> bool {
        self.refused.load(Ordering::Relaxed) >= STORE_UNHEALTHY_AFTER
    }

    /// Counts a cycle commit's outcome for [`Store::refusing_commits`].
    pub(super) fn count_commit<T>(&self, result: &Result<T, StoreError>) {
        match result {
            Ok(_) => self.refused.store(0, Ordering::Relaxed),
            Err(StoreError::NotLeader) => {}
            Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A store this replica was committing to does not answer at all (it lost
    /// the leader lease with it): as good as a refused commit.
    pub fn note_unanswered(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// This store without the leader fence, for writes that are the same
    /// whichever replica makes them (rows keyed by ids derived from what they
    /// record, so a second write stores nothing twice).
    pub fn unfenced(&self) -> Self {
        Self {
            lease: None,
            ..self.clone()
        }
    }

    /// Whether this replica may poll and send now: always with SQLite or without
    /// a lease; with one, only while it is held and freshly renewed.
    pub fn check_leader(&self) -> Result<(), StoreError> {
        match &self.lease {
            Some(lease) => lease.check().map(|_| ()).map_err(|_| StoreError::NotLeader),
            None => Ok(()),
        }
    }

    /// Whether replicas share this store (PostgreSQL), so that they elect a
    /// leader and none may keep state of its own between cycles; a SQLite
    /// store has one replica.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// The PostgreSQL connection options, when the store lives there (the
    /// leader election opens its own, unpooled, connection with them).
    pub fn postgres_options(&self) -> Option<PgConnectOptions> {
        match &self.backend {
            Backend::Postgres(pool) => Some(pool.connect_options().as_ref().clone()),
            Backend::Sqlite(_) => None,
        }
    }

    /// "sqlite" or "postgres", for log lines and metrics.
    pub fn kind(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Where this store lives, for log lines: a path, "in-memory database" or
    /// the PostgreSQL url without its password.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// A trivial read: does the store answer at all (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query("SELECT 1").fetch_one(pool).await?;
        });
        Ok(())
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}
