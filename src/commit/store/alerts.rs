//! The store's side of the alerting controls: silences, reminder timestamps,
//! quiet-hours holds and the per-channel send window, plus the operator
//! queries behind `outbox`, `silence` and `history`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::{from_millis, millis, parse_event, Store, StoreError, IN_CHUNK};
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

fn optional_time(row: &SqliteRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    row.try_get::<Option<i64>, _>(column)?
        .map(|at| from_millis(at, || format!("{column} value")))
        .transpose()
}

fn silence_from_row(row: &SqliteRow) -> Result<Silence, StoreError> {
    let id: i64 = row.try_get("id")?;
    let event_type: Option<String> = row.try_get("event_type")?;
    let event = match event_type {
        None => None,
        Some(text) => Some(EventType::parse(&text).ok_or_else(|| StoreError::Corrupt {
            what: format!("silence {id}"),
            reason: format!("unknown event type {text:?}"),
        })?),
    };
    Ok(Silence {
        id,
        campaign: row.try_get("campaign")?,
        event,
        reason: row.try_get("reason")?,
        created_at: from_millis(row.try_get("created_at")?, || format!("silence {id}"))?,
        expires_at: from_millis(row.try_get("expires_at")?, || format!("silence {id}"))?,
    })
}

/// Part of the cycle's one transaction.
pub(super) async fn write_reminders(
    tx: &mut Transaction<'_, Sqlite>,
    writes: &[ReminderWrite],
) -> Result<(), StoreError> {
    for write in writes {
        match &write.reminder {
            Some(reminder) => {
                let json = serde_json::to_string(reminder).map_err(|e| StoreError::Corrupt {
                    what: format!("reminder for campaign \"{}\"", write.campaign_id),
                    reason: e.to_string(),
                })?;
                sqlx::query(
                    "INSERT INTO reminders (campaign_id, rule, state_json) VALUES (?, ?, ?)
                     ON CONFLICT (campaign_id, rule) DO UPDATE SET state_json = excluded.state_json",
                )
                .bind(&write.campaign_id)
                .bind(&write.rule)
                .bind(json)
                .execute(&mut **tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM reminders WHERE campaign_id = ? AND rule = ?")
                    .bind(&write.campaign_id)
                    .bind(&write.rule)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    Ok(())
}

impl Store {
    /// Every stored reminder, by (campaign id, rule).
    pub async fn load_reminders(&self) -> Result<HashMap<(String, String), Reminder>, StoreError> {
        let rows = sqlx::query("SELECT campaign_id, rule, state_json FROM reminders")
            .fetch_all(&self.pool)
            .await?;
        let mut reminders = HashMap::with_capacity(rows.len());
        for row in rows {
            let campaign: String = row.try_get("campaign_id")?;
            let rule: String = row.try_get("rule")?;
            let json: String = row.try_get("state_json")?;
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
        let id = sqlx::query(
            "INSERT INTO silences (campaign, event_type, reason, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(campaign)
        .bind(event.map(EventType::as_str))
        .bind(reason)
        .bind(millis(created_at))
        .bind(millis(expires_at))
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
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
        let rows = sqlx::query(
            "SELECT id, campaign, event_type, reason, created_at, expires_at FROM silences
             WHERE ? OR expires_at > ? ORDER BY id",
        )
        .bind(all)
        .bind(millis(now))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(silence_from_row).collect()
    }

    /// End a silence now. `None`: no such silence. An already ended one is returned unchanged.
    pub async fn expire_silence(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Silence>, StoreError> {
        sqlx::query("UPDATE silences SET expires_at = ? WHERE id = ? AND expires_at > ?")
            .bind(millis(now))
            .bind(id)
            .bind(millis(now))
            .execute(&self.pool)
            .await?;
        let row = sqlx::query(
            "SELECT id, campaign, event_type, reason, created_at, expires_at FROM silences WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(silence_from_row).transpose()
    }

    /// Pending rows (or dead ones with `dead`), oldest first.
    pub async fn outbox_entries(&self, dead: bool) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.id, o.event_id, o.channel, o.status, o.attempts, o.created_at,
                    o.next_attempt_at, o.held_until, o.last_error, e.type, e.payload_json
             FROM outbox o JOIN events e ON e.id = o.event_id
             WHERE o.status = ? ORDER BY o.id",
        )
        .bind(if dead { "dead" } else { "pending" })
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id")?;
                let what = || format!("outbox row {id}");
                let json: String = row.try_get("payload_json")?;
                let event = parse_event(&json, what)?;
                Ok(OutboxEntry {
                    id,
                    event_id: row.try_get("event_id")?,
                    event_type: row.try_get("type")?,
                    channel: row.try_get("channel")?,
                    status: row.try_get("status")?,
                    attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(0),
                    created_at: from_millis(row.try_get("created_at")?, what)?,
                    next_attempt_at: from_millis(row.try_get("next_attempt_at")?, what)?,
                    held_until: optional_time(row, "held_until")?,
                    last_error: row.try_get("last_error")?,
                    summary: event.summary,
                })
            })
            .collect()
    }

    /// Put one dead row back in the queue, due now, with a fresh `max_age`.
    pub async fn replay(&self, id: i64, now: DateTime<Utc>) -> Result<ReplayOutcome, StoreError> {
        let changed = sqlx::query(
            "UPDATE outbox SET status = 'pending', attempts = 0, created_at = ?, next_attempt_at = ?,
                 dead_at = NULL WHERE id = ? AND status = 'dead'",
        )
        .bind(millis(now))
        .bind(millis(now))
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if changed > 0 {
            return Ok(ReplayOutcome::Replayed);
        }
        let status: Option<String> = sqlx::query("SELECT status FROM outbox WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| row.try_get("status"))
            .transpose()?;
        Ok(status.map_or(ReplayOutcome::Unknown, ReplayOutcome::NotDead))
    }

    /// Replay every dead row; returns how many.
    pub async fn replay_dead(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE outbox SET status = 'pending', attempts = 0, created_at = ?, next_attempt_at = ?,
                 dead_at = NULL WHERE status = 'dead'",
        )
        .bind(millis(now))
        .bind(millis(now))
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Delete finished (sent or dead) outbox rows created before `cutoff`; pending
    /// rows are never purged, and the event history is kept. Returns (sent, dead).
    pub async fn purge_outbox(&self, cutoff: DateTime<Utc>) -> Result<(u64, u64), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut counts = [0u64; 2];
        for (slot, status) in ["sent", "dead"].iter().enumerate() {
            counts[slot] = sqlx::query("DELETE FROM outbox WHERE status = ? AND created_at < ?")
                .bind(status)
                .bind(millis(cutoff))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
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
        let rows = sqlx::query(
            "SELECT id, payload_json, silence_id FROM events
             WHERE occurred_at >= ? AND (? IS NULL OR campaign_id = ?)
             ORDER BY occurred_at DESC, rowid DESC LIMIT ?",
        )
        .bind(millis(since))
        .bind(campaign)
        .bind(campaign)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let silences: HashMap<i64, Silence> = self
            .silences(since, true)
            .await?
            .into_iter()
            .map(|silence| (silence.id, silence))
            .collect();
        let mut entries = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(IN_CHUNK) {
            let placeholders = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT event_id, channel, status, attempts, sent_at, held_until, digest_id, last_error
                 FROM outbox WHERE event_id IN ({placeholders}) ORDER BY channel"
            );
            let mut query = sqlx::query(&sql);
            for row in chunk {
                query = query.bind(row.try_get::<String, _>("id")?);
            }
            let mut deliveries: HashMap<String, Vec<DeliveryState>> = HashMap::new();
            for row in query.fetch_all(&self.pool).await? {
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
            for row in chunk {
                let id: String = row.try_get("id")?;
                let json: String = row.try_get("payload_json")?;
                let event = parse_event(&json, || format!("events row \"{id}\""))?;
                let silence_id: Option<i64> = row.try_get("silence_id")?;
                entries.push(HistoryEntry {
                    event,
                    silenced_by: silence_id.and_then(|sid| silences.get(&sid).cloned()),
                    deliveries: deliveries.remove(&id).unwrap_or_default(),
                });
            }
        }
        Ok(entries)
    }

    /// When `channel`'s sends since `since` went out, oldest first (the rate window).
    pub async fn sent_since(
        &self,
        channel: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT sent_at, COALESCE(digest_id, CAST(id AS TEXT)) AS message FROM outbox
             WHERE channel = ? AND status = 'sent' AND sent_at >= ? ORDER BY sent_at",
        )
        .bind(channel)
        .bind(millis(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| from_millis(row.try_get("sent_at")?, || "outbox sent_at".into()))
            .collect()
    }

    /// Quiet hours: the row waits until `until` and is marked held (history shows it).
    pub async fn hold(&self, delivery_id: i64, until: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET next_attempt_at = ?, held_until = ? WHERE id = ? AND status = 'pending'",
        )
        .bind(millis(until))
        .bind(millis(until))
        .bind(delivery_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Not an attempt: the row waits (rate limit) until `until`.
    pub async fn defer(&self, delivery_id: i64, until: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND status = 'pending'")
            .bind(millis(until))
            .bind(delivery_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The held rows went out as one digest: mark them all sent, in one transaction.
    pub async fn mark_sent_in_digest(
        &self,
        delivery_ids: &[i64],
        digest_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for id in delivery_ids {
            sqlx::query(
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?,
                     last_error = NULL, digest_id = ? WHERE id = ? AND status = 'pending'",
            )
            .bind(millis(now))
            .bind(digest_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
