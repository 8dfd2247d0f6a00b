//! Silences: an operator's "don't send this" for a campaign (or every one),
//! optionally one event type, until it expires. The routing decides what a
//! silence stops; the store keeps them and which event each one stopped.

use chrono::{DateTime, Utc};

use super::dialect::{from_millis, millis, Backend, Columns};
use super::{Store, StoreError};
use crate::event::EventType;
use crate::route::silence::{PatternCache, Silence};

pub(super) const SILENCE_COLUMNS: &str =
    "id, campaign, account, event_type, reason, author, created_at, expires_at";
/// Binds campaign, event type, reason, author, created_at, expires_at, account.
pub(super) const INSERT_SILENCE: &str =
    "INSERT INTO silences (campaign, event_type, reason, author, created_at, expires_at, account)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
/// Binds now, id, now: ends a silence still in force.
pub(super) const END_SILENCE: &str =
    "UPDATE silences SET expires_at = $1 WHERE id = $2 AND expires_at > $3";

pub(super) fn silence_from_row(
    row: &impl Columns,
    patterns: &PatternCache,
) -> Result<Silence, StoreError> {
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
        campaign: patterns.get(row.text("campaign")?),
        account: row.opt_text("account")?.map(|text| patterns.get(text)),
        event,
        reason: row.text("reason")?,
        author: row.text("author")?,
        created_at: from_millis(row.int("created_at")?, || format!("silence {id}"))?,
        expires_at: from_millis(row.int("expires_at")?, || format!("silence {id}"))?,
    })
}

impl Store {
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
            rows.iter()
                .map(|row| silence_from_row(row, &self.patterns))
                .collect()
        })
    }
}

/// What `end_silence` did.
#[derive(Debug, Clone, PartialEq)]
pub enum SilenceExpiry {
    EndedNow(Silence),
    AlreadyEnded(Silence),
}
