//! `state backup`: a consistent copy of a running SQLite store, made with
//! `VACUUM INTO` (one read transaction: the copy is the store as of one
//! commit, compacted, while the daemon goes on writing). PostgreSQL has its
//! own tools (`pg_dump`), which the docs name.

use std::path::{Path, PathBuf};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};

use super::dialect::Backend;
use super::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("the state store is on PostgreSQL: back it up with pg_dump (docs/schema.md#backup-and-restore)")]
    Postgres,
    #[error("{} already exists: name a new file (a backup never overwrites one)", .0.display())]
    Exists(PathBuf),
    #[error("{} is a symbolic link: name a new file (a backup never writes through a link)", .0.display())]
    Link(PathBuf),
    #[error("cannot write the backup {}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
    #[error("the backup {} fails SQLite's integrity check ({reason}); it was removed", path.display())]
    Damaged { path: PathBuf, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Copy this SQLite store into the new file `path` and check the copy;
    /// returns the copy's size in bytes.
    pub async fn backup_to(&self, path: &Path) -> Result<u64, BackupError> {
        let Backend::Sqlite(pool) = &self.backend else {
            return Err(BackupError::Postgres);
        };
        let write = |reason: String| BackupError::Write {
            path: path.to_path_buf(),
            reason,
        };
        let target = path
            .to_str()
            .ok_or_else(|| write("the path is not valid UTF-8".into()))?;
        // Made here, empty, with O_CREAT|O_EXCL (which never follows a link,
        // dangling or not), so the copy cannot go through a link planted at
        // the path, nor replace a file made in between; VACUUM INTO fills an
        // empty file.
        if let Err(error) = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
        {
            let is_link = std::fs::symlink_metadata(path).is_ok_and(|meta| meta.is_symlink());
            return Err(match error.kind() {
                _ if is_link => BackupError::Link(path.to_path_buf()),
                std::io::ErrorKind::AlreadyExists => BackupError::Exists(path.to_path_buf()),
                _ => write(error.to_string()),
            });
        }
        if let Err(error) = sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(pool)
            .await
        {
            let _ = std::fs::remove_file(path);
            return Err(write(error.to_string()));
        }
        if let Err(reason) = quick_check(path).await {
            let _ = std::fs::remove_file(path);
            return Err(BackupError::Damaged {
                path: path.to_path_buf(),
                reason: reason.to_string(),
            });
        }
        std::fs::metadata(path)
            .map(|meta| meta.len())
            .map_err(|e| write(e.to_string()))
    }
}

/// Why a backup file did not pass `quick_check`.
#[derive(Debug, thiserror::Error)]
enum QuickCheckError {
    /// The file could not be opened or the check could not run.
    #[error("{0}")]
    Sqlite(#[from] sqlx::Error),
    /// SQLite's own verdict on the file.
    #[error("{0}")]
    Verdict(String),
}

/// SQLite's `quick_check` of a closed file, read-only.
async fn quick_check(path: &Path) -> Result<(), QuickCheckError> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await?;
    let verdict: String = sqlx::query("PRAGMA quick_check")
        .fetch_one(&mut conn)
        .await
        .and_then(|row| row.try_get(0))?;
    let _ = conn.close().await;
    match verdict.as_str() {
        "ok" => Ok(()),
        _ => Err(QuickCheckError::Verdict(verdict)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_backup_never_writes_through_a_link_or_over_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!(
            "sqlite://{}",
            dir.path().join("state.db").display()
        ))
        .await
        .unwrap();
        let aimed_at = dir.path().join("elsewhere.db");
        let link = dir.path().join("copy.db");
        std::os::unix::fs::symlink(&aimed_at, &link).unwrap();
        let error = store.backup_to(&link).await.unwrap_err();
        assert!(matches!(error, BackupError::Link(_)), "{error}");
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert!(!aimed_at.exists(), "nothing was written through the link");

        let existing = dir.path().join("existing.db");
        std::fs::write(&existing, b"keep").unwrap();
        let error = store.backup_to(&existing).await.unwrap_err();
        assert!(matches!(error, BackupError::Exists(_)), "{error}");
        assert_eq!(std::fs::read(&existing).unwrap(), b"keep");

        let fresh = dir.path().join("fresh.db");
        assert!(store.backup_to(&fresh).await.unwrap() > 0);
    }
}
