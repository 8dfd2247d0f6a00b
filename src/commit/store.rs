//! The state store: campaign states, API health, event history and the outbox,
//! on SQLite (one replica) or PostgreSQL (several replicas, one leader).
//!
//! Each query is written once, in SQL both dialects accept (`$N` parameters,
//! `ON CONFLICT`, `RETURNING`), and [`on_pool!`] instantiates it for the pool at
//! hand with the driver's own types; only what truly differs (how a write
//! transaction begins, the leader fence) lives in the [`Dialect`] trait.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Postgres, Row, Sqlite, Transaction};

pub use alerts::{DeliveryState, HistoryEntry, OutboxEntry, ReminderWrite, ReplayOutcome};

use super::schema::{self, MigrateError};
use crate::diff::{ApiHealth, CampaignState};
use crate::event::{Event, EventType};
use crate::lead::LeaseState;

/// Runs `$body` with `$pool` bound to the store's pool, whichever driver it is:
/// the body is compiled once per driver, so every query keeps its real types.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// The connection pool of one of the two databases.
#[derive(Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// What differs between the dialects beyond the SQL text the queries share.
pub(crate) trait Dialect {
    type Db: sqlx::Database;
    /// A transaction that will write. SQLite takes the write lock up front: a
    /// deferred one that reads and then writes can fail with SQLITE_BUSY without
    /// waiting for busy_timeout.
    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>, sqlx::Error>;
    /// Inside a cycle's transaction: is this replica still the leader? SQLite has
    /// one replica; PostgreSQL asks the server whether the lock session recorded
    /// in `lease` still holds the leader lock.
    async fn verify_lease(
        &self,
        tx: &mut Transaction<'static, Self::Db>,
        lease: Option<&LeaseState>,
    ) -> Result<(), StoreError>;
}

impl Dialect for SqlitePool {
    type Db = Sqlite;
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
    async fn verify_lease(
        &self,
        _tx: &mut Transaction<'static, Sqlite>,
        _lease: Option<&LeaseState>,
    ) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Dialect for PgPool {
    type Db = Postgres;
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.begin().await
    }
    async fn verify_lease(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        lease: Option<&LeaseState>,
    ) -> Result<(), StoreError> {
        let Some(lease) = lease else {
            return Ok(());
        };
        let pid = lease.check().map_err(|_| StoreError::NotLeader)?;
        let (class, object) = crate::lead::LOCK_KEY;
        let held: bool = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                 AND pid = $1 AND classid::bigint = $2 AND objid::bigint = $3 AND objsubid = 2) AS held",
        )
        .bind(pid)
        .bind(i64::from(class))
        .bind(i64::from(object))
        .fetch_one(&mut **tx)
        .await?
        .try_get("held")?;
        if held {
            Ok(())
        } else {
            lease.lost();
            Err(StoreError::NotLeader)
        }
    }
}

/// Typed column reads shared by both drivers' rows (for helpers outside [`on_pool!`]).
pub(crate) trait Columns {
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
}

macro_rules! columns_for {
    ($row:ty) => {
        impl Columns for $row {
            fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(column)
            }
            fn text(&self, column: &str) -> Result<String, sqlx::Error> {
                self.try_get(column)
            }
            fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
                self.try_get(column)
            }
        }
    };
}
columns_for!(SqliteRow);
columns_for!(PgRow);

/// `$1, $2, ..., $n` for an IN list.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How long a writer waits for another process's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a PostgreSQL session may sit inside a transaction without a word
/// from this process (our transactions never pause; only a stalled process does).
const IDLE_IN_TRANSACTION: &str = "5s";
/// How long opening a PostgreSQL store waits for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLite's default limit on bound parameters is 999 on old builds.
const IN_CHUNK: usize = 500;

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
    Postgres(String),
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
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Location::Postgres(url.to_string()));
    }
    // Only the scheme: an unknown url may carry a password.
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

/// A migration failure as the store's error; `other` maps a driver error
/// outside any script (the dialects read those differently).
fn migrate_error(
    location: &str,
    error: MigrateError,
    other: impl FnOnce(&str, sqlx::Error) -> StoreError,
) -> StoreError {
    match error {
        MigrateError::Newer { found } => StoreError::NewerSchema {
            path: location.to_string(),
            found,
            supported: schema::LATEST,
        },
        MigrateError::Sql {
            version: Some(version),
            source,
        } => StoreError::Migration {
            path: location.to_string(),
            version,
            reason: source.to_string(),
        },
        MigrateError::Sql {
            version: None,
            source,
        } => other(location, source),
    }
}

impl Store {
    /// "sqlite://path" (relative or absolute; create the file if missing; WAL;
    /// synchronous=FULL; busy_timeout; foreign keys), "sqlite::memory:" (single
    /// connection so the memory db is shared) or "postgres://..." (a pool; the
    /// database must exist). A file that is not a SQLite database, a server that
    /// cannot be reached, a newer schema → StoreError with a clear sentence that
    /// never shows the url's password. Other schemes are refused.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let (options, pool_options, location, is_file) = match parse_url(url)? {
            Location::Postgres(url) => return Self::open_postgres(&url).await,
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
        schema::migrate(&pool)
            .await
            .map_err(|e| migrate_error(&location, e, open_error))?;
        if !is_file {
            return Ok(Self::new(Backend::Sqlite(pool), location));
        }
        // The checks ran without touching journal_mode. Now switch to WAL on every
        // connection: a pragma run on one pooled connection is not seen at once by
        // connections opened before it.
        pool.close().await;
        let pool = connect(
            pool_options,
            options.journal_mode(SqliteJournalMode::Wal),
            &location,
        )
        .await?;
        let row = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .map_err(|e| open_error(&location, e))?;
        let mode: String = row.try_get(0)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                path: location,
                reason: format!("SQLite refused WAL mode (kept \"{mode}\"); network filesystems cannot hold the state file"),
            });
        }
        Ok(Self::new(Backend::Sqlite(pool), location))
    }

    async fn open_postgres(url: &str) -> Result<Self, StoreError> {
        let location = crate::config::redact_url(url);
        let unreachable = |reason: String| StoreError::Open {
            path: location.clone(),
            reason,
        };
        // sqlx's parse errors may quote the url; say only what is wrong with it.
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| {
                unreachable(
                    "the url cannot be parsed as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
                        .into(),
                )
            })?
            .application_name("campaign-watcher")
            // A replica frozen in the middle of a transaction holds its row locks,
            // and a new leader's commit would wait on them for as long as it stays
            // frozen: the server ends such a session instead.
            .options([("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION)]);
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        schema::postgres::migrate(&pool).await.map_err(|e| {
            migrate_error(&location, e, |location, e| StoreError::Open {
                path: location.to_string(),
                reason: e.to_string(),
            })
        })?;
        Ok(Self::new(Backend::Postgres(pool), location))
    }

    fn new(backend: Backend, location: String) -> Self {
        Self {
            backend,
            location: location.into(),
            lease: None,
        }
    }

    /// This store, fenced by `lease`: a cycle commits only while the lease is
    /// held (checked inside its transaction on PostgreSQL), and
    /// [`Store::check_leader`] reports it for the dispatcher.
    pub fn with_lease(mut self, lease: Arc<LeaseState>) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Whether this replica may poll and send now: always with SQLite or without
    /// a lease; with one, only while it is held and freshly renewed.
    pub fn check_leader(&self) -> Result<(), StoreError> {
        match &self.lease {
            Some(lease) => lease.check().map(|_| ()).map_err(|_| StoreError::NotLeader),
            None => Ok(()),
        }
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

    /// Every stored campaign state, by campaign key.
    pub async fn load_states(&self) -> Result<HashMap<String, CampaignState>, StoreError> {
        let mut states = HashMap::new();
        self.each_state(|key, state| {
            states.insert(key, state);
        })
        .await?;
        Ok(states)
    }

    /// Hand every stored campaign state to `each`, one row at a time, so a caller
    /// can keep a digest of a large account without holding every state at once.
    pub async fn each_state(
        &self,
        mut each: impl FnMut(String, CampaignState),
    ) -> Result<(), StoreError> {
        use futures::TryStreamExt;
        on_pool!(self, pool => {
            let mut rows = sqlx::query("SELECT key, state_json FROM campaign_state").fetch(pool);
            while let Some(row) = rows.try_next().await? {
                let key: String = row.try_get("key")?;
                let json: String = row.try_get("state_json")?;
                let state = parse_state(&key, &json)?;
                each(key, state);
            }
        });
        Ok(())
    }

    /// The stored states of these campaigns (those without one are left out).
    pub async fn load_states_for<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, CampaignState>, StoreError> {
        let keys: Vec<&str> = keys.into_iter().collect();
        let mut states = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT key, state_json FROM campaign_state WHERE key IN ({})",
                placeholders(chunk.len())
            );
            on_pool!(self, pool => {
                let mut query = sqlx::query(&sql);
                for key in chunk {
                    query = query.bind(*key);
                }
                for row in query.fetch_all(pool).await? {
                    let key: String = row.try_get("key")?;
                    let json: String = row.try_get("state_json")?;
                    let state = parse_state(&key, &json)?;
                    states.insert(key, state);
                }
            });
        }
        Ok(states)
    }

    /// The stored API health; the default when never stored.
    pub async fn load_health(&self) -> Result<ApiHealth, StoreError> {
        let json: Option<String> = on_pool!(self, pool => {
            sqlx::query("SELECT health_json FROM watcher_state WHERE id = 1")
                .fetch_optional(pool)
                .await?
                .map(|row| row.try_get("health_json"))
                .transpose()?
        });
        let Some(json) = json else {
            return Ok(ApiHealth::default());
        };
        serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
            what: "watcher_state row 1 (API health)".into(),
            reason: e.to_string(),
        })
    }

    /// ONE transaction: upsert each (key, state), store health if Some, insert every
    /// event into history (ignored when its id is already there), and one outbox row
    /// per (event id, channel), unique on the pair, so a re-commit never duplicates a
    /// row. With a lease, the transaction first checks that this replica still leads.
    pub async fn commit_cycle(&self, cycle: &CycleCommit) -> Result<(), StoreError> {
        let now = millis(cycle.now);
        let health = cycle
            .health
            .as_ref()
            .map(|health| {
                serde_json::to_string(health).map_err(|e| StoreError::Corrupt {
                    what: "new API health".into(),
                    reason: e.to_string(),
                })
            })
            .transpose()?;
        let reminders = alerts::reminder_rows(&cycle.reminders)?;
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            pool.verify_lease(&mut tx, self.lease.as_deref()).await?;
            // Serialised row by row: a baseline of a large account is never held twice.
            for (key, state) in &cycle.states {
                let json = serde_json::to_string(state).map_err(|e| StoreError::Corrupt {
                    what: format!("new state of campaign \"{key}\""),
                    reason: e.to_string(),
                })?;
                sqlx::query(
                    "INSERT INTO campaign_state (key, state_json, seq, changed_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (key) DO UPDATE SET state_json = excluded.state_json,
                         seq = excluded.seq, changed_at = excluded.changed_at",
                )
                .bind(key.as_str())
                .bind(json.as_str())
                .bind(to_i64(state.seq))
                .bind(millis(state.changed_at))
                .execute(&mut *tx)
                .await?;
            }
            if let Some(json) = &health {
                sqlx::query(
                    "INSERT INTO watcher_state (id, health_json) VALUES (1, $1)
                     ON CONFLICT (id) DO UPDATE SET health_json = excluded.health_json",
                )
                .bind(json.as_str())
                .execute(&mut *tx)
                .await?;
            }
            for routed in &cycle.events {
                let event = &routed.event;
                sqlx::query(
                    "INSERT INTO events (id, type, campaign_id, occurred_at, payload_json, silence_id)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
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
                        "INSERT INTO outbox
                             (event_id, channel, status, attempts, created_at, next_attempt_at)
                         VALUES ($1, $2, 'pending', 0, $3, $4) ON CONFLICT (event_id, channel) DO NOTHING",
                    )
                    .bind(&event.id)
                    .bind(channel)
                    .bind(now)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            for (campaign, rule, json) in &reminders {
                match json {
                    Some(json) => sqlx::query(
                        "INSERT INTO reminders (campaign_id, rule, state_json) VALUES ($1, $2, $3)
                         ON CONFLICT (campaign_id, rule) DO UPDATE SET state_json = excluded.state_json",
                    )
                    .bind(*campaign)
                    .bind(*rule)
                    .bind(json.as_str()),
                    None => sqlx::query("DELETE FROM reminders WHERE campaign_id = $1 AND rule = $2")
                        .bind(*campaign)
                        .bind(*rule),
                }
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Pending rows with `next_attempt_at <= now`, oldest first. A row whose
    /// stored event cannot be read is marked dead (and logged) instead, unless it
    /// is well formed with an event type from a newer version: that one is
    /// left pending and looked at again in 5 minutes.
    pub async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        const SQL: &str =
            "SELECT o.id, o.channel, o.attempts, o.created_at, o.held_until, e.payload_json
             FROM outbox o JOIN events e ON e.id = o.event_id
             WHERE o.status = 'pending' AND o.next_attempt_at <= $1
             ORDER BY o.id LIMIT $2";
        let mut due = Vec::new();
        let mut unreadable = Vec::new();
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL)
                .bind(millis(now))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            for row in &rows {
                match delivery_from_row(row) {
                    Ok(delivery) => due.push(delivery),
                    Err(error) => {
                        unreadable.push((row.int("id")?, row.text("payload_json").ok(), error))
                    }
                }
            }
        });
        for (id, json, error) in unreadable {
            // During a rolling update (or after a rollback) the leader may be older
            // than the replica that wrote the row: leave it for one that knows it.
            if let Some(kind) = json.as_deref().and_then(unknown_event_type) {
                tracing::warn!(outbox_row = id, event_type = %kind, "an outbox row holds an event type this version does not know (written by a newer campaign-watcher); it stays pending for a replica that knows it");
                self.defer(id, now + UNKNOWN_EVENT_TYPE_RECHECK).await?;
                continue;
            }
            // One damaged row must not hold back every alert queued behind it: it is
            // set aside as dead, where `outbox list --dead` and the dead-row metric show it.
            tracing::error!(outbox_row = id, %error, "an outbox row cannot be read; it is set aside as dead so the rows behind it still go out");
            self.mark_dead(id, now, &format!("unreadable: {error}"))
                .await?;
        }
        Ok(due)
    }

    /// The earliest `next_attempt_at` of any pending row.
    pub async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        const SQL: &str = "SELECT MIN(next_attempt_at) AS due FROM outbox WHERE status = 'pending'";
        let due: Option<i64> = on_pool!(self, pool => {
            sqlx::query(SQL).fetch_one(pool).await?.try_get("due")?
        });
        due.map(|at| from_millis(at, || "outbox next_attempt_at".into()))
            .transpose()
    }

    pub async fn mark_sent(&self, delivery_id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = $1, last_error = NULL
             WHERE id = $2 AND status = 'pending'";
        on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(millis(now))
                .bind(delivery_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Another attempt failed: try again at `next_attempt_at` (attempts += 1).
    pub async fn reschedule(
        &self,
        delivery_id: i64,
        next_attempt_at: DateTime<Utc>,
        last_error: &str,
    ) -> Result<(), StoreError> {
        const SQL: &str =
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2
             WHERE id = $3 AND status = 'pending'";
        on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(millis(next_attempt_at))
                .bind(last_error)
                .bind(delivery_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Give up on a row (attempts += 1); it stays in the table, listed as dead.
    pub async fn mark_dead(
        &self,
        delivery_id: i64,
        now: DateTime<Utc>,
        last_error: &str,
    ) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE outbox SET status = 'dead', attempts = attempts + 1, dead_at = $1, last_error = $2
             WHERE id = $3 AND status = 'pending'";
        on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(millis(now))
                .bind(last_error)
                .bind(delivery_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        const SQL: &str = "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status";
        let rows: Vec<(String, i64)> = on_pool!(self, pool => {
            sqlx::query(SQL)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| Ok((row.try_get("status")?, row.try_get("n")?)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        let mut counts = OutboxCounts::default();
        for (status, n) in rows {
            let n = to_u64(n);
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
            let sql = format!(
                "SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending' AND held_until IS NULL AND event_id IN ({})",
                placeholders(chunk.len())
            );
            let n: i64 = on_pool!(self, pool => {
                let mut query = sqlx::query(&sql);
                for id in chunk {
                    query = query.bind(id);
                }
                query.fetch_one(pool).await?.try_get("n")?
            });
            total += to_u64(n);
        }
        Ok(total)
    }

    /// Newest first, with each channel's delivery state, for `status`.
    pub async fn recent_events(&self, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        const EVENTS: &str =
            "SELECT id, payload_json FROM events ORDER BY occurred_at DESC, rowid DESC LIMIT $1";
        const DELIVERIES: &str =
            "SELECT channel, status FROM outbox WHERE event_id = $1 ORDER BY channel";
        on_pool!(self, pool => {
            let rows = sqlx::query(EVENTS)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            let mut events = Vec::with_capacity(rows.len());
            for row in rows {
                let id: String = row.try_get("id")?;
                let json: String = row.try_get("payload_json")?;
                let event = parse_event(&json, || format!("events row \"{id}\""))?;
                let deliveries = sqlx::query(DELIVERIES)
                    .bind(&id)
                    .fetch_all(pool)
                    .await?
                    .iter()
                    .map(|row| Ok((row.try_get("channel")?, row.try_get("status")?)))
                    .collect::<Result<Vec<(String, String)>, sqlx::Error>>()?;
                events.push(StoredEvent { event, deliveries });
            }
            Ok(events)
        })
    }

    /// Where this store lives, for log lines: a path, "in-memory database" or
    /// the PostgreSQL url without its password.
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

fn delivery_from_row(row: &impl Columns) -> Result<Delivery, StoreError> {
    let id = row.int("id")?;
    let what = || format!("outbox row {id}");
    let json = row.text("payload_json")?;
    let attempts = row.int("attempts")?;
    Ok(Delivery {
        id,
        channel: row.text("channel")?,
        event: parse_event(&json, what)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        created_at: from_millis(row.int("created_at")?, what)?,
        held_until: row
            .opt_int("held_until")?
            .map(|at| from_millis(at, || format!("outbox row {id} held_until")))
            .transpose()?,
    })
}

/// How long a row of an event type this version does not know waits before it
/// is looked at again.
const UNKNOWN_EVENT_TYPE_RECHECK: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// The `type` of a well-formed payload whose type this version does not know.
fn unknown_event_type(json: &str) -> Option<String> {
    let payload: serde_json::Value = serde_json::from_str(json).ok()?;
    let kind = payload.get("type")?.as_str()?;
    EventType::parse(kind).is_none().then(|| kind.to_string())
}

/// One `campaign_state` row, or the error naming it.
fn parse_state(key: &str, json: &str) -> Result<CampaignState, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: format!("campaign_state row \"{key}\""),
        reason: e.to_string(),
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
