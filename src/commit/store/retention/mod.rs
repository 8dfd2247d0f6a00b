//! Retention (`[state] retention`): what may go once it is older than the
//! retention, in small batches that each hold the store for a few
//! milliseconds; a round ends by giving free pages back (`size.rs`).
//!
//! What always stays, whatever its age (decided by the pure functions at the
//! top, table-tested below):
//! - an event with a pending (or held) outbox row, and that row;
//! - the last event of each campaign (and the watcher's own last event);
//! - an event that started a condition still open: the resolve logic
//!   (`alert::announced`) reads it to know that an end must be sent
//!   even through a silence;
//! - silences that have not ended, and the reminders, states and last-seen rows
//!   of campaigns still watched.
//!
//! What goes: older events (with their sent and dead outbox rows), silences
//! that ended before the cutoff, and the state, reminders and last-seen row of
//! a campaign not read since before the cutoff.
//!
//! A table whose rows simply age out (one time column) is one line in
//! [`AGED_TABLES`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::dialect::{
    keep_prepared, millis, placeholders, to_u64, values_rows, Backend, Dialect, IN_CHUNK,
};
use super::events::parse_event;
use super::{Store, StoreError};
use crate::alert::{transitions, Condition, Transition};
use crate::event::{Event, EventType};

/// A table whose rows go once `ended_at` is older than the retention.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AgedTable {
    pub table: &'static str,
    /// The key column the batched delete selects by.
    pub key: &'static str,
    /// Unix milliseconds after which the row is no longer in force.
    pub ended_at: &'static str,
    /// A condition under which an old row is kept all the same (SQL).
    pub kept_while: Option<&'static str>,
}

/// Tables pruned by age alone. Silences go once they ended (expired or were
/// ended) before the cutoff; the events they stopped keep their `silence_id`,
/// which is all the resolve logic reads.
pub(crate) const AGED_TABLES: &[AgedTable] = &[
    AgedTable {
        table: "silences",
        key: "id",
        ended_at: "expires_at",
        kept_while: None,
    },
    // The operators' actions are history too: kept as long as the events,
    // and the record of a silence as long as the silence itself (one still
    // in force keeps who made it, however long ago).
    AgedTable {
        table: "audit",
        key: "id",
        ended_at: "at",
        kept_while: Some(
            "action IN ('silence.create', 'silence.end') AND target_id IN (SELECT id FROM silences)",
        ),
    },
    // An episode goes once it ended before the cutoff; an open one stays
    // however old (its end must still find the channels it told).
    AgedTable {
        table: "incidents",
        key: "id",
        ended_at: "ended_at",
        kept_while: None,
    },
];

/// Rows removed, by table name (for the log and `campaign_watcher_store_pruned_rows_total`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneCounts(pub BTreeMap<&'static str, u64>);

impl PruneCounts {
    fn add(&mut self, table: &'static str, rows: u64) {
        if rows > 0 {
            *self.0.entry(table).or_default() += rows;
        }
    }

    fn merge(&mut self, other: PruneCounts) {
        for (table, rows) in other.0 {
            self.add(table, rows);
        }
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// What one [`Store::prune`] round did.
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    pub removed: PruneCounts,
    pub batches: u32,
    /// The longest any one batch's write transaction held the store.
    pub longest_batch: Duration,
    /// Whether old rows may remain (the round ran out of its time budget).
    pub unfinished: bool,
    /// SQLite pages given back to the file system (incremental vacuum).
    pub pages_released: u64,
}

/// Pure: whether any event of this type can start or end a condition, so that
/// the history of those types is what decides whether a start is still open.
/// Exhaustive on purpose: a new event type must be decided here.
pub(crate) fn may_decide(kind: EventType) -> bool {
    match kind {
        EventType::StatusChanged
        | EventType::Reminder
        | EventType::UploadErrorsAdded
        | EventType::UploadErrorsCleared
        | EventType::NotFound
        | EventType::FoundAgain
        | EventType::ApiUnhealthy
        | EventType::ApiRecovered
        | EventType::StoreUnhealthy
        | EventType::StoreRecovered
        | EventType::CampaignUnreadable
        | EventType::CampaignReadable => true,
        EventType::SettingsChanged
        | EventType::Test
        | EventType::QuietHoursDigest
        | EventType::ChannelUnhealthy
        | EventType::ChannelRecovered => false,
    }
}

/// Pure: whether `event` settles `condition` for `announced`, which walks a
/// campaign's history newest first and stops at the first end, or at the
/// first start that was sent (a silenced start was never announced).
fn settles(condition: Condition, event: &Event, silenced: bool) -> bool {
    transitions(event)
        .into_iter()
        .any(|transition| match transition {
            Transition::Ends(ended) => ended == condition,
            Transition::Starts(started) => started == condition && !silenced,
        })
}

/// Pure: the condition an event older than the retention must stay for, if
/// any: one it started (and that was sent) with nothing among the campaign's
/// `newer` events, as `(event, silenced)`, that settles it since. `newer` may
/// be cut short: an unsettled start is kept, which is always safe.
pub(crate) fn opens_a_condition(
    event: &Event,
    silenced: bool,
    newer: &[(Event, bool)],
) -> Option<Condition> {
    if silenced {
        return None;
    }
    transitions(event)
        .into_iter()
        .filter_map(|transition| match transition {
            Transition::Starts(condition) => Some(condition),
            Transition::Ends(_) => None,
        })
        .find(|condition| {
            !newer
                .iter()
                .any(|(later, silenced)| settles(*condition, later, *silenced))
        })
}

/// Newer events read per kept start to decide whether it is still open.
const NEWER_LOOK_AHEAD: i64 = 64;

/// An old event that may go unless it opens a condition.
struct Candidate {
    seq: i64,
    occurred_at: i64,
    id: String,
    /// Campaigns (and the watcher's own events) are per account.
    account: String,
    campaign: Option<String>,
    payload: Payload,
    silenced: bool,
}

/// What an old event's payload says about the conditions.
enum Payload {
    /// Its type never starts or ends a condition.
    SettlesNothing,
    Read(Box<Event>),
    /// A type this version does not know, or a payload it cannot read: kept.
    Unreadable,
}

impl Store {
    /// Remove what the retention lets go (see the module), in batches of
    /// `batch` rows, until nothing older than `cutoff` may go or `budget` is
    /// spent. Each batch is its own short write transaction; on a shared store
    /// each verifies the leader lease inside it, so only the leader prunes.
    pub async fn prune(
        &self,
        cutoff: DateTime<Utc>,
        batch: u32,
        budget: Duration,
    ) -> Result<PruneReport, StoreError> {
        let started = Instant::now();
        let mut report = PruneReport::default();
        let batch = i64::from(batch.max(1));
        let mut cursor = (i64::MIN, i64::MIN);
        loop {
            if started.elapsed() >= budget {
                report.unfinished = true;
                return Ok(report);
            }
            let candidates = self.old_events(cutoff, cursor, batch).await?;
            let Some(last) = candidates.last() else { break };
            cursor = (last.occurred_at, last.seq);
            let full = candidates.len() as i64 == batch;
            let mut doomed = Vec::with_capacity(candidates.len());
            for candidate in candidates {
                if !self.still_opens_a_condition(&candidate).await? {
                    doomed.push(candidate.id);
                }
            }
            let held = Instant::now();
            let removed = self.delete_events(&doomed).await?;
            report.longest_batch = report.longest_batch.max(held.elapsed());
            report.batches += 1;
            report.removed.merge(removed);
            if !full {
                break;
            }
        }
        for aged in AGED_TABLES {
            loop {
                let held = Instant::now();
                let rows = self.delete_aged(aged, cutoff, batch).await?;
                report.longest_batch = report.longest_batch.max(held.elapsed());
                report.batches += 1;
                report.removed.add(aged.table, rows);
                if rows < to_u64(batch) || started.elapsed() >= budget {
                    break;
                }
            }
        }
        loop {
            let held = Instant::now();
            let removed = self.forget_unwatched(cutoff, batch).await?;
            report.longest_batch = report.longest_batch.max(held.elapsed());
            report.batches += 1;
            let campaigns = removed.0.get("campaign_seen").copied().unwrap_or(0);
            report.removed.merge(removed);
            if campaigns < to_u64(batch) || started.elapsed() >= budget {
                break;
            }
        }
        report.pages_released = self.release_free_pages().await?;
        Ok(report)
    }

    /// Events older than `cutoff` after `cursor` (occurred_at, rowid), oldest
    /// first, that have no pending outbox row and are not their campaign's last.
    async fn old_events(
        &self,
        cutoff: DateTime<Utc>,
        cursor: (i64, i64),
        limit: i64,
    ) -> Result<Vec<Candidate>, StoreError> {
        // "Newer" is by rowid, the insertion order `latest_events_of` reads;
        // the occurred_at bound only lets the campaign index find it quickly.
        // `NOT IN ('sent', 'dead')` means pending (the CHECK allows nothing
        // else) and keeps SQLite on the (event_id, channel) index: with
        // `= 'pending'` it walks every pending row for each event instead.
        const SQL: &str = "SELECT e.rowid AS seq, e.id, e.account, e.campaign_id, e.type,
                    e.occurred_at, e.payload_json, e.silence_id FROM events e
             WHERE e.occurred_at < $1 AND (e.occurred_at, e.rowid) > ($2, $3)
               AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_id = e.id
                                   AND o.status NOT IN ('sent', 'dead'))
               AND (EXISTS (SELECT 1 FROM events n WHERE n.campaign_id = e.campaign_id
                               AND n.account = e.account
                               AND n.occurred_at >= e.occurred_at AND n.rowid > e.rowid)
                    OR (e.campaign_id IS NULL AND EXISTS (SELECT 1 FROM events n
                            WHERE n.campaign_id IS NULL AND n.account = e.account
                              AND n.occurred_at >= e.occurred_at AND n.rowid > e.rowid)))
             ORDER BY e.occurred_at, e.rowid LIMIT $4";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL)
                .bind(millis(cutoff))
                .bind(cursor.0)
                .bind(cursor.1)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    let id: String = row.try_get("id")?;
                    let kind: String = row.try_get("type")?;
                    // Only what may start a condition needs its payload read; an
                    // unknown type (a newer version's) or an unreadable payload is kept.
                    let payload = match EventType::parse(&kind) {
                        Some(kind) if !may_decide(kind) => Payload::SettlesNothing,
                        Some(_) => match parse_event(&row.try_get::<String, _>("payload_json")?, || {
                            format!("events row \"{id}\"")
                        }) {
                            Ok(event) => Payload::Read(Box::new(event)),
                            Err(_) => Payload::Unreadable,
                        },
                        None => Payload::Unreadable,
                    };
                    Ok(Candidate {
                        seq: row.try_get("seq")?,
                        occurred_at: row.try_get("occurred_at")?,
                        account: row.try_get("account")?,
                        campaign: row.try_get("campaign_id")?,
                        silenced: row.try_get::<Option<i64>, _>("silence_id")?.is_some(),
                        payload,
                        id,
                    })
                })
                .collect()
        })
    }

    /// Whether an old event started a condition its campaign's newer history
    /// has not settled since.
    async fn still_opens_a_condition(&self, candidate: &Candidate) -> Result<bool, StoreError> {
        let event = match &candidate.payload {
            Payload::SettlesNothing => return Ok(false),
            Payload::Unreadable => return Ok(true),
            Payload::Read(event) => event,
        };
        if candidate.silenced
            || !transitions(event)
                .iter()
                .any(|t| matches!(t, Transition::Starts(_)))
        {
            return Ok(false);
        }
        let deciding: Vec<&'static str> = EventType::ALL
            .into_iter()
            .filter(|kind| may_decide(*kind))
            .map(EventType::as_str)
            .collect();
        // One text per case, so that both use the campaign index.
        let campaign = match candidate.campaign {
            Some(_) => "campaign_id = $1",
            None => "($1 IS NULL AND campaign_id IS NULL)",
        };
        let sql = format!(
            "SELECT id, payload_json, silence_id FROM events
             WHERE {campaign} AND account = $4 AND occurred_at >= $2 AND rowid > $3
               AND type IN ({}) ORDER BY rowid LIMIT {NEWER_LOOK_AHEAD}",
            (5..5 + deciding.len())
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let rows: Vec<(String, String, Option<i64>)> = on_pool!(self, pool => {
            let mut query = sqlx::query(&sql)
                .bind(candidate.campaign.as_deref())
                .bind(candidate.occurred_at)
                .bind(candidate.seq)
                .bind(candidate.account.as_str());
            for kind in &deciding {
                query = query.bind(*kind);
            }
            query
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| Ok((row.try_get("id")?, row.try_get("payload_json")?, row.try_get("silence_id")?)))
                .collect::<Result<_, sqlx::Error>>()?
        });
        let newer: Vec<(Event, bool)> = rows
            .into_iter()
            // A newer row that cannot be read settles nothing: the start is kept.
            .filter_map(|(id, json, silence)| {
                parse_event(&json, || format!("events row \"{id}\""))
                    .ok()
                    .map(|event| (event, silence.is_some()))
            })
            .collect();
        Ok(opens_a_condition(event, candidate.silenced, &newer).is_some())
    }

    /// Delete these events and their finished outbox rows, in one write
    /// transaction; an event whose row became pending meanwhile (an operator's
    /// `outbox replay`) stays with it.
    async fn delete_events(&self, ids: &[String]) -> Result<PruneCounts, StoreError> {
        let mut counts = PruneCounts::default();
        if ids.is_empty() {
            return Ok(counts);
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            pool.verify_lease(&mut tx, self.lease.as_deref()).await?;
            for chunk in ids.chunks(IN_CHUNK) {
                let list = placeholders(chunk.len());
                let outbox = format!("DELETE FROM outbox WHERE status <> 'pending' AND event_id IN ({list})");
                let events = format!(
                    "DELETE FROM events WHERE id IN ({list})
                     AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_id = events.id)"
                );
                let keep = keep_prepared(chunk.len(), IN_CHUNK);
                let mut query = sqlx::query(&outbox).persistent(keep);
                for id in chunk {
                    query = query.bind(id);
                }
                counts.add("outbox", query.execute(&mut *tx).await?.rows_affected());
                let mut query = sqlx::query(&events).persistent(keep);
                for id in chunk {
                    query = query.bind(id);
                }
                counts.add("events", query.execute(&mut *tx).await?.rows_affected());
            }
            crate::crash::reached(crate::crash::Stage::DuringPrune);
            tx.commit().await?;
        });
        Ok(counts)
    }

    /// One batch of an [`AgedTable`]'s rows that ended before `cutoff`.
    async fn delete_aged(
        &self,
        aged: &AgedTable,
        cutoff: DateTime<Utc>,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let AgedTable {
            table,
            key,
            ended_at,
            kept_while,
        } = aged;
        let kept = kept_while.map_or(String::new(), |kept| format!(" AND NOT ({kept})"));
        let sql = format!(
            "DELETE FROM {table} WHERE {key} IN
                 (SELECT {key} FROM {table} WHERE {ended_at} < $1{kept} ORDER BY {ended_at} LIMIT $2)"
        );
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            pool.verify_lease(&mut tx, self.lease.as_deref()).await?;
            let rows = sqlx::query(&sql)
                .bind(millis(cutoff))
                .bind(limit)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            rows
        }))
    }

    /// One batch of campaigns missing since before `cutoff` (no longer
    /// watched, or deleted long ago: a complete read of their account did not
    /// find them; failed reads never start that clock): their state,
    /// reminders and last-seen row.
    /// Chosen inside the write transaction, so a campaign read again since
    /// (its last-seen row deleted by that cycle) is not among them.
    async fn forget_unwatched(
        &self,
        cutoff: DateTime<Utc>,
        limit: i64,
    ) -> Result<PruneCounts, StoreError> {
        const PICK: &str = "SELECT account, key FROM campaign_seen WHERE missing_since < $1
             ORDER BY missing_since LIMIT $2";
        let mut counts = PruneCounts::default();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            pool.verify_lease(&mut tx, self.lease.as_deref()).await?;
            // (account, campaign id): the same id in another account is another campaign.
            let keys: Vec<(String, String)> = sqlx::query(PICK)
                .bind(millis(cutoff))
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|row| Ok((row.try_get("account")?, row.try_get("key")?)))
                .collect::<Result<_, sqlx::Error>>()?;
            for chunk in keys.chunks(IN_CHUNK / 2) {
                let pairs = values_rows(chunk.len(), 2);
                for (table, column) in [
                    ("reminders", "campaign_id"),
                    ("campaign_state", "key"),
                    ("campaign_seen", "key"),
                ] {
                    let sql = format!("DELETE FROM {table} WHERE (account, {column}) IN (VALUES {pairs})");
                    let mut query =
                        sqlx::query(&sql).persistent(keep_prepared(chunk.len(), IN_CHUNK / 2));
                    for (account, key) in chunk {
                        query = query.bind(account).bind(key);
                    }
                    counts.add(table, query.execute(&mut *tx).await?.rows_affected());
                }
            }
            tx.commit().await?;
        });
        Ok(counts)
    }
}

#[cfg(test)]
mod tests;
