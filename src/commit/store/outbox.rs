//! The outbox: one row per (event, channel), the dispatcher's queue. What the
//! dispatcher records about each row (sent, rescheduled, dead, held for quiet
//! hours, deferred by a rate limit, sent in a digest), the rate window it
//! reads, and the operator's `outbox list`, `replay` and `purge`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::dialect::{
    from_millis, keep_prepared, millis, optional_time, placeholders, to_u64, Backend, Columns,
    Dialect, IN_CHUNK,
};
use super::events::parse_event;
use super::{Store, StoreError};
use crate::event::{Event, EventType};

/// One new row per (event, channel) in the cycle's transaction; a re-commit of
/// the same pair adds nothing.
pub(super) const ENQUEUE: &str = "INSERT INTO outbox
         (event_id, channel, status, attempts, created_at, next_attempt_at)
     VALUES ($1, $2, 'pending', 0, $3, $4) ON CONFLICT (event_id, channel) DO NOTHING";

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

/// One outbox row, for `outbox list`.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub channel: String,
    /// The event's account (from its payload); none for the whole watcher's events.
    pub account: Option<String>,
    pub status: String,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub held_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayOutcome {
    Replayed,
    /// The row exists but is not dead (`pending` or `sent`): nothing done.
    NotDead(String),
    Unknown,
}

impl Store {
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

    /// Quiet hours: the row waits until `until` and is marked held (history shows it).
    pub async fn hold(&self, delivery_id: i64, until: DateTime<Utc>) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE outbox SET next_attempt_at = $1, held_until = $2 WHERE id = $3 AND status = 'pending'";
        on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(millis(until))
                .bind(millis(until))
                .bind(delivery_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Not an attempt: the row waits (rate limit) until `until`.
    pub async fn defer(&self, delivery_id: i64, until: DateTime<Utc>) -> Result<(), StoreError> {
        const SQL: &str =
            "UPDATE outbox SET next_attempt_at = $1 WHERE id = $2 AND status = 'pending'";
        on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(millis(until))
                .bind(delivery_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The held rows went out as one digest: mark them all sent, in one transaction.
    pub async fn mark_sent_in_digest(
        &self,
        delivery_ids: &[i64],
        digest_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const SQL: &str =
            "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = $1,
                     last_error = NULL, digest_id = $2 WHERE id = $3 AND status = 'pending'";
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for id in delivery_ids {
                sqlx::query(SQL)
                    .bind(millis(now))
                    .bind(digest_id)
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// When `channel`'s sends since `since` went out, oldest first (the rate window).
    pub async fn sent_since(
        &self,
        channel: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        const SQL: &str =
            "SELECT DISTINCT sent_at, COALESCE(digest_id, CAST(id AS TEXT)) AS message FROM outbox
             WHERE channel = $1 AND status = 'sent' AND sent_at >= $2 ORDER BY sent_at";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL)
                .bind(channel)
                .bind(millis(since))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| from_millis(row.try_get("sent_at")?, || "outbox sent_at".into()))
                .collect()
        })
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
                let mut query = sqlx::query(&sql).persistent(keep_prepared(chunk.len(), IN_CHUNK));
                for id in chunk {
                    query = query.bind(id);
                }
                query.fetch_one(pool).await?.try_get("n")?
            });
            total += to_u64(n);
        }
        Ok(total)
    }

    /// Pending rows (or dead ones with `dead`), oldest first.
    pub async fn outbox_entries(&self, dead: bool) -> Result<Vec<OutboxEntry>, StoreError> {
        const SQL: &str = "SELECT o.id, o.event_id, o.channel, o.status, o.attempts, o.created_at,
                    o.next_attempt_at, o.held_until, o.last_error, e.type, e.payload_json, e.account
             FROM outbox o JOIN events e ON e.id = o.event_id
             WHERE o.status = $1 ORDER BY o.id";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL)
                .bind(if dead { "dead" } else { "pending" })
                .fetch_all(pool)
                .await?;
            rows.iter().map(outbox_entry_from_row).collect()
        })
    }
    /// Delete finished (sent or dead) outbox rows created before `cutoff`; pending
    /// rows are never purged, and the event history is kept. Returns (sent, dead).
    pub async fn purge_outbox(&self, cutoff: DateTime<Utc>) -> Result<(u64, u64), StoreError> {
        let mut counts = [0u64; 2];
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for (slot, status) in ["sent", "dead"].iter().enumerate() {
                counts[slot] =
                    sqlx::query("DELETE FROM outbox WHERE status = $1 AND created_at < $2")
                        .bind(*status)
                        .bind(millis(cutoff))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
            }
            tx.commit().await?;
        });
        Ok((counts[0], counts[1]))
    }
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

fn outbox_entry_from_row(row: &impl Columns) -> Result<OutboxEntry, StoreError> {
    let id = row.int("id")?;
    let what = || format!("outbox row {id}");
    let json = row.text("payload_json")?;
    // Listed even when its event is damaged: that is why such a row is dead.
    let (summary, account) = match parse_event(&json, what) {
        Ok(event) => (event.summary, event.account),
        Err(error) => (
            format!("(the stored event cannot be read: {error})"),
            row.opt_text("account")?,
        ),
    };
    Ok(OutboxEntry {
        id,
        event_id: row.text("event_id")?,
        event_type: row.text("type")?,
        channel: row.text("channel")?,
        account,
        status: row.text("status")?,
        attempts: u32::try_from(row.int("attempts")?).unwrap_or(0),
        created_at: from_millis(row.int("created_at")?, what)?,
        next_attempt_at: from_millis(row.int("next_attempt_at")?, what)?,
        held_until: optional_time(row, "held_until")?,
        last_error: row.opt_text("last_error")?,
        summary,
    })
}

/// Binds now, now, id: a dead row pending again, due now, with a fresh `max_age`.
pub(super) const REPLAY_ONE: &str =
    "UPDATE outbox SET status = 'pending', attempts = 0, created_at = $1, next_attempt_at = $2,
     dead_at = NULL WHERE id = $3 AND status = 'dead'";
/// Binds now, now: every dead row pending again, due now, with a fresh `max_age`.
pub(super) const REPLAY_ALL: &str =
    "UPDATE outbox SET status = 'pending', attempts = 0, created_at = $1, next_attempt_at = $2,
     dead_at = NULL WHERE status = 'dead'";
