//! Re-asserting active alerts: Alertmanager forgets alerts that stop arriving
//! (and loses them all when it restarts), so a task per Alertmanager channel
//! re-posts every active condition each `resend_interval`.
//!
//! The conditions come from the stored campaign states and API health
//! ([`active_conditions`], pure); the channel is handed them and never reads the
//! store itself. Because the states are in the store, a restarted watcher
//! re-asserts them too. Beside the daemon, which spawns and stops these tasks.
//!
//! A store that cannot be read resolves nothing: the conditions it last
//! showed are re-posted until it answers again ([`to_assert`]), and while it
//! refuses commits that is a condition of its own (`store_unhealthy`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::alert::{ActiveCondition, Condition};
use crate::commit::Store;
use crate::config::Settings;
use crate::deliver::{AlertmanagerChannel, ChannelSet};
use crate::event::DEFAULT_ACCOUNT;
use crate::observe::CampaignStatus;
use crate::route::silence::Silence;
use crate::state::{ApiHealth, CampaignState};

/// Pure: every condition one account's stored states and health say is
/// active now. `watched` limits campaigns to the configured ids (none: every
/// stored one); `account` labels them, unless it is `default`.
pub fn active_conditions(
    account: &str,
    states: &HashMap<String, CampaignState>,
    health: &ApiHealth,
    watched: Option<&BTreeSet<String>>,
    now: DateTime<Utc>,
) -> Vec<ActiveCondition> {
    let account = (account != DEFAULT_ACCOUNT).then(|| account.to_string());
    let mut keys: Vec<&String> = states
        .keys()
        .filter(|key| watched.map_or(true, |ids| ids.contains(*key)))
        .collect();
    keys.sort();
    let mut active = Vec::new();
    for key in keys {
        let state = &states[key];
        let snapshot = &state.snapshot;
        let campaign = Some((snapshot.id.clone(), snapshot.name.clone()));
        let mut holds = |condition| {
            // The pause's hints, stored with the state, so a re-post keeps
            // the annotation its first post had.
            let hints = match condition {
                Condition::Paused => state.hints.clone(),
                _ => Vec::new(),
            };
            active.push(ActiveCondition {
                condition,
                account: account.clone(),
                campaign: campaign.clone(),
                since: state.changed_at,
                hints,
            })
        };
        // A campaign that is gone is neither paused nor failing its uploads.
        if state.not_found {
            holds(Condition::NotFound);
            continue;
        }
        if snapshot.status == CampaignStatus::Paused {
            holds(Condition::Paused);
        }
        if !snapshot.upload_errors.is_empty() {
            holds(Condition::UploadErrors);
        }
        if let Some(since) = state.reads.unreadable_since {
            active.push(ActiveCondition {
                condition: Condition::Unreadable,
                account: account.clone(),
                campaign: campaign.clone(),
                since,
                hints: Vec::new(),
            });
        }
    }
    if health.unhealthy {
        active.push(ActiveCondition {
            condition: Condition::ApiUnhealthy,
            account,
            campaign: None,
            since: now,
            hints: Vec::new(),
        });
    }
    active
}

/// Pure: the conditions of `account` less those whose start a silence held
/// back: a pause that began while a silence covered it was never posted, and
/// re-posting it would page through Alertmanager what the silence keeps from
/// every other channel. One that was posted before the silence began stays
/// posted (a silence stops news, it does not resolve what is open). When the
/// silence ends and the campaign is still paused, the next round posts it.
pub fn unsilenced(
    active: Vec<ActiveCondition>,
    account: &str,
    silences: &[Silence],
    now: DateTime<Utc>,
) -> Vec<ActiveCondition> {
    active
        .into_iter()
        .filter(|condition| {
            let campaign = condition
                .campaign
                .as_ref()
                .map(|(id, name)| (id.as_str(), name.as_str()));
            !silences.iter().any(|silence| {
                silence.active(now)
                    && silence.created_at <= condition.since
                    && silence.holds(condition.condition.starting_event(), account, campaign)
            })
        })
        .collect()
}

/// Why a re-assertion round failed; the loop logs it and tries again.
#[derive(Debug, thiserror::Error)]
pub enum ReassertError {
    #[error("{0}")]
    Store(#[from] crate::commit::StoreError),
    #[error("{0}")]
    NotPosted(#[from] crate::deliver::alertmanager::NotPosted),
}

/// Pure: what a round asserts, from what the store says now (`read`: the
/// active conditions, or why it could not be read) and what it said at the
/// last round that could read it (`last_known`, kept up to date here). A store
/// that cannot be read changes nothing: alerts that stop being re-posted
/// expire and resolve in Alertmanager, falsely. While the store refuses
/// commits, `store_unhealthy` holds too.
pub fn to_assert<E>(
    read: Result<Vec<ActiveCondition>, E>,
    last_known: &mut Vec<ActiveCondition>,
    refusing_commits: bool,
    now: DateTime<Utc>,
) -> (Vec<ActiveCondition>, Option<E>) {
    let (mut active, unread) = match read {
        Ok(active) => {
            last_known.clone_from(&active);
            (active, None)
        }
        Err(reason) => (last_known.clone(), Some(reason)),
    };
    if refusing_commits {
        active.push(ActiveCondition {
            condition: Condition::StoreUnhealthy,
            account: None,
            campaign: None,
            since: now,
            hints: Vec::new(),
        });
    }
    (active, unread)
}

/// One account whose conditions are re-posted: its view of the store, and
/// its `campaigns` when it is not listing all of them.
#[derive(Clone)]
pub struct ReassertedAccount {
    pub store: Store,
    pub watched: Option<BTreeSet<String>>,
}

/// Every configured account, each with its view of `store`.
pub fn reasserted_accounts(settings: &Settings, store: &Store) -> Vec<ReassertedAccount> {
    settings
        .accounts()
        .into_iter()
        .map(|account| ReassertedAccount {
            store: store.for_account(&account.name),
            watched: (!account.watch.all)
                .then(|| account.watch.campaigns.iter().cloned().collect()),
        })
        .collect()
}

/// A task per alertmanager channel that re-posts the active alerts of every account.
pub fn reasserters(channels: &ChannelSet, accounts: &[ReassertedAccount]) -> Vec<Reasserter> {
    channels
        .alertmanagers()
        .into_iter()
        .map(|(channel_name, channel)| Reasserter {
            channel_name,
            channel,
            accounts: accounts.to_vec(),
        })
        .collect()
}

/// Re-posts one channel's active conditions every `resend_interval`.
pub struct Reasserter {
    pub channel_name: String,
    pub channel: Arc<AlertmanagerChannel>,
    /// Never empty: the daemon refuses a configuration without accounts.
    pub accounts: Vec<ReassertedAccount>,
}

impl Reasserter {
    /// Until `stop`: read the stored states, post what is active and resolve
    /// what was posted before and no longer is. Failures are logged and tried
    /// again next round; Alertmanager keeps an alert until its `endsAt`.
    pub async fn run(self, stop: CancellationToken) {
        let mut asserted = BTreeMap::new();
        let mut last_known = Vec::new();
        loop {
            // Standbys stay quiet: only the replica that polls re-asserts alerts,
            // or the one whose store stopped taking its commits while it led
            // (a lost server takes the lease with it; no standby saw the episode).
            let store = self.store();
            if store.check_leader().is_err() && !store.refusing_commits() {
                asserted.clear();
                last_known.clear();
            } else if let Err(reason) = self.round(&mut asserted, &mut last_known, Utc::now()).await
            {
                tracing::warn!(channel = %self.channel_name, error = %reason, "could not re-post active alerts; trying again next interval");
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(self.channel.resend_interval()) => {}
            }
        }
        tracing::debug!(channel = %self.channel_name, "alert re-posting stopped");
    }

    async fn round(
        &self,
        asserted: &mut BTreeMap<crate::deliver::alertmanager::Labels, String>,
        last_known: &mut Vec<ActiveCondition>,
        now: DateTime<Utc>,
    ) -> Result<(), ReassertError> {
        let read = self.read_active(now).await;
        let (active, unread) = to_assert(read, last_known, self.store().refusing_commits(), now);
        if let Some(reason) = &unread {
            tracing::warn!(channel = %self.channel_name, error = %reason, "the state store cannot be read; re-posting the alerts it last showed, so that none resolves for want of a re-post");
        }
        if let Some(posted) = self.channel.reassert(&active, asserted, now).await? {
            tracing::debug!(channel = %self.channel_name, active = posted, "re-posted active alerts");
        }
        Ok(())
    }

    /// The store the accounts share (each has its own view of it).
    fn store(&self) -> &Store {
        &self.accounts[0].store
    }

    /// Every account's active conditions; one unreadable account makes the
    /// whole read fail, so that nothing is resolved for want of a re-post.
    async fn read_active(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<ActiveCondition>, crate::commit::StoreError> {
        let mut active = Vec::new();
        for account in &self.accounts {
            let store = &account.store;
            let states = store.load_states().await?;
            let health = store.load_health().await?;
            let silences = store.silences(now, false).await?;
            let standing = active_conditions(
                store.account(),
                &states,
                &health,
                account.watched.as_ref(),
                now,
            );
            active.extend(unsilenced(standing, store.account(), &silences, now));
        }
        Ok(active)
    }
}

#[cfg(test)]
mod tests;
