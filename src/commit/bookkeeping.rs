//! Status bookkeeping for `status`: last seen per campaign and how each cycle
//! ended. Beside the store it writes; the watcher hands it plain values after a
//! cycle is committed.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};

use super::{CycleOutcome, Store};

/// What the bookkeeping remembers between cycles, so that a quiet cycle reads
/// nothing back. Anything missing is read from the store again.
#[derive(Debug)]
pub struct Bookkeeping {
    /// Only a store this process owns alone (SQLite) may be remembered between
    /// cycles; replicas sharing PostgreSQL read it afresh each cycle.
    remember: bool,
    /// Campaigns recorded as no longer being read (`campaign_seen`).
    unseen: Option<HashSet<String>>,
    /// When the last cycle that read campaigns started.
    last_read_at: Option<DateTime<Utc>>,
}

impl Bookkeeping {
    pub fn new(remember: bool) -> Self {
        Self {
            remember,
            unseen: None,
            last_read_at: None,
        }
    }

    /// Record one cycle's `outcome` and the campaigns that stopped or restarted
    /// being read. `tracked` are the campaigns with a state, each with when it
    /// last changed (a key given twice: the later wins); `read` those read now.
    /// A failure is only logged: the cycle itself is already committed.
    pub async fn record_outcome<'a>(
        &mut self,
        store: &Store,
        read: &[String],
        tracked: impl Iterator<Item = (&'a String, DateTime<Utc>)>,
        outcome: &CycleOutcome,
    ) {
        let read: HashSet<&str> = read.iter().map(String::as_str).collect();
        if !self.remember {
            self.unseen = None;
            self.last_read_at = None;
        }
        let unseen = match self.unseen.take() {
            Some(unseen) => unseen,
            None => match store.unseen_campaigns().await {
                Ok(unseen) => unseen,
                Err(error) => {
                    tracing::warn!(%error, "could not record the cycle for `status`");
                    return;
                }
            },
        };
        let last_read_at = match self.last_read_at {
            Some(at) => Some(at),
            None => store
                .last_cycle()
                .await
                .ok()
                .flatten()
                .map(|cycle| cycle.started_at),
        };
        // Every campaign with a state was read by the previous cycle unless it is
        // already recorded as unseen: so one that is not read now was last read then.
        let newly_unseen: Vec<(String, DateTime<Utc>)> = tracked
            .filter(|(key, _)| !read.contains(key.as_str()) && !unseen.contains(*key))
            .map(|(key, changed_at)| (key.clone(), last_read_at.unwrap_or(changed_at)))
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect();
        let seen_again: Vec<String> = unseen
            .iter()
            .filter(|key| read.contains(key.as_str()))
            .cloned()
            .collect();
        match store
            .record_cycle(&newly_unseen, &seen_again, outcome)
            .await
        {
            Ok(()) => {
                let mut unseen = unseen;
                for key in &seen_again {
                    unseen.remove(key);
                }
                unseen.extend(newly_unseen.into_iter().map(|(key, _)| key));
                self.unseen = Some(unseen);
                if !read.is_empty() {
                    self.last_read_at = Some(outcome.started_at);
                } else {
                    self.last_read_at = last_read_at;
                }
            }
            Err(error) => tracing::warn!(%error, "could not record the cycle for `status`"),
        }
    }
}
