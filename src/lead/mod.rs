//! One active replica: leader election among replicas sharing a PostgreSQL store.
//!
//! The leader holds a session-scoped advisory lock (`pg_try_advisory_lock`) on a
//! dedicated connection of its own, outside the pool, so no other query can end
//! or share that session. Chosen over a lease row because the server itself ends
//! the lease: a killed leader's socket closes and the lock is free at once, with
//! no TTL to wait out and no clock to trust. Two settings on the lock session
//! bound the other failure, a leader that stalls or is cut off without its socket
//! closing: `idle_session_timeout = lease_ttl` makes the server drop a session
//! that has not been renewed for a whole TTL (and with it the lock), and TCP
//! keepalives notice a dead peer.
//!
//! The leader renews every `lease_ttl / 3` (a round trip on the lock session) and
//! counts itself leader only for `2/3 · lease_ttl` after the last renewal began:
//! by the time the server could hand the lock to someone else, a stalled
//! ex-leader has already stopped trusting its lease ([`LeaseState::check`], the
//! fence before each send). Each cycle's commit also asks the server, inside its
//! transaction, whether the recorded lock session still holds the lock.
//! Standbys try to take the lock every `lease_ttl / 3`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgQueryResult, PgRow};
use sqlx::{ConnectOptions, Connection, Row};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

// The fence itself belongs to the store, which checks it in every commit; the
// old paths (`lead::LeaseState`, ...) keep working.
pub use crate::commit::{lease_fresh, LeaseState, NotLeader, LOCK_KEY};

/// `state.lease_ttl` when not set.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15);

/// Runs the election on its own connection; tells `changes` when this replica
/// becomes or stops being the leader.
pub struct Elector {
    options: PgConnectOptions,
    lease: Arc<LeaseState>,
    session: tokio::sync::Mutex<Option<PgConnection>>,
    changes: watch::Sender<bool>,
}

impl Elector {
    pub fn new(options: PgConnectOptions, lease: Arc<LeaseState>) -> Self {
        let (changes, _) = watch::channel(false);
        Self {
            options: options.application_name("campaign-watcher leader lock"),
            lease,
            session: tokio::sync::Mutex::new(None),
            changes,
        }
    }

    pub fn lease(&self) -> &Arc<LeaseState> {
        &self.lease
    }

    /// `true` while leader; changes on every acquisition and loss.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.changes.subscribe()
    }

    fn period(&self) -> Duration {
        (self.lease.ttl() / 3).max(Duration::from_millis(100))
    }

    /// Until `stop`: one round every `lease_ttl / 3`. On stop, the lock is
    /// released at once (unlock, then close the session), not left to time out.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        loop {
            self.round().await;
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(self.period()) => {}
            }
        }
        self.release().await;
    }

    /// One round: renew the lock if held, try to take it if not. Returns
    /// whether this replica leads afterwards.
    pub async fn round(&self) -> bool {
        let period = self.period();
        let mut session = self.session.lock().await;
        if session.is_none() {
            match tokio::time::timeout(period, self.connect()).await {
                Ok(Ok(conn)) => *session = Some(conn),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "leader election: cannot reach PostgreSQL; not leading");
                    return self.set_leading(false);
                }
                Err(_) => {
                    tracing::warn!(
                        "leader election: connecting to PostgreSQL timed out; not leading"
                    );
                    return self.set_leading(false);
                }
            }
        }
        let Some(conn) = session.as_mut() else {
            return self.set_leading(false);
        };
        let asked = Instant::now();
        // pg_try_advisory_lock is re-entrant per session: on the leader's session
        // it succeeds again and proves the session (and so the lock) is alive.
        let answer = tokio::time::timeout(period, try_lock(conn)).await;
        match answer {
            Ok(Ok(row)) => {
                let got: bool = row.try_get("got").unwrap_or(false);
                let pid: i32 = row.try_get("pid").unwrap_or(0);
                if got {
                    if self.lease.is_leader() {
                        // Keep the lock count at one, so one unlock releases it.
                        let _ = unlock(conn).await;
                    }
                    self.lease.renewed(pid, asked);
                }
                self.set_leading(got)
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "leader election: the lock session failed; not leading");
                *session = None;
                self.set_leading(false)
            }
            Err(_) => {
                tracing::warn!(
                    "leader election: the lock session did not answer in time; not leading"
                );
                // Dropping the connection closes its socket: the server ends the
                // session and frees the lock for a standby.
                *session = None;
                self.set_leading(false)
            }
        }
    }

    fn set_leading(&self, leading: bool) -> bool {
        if !leading {
            self.lease.lost();
        }
        self.changes.send_if_modified(|current| {
            let changed = *current != leading;
            *current = leading;
            changed
        });
        leading
    }

    async fn connect(&self) -> Result<PgConnection, sqlx::Error> {
        let mut conn = self.options.connect().await?;
        let ttl_ms = self.lease.ttl().as_millis().max(1000);
        let keepalive = (self.lease.ttl().as_secs() / 3).max(1);
        // Best effort: idle_session_timeout needs PostgreSQL 14; keepalives only
        // apply over TCP. Without them a stalled leader is found by TCP alone.
        for setting in [
            format!("SET idle_session_timeout = {ttl_ms}"),
            format!("SET tcp_keepalives_idle = {keepalive}"),
            format!("SET tcp_keepalives_interval = {keepalive}"),
            "SET tcp_keepalives_count = 3".to_string(),
        ] {
            if let Err(error) = run(&mut conn, &setting).await {
                tracing::debug!(%error, setting, "leader election: session setting refused");
            }
        }
        Ok(conn)
    }

    /// Give the lock up now (shutdown): unlock and close the session.
    pub async fn release(&self) {
        let was_leading = self.lease.is_leader();
        self.set_leading(false);
        let Some(mut conn) = self.session.lock().await.take() else {
            return;
        };
        let (class, object) = LOCK_KEY;
        let period = self.period();
        let _ =
            tokio::time::timeout(period, run(&mut conn, "SELECT pg_advisory_unlock_all()")).await;
        let _ = tokio::time::timeout(period, conn.close()).await;
        if was_leading {
            tracing::info!(lock = ?(class, object), "leadership released");
        }
    }
}

// Boxed, so the election's futures are provably Send for tokio::spawn (sqlx's
// executor lifetimes defeat the compiler's inference otherwise).
fn try_lock(conn: &mut PgConnection) -> BoxFuture<'_, Result<PgRow, sqlx::Error>> {
    let (class, object) = LOCK_KEY;
    Box::pin(
        sqlx::query("SELECT pg_try_advisory_lock($1, $2) AS got, pg_backend_pid() AS pid")
            .bind(class)
            .bind(object)
            .fetch_one(conn),
    )
}

fn unlock(conn: &mut PgConnection) -> BoxFuture<'_, Result<PgQueryResult, sqlx::Error>> {
    let (class, object) = LOCK_KEY;
    Box::pin(
        sqlx::query("SELECT pg_advisory_unlock($1, $2)")
            .bind(class)
            .bind(object)
            .execute(conn),
    )
}

/// A parameterless statement on the lock session.
fn run<'c>(
    conn: &'c mut PgConnection,
    sql: &'c str,
) -> BoxFuture<'c, Result<PgQueryResult, sqlx::Error>> {
    Box::pin(sqlx::query(sql).persistent(false).execute(conn))
}

#[cfg(test)]
mod tests;
