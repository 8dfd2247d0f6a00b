//! The store's side of the alerting controls: silences, reminder timestamps,
//! quiet-hours holds and the per-channel send window, plus the operator
//! queries behind `outbox`, `silence` and `history`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{
    from_millis, millis, parse_event, placeholders, Backend, Columns, Dialect, Store, StoreError,
    IN_CHUNK,
};
use crate::diff::remind::Reminder;
use crate::event::{Event, EventType};
use crate::route::silence::Silence;

/// A reminder to store for (campaign, rule), or to delete when `reminder` is `None`.
#[derive(Debug, Clone)]
pub struct ReminderWrite {
    pub campaign_id: String,
    pub rule: String,
    pub reminder: Option<Reminder>,
}

/// One outbox row, for `outbox list`.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub channel: String,
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

/// One channel's delivery of one event, for `history`.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryState {
    pub channel: String,
    pub status: String,
    pub attempts: u32,
    pub sent_at: Option<DateTime<Utc>>,
    /// Held by quiet hours until then.
    pub held_until: Option<DateTime<Utc>>,
    /// Sent inside this quiet-hours digest.
    pub digest_id: Option<String>,
    pub last_error: Option<String>,
}

/// One event from history with what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub event: Event,
    /// The silence that kept it from being sent.
    pub silenced_by: Option<Silence>,
    pub deliveries: Vec<DeliveryState>,
}

fn optional_time(row: &impl Columns, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.opt_int(column)?
        .map(|at| from_millis(at, || format!("{column} value")))
        .transpose()
}

fn silence_from_row(row: &impl Columns) -> Result<Silence, StoreError> {
    let id = row.int("id")?;
    let event_type = row.opt_text("event_type")?;
    let event = match event_type {
        None => None,
        Some(text) => Some(EventType::parse(&text).ok_or_else(|| StoreError::Corrupt {
            what: format!("silence {id}"),
            reason: format!("unknown event type {text:?}"),
        })?),
    };
    Ok(Silence {
        id,
        campaign: row.text("campaign")?,
        event,
        reason: row.text("reason")?,
        created_at: from_millis(row.int("created_at")?, || format!("silence {id}"))?,
        expires_at: from_millis(row.int("expires_at")?, || format!("silence {id}"))?,
    })
}

/// (campaign, rule, state json or None to delete).
pub(super) type ReminderRow<'a> = (&'a str, &'a str, Option<String>);

/// The reminder writes as rows, for the cycle's one transaction.
pub(super) fn reminder_rows(writes: &[ReminderWrite]) -> Result<Vec<ReminderRow<'_>>, StoreError> {
    writes
        .iter()
        .map(|write| {
            let json = write
                .reminder
                .as_ref()
                .map(|reminder| {
                    serde_json::to_string(reminder).map_err(|e| StoreError::Corrupt {
                        what: format!("reminder for campaign \"{}\"", write.campaign_id),
                        reason: e.to_string(),
                    })
                })
                .transpose()?;
            Ok((write.campaign_id.as_str(), write.rule.as_str(), json))
        })
        .collect()
}

const SILENCE_COLUMNS: &str = "id, campaign, event_type, reason, created_at, expires_at";

impl Store {
    /// Every stored reminder, by (campaign id, rule).
    pub async fn load_reminders(&self) -> Result<HashMap<(String, String), Reminder>, StoreError> {
        let rows: Vec<(String, String, String)> = on_pool!(self, pool => {
            sqlx::query("SELECT campaign_id, rule, state_json FROM reminders")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| {
                    Ok((
                        row.try_get("campaign_id")?,
                        row.try_get("rule")?,
                        row.try_get("state_json")?,
                    ))
                })
                .collect::<Result<_, sqlx::Error>>()?
        });
        let mut reminders = HashMap::with_capacity(rows.len());
        for (campaign, rule, json) in rows {
            let reminder = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                what: format!("reminder ({campaign}, {rule})"),
                reason: e.to_string(),
            })?;
            reminders.insert((campaign, rule), reminder);
        }
        Ok(reminders)
    }

    pub async fn add_silence(
        &self,
        campaign: &str,
        event: Option<EventType>,
        reason: &str,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Silence, StoreError> {
        const SQL: &str =
            "INSERT INTO silences (campaign, event_type, reason, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id";
        let id: i64 = on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(campaign)
                .bind(event.map(EventType::as_str))
                .bind(reason)
                .bind(millis(created_at))
                .bind(millis(expires_at))
                .fetch_one(pool)
                .await?
                .try_get("id")?
        });
        Ok(Silence {
            id,
            campaign: campaign.to_string(),
            event,
            reason: reason.to_string(),
            created_at,
            expires_at,
        })
    }

    /// Silences still in force at `now`, or every silence ever made with `all`; oldest first.
    pub async fn silences(
        &self,
        now: DateTime<Utc>,
        all: bool,
    ) -> Result<Vec<Silence>, StoreError> {
        let sql = format!(
            "SELECT {SILENCE_COLUMNS} FROM silences WHERE $1 OR expires_at > $2 ORDER BY id"
        );
        on_pool!(self, pool => {
            let rows = sqlx::query(&sql)
                .bind(all)
                .bind(millis(now))
                .fetch_all(pool)
                .await?;
            rows.iter().map(silence_from_row).collect()
        })
    }

    /// End a silence now. `None`: no such silence. An already ended one is returned unchanged.
    pub async fn expire_silence(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Silence>, StoreError> {
        let sql = format!("SELECT {SILENCE_COLUMNS} FROM silences WHERE id = $1");
        on_pool!(self, pool => {
            sqlx::query("UPDATE silences SET expires_at = $1 WHERE id = $2 AND expires_at > $3")
                .bind(millis(now))
                .bind(id)
                .bind(millis(now))
                .execute(pool)
                .await?;
            let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(silence_from_row).transpose()
        })
    }

    /// Pending rows (or dead ones with `dead`), oldest first.
    pub async fn outbox_entries(&self, dead: bool) -> Result<Vec<OutboxEntry>, StoreError> {
        const SQL: &str = "SELECT o.id, o.event_id, o.channel, o.status, o.attempts, o.created_at,
                    o.next_attempt_at, o.held_until, o.last_error, e.type, e.payload_json
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

    /// Put one dead row back in the queue, due now, with a fresh `max_age`.
    pub async fn replay(&self, id: i64, now: DateTime<Utc>) -> Result<ReplayOutcome, StoreError> {
        const SQL: &str = "UPDATE outbox SET status = 'pending', attempts = 0, created_at = $1, next_attempt_at = $2,
                 dead_at = NULL WHERE id = $3 AND status = 'dead'";
        let (changed, status): (u64, Option<String>) = on_pool!(self, pool => {
            let changed = sqlx::query(SQL)
                .bind(millis(now))
                .bind(millis(now))
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected();
            let status = if changed > 0 {
                None
            } else {
                sqlx::query("SELECT status FROM outbox WHERE id = $1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await?
                    .map(|row| row.try_get("status"))
                    .transpose()?
            };
            (changed, status)
        });
        if changed > 0 {
            return Ok(ReplayOutcome::Replayed);
        }
        Ok(status.map_or(ReplayOutcome::Unknown, ReplayOutcome::NotDead))
    }

    /// Replay every dead row; returns how many.
    pub async fn replay_dead(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        const SQL: &str = "UPDATE outbox SET status = 'pending', attempts = 0, created_at = $1, next_attempt_at = $2,
                 dead_at = NULL WHERE status = 'dead'";
        Ok(on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(millis(now))
                .bind(millis(now))
                .execute(pool)
                .await?
                .rows_affected()
        }))
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

    /// Events since `since`, newest first, optionally of one campaign, with each
    /// channel's delivery and any silence.
    pub async fn history(
        &self,
        campaign: Option<&str>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        const EVENTS: &str = "SELECT id, payload_json, silence_id FROM events
             WHERE occurred_at >= $1 AND ($2 IS NULL OR campaign_id = $3)
             ORDER BY occurred_at DESC, rowid DESC LIMIT $4";
        let events: Vec<EventRow> = on_pool!(self, pool => {
            sqlx::query(EVENTS)
                .bind(millis(since))
                .bind(campaign)
                .bind(campaign)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
                .iter()
                .map(event_row)
                .collect::<Result<_, sqlx::Error>>()?
        });
        let silences: HashMap<i64, Silence> = self
            .silences(since, true)
            .await?
            .into_iter()
            .map(|silence| (silence.id, silence))
            .collect();
        let mut entries = Vec::with_capacity(events.len());
        for chunk in events.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT event_id, channel, status, attempts, sent_at, held_until, digest_id, last_error
                 FROM outbox WHERE event_id IN ({}) ORDER BY channel",
                placeholders(chunk.len())
            );
            let mut deliveries: HashMap<String, Vec<DeliveryState>> = HashMap::new();
            on_pool!(self, pool => {
                let mut query = sqlx::query(&sql);
                for (id, _, _) in chunk {
                    query = query.bind(id);
                }
                for row in query.fetch_all(pool).await? {
                    let event_id: String = row.try_get("event_id")?;
                    deliveries.entry(event_id).or_default().push(DeliveryState {
                        channel: row.try_get("channel")?,
                        status: row.try_get("status")?,
                        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(0),
                        sent_at: optional_time(&row, "sent_at")?,
                        held_until: optional_time(&row, "held_until")?,
                        digest_id: row.try_get("digest_id")?,
                        last_error: row.try_get("last_error")?,
                    });
                }
            });
            for (id, json, silence_id) in chunk {
                let event = parse_event(json, || format!("events row \"{id}\""))?;
                entries.push(HistoryEntry {
                    event,
                    silenced_by: silence_id.and_then(|sid| silences.get(&sid).cloned()),
                    deliveries: deliveries.remove(id).unwrap_or_default(),
                });
            }
        }
        Ok(entries)
    }

    /// One campaign's latest events (`None`: the watcher's own), newest first,
    /// each with whether a silence kept it from being sent. Rows that cannot be
    /// read are left out.
    pub async fn latest_events_of(
        &self,
        campaign: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(Event, bool)>, StoreError> {
        const SQL: &str = "SELECT id, payload_json, silence_id FROM events
             WHERE ($1 IS NULL AND campaign_id IS NULL) OR campaign_id = $2
             ORDER BY rowid DESC LIMIT $3";
        let rows: Vec<EventRow> = on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(campaign)
                .bind(campaign)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
                .iter()
                .map(event_row)
                .collect::<Result<_, sqlx::Error>>()?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(id, json, silence)| {
                match parse_event(&json, || format!("events row \"{id}\"")) {
                    Ok(event) => Some((event, silence.is_some())),
                    Err(error) => {
                        tracing::warn!(%error, "skipping an unreadable event in history");
                        None
                    }
                }
            })
            .collect())
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
}

/// `(id, payload_json, silence_id)` of an `events` row.
type EventRow = (String, String, Option<i64>);

fn event_row(row: &impl Columns) -> Result<EventRow, sqlx::Error> {
    Ok((
        row.text("id")?,
        row.text("payload_json")?,
        row.opt_int("silence_id")?,
    ))
}

fn outbox_entry_from_row(row: &impl Columns) -> Result<OutboxEntry, StoreError> {
    let id = row.int("id")?;
    let what = || format!("outbox row {id}");
    let json = row.text("payload_json")?;
    // Listed even when its event is damaged: that is why such a row is dead.
    let summary = match parse_event(&json, what) {
        Ok(event) => event.summary,
        Err(error) => format!("(the stored event cannot be read: {error})"),
    };
    Ok(OutboxEntry {
        id,
        event_id: row.text("event_id")?,
        event_type: row.text("type")?,
        channel: row.text("channel")?,
        status: row.text("status")?,
        attempts: u32::try_from(row.int("attempts")?).unwrap_or(0),
        created_at: from_millis(row.int("created_at")?, what)?,
        next_attempt_at: from_millis(row.int("next_attempt_at")?, what)?,
        held_until: optional_time(row, "held_until")?,
        last_error: row.opt_text("last_error")?,
        summary,
    })
}
