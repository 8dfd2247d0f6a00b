//! Incidents: one row per episode of a condition, opened in the transaction
//! that commits its start, its told channels extended by each reminder, closed
//! by the one that commits its end. Read by the cycle (the open episodes of
//! its account) so an end can follow its start to every channel told.

use std::collections::BTreeSet;

use super::dialect::{from_millis, millis, optional_time, placeholders, Backend, Columns};
use super::{Store, StoreError};
use crate::state::Incident;

/// An episode opened, told more channels, or closed, in the cycle's
/// transaction. The id is derived from the start event's, so a re-commit of
/// the same cycle writes the same row again.
pub(super) const UPSERT_INCIDENT: &str = "INSERT INTO incidents
        (id, account, subject, condition, started_at, start_event_id, channels_told, ended_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (id) DO UPDATE SET channels_told = excluded.channels_told,
                                    ended_at = excluded.ended_at";

const COLUMNS: &str = "id, account, subject, condition, started_at, start_event_id, channels_told,
     ended_at, acknowledged_by, acknowledged_at, acknowledged_note, storm_id";

/// The bound values of [`UPSERT_INCIDENT`] for `incident`.
pub(super) fn told_json(incident: &Incident) -> String {
    // A set of plain strings always serialises.
    serde_json::to_string(&incident.channels_told).unwrap_or_else(|_| "[]".into())
}

pub(super) fn bind_times(incident: &Incident) -> (i64, Option<i64>) {
    (millis(incident.started_at), incident.ended_at.map(millis))
}

impl Store {
    /// The open episodes of this handle's account.
    pub async fn open_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM incidents WHERE account = $1 AND ended_at IS NULL ORDER BY started_at, id"
        );
        on_pool!(self, pool => {
            let rows = sqlx::query(&sql)
                .bind(self.account())
                .fetch_all(pool)
                .await?;
            rows.iter().map(incident_row).collect()
        })
    }

    /// The channels told of this account's open episodes of `subject` (a
    /// campaign id, or the account for the API's health) and any of
    /// `conditions`: where their end would go besides the rules' channels.
    pub async fn told_by_open(
        &self,
        subject: &str,
        conditions: &[&str],
    ) -> Result<Vec<String>, StoreError> {
        let told: BTreeSet<String> = self
            .open_incidents()
            .await?
            .into_iter()
            .filter(|incident| incident.subject == subject)
            .filter(|incident| conditions.contains(&incident.condition.as_str()))
            .flat_map(|incident| incident.channels_told)
            .collect();
        Ok(told.into_iter().collect())
    }

    /// Every incident, newest start first, open ones only when `open`, at most
    /// `limit`, of every account.
    pub async fn incidents(&self, open: bool, limit: u32) -> Result<Vec<Incident>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM incidents WHERE ($1 = 0 OR ended_at IS NULL)
             ORDER BY started_at DESC, id LIMIT $2"
        );
        on_pool!(self, pool => {
            let rows = sqlx::query(&sql)
                .bind(i64::from(open))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(incident_row).collect()
        })
    }

    /// The channels given an outbox row for any of `event_ids` (an episode's
    /// start and reminders, for an episode open since before incidents were
    /// stored).
    pub async fn channels_given(&self, event_ids: &[&str]) -> Result<BTreeSet<String>, StoreError> {
        let mut channels = BTreeSet::new();
        for chunk in event_ids.chunks(super::dialect::IN_CHUNK) {
            let sql = format!(
                "SELECT DISTINCT channel FROM outbox WHERE event_id IN ({})",
                placeholders(chunk.len())
            );
            on_pool!(self, pool => {
                let mut query = sqlx::query(&sql);
                for id in chunk {
                    query = query.bind(*id);
                }
                for row in query.fetch_all(pool).await? {
                    channels.insert(row.text("channel")?);
                }
            });
        }
        Ok(channels)
    }
}

fn incident_row(row: &impl Columns) -> Result<Incident, StoreError> {
    let id = row.text("id")?;
    let told = row.text("channels_told")?;
    let channels_told = serde_json::from_str(&told).map_err(|e| StoreError::Corrupt {
        what: format!("channels_told of incident \"{id}\""),
        reason: e.to_string(),
    })?;
    Ok(Incident {
        started_at: from_millis(row.int("started_at")?, || format!("incident \"{id}\""))?,
        account: row.opt_text("account")?,
        subject: row.text("subject")?,
        condition: row.text("condition")?,
        start_event_id: row.text("start_event_id")?,
        channels_told,
        ended_at: optional_time(row, "ended_at")?,
        acknowledged_by: row.opt_text("acknowledged_by")?,
        acknowledged_at: optional_time(row, "acknowledged_at")?,
        acknowledged_note: row.opt_text("acknowledged_note")?,
        storm_id: row.opt_text("storm_id")?,
        id,
    })
}
