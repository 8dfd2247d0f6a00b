//! The cycle's commit: new campaign states, the API health, the new events,
//! their outbox rows and the reminder timestamps, in **one** transaction, so a
//! crash keeps the whole cycle or none of it. Each table's statement lives in
//! that table's file; this one only puts them in order.

use chrono::{DateTime, Utc};

use super::dialect::{keep_prepared, millis, rows_per_statement, to_i64, Backend, Dialect};
use super::reminders::ReminderWrite;
use super::{board, events, incidents, outbox, reminders, states, Store, StoreError};
use crate::event::Event;
use crate::state::{ApiHealth, CampaignState, Incident};

/// Everything one cycle produced, written in one transaction.
#[derive(Debug, Clone)]
pub struct CycleCommit {
    pub now: DateTime<Utc>,
    pub states: Vec<(String, CampaignState)>,
    pub health: Option<ApiHealth>,
    pub events: Vec<RoutedEvent>,
    /// Reminder timestamps to store (or delete, when `None`).
    pub reminders: Vec<ReminderWrite>,
}

/// An event and the channels the rules chose for it (possibly none).
#[derive(Debug, Clone)]
pub struct RoutedEvent {
    pub event: Event,
    pub channels: Vec<String>,
    /// The silence that stops it: kept in history, no outbox rows for
    /// `channels`.
    pub silence: Option<i64>,
    /// The channels that got the start of the episode this event ends, which
    /// the rules did not choose: given a row whatever the silence.
    pub followers: Vec<String>,
    /// The episode this event opens, extends or closes, as it stands after it.
    pub incident: Option<Incident>,
}

impl RoutedEvent {
    /// An event sent at once to `channels`.
    pub fn new(event: Event, channels: Vec<String>) -> Self {
        Self {
            event,
            channels,
            silence: None,
            followers: vec![],
            incident: None,
        }
    }

    /// Every channel given an outbox row: the rules' unless silenced, and the
    /// followers of the start always.
    pub fn outbox_channels(&self) -> impl Iterator<Item = &String> {
        let routed = match self.silence {
            Some(_) => &self.channels[..0],
            None => &self.channels[..],
        };
        routed.iter().chain(&self.followers)
    }
}

/// A first cycle over a large account commits its (event-free) states in
/// slices of this many ahead of the cycle's transaction.
const QUIET_STATES_PER_COMMIT: usize = 1_000;

impl Store {
    /// Commit states that come with no event in slices of
    /// [`QUIET_STATES_PER_COMMIT`], each its own transaction, so a first cycle
    /// over a large account never holds one large write; returns the part short
    /// of a slice, for the cycle's own transaction.
    pub async fn commit_quiet_states(
        &self,
        now: DateTime<Utc>,
        mut states: Vec<(String, CampaignState)>,
    ) -> Result<Vec<(String, CampaignState)>, StoreError> {
        while states.len() >= QUIET_STATES_PER_COMMIT {
            let rest = states.split_off(QUIET_STATES_PER_COMMIT);
            let slice = std::mem::replace(&mut states, rest);
            self.commit_cycle(&CycleCommit {
                now,
                states: slice,
                health: None,
                events: vec![],
                reminders: vec![],
            })
            .await?;
        }
        Ok(states)
    }

    /// ONE transaction: upsert each (key, state), store health if Some, insert every
    /// event into history (ignored when its id is already there), and one outbox row
    /// per (event id, channel), unique on the pair, so a re-commit never duplicates a
    /// row. With a lease, the transaction first checks that this replica still leads.
    pub async fn commit_cycle(&self, cycle: &CycleCommit) -> Result<(), StoreError> {
        let result = self.write_cycle(cycle).await;
        self.count_commit(&result);
        result
    }

    async fn write_cycle(&self, cycle: &CycleCommit) -> Result<(), StoreError> {
        let now = millis(cycle.now);
        let health = cycle
            .health
            .as_ref()
            .map(|health| {
                serde_json::to_string(health).map_err(|e| StoreError::Corrupt {
                    what: "new API health".into(),
                    reason: e.to_string(),
                })
            })
            .transpose()?;
        let reminder_rows = reminders::reminder_rows(&cycle.reminders)?;
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            pool.verify_lease(&mut tx, self.lease.as_deref()).await?;
            // Many rows per statement (one round trip each on PostgreSQL), serialised
            // a statement's worth at a time: a large baseline is never held twice.
            let states = distinct_keys(&cycle.states);
            let per_statement = rows_per_statement(states::STATE_COLUMNS);
            let full_statement = states::upsert_states(per_statement);
            for chunk in states.chunks(per_statement) {
                let mut rows = Vec::with_capacity(chunk.len());
                for (key, state) in chunk {
                    let json = serde_json::to_string(state).map_err(|e| StoreError::Corrupt {
                        what: format!("new state of campaign \"{key}\""),
                        reason: e.to_string(),
                    })?;
                    rows.push((key, state, json));
                }
                let partial_statement;
                let sql = if chunk.len() == per_statement {
                    &full_statement
                } else {
                    partial_statement = states::upsert_states(chunk.len());
                    &partial_statement
                };
                let mut query =
                    sqlx::query(sql).persistent(keep_prepared(chunk.len(), per_statement));
                for (key, state, json) in &rows {
                    query = query
                        .bind(key.as_str())
                        .bind(json.as_str())
                        .bind(to_i64(state.seq))
                        .bind(millis(state.changed_at))
                        .bind(board::status_label(state))
                        .bind(state.snapshot.name.as_str())
                        .bind(to_i64(state.snapshot.upload_errors.len() as u64))
                        .bind(self.account());
                }
                query.execute(&mut *tx).await?;
            }
            if let Some(json) = &health {
                if self.account() == crate::event::DEFAULT_ACCOUNT {
                    sqlx::query(states::UPSERT_HEALTH).bind(json.as_str())
                } else {
                    sqlx::query(states::UPSERT_ACCOUNT_HEALTH)
                        .bind(json.as_str())
                        .bind(self.account())
                }
                .execute(&mut *tx)
                .await?;
            }
            for routed in &cycle.events {
                let event = &routed.event;
                sqlx::query(events::INSERT_EVENT)
                    .bind(&event.id)
                    .bind(event.kind.as_str())
                    .bind(event.campaign.as_ref().map(|c| c.id.as_str()))
                    .bind(millis(event.occurred_at))
                    .bind(event.to_json())
                    .bind(routed.silence)
                    .bind(self.account())
                    .execute(&mut *tx)
                    .await?;
                if let Some(incident) = &routed.incident {
                    let (started_at, ended_at) = incidents::bind_times(incident);
                    sqlx::query(incidents::UPSERT_INCIDENT)
                        .bind(&incident.id)
                        .bind(incident.account.as_deref())
                        .bind(&incident.subject)
                        .bind(&incident.condition)
                        .bind(started_at)
                        .bind(&incident.start_event_id)
                        .bind(incidents::told_json(incident))
                        .bind(ended_at)
                        .execute(&mut *tx)
                        .await?;
                }
                for channel in routed.outbox_channels() {
                    sqlx::query(outbox::ENQUEUE)
                        .bind(&event.id)
                        .bind(channel)
                        .bind(now)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            for (campaign, rule, json) in &reminder_rows {
                match json {
                    Some(json) => sqlx::query(reminders::UPSERT_REMINDER)
                        .bind(*campaign)
                        .bind(*rule)
                        .bind(json.as_str())
                        .bind(self.account()),
                    None => sqlx::query(reminders::DELETE_REMINDER)
                        .bind(*campaign)
                        .bind(*rule)
                        .bind(self.account()),
                }
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

/// The states to write, each key once (the last one given wins), in the order given.
fn distinct_keys(states: &[(String, CampaignState)]) -> Vec<&(String, CampaignState)> {
    let mut last = std::collections::HashMap::with_capacity(states.len());
    for (index, (key, _)) in states.iter().enumerate() {
        last.insert(key.as_str(), index);
    }
    states
        .iter()
        .enumerate()
        .filter(|(index, (key, _))| last.get(key.as_str()) == Some(index))
        .map(|(_, state)| state)
        .collect()
}
