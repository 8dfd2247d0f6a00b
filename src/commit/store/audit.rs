//! The audit log: every operator action that changes what is sent (a silence
//! made or ended early, a dead delivery replayed), with who did it, when,
//! through what (the CLI, the board or the API), the campaign it concerns and
//! what changed. Each action and its record are one transaction: there is no
//! action without its record, and no record of an action that did not happen.
//! The CLI, the board and the API all act through these functions.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::dialect::{from_millis, millis, Backend, Columns, Dialect};
use super::outbox::{REPLAY_ALL, REPLAY_ONE};
use super::silences::{silence_from_row, END_SILENCE, INSERT_SILENCE, SILENCE_COLUMNS};
use super::{ReplayOutcome, SilenceExpiry, Store, StoreError};
use crate::event::EventType;
use crate::route::silence::{Silence, MAX_SILENCES_IN_FORCE};

/// The actions recorded.
pub const SILENCE_CREATE: &str = "silence.create";
pub const SILENCE_END: &str = "silence.end";
pub const OUTBOX_REPLAY: &str = "outbox.replay";

/// Who acts, and through what: `via` is "cli", "board" or "api".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The OS user (or `--author`) for the CLI; the logged-in user or
    /// `token:NAME` for the board and the API; `local` on an open loopback listener.
    pub name: String,
    pub via: &'static str,
}

/// One recorded action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub via: String,
    /// `silence.create`, `silence.end` or `outbox.replay`.
    pub action: String,
    /// A silence's matcher, or the campaign id of a replayed event; none for
    /// a watcher event's replay or `outbox replay --dead`.
    pub campaign: Option<String>,
    /// A silence's account matcher, or a replayed event's account; none for
    /// every account (or a record from before accounts were recorded).
    pub account: Option<String>,
    /// The silence's id or the outbox row's id.
    pub target_id: Option<i64>,
    /// What changed, in one sentence.
    pub detail: String,
}

const INSERT_AUDIT: &str =
    "INSERT INTO audit (at, actor, via, action, campaign, target_id, detail, account)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Inserts one record inside the transaction `$tx`.
macro_rules! record_in {
    ($tx:expr, $at:expr, $actor:expr, $action:expr, ($campaign:expr, $account:expr), $target:expr, $detail:expr) => {
        sqlx::query(INSERT_AUDIT)
            .bind(millis($at))
            .bind(&$actor.name)
            .bind($actor.via)
            .bind($action)
            .bind($campaign)
            .bind($target)
            .bind($detail)
            .bind($account)
            .execute(&mut *$tx)
            .await?
    };
}

impl AuditRecord {
    /// Whether this record concerns campaign `id` (named `name`) of `account`:
    /// its campaign matcher takes the campaign and its account (none: every
    /// account) takes the account.
    pub fn concerns(&self, account: &str, id: &str, name: &str) -> bool {
        self.campaign
            .as_deref()
            .is_some_and(|pattern| crate::route::silence::campaign_matches(pattern, id, name))
            && crate::route::silence::account_matches(self.account.as_deref(), account)
    }
}

fn record_from_row(row: &impl Columns) -> Result<AuditRecord, StoreError> {
    let id = row.int("id")?;
    Ok(AuditRecord {
        id,
        at: from_millis(row.int("at")?, || format!("audit record {id}"))?,
        actor: row.text("actor")?,
        via: row.text("via")?,
        action: row.text("action")?,
        campaign: row.opt_text("campaign")?,
        account: row.opt_text("account")?,
        target_id: row.opt_int("target_id")?,
        detail: row.text("detail")?,
    })
}

/// "every event" or "campaign.status_changed events".
fn which_events(event: Option<EventType>) -> String {
    event.map_or("every event".to_string(), |kind| {
        format!("{} events", kind.as_str())
    })
}

/// ` in account "acme"`, or nothing for a silence of every account.
fn in_accounts(account: Option<&str>) -> String {
    account.map_or(String::new(), |account| {
        format!(" in account \"{account}\"")
    })
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

impl Store {
    /// Make a silence and record it (`silence.create`).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_silence(
        &self,
        actor: &Actor,
        campaign: &str,
        account: Option<&str>,
        event: Option<EventType>,
        reason: &str,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Silence, StoreError> {
        let id: i64 = on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let in_force: i64 = sqlx::query("SELECT COUNT(*) AS n FROM silences WHERE expires_at > $1")
                .bind(millis(created_at))
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
            if usize::try_from(in_force).unwrap_or(usize::MAX) >= MAX_SILENCES_IN_FORCE {
                return Err(StoreError::TooManySilences {
                    limit: MAX_SILENCES_IN_FORCE,
                });
            }
            let id: i64 = sqlx::query(INSERT_SILENCE)
                .bind(campaign)
                .bind(event.map(EventType::as_str))
                .bind(reason)
                .bind(&actor.name)
                .bind(millis(created_at))
                .bind(millis(expires_at))
                .bind(account)
                .fetch_one(&mut *tx)
                .await?
                .try_get("id")?;
            let detail = format!(
                "silence {id} made: {} of campaigns matching \"{campaign}\"{} kept in history and not sent until {}; reason: {reason}",
                which_events(event),
                in_accounts(account),
                stamp(expires_at)
            );
            record_in!(tx, created_at, actor, SILENCE_CREATE, (Some(campaign), account), Some(id), &detail);
            tx.commit().await?;
            id
        });
        Ok(Silence {
            id,
            campaign: self.patterns.get(campaign.to_string()),
            account: account.map(|account| self.patterns.get(account.to_string())),
            event,
            reason: reason.to_string(),
            author: actor.name.clone(),
            created_at,
            expires_at,
        })
    }

    /// End a silence now and record it (`silence.end`); a silence that had
    /// already ended is left alone and nothing is recorded. `None`: no such silence.
    pub async fn end_silence(
        &self,
        actor: &Actor,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<SilenceExpiry>, StoreError> {
        let sql = format!("SELECT {SILENCE_COLUMNS} FROM silences WHERE id = $1");
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let before = sqlx::query(&sql).bind(id).fetch_optional(&mut *tx).await?;
            let Some(before) = before.as_ref().map(|row| silence_from_row(row, &self.patterns)).transpose()? else {
                tx.rollback().await?;
                return Ok(None);
            };
            let ended = sqlx::query(END_SILENCE)
                .bind(millis(now))
                .bind(id)
                .bind(millis(now))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            if !ended {
                tx.rollback().await?;
                return Ok(Some(SilenceExpiry::AlreadyEnded(before)));
            }
            let detail = format!(
                "silence {id} (campaigns matching \"{}\"{}, {}) ended early; it was to last until {}",
                before.campaign,
                in_accounts(before.account.as_deref()),
                which_events(before.event),
                stamp(before.expires_at)
            );
            record_in!(tx, now, actor, SILENCE_END, (Some(before.campaign.as_str()), before.account.as_deref()), Some(id), &detail);
            tx.commit().await?;
            Ok(Some(SilenceExpiry::EndedNow(Silence {
                expires_at: DateTime::from_timestamp_millis(millis(now)).unwrap_or(now),
                ..before
            })))
        })
    }

    /// Put a dead outbox row back in the queue (due now, a fresh
    /// `max_age`, the same event id) and record it (`outbox.replay`).
    pub async fn replay_by(
        &self,
        actor: &Actor,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<ReplayOutcome, StoreError> {
        const ROW: &str = "SELECT o.status, o.channel, o.event_id, e.campaign_id, e.account
             FROM outbox o JOIN events e ON e.id = o.event_id WHERE o.id = $1";
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let Some(row) = sqlx::query(ROW).bind(id).fetch_optional(&mut *tx).await? else {
                tx.rollback().await?;
                return Ok(ReplayOutcome::Unknown);
            };
            let status: String = row.try_get("status")?;
            let changed = sqlx::query(REPLAY_ONE)
                .bind(millis(now))
                .bind(millis(now))
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if changed == 0 {
                tx.rollback().await?;
                return Ok(ReplayOutcome::NotDead(status));
            }
            let channel: String = row.try_get("channel")?;
            let event_id: String = row.try_get("event_id")?;
            let campaign: Option<String> = row.try_get("campaign_id")?;
            let account: String = row.try_get("account")?;
            let detail = format!(
                "outbox row {id} (event {event_id} to channel {channel}) was dead and is pending again, due now, with a fresh max_age"
            );
            record_in!(tx, now, actor, OUTBOX_REPLAY, (campaign.as_deref(), Some(account.as_str())), Some(id), &detail);
            tx.commit().await?;
            Ok(ReplayOutcome::Replayed)
        })
    }

    /// Every dead row back in the queue , recorded
    /// as one `outbox.replay` when there was any; returns how many.
    pub async fn replay_dead_by(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let count = sqlx::query(REPLAY_ALL)
                .bind(millis(now))
                .bind(millis(now))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if count > 0 {
                let detail = format!(
                    "every dead outbox row ({count}) is pending again, due now, with a fresh max_age"
                );
                record_in!(tx, now, actor, OUTBOX_REPLAY, (None::<&str>, None::<&str>), None::<i64>, &detail);
            }
            tx.commit().await?;
            Ok(count)
        })
    }

    /// Records at or after `since`, newest first, at most `limit`.
    pub async fn audit_log(
        &self,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        const SQL: &str = "SELECT id, at, actor, via, action, campaign, account, target_id, detail
             FROM audit WHERE at >= $1 ORDER BY at DESC, id DESC LIMIT $2";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL)
                .bind(millis(since))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(record_from_row).collect()
        })
    }
}
