//! The board's read model (the HTML board and the JSON API read the same
//! functions): campaigns filtered, sorted and paged in SQL, the counts at a
//! glance, events across campaigns with their deliveries, what each silence
//! held back, and the marker that tells a page a cycle committed.
//!
//! Campaign rows are filtered on the columns the cycle's commit writes beside
//! each state's JSON (`status_label`, `name`, `upload_errors`, schema version
//! 4), through indexes, so 10,000 campaigns never cost 10,000 parsed states.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::dialect::{from_millis, keep_prepared, millis, placeholders, to_u64, Backend, Columns};
use super::events::{event_row, EventRow};
use super::{HistoryEntry, LastCycle, OutboxCounts, Store, StoreError};
use crate::observe::CampaignStatus;
use crate::route::silence::Silence;
use crate::state::{ApiHealth, CampaignState};

/// The most rows one page holds, whatever is asked.
pub const MAX_PER_PAGE: u32 = 200;

/// The labels a campaign's state has on the board, in the order it counts them.
pub const STATUS_LABELS: [&str; 6] = {
    let [live, scheduled, paused, completed] = CampaignStatus::SPELLINGS;
    [
        live,
        scheduled,
        paused,
        completed,
        "not found",
        "unreadable",
    ]
};

/// What the board calls a campaign's state: its status, or why it has none
/// ("not found", "unreadable": its stored status is only what it was when last read).
pub fn status_label(state: &CampaignState) -> String {
    if state.not_found {
        "not found".into()
    } else if state.reads.unreadable_since.is_some() {
        "unreadable".into()
    } else {
        state.snapshot.status.to_string()
    }
}

/// Which campaigns a page lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignQuery {
    /// Only this account's campaigns; none: every account's.
    pub account: Option<String>,
    /// Only this status label (see [`STATUS_LABELS`]; others are kept verbatim).
    pub status: Option<String>,
    /// Only campaigns whose id or name contains this (case-insensitive for ASCII).
    pub text: Option<String>,
    /// Only those that need a look: paused, with upload errors, not found, unreadable.
    pub problems: bool,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

/// One campaign's row on the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignRow {
    pub account: String,
    pub id: String,
    pub name: String,
    pub status: String,
    pub upload_errors: u64,
    /// When its state last changed.
    pub changed_at: DateTime<Utc>,
    pub last_event: Option<LastEvent>,
}

/// A campaign's newest event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
}

/// One page of campaigns and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignPage {
    pub total: u64,
    pub rows: Vec<CampaignRow>,
}

/// The board at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Campaigns by status label; every label of [`STATUS_LABELS`] is there.
    pub counts: BTreeMap<String, u64>,
    pub campaigns: u64,
    pub with_upload_errors: u64,
    pub outbox: OutboxCounts,
    /// Pending rows held for quiet hours now.
    pub held_for_quiet_hours: u64,
    pub health: ApiHealth,
    pub last_cycle: LastCycle,
}

/// One account's campaigns by status label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCounts {
    pub counts: BTreeMap<String, u64>,
    pub with_upload_errors: u64,
}

/// Which events a page lists, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Only this account's events; none: every account's and the watcher's own.
    pub account: Option<String>,
    pub kind: Option<String>,
    pub campaign: Option<String>,
    /// Only events with a delivery (or a held one) to this channel.
    pub channel: Option<String>,
    pub since: Option<DateTime<Utc>>,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

/// One page of events and whether another follows.
#[derive(Debug, Clone)]
pub struct EventPage {
    pub entries: Vec<HistoryEntry>,
    pub more: bool,
}

/// Changes whenever a cycle commits, a delivery's fate changes or a silence
/// is made or ended: what the live board watches (on a leader and on a
/// standby alike, it is read from the store).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitMarker([i64; 6]);

/// A value bound to a query built from filters.
enum Bind {
    Text(String),
    Int(i64),
}

/// `WHERE ...` and its values, numbered from `$1`.
#[derive(Default)]
struct Filter {
    conditions: Vec<String>,
    binds: Vec<Bind>,
}

impl Filter {
    /// Add a condition whose `?` are the next parameters, in order.
    fn add(&mut self, condition: &str, values: Vec<Bind>) {
        let mut text = String::new();
        let mut values = values.into_iter();
        for part in condition.split('?').enumerate() {
            if part.0 > 0 {
                let value = values.next().expect("one value per placeholder");
                self.binds.push(value);
                text.push_str(&format!("${}", self.binds.len()));
            }
            text.push_str(part.1);
        }
        self.conditions.push(text);
    }

    fn clause(&self) -> String {
        match self.conditions.is_empty() {
            true => String::new(),
            false => format!(" WHERE {}", self.conditions.join(" AND ")),
        }
    }

    /// `LIMIT $n OFFSET $m` with the next numbers.
    fn limit(&mut self, limit: u32, offset: u64) -> String {
        self.binds.push(Bind::Int(i64::from(limit)));
        self.binds
            .push(Bind::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
        format!(
            " LIMIT ${} OFFSET ${}",
            self.binds.len() - 1,
            self.binds.len()
        )
    }
}

macro_rules! bind_all {
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for bind in $binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.as_str()),
                Bind::Int(value) => query.bind(*value),
            };
        }
        query
    }};
}

/// `text` as a LIKE pattern matching it anywhere, its own `%`, `_` and `\` literal.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The page bounds actually used: page 1 or later, 1 to [`MAX_PER_PAGE`] rows.
pub fn page_bounds(page: u32, per_page: u32) -> (u32, u64) {
    let per_page = per_page.clamp(1, MAX_PER_PAGE);
    let offset = u64::from(page.max(1) - 1) * u64::from(per_page);
    (per_page, offset)
}

impl Store {
    /// One page of campaigns, most recently changed first.
    pub async fn campaign_page(&self, query: &CampaignQuery) -> Result<CampaignPage, StoreError> {
        let mut filter = Filter::default();
        if let Some(account) = &query.account {
            filter.add("account = ?", vec![Bind::Text(account.clone())]);
        }
        if let Some(status) = &query.status {
            filter.add(
                "status_label = ?",
                vec![Bind::Text(status.trim().to_lowercase())],
            );
        }
        if let Some(text) = query.text.as_deref().filter(|t| !t.trim().is_empty()) {
            let pattern = contains_pattern(text.trim());
            filter.add(
                "(LOWER(key) LIKE ? ESCAPE '\\' OR LOWER(name) LIKE ? ESCAPE '\\')",
                vec![Bind::Text(pattern.clone()), Bind::Text(pattern)],
            );
        }
        if query.problems {
            filter.add(
                "(status_label IN ('paused', 'not found', 'unreadable') OR upload_errors > 0)",
                vec![],
            );
        }
        let count_sql = format!(
            "SELECT COUNT(*) AS n FROM campaign_state{}",
            filter.clause()
        );
        let total: i64 = on_pool!(self, pool => {
            bind_all!(sqlx::query(&count_sql), &filter.binds)
                .fetch_one(pool)
                .await?
                .try_get("n")?
        });
        let (per_page, offset) = page_bounds(query.page, query.per_page);
        let clause = filter.clause();
        let limit = filter.limit(per_page, offset);
        let sql = format!(
            "SELECT account, key, name, status_label, upload_errors, changed_at FROM campaign_state{clause}
             ORDER BY changed_at DESC, key, account{limit}"
        );
        let mut rows = Vec::new();
        on_pool!(self, pool => {
            for row in bind_all!(sqlx::query(&sql), &filter.binds).fetch_all(pool).await? {
                let id = row.text("key")?;
                let changed_at = from_millis(row.int("changed_at")?, || {
                    format!("campaign_state row \"{id}\"")
                })?;
                rows.push(CampaignRow {
                    account: row.text("account")?,
                    name: row.text("name")?,
                    status: row.text("status_label")?,
                    upload_errors: to_u64(row.int("upload_errors")?),
                    changed_at,
                    last_event: None,
                    id,
                });
            }
        });
        let mut newest = self
            .newest_events(rows.iter().map(|row| row.id.as_str()), per_page)
            .await?;
        for row in &mut rows {
            row.last_event = newest.remove(&(row.account.clone(), row.id.clone()));
        }
        Ok(CampaignPage {
            total: to_u64(total),
            rows,
        })
    }

    /// The newest event of each of these campaign ids (at most
    /// [`MAX_PER_PAGE`], a page of `page_size` rows) in every account that
    /// has one, by (account, id).
    async fn newest_events<'a>(
        &self,
        keys: impl Iterator<Item = &'a str>,
        page_size: u32,
    ) -> Result<HashMap<(String, String), LastEvent>, StoreError> {
        let keys: Vec<&str> = keys.collect();
        let mut newest = HashMap::new();
        if keys.is_empty() {
            return Ok(newest);
        }
        // rowid (an identity column on PostgreSQL) breaks ties within a cycle.
        let sql = format!(
            "SELECT e.account, e.campaign_id, e.id, e.type, e.occurred_at FROM events e
             WHERE e.campaign_id IN ({}) AND e.rowid = (
                 SELECT x.rowid FROM events x
                 WHERE x.campaign_id = e.campaign_id AND x.account = e.account
                 ORDER BY x.occurred_at DESC, x.rowid DESC LIMIT 1)",
            placeholders(keys.len())
        );
        on_pool!(self, pool => {
            // A full page's list recurs; a short last page's does not.
            let full = usize::try_from(page_size).unwrap_or(usize::MAX);
            let mut query = sqlx::query(&sql).persistent(keep_prepared(keys.len(), full));
            for key in &keys {
                query = query.bind(*key);
            }
            for row in query.fetch_all(pool).await? {
                let campaign = row.text("campaign_id")?;
                let occurred_at = from_millis(row.int("occurred_at")?, || {
                    format!("events row of campaign \"{campaign}\"")
                })?;
                newest.insert((row.text("account")?, campaign), LastEvent {
                    id: row.text("id")?,
                    kind: row.text("type")?,
                    occurred_at,
                });
            }
        });
        Ok(newest)
    }

    /// The counts at a glance, as of `now`: every account's campaigns together.
    pub async fn summary(&self, now: DateTime<Utc>) -> Result<Summary, StoreError> {
        let mut counts: BTreeMap<String, u64> = STATUS_LABELS
            .iter()
            .map(|label| (label.to_string(), 0))
            .collect();
        let mut with_upload_errors = 0;
        for account in self.account_counts().await?.into_values() {
            for (label, n) in account.counts {
                *counts.entry(label).or_default() += n;
            }
            with_upload_errors += account.with_upload_errors;
        }
        let (_, held) = self.scrape_counts(now).await?;
        Ok(Summary {
            campaigns: counts.values().sum(),
            counts,
            with_upload_errors,
            outbox: self.outbox_counts().await?,
            held_for_quiet_hours: held,
            health: self.load_health().await?,
            last_cycle: self.last_cycle().await?,
        })
    }

    /// What `/metrics` counts at scrape time: silences in force at `now`, and
    /// pending deliveries held for quiet hours.
    pub async fn scrape_counts(&self, now: DateTime<Utc>) -> Result<(u64, u64), StoreError> {
        on_pool!(self, pool => {
            let silences: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM silences WHERE created_at <= $1 AND expires_at > $1",
            )
            .bind(millis(now))
            .fetch_one(pool)
            .await?
            .try_get("n")?;
            let held: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending' AND held_until > $1",
            )
            .bind(millis(now))
            .fetch_one(pool)
            .await?
            .try_get("n")?;
            Ok((to_u64(silences), to_u64(held)))
        })
    }

    /// Campaigns by status label and with upload errors, per account (every
    /// label of [`STATUS_LABELS`] is there for each account with campaigns).
    pub async fn account_counts(&self) -> Result<BTreeMap<String, AccountCounts>, StoreError> {
        let mut accounts: BTreeMap<String, AccountCounts> = BTreeMap::new();
        let blank = || AccountCounts {
            counts: STATUS_LABELS
                .iter()
                .map(|label| (label.to_string(), 0))
                .collect(),
            with_upload_errors: 0,
        };
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT account, status_label, COUNT(*) AS n,
                        SUM(CASE WHEN upload_errors > 0 THEN 1 ELSE 0 END) AS with_errors
                 FROM campaign_state GROUP BY account, status_label",
            )
            .fetch_all(pool)
            .await?;
            for row in rows {
                let account = accounts.entry(row.text("account")?).or_insert_with(blank);
                *account.counts.entry(row.text("status_label")?).or_default() +=
                    to_u64(row.int("n")?);
                account.with_upload_errors += to_u64(row.int("with_errors")?);
            }
        });
        Ok(accounts)
    }

    /// One page of events, newest first, with their deliveries and silences.
    pub async fn event_page(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        let mut filter = Filter::default();
        if let Some(account) = &query.account {
            filter.add("account = ?", vec![Bind::Text(account.clone())]);
        }
        if let Some(kind) = &query.kind {
            filter.add("type = ?", vec![Bind::Text(kind.clone())]);
        }
        if let Some(campaign) = &query.campaign {
            filter.add("campaign_id = ?", vec![Bind::Text(campaign.clone())]);
        }
        if let Some(since) = query.since {
            filter.add("occurred_at >= ?", vec![Bind::Int(millis(since))]);
        }
        if let Some(channel) = &query.channel {
            filter.add(
                "EXISTS (SELECT 1 FROM outbox o WHERE o.event_id = events.id AND o.channel = ?)",
                vec![Bind::Text(channel.clone())],
            );
        }
        let (per_page, offset) = page_bounds(query.page, query.per_page);
        let clause = filter.clause();
        // One more than the page: whether another page follows.
        let limit = filter.limit(per_page + 1, offset);
        let sql = format!(
            "SELECT id, payload_json, silence_id FROM events{clause}
             ORDER BY occurred_at DESC, rowid DESC{limit}"
        );
        let mut rows: Vec<EventRow> = on_pool!(self, pool => {
            bind_all!(sqlx::query(&sql), &filter.binds)
                .fetch_all(pool)
                .await?
                .iter()
                .map(event_row)
                .collect::<Result<_, sqlx::Error>>()?
        });
        let more = rows.len() > per_page as usize;
        rows.truncate(per_page as usize);
        let silences = self.silences_by_id().await?;
        Ok(EventPage {
            entries: self.with_deliveries(&rows, &silences).await?,
            more,
        })
    }

    /// Every silence ever made, by id.
    async fn silences_by_id(&self) -> Result<HashMap<i64, Silence>, StoreError> {
        Ok(self
            .silences(DateTime::<Utc>::MIN_UTC, true)
            .await?
            .into_iter()
            .map(|silence| (silence.id, silence))
            .collect())
    }

    /// Every channel name the outbox has rows for (names only: the board's filter).
    pub async fn channels_seen(&self) -> Result<Vec<String>, StoreError> {
        const SQL: &str = "SELECT DISTINCT channel FROM outbox ORDER BY channel";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).fetch_all(pool).await?;
            rows.iter()
                .map(|row| row.text("channel").map_err(StoreError::from))
                .collect()
        })
    }

    /// How many events each silence kept from being sent, by silence id.
    pub async fn silenced_counts(&self) -> Result<HashMap<i64, u64>, StoreError> {
        const SQL: &str = "SELECT silence_id, COUNT(*) AS n FROM events
             WHERE silence_id IS NOT NULL GROUP BY silence_id";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).fetch_all(pool).await?;
            rows.iter()
                .map(|row| Ok((row.int("silence_id")?, to_u64(row.int("n")?))))
                .collect()
        })
    }

    /// The marker of the newest commit (see [`CommitMarker`]): a handful of
    /// indexed reads, cheap enough to ask twice a second.
    pub async fn commit_marker(&self) -> Result<CommitMarker, StoreError> {
        const SQL: &str = "SELECT
             (SELECT COALESCE(MAX(rowid), 0) FROM events) AS events,
             (SELECT COALESCE(MAX(finished_at), 0) FROM last_cycle) AS cycle,
             (SELECT COUNT(*) FROM outbox WHERE status = 'pending') AS pending,
             (SELECT CAST(COALESCE(SUM(attempts), 0) AS BIGINT) FROM outbox WHERE status = 'pending') AS attempts,
             (SELECT COUNT(*) FROM silences) AS silences,
             (SELECT COALESCE(MAX(expires_at), 0) FROM silences) AS silence_end";
        on_pool!(self, pool => {
            let row = sqlx::query(SQL).fetch_one(pool).await?;
            Ok(CommitMarker([
                row.int("events")?,
                row.int("cycle")?,
                row.int("pending")?,
                row.int("attempts")?,
                row.int("silences")?,
                row.int("silence_end")?,
            ]))
        })
    }
}
