//! One state file, one active watcher. `run` and `once` hold
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
//!
//! A held lock is retried for a few seconds before it is reported held. An
//! `flock` belongs to the open file description, and a process forked while
//! the lock is held shares that description until it execs (the descriptor is
//! close-on-exec), so the lock can outlive its holder's drop by that window.
//! The product spawns no children, but a process that embeds the daemon may:
//! the integration tests run daemons in process while spawning servers.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustix::fs::{flock, FlockOperation};

#[derive(Debug, thiserror::Error)]
pub enum StateLockError {
    #[error("another campaign-watcher (run or once) is active on this state file: it holds the lock {}; one state file has one active watcher, so stop it first or point [state] url at another file (status, silence, outbox and history work beside it)", lock_file.display())]
    Held { lock_file: PathBuf },
    #[error("cannot take the lock {}: {reason}; check that its directory is writable by this user", lock_file.display())]
    Unusable { lock_file: PathBuf, reason: String },
}

/// How long a held lock is retried before [`StateLockError::Held`]: long
/// enough for a forked child to reach its exec on a loaded machine, short
/// enough that a second watcher started by mistake is told so promptly.
const PATIENCE: Duration = Duration::from_secs(5);
/// The first pause between attempts; it doubles up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(2);
const LONGEST_PAUSE: Duration = Duration::from_millis(200);

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
    /// election). A held lock is retried with backoff for [`PATIENCE`], blocking
    /// the calling thread (it is taken once per cycle or at startup), then it
    /// is an error.
    pub fn acquire(state_url: &str) -> Result<Option<Self>, StateLockError> {
        Self::acquire_within(state_url, PATIENCE, || {})
    }

    /// [`StateLock::acquire`], retrying a held lock for `patience`; `on_held`
    /// runs after each attempt that found the lock held and will be retried.
    fn acquire_within(
        state_url: &str,
        patience: Duration,
        mut on_held: impl FnMut(),
    ) -> Result<Option<Self>, StateLockError> {
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
        let deadline = Instant::now() + patience;
        let mut pause = FIRST_PAUSE;
        loop {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {
                    return Ok(Some(Self {
                        _file: file,
                        path: lock_file,
                    }))
                }
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(StateLockError::Held { lock_file });
                    }
                    on_held();
                    std::thread::sleep(pause.min(left));
                    pause = (pause * 2).min(LONGEST_PAUSE);
                }
                Err(error) => return Err(unusable(error.to_string())),
            }
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
        let second =
            StateLock::acquire_within(&url, Duration::ZERO, || {}).expect_err("the lock is held");
        assert!(matches!(second, StateLockError::Held { .. }), "{second}");
        assert!(second.to_string().contains("state.db.lock"), "{second}");
        drop(first);
        assert!(StateLock::acquire(&url).unwrap().is_some());
    }

    /// A child forked while the lock is held keeps it until it execs or exits;
    /// here the child's stdout is the lock's open file description, and it
    /// exits when its stdin closes.
    #[test]
    fn a_lock_a_child_inherited_is_taken_as_soon_as_the_child_exits() {
        use std::process::{Command, Stdio};
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("state.db").display());
        let lock = StateLock::acquire(&url)
            .unwrap()
            .expect("a file store is locked");
        let inherited = lock._file.try_clone().unwrap();
        let mut child = Command::new("sh")
            .args(["-c", "read line || true"])
            .stdin(Stdio::piped())
            .stdout(Stdio::from(inherited))
            .spawn()
            .expect("sh starts");
        drop(lock);
        let refused = StateLock::acquire_within(&url, Duration::ZERO, || {})
            .expect_err("the child still holds the lock its parent dropped");
        assert!(matches!(refused, StateLockError::Held { .. }), "{refused}");

        let mut child_input = child.stdin.take();
        let mut held_attempts = 0;
        // Patience far beyond the child's exit: the test is that the wait ends
        // with the lock, not how fast.
        let taken = StateLock::acquire_within(&url, Duration::from_secs(600), || {
            held_attempts += 1;
            child_input.take();
        })
        .expect("the lock is taken once the child exits");
        assert!(taken.is_some());
        assert!(held_attempts >= 1, "the lock was held when acquire began");
        assert!(child.wait().unwrap().success());
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
