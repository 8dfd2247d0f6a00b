//! Accounts as the store knows them: which accounts have rows, and renaming
//! one. A name is part of each of its campaigns' identity, so a rename moves
//! every row of the account in one transaction (never a fresh baseline
//! under the new name), and is recorded in the audit log.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::audit::Actor;
use super::dialect::{millis, Backend, Dialect};
use super::{Store, StoreError};
use crate::event::DEFAULT_ACCOUNT;

/// Every table with an `account` column (schema versions 7, 9, 10 and 11).
const ACCOUNT_TABLES: [&str; 9] = [
    "campaign_state",
    "campaign_seen",
    "reminders",
    "events",
    "silences",
    "account_health",
    "account_cycle",
    "audit",
    "incidents",
];

pub const ACCOUNT_RENAME: &str = "account.rename";

/// Why a rename was not done.
#[derive(Debug, thiserror::Error)]
pub enum RenameError {
    #[error("the account \"default\" holds the rows of single-account releases and keeps its name (its event ids and incident keys are those releases'); keep it as [sigmamind.accounts.default]")]
    Default,
    #[error("the store has no campaign of account \"{0}\": nothing to rename (`status` lists the accounts it has)")]
    Unknown(String),
    #[error(
        "the store already has campaigns of account \"{0}\": a rename never merges two accounts"
    )]
    Taken(String),
    #[error("a watcher is leading on this database (it holds the leader lock): stop every replica first, then rename the account")]
    LeaderLive,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// The accounts with stored campaigns, by name.
    pub async fn stored_accounts(&self) -> Result<Vec<String>, StoreError> {
        const SQL: &str = "SELECT DISTINCT account FROM campaign_state ORDER BY account";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).fetch_all(pool).await?;
            rows.iter()
                .map(|row| row.try_get("account").map_err(StoreError::from))
                .collect()
        })
    }

    /// Rename account `from` to `to` in every table, in one transaction, and
    /// record it; returns the campaigns moved. Run it with the watcher stopped.
    pub async fn rename_account(
        &self,
        actor: &Actor,
        from: &str,
        to: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, RenameError> {
        if from == DEFAULT_ACCOUNT || to == DEFAULT_ACCOUNT {
            return Err(RenameError::Default);
        }
        const COUNT: &str = "SELECT COUNT(*) AS n FROM campaign_state WHERE account = $1";
        let moved: i64 = on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::from)?;
            if !pool.fence_out_leader(&mut tx).await? {
                tx.rollback().await.map_err(StoreError::from)?;
                return Err(RenameError::LeaderLive);
            }
            let taken: i64 = sqlx::query(COUNT)
                .bind(to)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from)?
                .try_get("n")
                .map_err(StoreError::from)?;
            if taken > 0 {
                tx.rollback().await.map_err(StoreError::from)?;
                return Err(RenameError::Taken(to.to_string()));
            }
            let moved: i64 = sqlx::query(COUNT)
                .bind(from)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from)?
                .try_get("n")
                .map_err(StoreError::from)?;
            if moved == 0 {
                tx.rollback().await.map_err(StoreError::from)?;
                return Err(RenameError::Unknown(from.to_string()));
            }
            for table in ACCOUNT_TABLES {
                let sql = format!("UPDATE {table} SET account = $1 WHERE account = $2");
                sqlx::query(&sql)
                    .bind(to)
                    .bind(from)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
            }
            // The API's episodes are about the account itself.
            sqlx::query("UPDATE incidents SET subject = $1 WHERE account = $1 AND subject = $2 AND condition = 'api_unhealthy'")
                .bind(to)
                .bind(from)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?;
            // The payloads name their account too: a pending row goes out,
            // and `history --account` finds the events, under the new name.
            let payloads = sqlx::query("SELECT id, payload_json FROM events WHERE account = $1")
                .bind(to)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::from)?;
            for row in payloads {
                let id: String = row.try_get("id").map_err(StoreError::from)?;
                let json: String = row.try_get("payload_json").map_err(StoreError::from)?;
                let Ok(mut payload) = serde_json::from_str::<serde_json::Value>(&json) else {
                    // A damaged payload is reported where it is read; it is not rewritten.
                    continue;
                };
                if let Some(fields) = payload.as_object_mut() {
                    fields.insert("account".into(), serde_json::Value::from(to));
                }
                sqlx::query("UPDATE events SET payload_json = $1 WHERE id = $2")
                    .bind(payload.to_string())
                    .bind(&id)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
            }
            let detail = format!(
                "account \"{from}\" renamed to \"{to}\": {moved} campaigns, their history, outbox rows, reminders, silences and API health moved"
            );
            sqlx::query(
                "INSERT INTO audit (at, actor, via, action, campaign, target_id, detail)
                 VALUES ($1, $2, $3, $4, NULL, NULL, $5)",
            )
            .bind(millis(now))
            .bind(&actor.name)
            .bind(actor.via)
            .bind(ACCOUNT_RENAME)
            .bind(&detail)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            tx.commit().await.map_err(StoreError::from)?;
            moved
        });
        Ok(u64::try_from(moved).unwrap_or(0))
    }
}
