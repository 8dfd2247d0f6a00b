//! The store's size and how a SQLite file gives its free pages back: what
//! `status`, the metrics and the retention's round read and do after the rows
//! have gone.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::dialect::{from_millis, to_u64, Backend};
use super::{Store, StoreError};

/// Pages given back per incremental-vacuum step (4 KiB each: 8 MiB).
const PAGES_PER_STEP: u64 = 2_048;

/// Pure: how many free SQLite pages to give back to the file system. A tenth
/// of the file stays free, for the next cycles to reuse without growing the
/// file again; at most `most` go in one step, so one step is short.
pub(crate) fn pages_to_release(page_count: u64, freelist: u64, most: u64) -> u64 {
    freelist.saturating_sub(page_count / 10).min(most)
}

impl Store {
    /// On a SQLite file created with incremental auto-vacuum: give free pages
    /// beyond a tenth of the file back to the file system, one short step.
    /// Other files reuse their free pages for new rows instead (see
    /// docs/retention.md); PostgreSQL's autovacuum does the same for its tables.
    pub(super) async fn release_free_pages(&self) -> Result<u64, StoreError> {
        const INCREMENTAL: i64 = 2;
        let Backend::Sqlite(pool) = &self.backend else {
            return Ok(0);
        };
        let mode: i64 = sqlx::query("PRAGMA auto_vacuum")
            .fetch_one(pool)
            .await?
            .try_get(0)?;
        if mode != INCREMENTAL {
            return Ok(0);
        }
        let pages: i64 = sqlx::query("PRAGMA page_count")
            .fetch_one(pool)
            .await?
            .try_get(0)?;
        let free: i64 = sqlx::query("PRAGMA freelist_count")
            .fetch_one(pool)
            .await?
            .try_get(0)?;
        let release = pages_to_release(to_u64(pages), to_u64(free), PAGES_PER_STEP);
        if release == 0 {
            return Ok(0);
        }
        // The pragma returns no rows but must be stepped to the end to do its work.
        sqlx::query(&format!("PRAGMA incremental_vacuum({release})"))
            .fetch_all(pool)
            .await?;
        Ok(release)
    }

    /// The store's size in bytes: the SQLite database's pages (WAL aside), or
    /// `pg_database_size` of the PostgreSQL database.
    pub async fn size_bytes(&self) -> Result<u64, StoreError> {
        let bytes: i64 = match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query("SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()")
                    .fetch_one(pool)
                    .await?
                    .try_get("bytes")?
            }
            Backend::Postgres(pool) => {
                sqlx::query("SELECT pg_database_size(current_database()) AS bytes")
                    .fetch_one(pool)
                    .await?
                    .try_get("bytes")?
            }
        };
        Ok(to_u64(bytes))
    }

    /// A PostgreSQL server's `autovacuum` setting (`on`/`off`); none for SQLite.
    pub async fn autovacuum(&self) -> Result<Option<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(pool) => Ok(Some(
                sqlx::query("SELECT current_setting('autovacuum') AS setting")
                    .fetch_one(pool)
                    .await?
                    .try_get("setting")?,
            )),
        }
    }

    /// When the oldest event kept happened (none when the history is empty).
    pub async fn oldest_event_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        const SQL: &str = "SELECT MIN(occurred_at) AS oldest FROM events";
        let oldest: Option<i64> = on_pool!(self, pool => {
            sqlx::query(SQL).fetch_one(pool).await?.try_get("oldest")?
        });
        oldest
            .map(|at| from_millis(at, || "events occurred_at".into()))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenth_of_the_file_stays_free_and_a_step_is_bounded() {
        let cases = [
            // (pages, free, most, released)
            (1_000, 0, 2_048, 0),
            (1_000, 100, 2_048, 0),
            (1_000, 600, 2_048, 500),
            (100_000, 90_000, 2_048, 2_048),
        ];
        for (pages, free, most, released) in cases {
            assert_eq!(
                pages_to_release(pages, free, most),
                released,
                "{pages} {free}"
            );
        }
    }
}
