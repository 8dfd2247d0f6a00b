//! What differs between SQLite and PostgreSQL, and the helpers every query
//! file shares.
//!
//! Each query is written once, in SQL both dialects accept (`$N` parameters,
//! `ON CONFLICT`, `RETURNING`), and `on_pool!` instantiates it for the pool at
//! hand with the driver's own types; only what truly differs (how a write
//! transaction begins, the leader fence) lives in the [`Dialect`] trait.

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{Postgres, Row, Sqlite, Transaction};

use super::StoreError;
use crate::commit::lease::{LeaseState, LOCK_KEY};

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
    /// Inside a transaction that must not run beside a leader (a rename):
    /// takes the leader lock for the transaction, `false` when a watcher holds
    /// it. SQLite: always `true` (the CLI holds the state file's lock instead).
    async fn fence_out_leader(
        &self,
        tx: &mut Transaction<'static, Self::Db>,
    ) -> Result<bool, StoreError>;
}

impl Dialect for SqlitePool {
    type Db = Sqlite;
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
    async fn fence_out_leader(
        &self,
        _tx: &mut Transaction<'static, Sqlite>,
    ) -> Result<bool, StoreError> {
        Ok(true)
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
    async fn fence_out_leader(
        &self,
        tx: &mut Transaction<'static, Postgres>,
    ) -> Result<bool, StoreError> {
        // A transaction-scoped advisory lock conflicts with the session lock
        // the leader holds, and keeps a new leader out until the commit.
        let (class, object) = LOCK_KEY;
        Ok(
            sqlx::query("SELECT pg_try_advisory_xact_lock($1, $2) AS got")
                .bind(class)
                .bind(object)
                .fetch_one(&mut **tx)
                .await?
                .try_get("got")?,
        )
    }
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
        let (class, object) = LOCK_KEY;
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

/// Typed column reads shared by both drivers' rows (for helpers outside `on_pool!`).
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
pub(super) fn placeholders(n: usize) -> String {
    placeholders_from(1, n)
}

/// `$first, ..., $(first + n - 1)`: `n` parameters after `first - 1` others.
pub(super) fn placeholders_from(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a statement that lists `n` values, in chunks of at most `full`,
/// is worth keeping prepared. sqlx keeps each connection's last 100 distinct
/// statement texts prepared (on PostgreSQL, as named server-side statements);
/// a text whose length follows the data (an IN list, a multi-row VALUES)
/// recurs only when a chunk is full. Kept, every length in between filled
/// each connection's cache with large statements used once or twice (the
/// prepared form of a several-hundred-value list takes tens to hundreds of
/// KB in SQLite), which showed as steady RSS growth in the soak
/// (BENCHMARKS.md). The others are prepared for their one execution.
pub(super) fn keep_prepared(n: usize, full: usize) -> bool {
    n == full
}

/// SQLite's default limit on bound parameters is 999 on old builds.
pub(super) const IN_CHUNK: usize = 500;
const MAX_PARAMETERS: usize = 999;

/// How many rows of `columns` values one multi-row statement may carry.
pub(super) fn rows_per_statement(columns: usize) -> usize {
    (MAX_PARAMETERS / columns).max(1)
}

/// `($1, ..., $c), ($c+1, ..., $2c), ...` for `rows` rows of `columns` values:
/// one statement writes many rows, where one per row would cost PostgreSQL a
/// round trip each.
pub(super) fn values_rows(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let first = row * columns + 1;
            let row: Vec<String> = (first..first + columns).map(|i| format!("${i}")).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(super) fn from_millis(
    value: i64,
    what: impl FnOnce() -> String,
) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(value).ok_or_else(|| StoreError::Corrupt {
        what: what(),
        reason: format!("timestamp {value} is out of range"),
    })
}

pub(super) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(super) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// An optional timestamp column.
pub(super) fn optional_time(
    row: &impl Columns,
    column: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.opt_int(column)?
        .map(|at| from_millis(at, || format!("{column} value")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_row_values_number_parameters_row_after_row() {
        assert_eq!(values_rows(1, 2), "($1, $2)");
        assert_eq!(values_rows(3, 2), "($1, $2), ($3, $4), ($5, $6)");
        assert_eq!(rows_per_statement(7), 142);
        assert_eq!(rows_per_statement(2_000), 1);
    }
}
