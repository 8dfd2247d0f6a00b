//! Versioned schema: per database, an ordered list of SQL scripts compiled
//! into the binary, with the same version numbers and the same meaning on both
//! ([`sqlite`], [`postgres`]; each file: its `MIGRATIONS`, then its `migrate`).
//!
//! `schema_version` holds one row per applied script. Pending scripts are applied
//! in one write transaction, so two processes opening the same database at once
//! cannot both migrate, and a failed migration leaves it as it was. A database
//! written by a newer binary is refused before anything is written to it.
//!
//! A new version: append one script to each list (a test checks they stay in step).

pub(crate) mod postgres;
pub(crate) mod sqlite;

/// The newest schema version this binary knows.
pub(crate) const LATEST: i64 = sqlite::MIGRATIONS.len() as i64;

/// What a dialect's `migrate` found; the caller turns it into a `StoreError` naming the file.
pub(crate) enum MigrateError {
    Newer {
        found: i64,
    },
    Sql {
        version: Option<i64>,
        source: sqlx::Error,
    },
}

impl From<sqlx::Error> for MigrateError {
    fn from(source: sqlx::Error) -> Self {
        Self::Sql {
            version: None,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_dialects_have_every_version() {
        assert_eq!(
            super::postgres::MIGRATIONS.len(),
            super::sqlite::MIGRATIONS.len()
        );
    }
}
