//! What `status` shows beyond the diff state: when each campaign was last read,
//! its last event, and how the last cycle went. Written once per cycle (one row,
//! plus one per campaign that stopped or restarted being read), in its
//! own small transaction after the cycle's commit: it is a report, not a
//! decision input, so losing one to a crash costs nothing.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::dialect::{from_millis, millis, Backend, Dialect};
use super::{Store, StoreError};

/// How the last cycle ended, as stored for `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CycleOutcome {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// "success" or "api_unreadable".
    pub result: String,
    /// Counts, or why the API could not be read.
    pub detail: String,
    /// Campaigns read by the cycle (changed or not).
    pub campaigns_read: u64,
}

/// The stored last cycle.
pub type LastCycle = Option<CycleOutcome>;

/// Per campaign: when it was last read and its newest event.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CampaignActivity {
    pub last_seen_at: Option<DateTime<Utc>>,
    pub last_event_type: Option<String>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub last_event_id: Option<String>,
}

impl Store {
    /// Record how the cycle went. Only changes in whether a campaign is being
    /// read are written, so a quiet cycle costs one row however many campaigns
    /// are watched: `unseen` are campaigns that stopped being read, each with
    /// when it was last read; `missing` those a complete read of the account
    /// did not find, each with when the retention's clock starts (a row for
    /// each is made if need be); `seen_again` are campaigns read again since.
    pub async fn record_cycle(
        &self,
        unseen: &[(String, DateTime<Utc>)],
        missing: &[(String, DateTime<Utc>)],
        seen_again: &[String],
        outcome: &CycleOutcome,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for (key, last_seen_at) in unseen {
                sqlx::query(
                    "INSERT INTO campaign_seen (key, last_seen_at, account) VALUES ($1, $2, $3)
                     ON CONFLICT (account, key) DO UPDATE SET last_seen_at = excluded.last_seen_at",
                )
                .bind(key)
                .bind(millis(*last_seen_at))
                .bind(self.account())
                .execute(&mut *tx)
                .await?;
            }
            for (key, since) in missing {
                sqlx::query(
                    "INSERT INTO campaign_seen (key, last_seen_at, account, missing_since) VALUES ($1, $2, $3, $2)
                     ON CONFLICT (account, key) DO UPDATE SET missing_since = excluded.missing_since",
                )
                .bind(key)
                .bind(millis(*since))
                .bind(self.account())
                .execute(&mut *tx)
                .await?;
            }
            for key in seen_again {
                sqlx::query("DELETE FROM campaign_seen WHERE key = $1 AND account = $2")
                    .bind(key)
                    .bind(self.account())
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO account_cycle (account, started_at, finished_at, result, detail, campaigns_read)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (account) DO UPDATE SET started_at = excluded.started_at,
                     finished_at = excluded.finished_at, result = excluded.result,
                     detail = excluded.detail, campaigns_read = excluded.campaigns_read",
            )
            .bind(self.account())
            .bind(millis(outcome.started_at))
            .bind(millis(outcome.finished_at))
            .bind(&outcome.result)
            .bind(&outcome.detail)
            .bind(i64::try_from(outcome.campaigns_read).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO last_cycle (id, started_at, finished_at, result, detail) VALUES (1, $1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at,
                     finished_at = excluded.finished_at, result = excluded.result, detail = excluded.detail",
            )
            .bind(millis(outcome.started_at))
            .bind(millis(outcome.finished_at))
            .bind(&outcome.result)
            .bind(&outcome.detail)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The campaigns recorded as no longer being read (see [`Store::record_cycle`]).
    pub async fn unseen_campaigns(&self) -> Result<HashSet<String>, StoreError> {
        Ok(self.seen_rows().await?.into_keys().collect())
    }

    /// The campaigns recorded as no longer being read, each with whether the
    /// retention's clock runs for it (a complete read did not find it).
    pub async fn seen_rows(&self) -> Result<HashMap<String, bool>, StoreError> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT key, missing_since IS NOT NULL AS missing FROM campaign_seen WHERE account = $1",
            )
            .bind(self.account())
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok((row.try_get::<String, _>("key")?, row.try_get::<bool, _>("missing")?))
                })
                .collect::<Result<_, sqlx::Error>>()
                .map_err(StoreError::from)
        })
    }

    /// Each account's last cycle, by account (every account, whatever this
    /// handle's).
    pub async fn account_cycles(&self) -> Result<BTreeMap<String, CycleOutcome>, StoreError> {
        const SQL: &str = "SELECT account, started_at, finished_at, result, detail, campaigns_read FROM account_cycle";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).fetch_all(pool).await?;
            let mut cycles = BTreeMap::new();
            for row in rows {
                let account: String = row.try_get("account")?;
                let what = || format!("account_cycle row {account:?}");
                let outcome = CycleOutcome {
                    started_at: from_millis(row.try_get("started_at")?, what)?,
                    finished_at: from_millis(row.try_get("finished_at")?, what)?,
                    result: row.try_get("result")?,
                    detail: row.try_get("detail")?,
                    campaigns_read: u64::try_from(row.try_get::<i64, _>("campaigns_read")?)
                        .unwrap_or(0),
                };
                cycles.insert(account, outcome);
            }
            Ok(cycles)
        })
    }

    /// The watcher's last cycle: the account that finished last names its
    /// result and detail; `campaigns_read` counts every account's campaigns
    /// read in that cycle (all of a cycle's accounts start at one instant).
    pub async fn last_cycle(&self) -> Result<LastCycle, StoreError> {
        const SQL: &str = "SELECT l.started_at, l.finished_at, l.result, l.detail,
                    CAST((SELECT COALESCE(SUM(a.campaigns_read), 0) FROM account_cycle a
                     WHERE a.started_at = l.started_at) AS BIGINT) AS campaigns_read
             FROM last_cycle l WHERE l.id = 1";
        let what = || "last_cycle row 1".to_string();
        on_pool!(self, pool => {
            let row = sqlx::query(SQL).fetch_optional(pool).await?;
            let Some(row) = row else {
                return Ok(None);
            };
            Ok(Some(CycleOutcome {
                started_at: from_millis(row.try_get("started_at")?, what)?,
                finished_at: from_millis(row.try_get("finished_at")?, what)?,
                result: row.try_get("result")?,
                detail: row.try_get("detail")?,
                campaigns_read: u64::try_from(row.try_get::<i64, _>("campaigns_read")?)
                    .unwrap_or(0),
            }))
        })
    }

    /// Last seen and newest event of every campaign that has either, by key. A
    /// stored campaign with no "unseen" row was read by the last cycle.
    pub async fn campaign_activity(&self) -> Result<HashMap<String, CampaignActivity>, StoreError> {
        // The newest event per campaign; rowid (an identity column on PostgreSQL)
        // breaks ties between events of one cycle.
        const NEWEST: &str = "SELECT e.campaign_id, e.id, e.type, e.occurred_at FROM events e
             WHERE e.account = $1 AND e.campaign_id IS NOT NULL AND e.rowid = (
                 SELECT x.rowid FROM events x
                 WHERE x.campaign_id = e.campaign_id AND x.account = e.account
                 ORDER BY x.occurred_at DESC, x.rowid DESC LIMIT 1)";
        let mut activity: HashMap<String, CampaignActivity> = HashMap::new();
        on_pool!(self, pool => {
            let seen = sqlx::query("SELECT key, last_seen_at FROM campaign_seen WHERE account = $1")
                .bind(self.account())
                .fetch_all(pool)
                .await?;
            for row in seen {
                let key: String = row.try_get("key")?;
                let at = from_millis(row.try_get("last_seen_at")?, || {
                    format!("campaign_seen row \"{key}\"")
                })?;
                activity.entry(key).or_default().last_seen_at = Some(at);
            }
            if let Some(last) = self.last_cycle().await? {
                let keys = sqlx::query("SELECT key FROM campaign_state WHERE account = $1")
                    .bind(self.account())
                    .fetch_all(pool)
                    .await?;
                for row in keys {
                    let key: String = row.try_get("key")?;
                    activity.entry(key).or_default().last_seen_at.get_or_insert(last.started_at);
                }
            }
            let newest = sqlx::query(NEWEST).bind(self.account()).fetch_all(pool).await?;
            for row in newest {
                let key: String = row.try_get("campaign_id")?;
                let at = from_millis(row.try_get("occurred_at")?, || {
                    format!("events row of campaign \"{key}\"")
                })?;
                let entry = activity.entry(key).or_default();
                entry.last_event_type = Some(row.try_get("type")?);
                entry.last_event_id = Some(row.try_get("id")?);
                entry.last_event_at = Some(at);
            }
        });
        Ok(activity)
    }
}
