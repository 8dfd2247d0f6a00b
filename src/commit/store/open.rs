//! Opening the store: parsing `[state] url`, connecting to SQLite (one file,
//! WAL) or PostgreSQL (a pool), migrating the schema, and turning what can go
//! wrong on the way into one clear [`StoreError`].

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Row};

use super::dialect::Backend;
use super::{Store, StoreError};
use crate::commit::schema::{self, MigrateError};

/// How long a writer waits for another process's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a PostgreSQL session may sit inside a transaction without a word
/// from this process (our transactions never pause; only a stalled process does).
const IDLE_IN_TRANSACTION: &str = "5s";
/// How long opening a PostgreSQL store waits for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections in a SQLite file's pool (the cycle, the deliveries, the HTTP
/// readers).
const SQLITE_CONNECTIONS: u32 = 4;
/// Each SQLite connection's page cache, in KiB (`PRAGMA cache_size = -N`;
/// SQLite's default is 2000). In WAL mode a connection drops its whole cache
/// whenever another connection has written since its last read, which here
/// is every cycle: a larger cache is refilled from the file system's cache
/// rather than reused, and only adds to the memory the refills churn through
/// (in the soak the pool's page caches swung between 0.2 and 4 MB, see
/// BENCHMARKS.md).
const SQLITE_CACHE_KIB: u32 = 512;

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

impl Store {
    /// The file a `sqlite://PATH` state url names (none for memory or
    /// PostgreSQL): lets a read-only command see that no state exists yet
    /// without creating it.
    pub fn file_of(url: &str) -> Option<PathBuf> {
        match parse_url(url) {
            Ok(Location::File(path)) => Some(path),
            _ => None,
        }
    }
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

/// A SQLite pool of `max_connections` that never hands out a connection left
/// inside a transaction (see [`left_in_transaction`]).
pub(super) fn sqlite_pool_options(max_connections: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(max_connections)
        .after_release(|conn, _| Box::pin(async move { Ok(!left_in_transaction(conn).await?) }))
}

/// Whether a connection given back to the pool is still counted inside a
/// transaction, so that the pool closes it instead of reusing it.
///
/// A dropped sqlx transaction only queues its ROLLBACK, and sqlx counts the
/// transaction as ended only if that ROLLBACK succeeds. When the disk fills,
/// SQLite may already have undone the whole transaction itself: the queued
/// ROLLBACK then fails ("no transaction is active"), the count stays at one,
/// and every later `BEGIN IMMEDIATE` on that connection fails with "begin_with
/// at non-zero transaction depth", for good. Closing such a connection is the
/// only sure repair; the pool opens a fresh one when the next cycle asks. An
/// in-memory store lives in its one connection, so closing it loses the store,
/// as a restart would; that is still better than a store that never writes.
async fn left_in_transaction<C: Connection>(conn: &mut C) -> Result<bool, sqlx::Error> {
    // The ROLLBACK a dropped transaction queued runs before this ping, so the
    // count read next is settled.
    conn.ping().await?;
    let stuck = conn.is_in_transaction();
    if stuck {
        tracing::warn!(
            "a state database connection was left inside a failed transaction; closing it"
        );
    }
    Ok(stuck)
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
                let pool = sqlite_pool_options(1)
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
                    .foreign_keys(true)
                    // Per connection, never written into the file.
                    .pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"));
                let pool = sqlite_pool_options(SQLITE_CONNECTIONS);
                (options, pool, path.display().to_string(), true)
            }
        };
        let pool = connect(pool_options.clone(), options.clone(), &location).await?;
        schema::sqlite::migrate(&pool)
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
        let location = crate::setting::url::redact_url(url);
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
            // The driver counts a dropped transaction out at once (the pool's own
            // ping then flushes its ROLLBACK), so no ping of ours is needed here.
            .after_release(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
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

    pub(super) fn new(backend: Backend, location: String) -> Self {
        Self {
            backend,
            location: location.into(),
            lease: None,
            refused: Default::default(),
            patterns: Default::default(),
            account: std::sync::Arc::from(crate::event::DEFAULT_ACCOUNT),
        }
    }
}
