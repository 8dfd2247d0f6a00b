//! The event history: every event the cycles produced, with what became of it
//! (each channel's delivery, or the silence that stopped it). Read by
//! `status`, `history` and the hints; written only by the cycle's commit.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::dialect::{
    keep_prepared, millis, optional_time, placeholders, Backend, Columns, IN_CHUNK,
};
use super::{Store, StoreError};
use crate::event::Event;
use crate::route::silence::Silence;

/// One new event in the cycle's transaction (kept once, however often committed).
pub(super) const INSERT_EVENT: &str =
    "INSERT INTO events (id, type, campaign_id, occurred_at, payload_json, silence_id, account)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING";

/// An event from history with each channel's delivery state.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub event: Event,
    /// `(channel, "pending" | "sent" | "dead")`, by channel name.
    pub deliveries: Vec<(String, String)>,
    /// The silence that held it back, if one did.
    pub silence_id: Option<i64>,
}

/// One channel's delivery of one event, for `history`.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryState {
    /// The outbox row (what `outbox replay` and the board's "send again" name).
    pub outbox_id: i64,
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

impl Store {
    /// Newest first, with each channel's delivery state, for `status`.
    pub async fn recent_events(&self, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        const EVENTS: &str =
            "SELECT id, payload_json, silence_id FROM events ORDER BY occurred_at DESC, rowid DESC LIMIT $1";
        const DELIVERIES: &str =
            "SELECT channel, status FROM outbox WHERE event_id = $1 ORDER BY channel";
        on_pool!(self, pool => {
            let rows = sqlx::query(EVENTS)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            let mut events = Vec::with_capacity(rows.len());
            for row in rows {
                let id: String = row.try_get("id")?;
                let json: String = row.try_get("payload_json")?;
                let event = parse_event(&json, || format!("events row \"{id}\""))?;
                let deliveries = sqlx::query(DELIVERIES)
                    .bind(&id)
                    .fetch_all(pool)
                    .await?
                    .iter()
                    .map(|row| Ok((row.try_get("channel")?, row.try_get("status")?)))
                    .collect::<Result<Vec<(String, String)>, sqlx::Error>>()?;
                events.push(StoredEvent {
                    event,
                    deliveries,
                    silence_id: row.try_get("silence_id")?,
                });
            }
            Ok(events)
        })
    }

    /// Events since `since`, newest first, optionally of one campaign (of this
    /// handle's account: one id in two accounts is two campaigns; without a
    /// campaign, every account's), with each channel's delivery and any silence.
    pub async fn history(
        &self,
        campaign: Option<&str>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        const EVENTS: &str = "SELECT id, payload_json, silence_id FROM events
             WHERE occurred_at >= $1 AND ($2 IS NULL OR (campaign_id = $3 AND account = $5))
             ORDER BY occurred_at DESC, rowid DESC LIMIT $4";
        let events: Vec<EventRow> = on_pool!(self, pool => {
            sqlx::query(EVENTS)
                .bind(millis(since))
                .bind(campaign)
                .bind(campaign)
                .bind(i64::from(limit))
                .bind(self.account())
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
        self.with_deliveries(&events, &silences).await
    }

    /// Each event row with each channel's delivery and the silence that stopped it.
    pub(super) async fn with_deliveries(
        &self,
        events: &[EventRow],
        silences: &HashMap<i64, Silence>,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut entries = Vec::with_capacity(events.len());
        for chunk in events.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT id, event_id, channel, status, attempts, sent_at, held_until, digest_id, last_error
                 FROM outbox WHERE event_id IN ({}) ORDER BY channel",
                placeholders(chunk.len())
            );
            let mut deliveries: HashMap<String, Vec<DeliveryState>> = HashMap::new();
            on_pool!(self, pool => {
                let mut query = sqlx::query(&sql).persistent(keep_prepared(chunk.len(), IN_CHUNK));
                for (id, _, _) in chunk {
                    query = query.bind(id);
                }
                for row in query.fetch_all(pool).await? {
                    let event_id: String = row.try_get("event_id")?;
                    deliveries.entry(event_id).or_default().push(DeliveryState {
                        outbox_id: row.try_get("id")?,
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
             WHERE account = $4 AND (($1 IS NULL AND campaign_id IS NULL) OR campaign_id = $2)
             ORDER BY rowid DESC LIMIT $3";
        let rows: Vec<EventRow> = on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(campaign)
                .bind(campaign)
                .bind(i64::from(limit))
                .bind(self.account())
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
}

pub(super) fn parse_event(json: &str, what: impl FnOnce() -> String) -> Result<Event, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: what(),
        reason: e.to_string(),
    })
}

/// `(id, payload_json, silence_id)` of an `events` row.
pub(super) type EventRow = (String, String, Option<i64>);

pub(super) fn event_row(row: &impl Columns) -> Result<EventRow, sqlx::Error> {
    Ok((
        row.text("id")?,
        row.text("payload_json")?,
        row.opt_int("silence_id")?,
    ))
}
