//! Status bookkeeping for `status`: last seen per campaign and how each cycle
//! ended. Beside the store it writes; the watcher hands it plain values after a
//! cycle is committed.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::{CycleOutcome, Store};

/// What one cycle saw of an account's campaigns.
#[derive(Debug)]
pub struct Sighting<'a> {
    /// Campaigns read and found, changed or not (one answering 404 was read but
    /// not found: its clock starts).
    pub found: Vec<&'a str>,
    /// Campaigns whose read failed.
    pub failed: Vec<&'a str>,
    /// The account was read completely: its listing (if any) ended, the key was
    /// accepted, and the API answered. Only then does an absence mean anything.
    pub complete: bool,
}

/// What the bookkeeping remembers between cycles, so that a quiet cycle reads
/// nothing back. Anything missing is read from the store again.
#[derive(Debug)]
pub struct Bookkeeping {
    /// Only a store this process owns alone (SQLite) may be remembered between
    /// cycles; replicas sharing PostgreSQL read it afresh each cycle.
    remember: bool,
    /// Campaigns recorded as no longer being read (`campaign_seen`), each with
    /// whether the retention's clock runs for it.
    unseen: Option<HashMap<String, bool>>,
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
    /// last changed (a key given twice: the later wins); `sighting` says which
    /// were read now, which failed, and whether the account was read completely.
    /// A failure is only logged: the cycle itself is already committed.
    pub async fn record_outcome<'a>(
        &mut self,
        store: &Store,
        sighting: &Sighting<'_>,
        tracked: impl Iterator<Item = (&'a String, DateTime<Utc>)>,
        outcome: &CycleOutcome,
    ) {
        let found: HashSet<&str> = sighting.found.iter().copied().collect();
        let failed: HashSet<&str> = sighting.failed.iter().copied().collect();
        if !self.remember {
            self.unseen = None;
            self.last_read_at = None;
        }
        let unseen = match self.unseen.take() {
            Some(unseen) => unseen,
            None => match store.seen_rows().await {
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
        let changes = sightings(
            &unseen,
            &found,
            &failed,
            sighting.complete,
            tracked,
            last_read_at,
            outcome.started_at,
        );
        match store
            .record_cycle(
                &changes.unseen,
                &changes.missing,
                &changes.seen_again,
                outcome,
            )
            .await
        {
            Ok(()) => {
                let mut unseen = unseen;
                for key in &changes.seen_again {
                    unseen.remove(key);
                }
                unseen.extend(changes.unseen.into_iter().map(|(key, _)| (key, false)));
                unseen.extend(changes.missing.into_iter().map(|(key, _)| (key, true)));
                self.unseen = Some(unseen);
                if !found.is_empty() {
                    self.last_read_at = Some(outcome.started_at);
                } else {
                    self.last_read_at = last_read_at;
                }
            }
            Err(error) => tracing::warn!(%error, "could not record the cycle for `status`"),
        }
    }
}

/// What one cycle changes in `campaign_seen`.
#[derive(Debug, Default, PartialEq)]
struct SeenChanges {
    /// Stopped being read, with when they were last read.
    unseen: Vec<(String, DateTime<Utc>)>,
    /// Not found by a complete read: the retention's clock starts now.
    missing: Vec<(String, DateTime<Utc>)>,
    /// Read again.
    seen_again: Vec<String>,
}

/// Every campaign with a state was read by the previous cycle unless it is
/// already recorded as unseen: so one that is not read now was last read then.
/// Only a cycle that read the account completely can say a campaign is gone
/// (`missing`): a failed read of it, its listing or its account says nothing
/// about it, so the retention, which forgets what stays missing long enough,
/// never forgets a campaign for being unreadable.
fn sightings<'a>(
    unseen: &HashMap<String, bool>,
    found: &HashSet<&str>,
    failed: &HashSet<&str>,
    complete: bool,
    tracked: impl Iterator<Item = (&'a String, DateTime<Utc>)>,
    last_read_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> SeenChanges {
    let mut newly_unseen = BTreeMap::new();
    let mut missing = BTreeMap::new();
    for (key, changed_at) in tracked {
        if found.contains(key.as_str()) {
            continue;
        }
        let gone = complete && !failed.contains(key.as_str());
        match unseen.get(key) {
            None => {
                newly_unseen.insert(key.clone(), last_read_at.unwrap_or(changed_at));
                if gone {
                    missing.insert(key.clone(), now);
                }
            }
            Some(false) if gone => {
                missing.insert(key.clone(), now);
            }
            Some(_) => {}
        }
    }
    SeenChanges {
        unseen: newly_unseen.into_iter().collect(),
        missing: missing.into_iter().collect(),
        seen_again: unseen
            .keys()
            .filter(|key| found.contains(key.as_str()))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests;
