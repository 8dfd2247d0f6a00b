//! Reminder timestamps per (campaign, rule): when a condition that is still
//! true was last reminded about. Read at start; written by the cycle's commit.

use std::collections::HashMap;

use sqlx::Row;

use super::dialect::Backend;
use super::{Store, StoreError};
use crate::state::Reminder;

/// A reminder's new timestamps, in the cycle's transaction.
pub(super) const UPSERT_REMINDER: &str =
    "INSERT INTO reminders (campaign_id, rule, state_json, account) VALUES ($1, $2, $3, $4)
     ON CONFLICT (account, campaign_id, rule) DO UPDATE SET state_json = excluded.state_json";

/// A reminder whose condition ended, in the cycle's transaction.
pub(super) const DELETE_REMINDER: &str =
    "DELETE FROM reminders WHERE campaign_id = $1 AND rule = $2 AND account = $3";

/// A reminder to store for (campaign, rule), or to delete when `reminder` is `None`.
#[derive(Debug, Clone)]
pub struct ReminderWrite {
    pub campaign_id: String,
    pub rule: String,
    pub reminder: Option<Reminder>,
}

/// (campaign, rule, state json or None to delete).
pub(super) type ReminderRow<'a> = (&'a str, &'a str, Option<String>);

/// The reminder writes as rows, for the cycle's one transaction.
pub(super) fn reminder_rows(writes: &[ReminderWrite]) -> Result<Vec<ReminderRow<'_>>, StoreError> {
    writes
        .iter()
        .map(|write| {
            let json = write
                .reminder
                .as_ref()
                .map(|reminder| {
                    serde_json::to_string(reminder).map_err(|e| StoreError::Corrupt {
                        what: format!("reminder for campaign \"{}\"", write.campaign_id),
                        reason: e.to_string(),
                    })
                })
                .transpose()?;
            Ok((write.campaign_id.as_str(), write.rule.as_str(), json))
        })
        .collect()
}

impl Store {
    /// Every stored reminder, by (campaign id, rule).
    pub async fn load_reminders(&self) -> Result<HashMap<(String, String), Reminder>, StoreError> {
        let rows: Vec<(String, String, String)> = on_pool!(self, pool => {
            sqlx::query("SELECT campaign_id, rule, state_json FROM reminders WHERE account = $1")
                .bind(self.account())
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| {
                    Ok((
                        row.try_get("campaign_id")?,
                        row.try_get("rule")?,
                        row.try_get("state_json")?,
                    ))
                })
                .collect::<Result<_, sqlx::Error>>()?
        });
        let mut reminders = HashMap::with_capacity(rows.len());
        for (campaign, rule, json) in rows {
            let reminder = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                what: format!("reminder ({campaign}, {rule})"),
                reason: e.to_string(),
            })?;
            reminders.insert((campaign, rule), reminder);
        }
        Ok(reminders)
    }
}
