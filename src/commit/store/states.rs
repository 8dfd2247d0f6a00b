//! Campaign states and the API health: what the diff remembers between cycles.
//! Written only by the cycle's commit ([`upsert_states`], [`UPSERT_HEALTH`]).

use std::collections::HashMap;

use sqlx::Row;

use super::dialect::{keep_prepared, placeholders_from, values_rows, Backend, IN_CHUNK};
use super::{Store, StoreError};
use crate::state::{ApiHealth, CampaignState};

/// Values per row of [`upsert_states`].
pub(super) const STATE_COLUMNS: usize = 8;

/// `rows` campaigns' new states in one statement, in the cycle's transaction
/// (bound in column order, row after row). The keys must be distinct: one
/// statement cannot update a row twice.
pub(super) fn upsert_states(rows: usize) -> String {
    format!(
        "INSERT INTO campaign_state (key, state_json, seq, changed_at, status_label, name, upload_errors, account)
         VALUES {}
         ON CONFLICT (account, key) DO UPDATE SET state_json = excluded.state_json,
             seq = excluded.seq, changed_at = excluded.changed_at,
             status_label = excluded.status_label, name = excluded.name,
             upload_errors = excluded.upload_errors",
        values_rows(rows, STATE_COLUMNS)
    )
}

/// The new API health, in the cycle's transaction. The `default` account's
/// health stays in `watcher_state` row 1, where earlier releases kept it.
pub(super) const UPSERT_HEALTH: &str = "INSERT INTO watcher_state (id, health_json) VALUES (1, $1)
     ON CONFLICT (id) DO UPDATE SET health_json = excluded.health_json";

/// Any other account's API health, in its cycle's transaction.
pub(super) const UPSERT_ACCOUNT_HEALTH: &str =
    "INSERT INTO account_health (account, health_json) VALUES ($2, $1)
     ON CONFLICT (account) DO UPDATE SET health_json = excluded.health_json";

impl Store {
    /// Every stored campaign state, by campaign key.
    pub async fn load_states(&self) -> Result<HashMap<String, CampaignState>, StoreError> {
        let mut states = HashMap::new();
        self.each_state(|key, state| {
            states.insert(key, state);
        })
        .await?;
        Ok(states)
    }

    /// Hand every stored campaign state to `each`, one row at a time, so a caller
    /// can keep a digest of a large account without holding every state at once.
    pub async fn each_state(
        &self,
        mut each: impl FnMut(String, CampaignState),
    ) -> Result<(), StoreError> {
        use futures::TryStreamExt;
        on_pool!(self, pool => {
            let mut rows = sqlx::query("SELECT key, state_json FROM campaign_state WHERE account = $1")
                .bind(self.account())
                .fetch(pool);
            while let Some(row) = rows.try_next().await? {
                let key: String = row.try_get("key")?;
                let json: String = row.try_get("state_json")?;
                let state = parse_state(&key, &json)?;
                each(key, state);
            }
        });
        Ok(())
    }

    /// The stored states of these campaigns (those without one are left out).
    pub async fn load_states_for<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, CampaignState>, StoreError> {
        let keys: Vec<&str> = keys.into_iter().collect();
        let mut states = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT key, state_json FROM campaign_state WHERE account = $1 AND key IN ({})",
                placeholders_from(2, chunk.len())
            );
            on_pool!(self, pool => {
                let mut query = sqlx::query(&sql)
                    .persistent(keep_prepared(chunk.len(), IN_CHUNK))
                    .bind(self.account());
                for key in chunk {
                    query = query.bind(*key);
                }
                for row in query.fetch_all(pool).await? {
                    let key: String = row.try_get("key")?;
                    let json: String = row.try_get("state_json")?;
                    let state = parse_state(&key, &json)?;
                    states.insert(key, state);
                }
            });
        }
        Ok(states)
    }

    /// The stored API health; the default when never stored.
    pub async fn load_health(&self) -> Result<ApiHealth, StoreError> {
        let json: Option<String> = on_pool!(self, pool => {
            if self.account() == crate::event::DEFAULT_ACCOUNT {
                sqlx::query("SELECT health_json FROM watcher_state WHERE id = 1")
            } else {
                sqlx::query("SELECT health_json FROM account_health WHERE account = $1")
                    .bind(self.account())
            }
                .fetch_optional(pool)
                .await?
                .map(|row| row.try_get("health_json"))
                .transpose()?
        });
        let Some(json) = json else {
            return Ok(ApiHealth::default());
        };
        serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
            what: "watcher_state row 1 (API health)".into(),
            reason: e.to_string(),
        })
    }
}

/// One `campaign_state` row, or the error naming it.
fn parse_state(key: &str, json: &str) -> Result<CampaignState, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: format!("campaign_state row \"{key}\""),
        reason: e.to_string(),
    })
}
