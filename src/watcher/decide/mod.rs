//! The cycle's decision, pure: what was read and what the store holds in, the
//! states, events, health, routes and reminders to commit out. Nothing here
//! reads or writes; the watcher loads before and commits after.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::brief::Brief;
use crate::commit::{CycleCommit, ReminderWrite, RoutedEvent};
use crate::config::WatchSettings;
use crate::diff::remind;
use crate::diff::unreadable::diff_read;
use crate::diff::{assess_health, CycleVerdict};
use crate::event::Event;
use crate::fetch::{FetchError, Fetched};
use crate::observe::{FetchFailure, Observation};
use crate::route::silence::{silencing, Silence};
use crate::route::Router;
use crate::state::{ApiHealth, CampaignState, Reminder};

/// What the decision needs of the store, read before it.
pub(super) struct Loaded {
    /// The stored states of the campaigns read as new, changed or failed
    /// (of every campaign, with reminding rules).
    pub(super) stored: HashMap<String, CampaignState>,
    pub(super) health: ApiHealth,
    /// The silences in force.
    pub(super) silences: Vec<Silence>,
    /// The reminder timestamps (none read without reminding rules).
    pub(super) reminders: HashMap<(String, String), Reminder>,
}

/// The rules one account's cycle is decided by.
pub(super) struct Rules<'a> {
    pub(super) account: &'a str,
    pub(super) router: &'a Router,
    pub(super) watch: &'a WatchSettings,
}

/// What a cycle decided.
pub(super) struct Decision {
    /// States, health, routed events and reminders, for the cycle's transaction.
    pub(super) commit: CycleCommit,
    /// States that come with no event (first sightings, debounce candidates),
    /// which the store may commit ahead in slices: nothing can be lost by
    /// committing them early, as there is nothing to announce. Empty when
    /// reminders compare against this cycle's states.
    pub(super) quiet_states: Vec<(String, CampaignState)>,
    /// A brief of every state the cycle writes.
    pub(super) committed: Vec<(String, Brief)>,
    /// Every event of the cycle, routed or not, reminders included.
    pub(super) events: Vec<Event>,
    /// Every campaign read, changed or not.
    pub(super) read: Vec<String>,
    pub(super) failures: Vec<(String, FetchFailure)>,
    /// Campaigns seen for the first time: recorded, never announced.
    pub(super) first_seen: usize,
    pub(super) verdict: CycleVerdict,
    pub(super) api_unhealthy: bool,
}

impl Decision {
    /// Every observed campaign by status bucket: its new state, or the stored
    /// one when nothing changed or it could not be read (never read at all:
    /// not counted).
    pub(super) fn campaigns_by_status(
        &self,
        stored: &HashMap<String, Brief>,
    ) -> BTreeMap<&'static str, u64> {
        let latest: HashMap<&str, &Brief> = self
            .committed
            .iter()
            .map(|(key, brief)| (key.as_str(), brief))
            .collect();
        let observed = self
            .read
            .iter()
            .chain(self.failures.iter().map(|(key, _)| key));
        crate::metrics::count_by_status(observed.filter_map(|key| {
            let brief = latest
                .get(key.as_str())
                .copied()
                .or_else(|| stored.get(key))?;
            Some(brief.status_bucket)
        }))
    }
}

/// Every stored campaign by status bucket, with this cycle's new states: a
/// cycle that read only part of the account (the sweep under way) still
/// reports them all, as none that was not read is missing (one no longer
/// watched counts while it is stored).
pub(super) fn every_campaign_by_status(
    committed: &[(String, Brief)],
    stored: &HashMap<String, Brief>,
) -> BTreeMap<&'static str, u64> {
    let latest: HashMap<&str, &Brief> = committed
        .iter()
        .map(|(key, brief)| (key.as_str(), brief))
        .collect();
    // A campaign already known to be gone is not read again, so a whole
    // listing's cycle does not count it either.
    let unchanged = stored
        .iter()
        .filter(|(key, brief)| !brief.not_found && !latest.contains_key(key.as_str()))
        .map(|(_, brief)| brief.status_bucket);
    crate::metrics::count_by_status(
        latest
            .values()
            .map(|brief| brief.status_bucket)
            .chain(unchanged),
    )
}

/// Diff every observation against its stored state, judge the API's health,
/// route every event and plan the reminders due. Observations are consumed as
/// they are diffed, so a first cycle over a large account holds each campaign
/// once.
pub(super) fn decide(
    rules: &Rules<'_>,
    fetched: Fetched,
    loaded: &Loaded,
    slice_quiet_states: bool,
    now: DateTime<Utc>,
) -> Decision {
    // A campaign's failed reads count only while the API as a whole answers.
    let unhealthy_after = fetched
        .api_answered()
        .then_some(rules.watch.unhealthy_after);
    let Fetched {
        observations,
        unchanged,
        listing_failure,
        ..
    } = fetched;
    let stored = &loaded.stored;
    let mut states = Vec::new();
    let mut quiet_states = Vec::new();
    let mut committed = Vec::new();
    let mut events = Vec::new();
    let mut read = Vec::with_capacity(unchanged.len());
    let mut failures = Vec::new();
    let mut first_seen = 0;
    for (key, observation) in observations {
        let name = match &observation {
            Observation::Found(snapshot) => Some(snapshot.name.as_str()),
            _ => stored.get(&key).map(|state| state.snapshot.name.as_str()),
        };
        let confirm_polls =
            rules
                .router
                .confirm_polls(rules.account, &key, name, rules.watch.confirm_polls);
        let diff = diff_read(
            &key,
            stored.get(&key),
            &observation,
            confirm_polls,
            unhealthy_after,
            now,
        );
        if stored.get(&key).is_none() && matches!(observation, Observation::Found(_)) {
            first_seen += 1;
        }
        if let Some(state) = diff.state {
            committed.push((key.clone(), Brief::of(&state)));
            match slice_quiet_states && diff.events.is_empty() {
                true => quiet_states.push((key.clone(), state)),
                false => states.push((key.clone(), state)),
            }
        }
        events.extend(diff.events);
        match observation {
            Observation::Failed(failure) => {
                tracing::warn!(campaign = %key, reason = %failure.reason, "campaign could not be read; its stored state is kept");
                failures.push((key, failure));
            }
            _ => read.push(key),
        }
    }
    read.extend(unchanged);

    let verdict = verdict(listing_failure.as_ref(), &failures, read.len());
    let (health, health_event) =
        assess_health(&loaded.health, &verdict, rules.watch.unhealthy_after, now);
    events.extend(health_event);
    // Every event is this account's before anything routes, silences or keys
    // it: rules and silences match the account, and the ids of every account
    // but `default` are derived from it ([`crate::event::account_event_id`]),
    // so one campaign id in two accounts is two campaigns whose events never
    // share an id (the history's key).
    for event in &mut events {
        event.assign_account(rules.account);
    }

    let mut routed: Vec<RoutedEvent> = events
        .iter()
        .map(|event| {
            routed_event(
                event.clone(),
                rules.router.route(event),
                &loaded.silences,
                now,
            )
        })
        .collect();
    let reminders = plan_reminders(
        rules.router,
        loaded,
        &states,
        &quiet_states,
        &read,
        &routed,
        now,
    );
    for (mut event, channels) in reminders.events {
        event.assign_account(rules.account);
        let reminder = routed_event(event, channels, &loaded.silences, now);
        events.push(reminder.event.clone());
        routed.push(reminder);
    }
    let reminders = reminders
        .changes
        .into_iter()
        .map(|change| ReminderWrite {
            campaign_id: change.campaign_id,
            rule: change.rule,
            reminder: change.reminder,
        })
        .collect();
    Decision {
        commit: CycleCommit {
            now,
            states,
            health: (health != loaded.health).then_some(health.clone()),
            events: routed,
            reminders,
        },
        quiet_states,
        committed,
        events,
        read,
        failures,
        first_seen,
        verdict,
        api_unhealthy: health.unhealthy,
    }
}

/// Reminders due this cycle, from the stored timestamps and the campaigns read.
fn plan_reminders(
    router: &Router,
    loaded: &Loaded,
    states: &[(String, CampaignState)],
    quiet_states: &[(String, CampaignState)],
    read: &[String],
    routed: &[RoutedEvent],
    now: DateTime<Utc>,
) -> remind::Plan {
    if router.reminding_rules().is_empty() {
        return remind::Plan::default();
    }
    let updated: HashMap<&str, &CampaignState> = states
        .iter()
        .chain(quiet_states)
        .map(|(key, state)| (key.as_str(), state))
        .collect();
    let observed: Vec<(&str, &CampaignState)> = read
        .iter()
        .filter_map(|key| {
            let state = updated
                .get(key.as_str())
                .copied()
                .or_else(|| loaded.stored.get(key))?;
            Some((key.as_str(), state))
        })
        .collect();
    let sendable: Vec<&Event> = routed
        .iter()
        .filter(|routed| routed.silence.is_none())
        .map(|routed| &routed.event)
        .collect();
    remind::plan(router, &loaded.reminders, &observed, &sendable, now)
}

/// `event` bound for `channels`, unless an active silence holds it back.
fn routed_event(
    event: Event,
    channels: Vec<String>,
    silences: &[Silence],
    now: DateTime<Utc>,
) -> RoutedEvent {
    let silence = silencing(silences, &event, now).map(|silence| silence.id);
    RoutedEvent {
        event,
        channels,
        silence,
        followers: vec![],
        incident: None,
    }
}

/// A cycle is unreadable when the key was rejected, the listing failed, or not one
/// campaign could be read; a few failing campaigns among good ones are not an outage.
fn verdict(
    listing_failure: Option<&FetchError>,
    failures: &[(String, FetchFailure)],
    campaigns_read: usize,
) -> CycleVerdict {
    if let Some(error) = listing_failure {
        return CycleVerdict::Unreadable {
            reason: error.to_string(),
            auth_rejected: error.is_auth_rejected(),
        };
    }
    if let Some((_, rejected)) = failures.iter().find(|(_, f)| f.auth_rejected) {
        return CycleVerdict::Unreadable {
            reason: rejected.reason.clone(),
            auth_rejected: true,
        };
    }
    match failures.first() {
        Some((_, first)) if campaigns_read == 0 => CycleVerdict::Unreadable {
            reason: first.reason.clone(),
            auth_rejected: false,
        },
        _ => CycleVerdict::Readable,
    }
}

#[cfg(test)]
mod tests;
