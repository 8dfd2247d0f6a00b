//! One state file, one active watcher (issue 11, item 8). `run` and `once` hold
//! an exclusive `flock(2)` on `<state file>.lock` while they poll and send; a
//! second one on the same file is refused with a sentence naming the lock file.
//! The kernel drops the lock when its holder exits, however it exits, so a
//! crashed daemon never leaves a stale lock behind (a PID file would, and PIDs
//! say nothing in containers, where every daemon is PID 1).
//!
//! The commands that only read or edit rows (`status`, `silence`, `outbox`,
//! `history`) take no lock: SQLite's own locking keeps them consistent beside a
//! running daemon. PostgreSQL stores need none: replicas elect a leader there.
//! The lock file is left in place on exit; deleting it would let a third
//! process lock a new file while a second still holds the old one.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;

use rustix::fs::{flock, FlockOperation};

#[derive(Debug, thiserror::Error)]
pub enum StateLockError {
    #[error("another campaign-watcher (run or once) is active on this state file: it holds the lock {}; one state file has one active watcher, so stop it first or point [state] url at another file (status, silence, outbox and history work beside it)", lock_file.display())]
    Held { lock_file: PathBuf },
    #[error("cannot take the lock {}: {reason}; check that its directory is writable by this user", lock_file.display())]
    Unusable { lock_file: PathBuf, reason: String },
}

/// Held while this process polls and sends; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    /// The lock lives as long as this open file description.
    _file: File,
    path: PathBuf,
}

impl StateLock {
    /// Locks the file beside a `sqlite://PATH` store; `None` for stores that
    /// need no lock (in memory: nothing else can open it; PostgreSQL: leader
    /// election). Never waits: a held lock is an error at once.
    pub fn acquire(state_url: &str) -> Result<Option<Self>, StateLockError> {
        let Some(path) = state_url.trim().strip_prefix("sqlite://") else {
            return Ok(None);
        };
        if path.is_empty() || path == ":memory:" {
            return Ok(None);
        }
        let lock_file = PathBuf::from(format!("{path}.lock"));
        let unusable = |reason: String| StateLockError::Unusable {
            lock_file: lock_file.clone(),
            reason,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_file)
            .map_err(|error| unusable(error.to_string()))?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(Self {
                _file: file,
                path: lock_file,
            })),
            Err(rustix::io::Errno::WOULDBLOCK) => Err(StateLockError::Held { lock_file }),
            Err(error) => Err(unusable(error.to_string())),
        }
    }

    /// The lock file, for the log.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("state.db").display());
        let first = StateLock::acquire(&url)
            .unwrap()
            .expect("a file store is locked");
        assert_eq!(first.path(), dir.path().join("state.db.lock"));
        let second = StateLock::acquire(&url).expect_err("the lock is held");
        assert!(matches!(second, StateLockError::Held { .. }), "{second}");
        assert!(second.to_string().contains("state.db.lock"), "{second}");
        drop(first);
        assert!(StateLock::acquire(&url).unwrap().is_some());
    }

    #[test]
    fn memory_and_postgres_stores_take_no_lock() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "postgres://watcher@127.0.0.1/db",
        ] {
            assert!(StateLock::acquire(url).unwrap().is_none(), "{url}");
        }
    }

    #[test]
    fn a_directory_that_cannot_hold_the_lock_says_so() {
        let error = StateLock::acquire("sqlite:///nonexistent/cw/state.db").unwrap_err();
        assert!(matches!(error, StateLockError::Unusable { .. }), "{error}");
        assert!(
            error.to_string().contains("/nonexistent/cw/state.db.lock"),
            "{error}"
        );
    }
}
