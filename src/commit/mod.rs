//! Step 5 of the pipeline: the durable store.
//!
//! New campaign states, the API health, the event history and one outbox row per
//! (event, channel) are written in **one** SQLite transaction
//! ([`Store::commit_cycle`]), so a crash at any point either keeps the whole cycle
//! or none of it: never "send, then save". The dispatcher (`deliver`) then drains
//! the outbox and records each row's fate here.
//!
//! `sqlite://` keeps the state in one file (one replica); `postgres://` in a
//! shared database, where replicas elect a leader (the election is `lead.rs`,
//! above the store; the fence it renews, [`LeaseState`], is the store's own).

pub mod bookkeeping;
mod lease;
pub mod pruning;
mod schema;
#[doc(hidden)]
#[cfg(any(test, feature = "test-support"))]
pub mod scratch;
mod state_lock;
mod store;

pub use lease::{lease_fresh, LeaseState, NotLeader, LOCK_KEY};
pub use state_lock::{StateLock, StateLockError};
pub use store::{
    page_bounds, status_label, AccountCounts, CampaignPage, CampaignQuery, CampaignRow,
    CommitMarker, EventPage, EventQuery, LastEvent, Summary, MAX_PER_PAGE, STATUS_LABELS,
};
pub use store::{Actor, AuditRecord, OUTBOX_REPLAY, SILENCE_CREATE, SILENCE_END};
pub use store::{
    BackupError, CampaignActivity, CycleCommit, CycleOutcome, Delivery, DeliveryState,
    HistoryEntry, LastCycle, OutboxCounts, OutboxEntry, PruneCounts, PruneReport, ReminderWrite,
    ReplayOutcome, RoutedEvent, SilenceExpiry, Store, StoreError, StoredEvent,
    STORE_UNHEALTHY_AFTER,
};
pub use store::{RenameError, ACCOUNT_RENAME};
