//! The SQLite store: campaign states, API health, event history and the outbox.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::Row;

pub use alerts::{DeliveryState, HistoryEntry, OutboxEntry, ReminderWrite, ReplayOutcome};

use super::schema::{self, MigrateError};
use crate::diff::{ApiHealth, CampaignState};
use crate::event::Event;

/// How long a writer waits for another process's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLite's default limit on bound parameters is 999 on old builds.
const IN_CHUNK: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state url scheme \"{scheme}\" is not supported yet: only sqlite://PATH (or sqlite::memory:) is; change [state] url")]
    UnsupportedUrl { scheme: String },
    #[error("cannot open the state database {path}: {reason}; check that the directory exists and is writable by this user")]
    Open { path: String, reason: String },
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
}

/// The SQLite state store; cheap to clone (a connection pool inside).
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// For error messages: the file path, or "in-memory database".
    location: Arc<str>,
}

/// Everything one cycle produced, written in one transaction.
#[derive(Debug, Clone)]
pub struct CycleCommit {
    pub now: DateTime<Utc>,
    pub states: Vec<(String, CampaignState)>,
    pub health: Option<ApiHealth>,
    pub events: Vec<RoutedEvent>,
    /// Reminder timestamps to store (or delete, when `None`).
    pub reminders: Vec<ReminderWrite>,
}

/// An event and the channels the rules chose for it (possibly none).
#[derive(Debug, Clone)]
pub struct RoutedEvent {
    pub event: Event,
    pub channels: Vec<String>,
    /// The silence that stops it: kept in history, no outbox rows.
    pub silence: Option<i64>,
}

impl RoutedEvent {
    /// An event sent at once to `channels`.
    pub fn new(event: Event, channels: Vec<String>) -> Self {
        Self {
            event,
            channels,
            silence: None,
        }
    }
}

/// One due outbox row.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub channel: String,
    pub event: Event,
    /// Attempts made before this one.
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    /// Held by quiet hours until then: goes out in the channel's digest.
    pub held_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct OutboxCounts {
    pub pending: u64,
    pub dead: u64,
    pub sent: u64,
}

/// An event from history with each channel's delivery state.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub event: Event,
    /// `(channel, "pending" | "sent" | "dead")`, by channel name.
    pub deliveries: Vec<(String, String)>,
}

enum Location {
    Memory,
    File(PathBuf),
}

fn parse_url(url: &str) -> Result<Location, StoreError> {
    let url = url.trim();
    if url == "sqlite::memory:" || url == "sqlite://:memory:" {
        return Ok(Location::Memory);
    }
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(StoreError::Open {
                path: url.to_string(),
                reason: "the url names no file".into(),
            });
        }
        return Ok(Location::File(PathBuf::from(path)));
    }
    // Only the scheme: a postgres url may carry a password.
    let scheme = url.split(':').next().unwrap_or_default().to_string();
    Err(StoreError::UnsupportedUrl { scheme })
}

/// SQLite's primary result code, from the extended one sqlx reports.
fn sqlite_code(error: &sqlx::Error) -> Option<i64> {
    match error {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i64>().ok())
            .map(|code| code & 0xff),
        _ => None,
    }
}

const SQLITE_CORRUPT: i64 = 11;
const SQLITE_NOTADB: i64 = 26;

fn open_error(path: &str, error: sqlx::Error) -> StoreError {
    match sqlite_code(&error) {
        Some(SQLITE_NOTADB) | Some(SQLITE_CORRUPT) => StoreError::NotADatabase {
            path: path.to_string(),
        },
        _ => StoreError::Open {
            path: path.to_string(),
            reason: error.to_string(),
        },
    }
}

/// Connect and read once: a new file is empty, and "not a database" only shows on a read.
async fn connect(
    pool_options: SqlitePoolOptions,
    options: SqliteConnectOptions,
    location: &str,
) -> Result<SqlitePool, StoreError> {
    let pool = pool_options
        .connect_with(options)
        .await
        .map_err(|e| open_error(location, e))?;
    sqlx::query("SELECT COUNT(*) FROM sqlite_master")
        .fetch_one(&pool)
        .await
        .map_err(|e| open_error(location, e))?;
    Ok(pool)
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_millis(value: i64, what: impl FnOnce() -> String) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(value).ok_or_else(|| StoreError::Corrupt {
        what: what(),
        reason: format!("timestamp {value} is out of range"),
    })
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl Store {
    /// "sqlite://path" (relative or absolute; create the file if missing; WAL;
    /// synchronous=FULL; busy_timeout; foreign keys) or "sqlite::memory:" (single
    /// connection so the memory db is shared). A file that is not a SQLite database
    /// or is unreadable → StoreError with a clear sentence. Other schemes →
    /// StoreError saying only sqlite:// is supported yet.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let (options, pool_options, location, is_file) = match parse_url(url)? {
            Location::Memory => {
                let options = SqliteConnectOptions::from_str("sqlite::memory:")?
                    .foreign_keys(true)
                    .busy_timeout(BUSY_TIMEOUT);
                // The database lives and dies with its one connection: never recycle it.
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None);
                (options, pool, "in-memory database".to_string(), false)
            }
            Location::File(path) => {
                // journal_mode is set only after the checks below: it is written into the
                // file, and a file refused there (newer schema) must stay untouched.
                let options = SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(BUSY_TIMEOUT)
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new().max_connections(4);
                (options, pool, path.display().to_string(), true)
            }
        };
        let pool = connect(pool_options.clone(), options.clone(), &location).await?;
        let store = Self {
            pool,
            location: location.into(),
        };
        store.migrate().await?;
        if !is_file {
            return Ok(store);
        }
        // The checks ran without touching journal_mode. Now switch to WAL on every
        // connection: a pragma run on one pooled connection is not seen at once by
        // connections opened before it.
        store.pool.close().await;
        let pool = connect(
            pool_options,
            options.journal_mode(SqliteJournalMode::Wal),
            &store.location,
        )
        .await?;
        let store = Self { pool, ..store };
        let row = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .map_err(|e| open_error(&store.location, e))?;
        let mode: String = row.try_get(0)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                path: store.location.to_string(),
                reason: format!("SQLite refused WAL mode (kept \"{mode}\"); network filesystems cannot hold the state file"),
            });
        }
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        schema::migrate(&self.pool).await.map_err(|e| match e {
            MigrateError::Newer { found } => StoreError::NewerSchema {
                path: self.location.to_string(),
                found,
                supported: schema::LATEST,
            },
            MigrateError::Sql {
                version: Some(version),
                source,
            } => StoreError::Migration {
                path: self.location.to_string(),
                version,
                reason: source.to_string(),
            },
            MigrateError::Sql {
                version: None,
                source,
            } => open_error(&self.location, source),
        })
    }

    /// Every stored campaign state, by campaign key.
    pub async fn load_states(&self) -> Result<HashMap<String, CampaignState>, StoreError> {
        let rows = sqlx::query("SELECT key, state_json FROM campaign_state")
            .fetch_all(&self.pool)
            .await?;
        let mut states = HashMap::with_capacity(rows.len());
        for row in rows {
            let key: String = row.try_get("key")?;
            let json: String = row.try_get("state_json")?;
            let state: CampaignState =
                serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                    what: format!("campaign_state row \"{key}\""),
                    reason: e.to_string(),
                })?;
            states.insert(key, state);
        }
        Ok(states)
    }

    /// The stored API health; the default when never stored.
    pub async fn load_health(&self) -> Result<ApiHealth, StoreError> {
        let row = sqlx::query("SELECT health_json FROM watcher_state WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(ApiHealth::default());
        };
        let json: String = row.try_get("health_json")?;
        serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
            what: "watcher_state row 1 (API health)".into(),
            reason: e.to_string(),
        })
    }

    /// ONE transaction: upsert each (key, state), store health if Some, insert every
    /// event into history (INSERT OR IGNORE on event id), and one outbox row per
    /// (event id, channel), unique on the pair, so a re-commit never duplicates a row.
    pub async fn commit_cycle(&self, cycle: &CycleCommit) -> Result<(), StoreError> {
        let now = millis(cycle.now);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for (key, state) in &cycle.states {
            let json = serde_json::to_string(state).map_err(|e| StoreError::Corrupt {
                what: format!("new state of campaign \"{key}\""),
                reason: e.to_string(),
            })?;
            sqlx::query(
                "INSERT INTO campaign_state (key, state_json, seq, changed_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (key) DO UPDATE SET state_json = excluded.state_json,
                     seq = excluded.seq, changed_at = excluded.changed_at",
            )
            .bind(key)
            .bind(json)
            .bind(to_i64(state.seq))
            .bind(millis(state.changed_at))
            .execute(&mut *tx)
            .await?;
        }
        if let Some(health) = &cycle.health {
            let json = serde_json::to_string(health).map_err(|e| StoreError::Corrupt {
                what: "new API health".into(),
                reason: e.to_string(),
            })?;
            sqlx::query(
                "INSERT INTO watcher_state (id, health_json) VALUES (1, ?)
                 ON CONFLICT (id) DO UPDATE SET health_json = excluded.health_json",
            )
            .bind(json)
            .execute(&mut *tx)
            .await?;
        }
        for routed in &cycle.events {
            let event = &routed.event;
            sqlx::query(
                "INSERT OR IGNORE INTO events (id, type, campaign_id, occurred_at, payload_json, silence_id)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(&event.id)
            .bind(event.kind.as_str())
            .bind(event.campaign.as_ref().map(|c| c.id.as_str()))
            .bind(millis(event.occurred_at))
            .bind(event.to_json())
            .bind(routed.silence)
            .execute(&mut *tx)
            .await?;
            if routed.silence.is_some() {
                continue;
            }
            for channel in &routed.channels {
                sqlx::query(
                    "INSERT OR IGNORE INTO outbox
                         (event_id, channel, status, attempts, created_at, next_attempt_at)
                     VALUES (?, ?, 'pending', 0, ?, ?)",
                )
                .bind(&event.id)
                .bind(channel)
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        alerts::write_reminders(&mut tx, &cycle.reminders).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Pending rows with `next_attempt_at <= now`, oldest first.
    pub async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.id, o.channel, o.attempts, o.created_at, o.held_until, e.payload_json
             FROM outbox o JOIN events e ON e.id = o.event_id
             WHERE o.status = 'pending' AND o.next_attempt_at <= ?
             ORDER BY o.id LIMIT ?",
        )
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    /// The earliest `next_attempt_at` of any pending row.
    pub async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row =
            sqlx::query("SELECT MIN(next_attempt_at) AS due FROM outbox WHERE status = 'pending'")
                .fetch_one(&self.pool)
                .await?;
        let due: Option<i64> = row.try_get("due")?;
        due.map(|at| from_millis(at, || "outbox next_attempt_at".into()))
            .transpose()
    }

    pub async fn mark_sent(&self, delivery_id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL
             WHERE id = ? AND status = 'pending'",
        )
        .bind(millis(now))
        .bind(delivery_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Another attempt failed: try again at `next_attempt_at` (attempts += 1).
    pub async fn reschedule(
        &self,
        delivery_id: i64,
        next_attempt_at: DateTime<Utc>,
        last_error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?
             WHERE id = ? AND status = 'pending'",
        )
        .bind(millis(next_attempt_at))
        .bind(last_error)
        .bind(delivery_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Give up on a row (attempts += 1); it stays in the table, listed as dead.
    pub async fn mark_dead(
        &self,
        delivery_id: i64,
        now: DateTime<Utc>,
        last_error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET status = 'dead', attempts = attempts + 1, dead_at = ?, last_error = ?
             WHERE id = ? AND status = 'pending'",
        )
        .bind(millis(now))
        .bind(last_error)
        .bind(delivery_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        let mut counts = OutboxCounts::default();
        for row in rows {
            let status: String = row.try_get("status")?;
            let n = to_u64(row.try_get("n")?);
            match status.as_str() {
                "pending" => counts.pending = n,
                "sent" => counts.sent = n,
                "dead" => counts.dead = n,
                // The CHECK constraint rules this out; ignoring beats failing `status`.
                _ => {}
            }
        }
        Ok(counts)
    }

    /// How many outbox rows of these events are still pending (used by `once` to
    /// wait for its own deliveries). Rows held for quiet hours are scheduled, not
    /// failing, so they don't count.
    pub async fn pending_for(&self, event_ids: &[String]) -> Result<u64, StoreError> {
        let mut total = 0u64;
        for chunk in event_ids.chunks(IN_CHUNK) {
            let placeholders = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending' AND held_until IS NULL AND event_id IN ({placeholders})"
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id);
            }
            let row = query.fetch_one(&self.pool).await?;
            total += to_u64(row.try_get("n")?);
        }
        Ok(total)
    }

    /// Newest first, with each channel's delivery state, for `status`.
    pub async fn recent_events(&self, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, payload_json FROM events ORDER BY occurred_at DESC, rowid DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id")?;
            let json: String = row.try_get("payload_json")?;
            let event = parse_event(&json, || format!("events row \"{id}\""))?;
            let deliveries = sqlx::query(
                "SELECT channel, status FROM outbox WHERE event_id = ? ORDER BY channel",
            )
            .bind(&id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| Ok((row.try_get("channel")?, row.try_get("status")?)))
            .collect::<Result<Vec<(String, String)>, sqlx::Error>>()?;
            events.push(StoredEvent { event, deliveries });
        }
        Ok(events)
    }

    /// Where this store lives, for log lines: a path or "in-memory database".
    pub fn location(&self) -> &str {
        &self.location
    }
}

fn parse_event(json: &str, what: impl FnOnce() -> String) -> Result<Event, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: what(),
        reason: e.to_string(),
    })
}

fn delivery_from_row(row: &SqliteRow) -> Result<Delivery, StoreError> {
    let id: i64 = row.try_get("id")?;
    let what = || format!("outbox row {id}");
    let json: String = row.try_get("payload_json")?;
    let attempts: i64 = row.try_get("attempts")?;
    Ok(Delivery {
        id,
        channel: row.try_get("channel")?,
        event: parse_event(&json, what)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        created_at: from_millis(row.try_get("created_at")?, what)?,
        held_until: row
            .try_get::<Option<i64>, _>("held_until")?
            .map(|at| from_millis(at, || format!("outbox row {id} held_until")))
            .transpose()?,
    })
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

mod activity;
pub use activity::{CampaignActivity, CycleOutcome, LastCycle};

mod alerts;
#[cfg(test)]
mod tests;
