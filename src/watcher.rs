//! One cycle of the pipeline: fetch → observe → diff → route → commit, then wake
//! the dispatcher (deliver). The scheduler, `once`, the demo and the tests all
//! call [`Watcher::tick`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use globset::{Glob, GlobSet, GlobSetBuilder};
use tokio::sync::Notify;

use crate::commit::{CycleCommit, CycleOutcome, RoutedEvent, Store, StoreError};
use crate::config::WatchSettings;
use crate::deliver::heartbeat::Heartbeat;
use crate::deliver::ChannelSet;
use crate::diff::debounce::diff_confirmed;
use crate::diff::remind;
use crate::diff::{assess_health, CampaignState, CycleVerdict};
use crate::event::Event;
use crate::fetch::{FetchError, SigmaMindClient};
use crate::observe::{CampaignStatus, FetchFailure, Observation};
use crate::route::silence::silencing;
use crate::route::Router;

mod store_alarm;
pub use store_alarm::{Recovery, StoreAlarm, STORE_UNHEALTHY_AFTER};

/// What one cycle saw and did.
#[derive(Debug, Clone)]
pub struct CycleReport {
    pub started_at: DateTime<Utc>,
    pub campaigns_read: usize,
    pub campaigns_failed: usize,
    /// `(campaign, reason)` for every campaign that could not be read.
    pub failures: Vec<(String, String)>,
    pub verdict: CycleVerdict,
    /// Every event the cycle committed, routed or not.
    pub events: Vec<Event>,
    pub requests: u64,
    pub duration: std::time::Duration,
    /// Watched campaigns by status bucket (`crate::http::CAMPAIGN_STATUS_BUCKETS`), for metrics.
    pub campaigns_by_status: BTreeMap<&'static str, u64>,
    /// `watcher.api_unhealthy` is in force after this cycle.
    pub api_unhealthy: bool,
}

impl CycleReport {
    pub fn api_readable(&self) -> bool {
        self.verdict == CycleVerdict::Readable
    }
}

pub struct Watcher {
    client: SigmaMindClient,
    store: Store,
    router: Router,
    watch: WatchSettings,
    explicit: HashSet<String>,
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
    /// Campaigns in the last listing; decides whether listing beats GETs by id.
    known_total: AtomicU64,
    concurrency: usize,
    dispatcher_wake: Arc<Notify>,
    /// Only a store this process owns alone (SQLite) may be remembered between
    /// cycles; replicas sharing PostgreSQL read it afresh each cycle.
    remember: bool,
    memory: tokio::sync::Mutex<Memory>,
    heartbeat: Option<Heartbeat>,
    /// The channels, for what must go out without the store (store_alarm.rs).
    channels: Option<Arc<ChannelSet>>,
}

/// What a cycle leaves for the next, so that a quiet cycle reads and writes
/// (almost) nothing. Anything missing is read from the store again.
#[derive(Default)]
struct Memory {
    /// A brief of every stored state as of the last commit.
    briefs: Option<HashMap<String, Brief>>,
    /// Campaigns recorded as no longer being read (`campaign_seen`).
    unseen: Option<HashSet<String>>,
    /// When the last cycle that read campaigns started.
    last_read_at: Option<DateTime<Utc>>,
}

/// What the watcher keeps of a stored state between cycles: enough to tell an
/// unchanged listing entry and to count and track campaigns, about a tenth of
/// the full state. Full states are read from the store only for campaigns whose
/// observation differs (or for every campaign when reminding rules need them).
#[derive(Debug, Clone, PartialEq)]
struct Brief {
    fingerprint: u64,
    status_bucket: &'static str,
    not_found: bool,
    /// A debounce candidate is waiting: the next observation must be diffed.
    pending: bool,
    changed_at: DateTime<Utc>,
}

impl Brief {
    fn of(state: &CampaignState) -> Self {
        Self {
            fingerprint: state.snapshot.fingerprint(),
            status_bucket: crate::http::status_bucket(&state.snapshot.status, state.not_found),
            not_found: state.not_found,
            pending: state.pending.is_some(),
            changed_at: state.changed_at,
        }
    }
}

/// A first cycle over a large account commits its (event-free) states in slices
/// of this many.
const QUIET_STATES_PER_COMMIT: usize = 1_000;

/// `None` for an empty list; patterns were checked by the config's `validate()`,
/// an invalid one is skipped rather than guessed at.
fn glob_set(patterns: &[String]) -> Option<GlobSet> {
    if patterns.is_empty() {
        return None;
    }
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        if let Ok(glob) = Glob::new(pattern) {
            builder.add(glob);
        }
    }
    builder.build().ok()
}

impl Watcher {
    pub fn new(
        client: SigmaMindClient,
        store: Store,
        router: Router,
        watch: WatchSettings,
        concurrency: usize,
        dispatcher_wake: Arc<Notify>,
    ) -> Self {
        Self {
            client,
            router,
            explicit: watch.campaigns.iter().cloned().collect(),
            include: glob_set(&watch.include),
            exclude: glob_set(&watch.exclude),
            watch,
            known_total: AtomicU64::new(0),
            concurrency: concurrency.max(1),
            dispatcher_wake,
            remember: !store.is_shared(),
            memory: tokio::sync::Mutex::default(),
            store,
            heartbeat: None,
            channels: None,
        }
    }

    /// Ping `heartbeat` after every cycle that read the API.
    pub fn with_heartbeat(mut self, heartbeat: Option<Heartbeat>) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A silence keeps news from being sent, but never the end of a condition
    /// whose start was sent: a resolve swallowed by a silence leaves an incident
    /// open for good.
    async fn ends_an_announced_condition(&self, event: &Event) -> Result<bool, StoreError> {
        // Enough history to reach back past any realistic run of news.
        const LOOK_BACK: u32 = 200;
        let ended = crate::deliver::condition::ended_by(event);
        if ended.is_empty() {
            return Ok(false);
        }
        let campaign = event.campaign.as_ref().map(|campaign| campaign.id.as_str());
        let history = self.store.latest_events_of(campaign, LOOK_BACK).await?;
        Ok(ended.into_iter().any(|condition| {
            crate::deliver::condition::announced(
                condition,
                history.iter().map(|(event, silenced)| (event, *silenced)),
            )
        }))
    }

    async fn commit_quiet_states(
        &self,
        now: DateTime<Utc>,
        states: Vec<(String, CampaignState)>,
    ) -> Result<(), StoreError> {
        self.store
            .commit_cycle(&CycleCommit {
                now,
                states,
                health: None,
                events: vec![],
                reminders: vec![],
            })
            .await
    }

    async fn load_briefs(&self) -> Result<HashMap<String, Brief>, StoreError> {
        let mut briefs = HashMap::new();
        self.store
            .each_state(|key, state| {
                briefs.insert(key, Brief::of(&state));
            })
            .await?;
        Ok(briefs)
    }

    /// Run one cycle. Only a store failure is an error: an unreadable API is a
    /// verdict in the report (and, after enough cycles, an event).
    #[tracing::instrument(name = "cycle", skip_all, fields(cycle_id = next_cycle_id(), campaigns, events, verdict, duration_ms))]
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<CycleReport, StoreError> {
        let started = Instant::now();
        let requests_before = self.client.requests_sent();
        // Taken out for the cycle: an early return leaves nothing stale behind.
        let remembered = self.memory.lock().await.briefs.take();
        // Reminders look at every campaign's state, so with reminding rules every
        // state is read (once) before the fetch; otherwise only those that differ.
        let reminding = !self.router.reminding_rules().is_empty();
        let every_state = match reminding {
            true => Some(self.store.load_states().await?),
            false => None,
        };
        let mut briefs = match (remembered, &every_state) {
            (Some(briefs), _) => briefs,
            (None, Some(states)) => states
                .iter()
                .map(|(key, state)| (key.clone(), Brief::of(state)))
                .collect(),
            (None, None) => self.load_briefs().await?,
        };
        let Fetched {
            observations,
            unchanged,
            listing_failure,
        } = self.fetch(&briefs).await;
        crate::crash::reached(crate::crash::Stage::AfterFetch);

        let stored = match every_state {
            Some(states) => states,
            None => {
                self.store
                    .load_states_for(
                        observations
                            .iter()
                            .map(|(key, _)| key.as_str())
                            .filter(|key| briefs.contains_key(*key)),
                    )
                    .await?
            }
        };

        // Observations are consumed as they are diffed, and states that come with
        // no event (first sightings, debounce candidates) are committed a slice at
        // a time: a first cycle over a large account never holds it twice. Nothing
        // can be lost by committing them early, as there is nothing to announce.
        // Reminders compare against this cycle's states, so they keep them all.
        let slice_quiet_states = !reminding;
        let mut quiet_states = Vec::new();
        let mut failures: Vec<(String, FetchFailure)> = Vec::new();
        let mut read: Vec<String> = Vec::with_capacity(unchanged.len());
        let mut states = Vec::new();
        let mut committed: Vec<(String, Brief)> = Vec::new();
        let mut events = Vec::new();
        for (key, observation) in observations {
            let name = match &observation {
                Observation::Found(snapshot) => Some(snapshot.name.as_str()),
                _ => stored.get(&key).map(|state| state.snapshot.name.as_str()),
            };
            let confirm_polls = self
                .router
                .confirm_polls(&key, name, self.watch.confirm_polls);
            let diff = diff_confirmed(&key, stored.get(&key), &observation, confirm_polls, now);
            if let Some(state) = diff.state {
                committed.push((key.clone(), Brief::of(&state)));
                if slice_quiet_states && diff.events.is_empty() {
                    quiet_states.push((key.clone(), state));
                    if quiet_states.len() >= QUIET_STATES_PER_COMMIT {
                        self.commit_quiet_states(now, std::mem::take(&mut quiet_states))
                            .await?;
                    }
                } else {
                    states.push((key.clone(), state));
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
        states.append(&mut quiet_states);
        let campaigns_read = read.len() + unchanged.len();
        read.extend(unchanged);

        let campaigns_by_status = count_by_status(
            read.iter().chain(failures.iter().map(|(key, _)| key)),
            &committed,
            &briefs,
        );
        let verdict = verdict(listing_failure.as_ref(), &failures, campaigns_read);
        let health = self.store.load_health().await?;
        let (new_health, health_event) =
            assess_health(&health, &verdict, self.watch.unhealthy_after, now);
        events.extend(health_event);
        let health_changed = new_health != health;

        // Silences are decided at commit time: a silenced event is history, never outbox.
        let silences = self.store.silences(now, false).await?;
        let mut routed: Vec<RoutedEvent> = events
            .iter()
            .map(|event| {
                let mut routed = RoutedEvent::new(event.clone(), self.router.route(event));
                routed.silence = silencing(&silences, event, now).map(|silence| silence.id);
                routed
            })
            .collect();
        let reminders = self
            .plan_reminders(&stored, &states, &read, &routed, now)
            .await?;
        for (event, channels) in reminders.events {
            let mut reminder = RoutedEvent::new(event, channels);
            reminder.silence = silencing(&silences, &reminder.event, now).map(|silence| silence.id);
            events.push(reminder.event.clone());
            routed.push(reminder);
        }
        for routed in routed.iter_mut().filter(|routed| routed.silence.is_some()) {
            if self.ends_an_announced_condition(&routed.event).await? {
                tracing::info!(event_id = %routed.event.id, silence = routed.silence, summary = %routed.event.summary, "event ends a condition whose start was sent: sent despite the silence, so nothing is left open");
                routed.silence = None;
            }
        }
        for silenced in routed.iter().filter(|routed| routed.silence.is_some()) {
            tracing::info!(event_id = %silenced.event.id, silence = silenced.silence, summary = %silenced.event.summary, "event silenced: kept in history, not sent");
        }

        if !states.is_empty()
            || !events.is_empty()
            || health_changed
            || !reminders.writes.is_empty()
        {
            self.store
                .commit_cycle(&CycleCommit {
                    now,
                    states,
                    health: health_changed.then_some(new_health.clone()),
                    events: routed,
                    reminders: reminders.writes,
                })
                .await?;
            crate::crash::reached(crate::crash::Stage::AfterCommit);
            if !events.is_empty() {
                self.dispatcher_wake.notify_one();
            }
        }

        if let CycleVerdict::Unreadable { reason, .. } = &verdict {
            tracing::warn!(%reason, "the SigmaMind API could not be read this cycle");
        }
        let report = CycleReport {
            started_at: now,
            campaigns_read,
            campaigns_failed: failures.len(),
            failures: failures
                .into_iter()
                .map(|(key, failure)| (key, failure.reason))
                .collect(),
            verdict,
            events,
            requests: self.client.requests_sent() - requests_before,
            duration: started.elapsed(),
            campaigns_by_status,
            api_unhealthy: new_health.unhealthy,
        };
        self.record_outcome(&read, &briefs, &committed, &report)
            .await;
        if self.remember {
            briefs.extend(committed);
            self.memory.lock().await.briefs = Some(briefs);
        }
        let span = tracing::Span::current();
        span.record("campaigns", report.campaigns_read + report.campaigns_failed);
        span.record("events", report.events.len());
        span.record("verdict", tracing::field::debug(&report.verdict));
        span.record("duration_ms", report.duration.as_millis() as u64);
        log_cycle(&report);
        // After the cycle is committed and measured: a slow ping delays nothing
        // that matters, and only a cycle that saw the campaigns counts as alive.
        if let (Some(heartbeat), true) = (&self.heartbeat, report.api_readable()) {
            heartbeat.ping().await;
        }
        Ok(report)
    }

    /// Last seen per campaign and the cycle's outcome, for `status`. Only
    /// campaigns that stopped or restarted being read are written. A failure is
    /// only logged: the cycle itself is already committed.
    async fn record_outcome(
        &self,
        read: &[String],
        stored: &HashMap<String, Brief>,
        committed: &[(String, Brief)],
        report: &CycleReport,
    ) {
        let read: HashSet<&str> = read.iter().map(String::as_str).collect();
        let (result, detail) = match &report.verdict {
            CycleVerdict::Readable => (
                "success",
                format!(
                    "{} campaigns read, {} failed, {} events",
                    report.campaigns_read,
                    report.campaigns_failed,
                    report.events.len()
                ),
            ),
            CycleVerdict::Unreadable { reason, .. } => ("api_unreadable", reason.clone()),
        };
        let outcome = CycleOutcome {
            started_at: report.started_at,
            finished_at: Utc::now(),
            result: result.into(),
            detail,
        };
        let mut memory = self.memory.lock().await;
        if !self.remember {
            memory.unseen = None;
            memory.last_read_at = None;
        }
        let unseen = match memory.unseen.take() {
            Some(unseen) => unseen,
            None => match self.store.unseen_campaigns().await {
                Ok(unseen) => unseen,
                Err(error) => {
                    tracing::warn!(%error, "could not record the cycle for `status`");
                    return;
                }
            },
        };
        let last_read_at = match memory.last_read_at {
            Some(at) => Some(at),
            None => self
                .store
                .last_cycle()
                .await
                .ok()
                .flatten()
                .map(|cycle| cycle.started_at),
        };
        // Every campaign with a state was read by the previous cycle unless it is
        // already recorded as unseen: so one that is not read now was last read then.
        let newly_unseen: Vec<(String, DateTime<Utc>)> = stored
            .iter()
            .chain(committed.iter().map(|(key, brief)| (key, brief)))
            .filter(|(key, _)| !read.contains(key.as_str()) && !unseen.contains(*key))
            .map(|(key, brief)| (key.clone(), last_read_at.unwrap_or(brief.changed_at)))
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect();
        let seen_again: Vec<String> = unseen
            .iter()
            .filter(|key| read.contains(key.as_str()))
            .cloned()
            .collect();
        match self
            .store
            .record_cycle(&newly_unseen, &seen_again, &outcome)
            .await
        {
            Ok(()) => {
                let mut unseen = unseen;
                for key in &seen_again {
                    unseen.remove(key);
                }
                unseen.extend(newly_unseen.into_iter().map(|(key, _)| key));
                memory.unseen = Some(unseen);
                if !read.is_empty() {
                    memory.last_read_at = Some(report.started_at);
                } else {
                    memory.last_read_at = last_read_at;
                }
            }
            Err(error) => tracing::warn!(%error, "could not record the cycle for `status`"),
        }
    }

    /// Reminders due this cycle, from the stored timestamps and the campaigns read.
    async fn plan_reminders(
        &self,
        stored: &HashMap<String, CampaignState>,
        new_states: &[(String, CampaignState)],
        read: &[String],
        routed: &[RoutedEvent],
        now: DateTime<Utc>,
    ) -> Result<remind::Plan, StoreError> {
        if self.router.reminding_rules().is_empty() {
            return Ok(remind::Plan::default());
        }
        let reminders = self.store.load_reminders().await?;
        let updated: HashMap<&str, &CampaignState> = new_states
            .iter()
            .map(|(key, state)| (key.as_str(), state))
            .collect();
        let observed: Vec<(&str, &CampaignState)> = read
            .iter()
            .filter_map(|key| {
                let state = updated
                    .get(key.as_str())
                    .copied()
                    .or_else(|| stored.get(key))?;
                Some((key.as_str(), state))
            })
            .collect();
        let sendable: Vec<&Event> = routed
            .iter()
            .filter(|routed| routed.silence.is_none())
            .map(|routed| &routed.event)
            .collect();
        Ok(remind::plan(
            &self.router,
            &reminders,
            &observed,
            &sendable,
            now,
        ))
    }

    /// Read every watched campaign. Returns one observation per campaign key, plus
    /// the listing's failure when `watch.all` could not list.
    async fn fetch(&self, stored: &HashMap<String, Brief>) -> Fetched {
        let mut observations = Vec::new();
        let mut unchanged = Vec::new();
        let mut listing_failure = None;
        let mut listed = BTreeSet::new();
        let explicit_by_listing = !self.watch.all && self.listing_is_cheaper();
        if self.watch.all || explicit_by_listing {
            // Kept apart until the listing completes: a listing that fails halfway
            // counts for nothing. An unchanged campaign is kept as its key only, so a
            // large account is never held twice (stored states + listing).
            let mut listed_changed = Vec::new();
            let mut listed_unchanged = Vec::new();
            let listing = self
                .client
                .list_each(self.watch.page_size, None, |id, observation| {
                    listed.insert(id.clone());
                    let wanted = self.explicit.contains(&id)
                        || (self.watch.all && self.wanted_from_listing(&id, &observation, stored));
                    if !wanted {
                        return;
                    }
                    if is_unchanged(stored.get(&id), &observation) {
                        listed_unchanged.push(id);
                    } else {
                        listed_changed.push((id, observation));
                    }
                })
                .await;
            match listing {
                Ok(()) => {
                    self.known_total
                        .store(listed.len() as u64, Ordering::Relaxed);
                    observations = listed_changed;
                    unchanged = listed_unchanged;
                }
                // Listing only to save requests: fall back to one GET per campaign.
                Err(error) if explicit_by_listing => {
                    listed.clear();
                    tracing::warn!(%error, "listing failed; reading the watched campaigns one by one");
                }
                Err(error) => {
                    listed.clear();
                    listing_failure = Some(error);
                }
            }
        }

        // Explicit ids not already seen in the listing, plus stored campaigns that
        // vanished from a good listing: absence from a list is never "not found"
        // until a direct GET says 404.
        let mut direct: Vec<String> = self
            .watch
            .campaigns
            .iter()
            .filter(|id| !listed.contains(*id))
            .cloned()
            .collect();
        if self.watch.all && listing_failure.is_none() {
            direct.extend(
                stored
                    .iter()
                    .filter(|(key, brief)| {
                        !brief.not_found
                            && !listed.contains(*key)
                            && !self.watch.campaigns.contains(key)
                    })
                    .map(|(key, _)| key.clone()),
            );
        }
        direct.sort();
        direct.dedup();

        let auth_rejected = AtomicBool::new(false);
        let results: Vec<(String, Observation)> = stream::iter(direct)
            .map(|id| {
                let auth_rejected = &auth_rejected;
                async move {
                    // One rejected key rejects them all: don't hammer the API with it.
                    if auth_rejected.load(Ordering::Relaxed) {
                        let failure = FetchFailure {
                            reason: "skipped: the API rejected the key earlier in this cycle"
                                .into(),
                            auth_rejected: true,
                        };
                        return (id, Observation::Failed(failure));
                    }
                    let observation = self.client.observe(&id).await;
                    if let Observation::Failed(failure) = &observation {
                        if failure.auth_rejected {
                            auth_rejected.store(true, Ordering::Relaxed);
                        }
                    }
                    (id, observation)
                }
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        observations.extend(results);
        // Listing and direct reads never overlap; sorted for a stable event order.
        // In place: a large first cycle is not copied to be sorted.
        observations.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        Fetched {
            observations,
            unchanged,
            listing_failure,
        }
    }

    /// Explicit ids are read by listing when there are more than `list_threshold`
    /// of them and the last listing took fewer pages than one GET per campaign
    /// (an unknown account size is found out by listing once).
    fn listing_is_cheaper(&self) -> bool {
        let ids = self.watch.campaigns.len() as u64;
        if ids <= self.watch.list_threshold as u64 {
            return false;
        }
        let total = self.known_total.load(Ordering::Relaxed);
        total == 0 || total.div_ceil(u64::from(self.watch.page_size.max(1))) < ids
    }

    /// `include`/`exclude` globs on id or name decide first. Then, with
    /// `watch.statuses`, a listed campaign counts if its status is wanted, or if it
    /// is already watched (so its move out of those statuses is announced).
    fn wanted_from_listing(
        &self,
        id: &str,
        observation: &Observation,
        stored: &HashMap<String, Brief>,
    ) -> bool {
        let name = match observation {
            Observation::Found(snapshot) => snapshot.name.as_str(),
            _ => "",
        };
        let matches = |globs: &Option<GlobSet>| {
            globs
                .as_ref()
                .map(|set| set.is_match(id) || (!name.is_empty() && set.is_match(name)))
        };
        if matches(&self.exclude) == Some(true) || matches(&self.include) == Some(false) {
            return false;
        }
        if self.watch.statuses.is_empty() || stored.contains_key(id) {
            return true;
        }
        match observation {
            Observation::Found(snapshot) => self
                .watch
                .statuses
                .iter()
                .any(|wanted| CampaignStatus::parse(wanted) == snapshot.status),
            _ => false,
        }
    }
}

/// Numbers cycles in log spans, across reloads, for the life of the process.
fn next_cycle_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Every observed campaign by status bucket: its new state, or the stored one when
/// nothing changed or it could not be read (never read at all: not counted).
fn count_by_status<'a>(
    keys: impl Iterator<Item = &'a String>,
    new_states: &[(String, Brief)],
    stored: &HashMap<String, Brief>,
) -> BTreeMap<&'static str, u64> {
    let new_states: HashMap<&str, &Brief> = new_states
        .iter()
        .map(|(key, brief)| (key.as_str(), brief))
        .collect();
    crate::http::count_by_status(keys.filter_map(|key| {
        let brief = new_states
            .get(key.as_str())
            .copied()
            .or_else(|| stored.get(key))?;
        Some(brief.status_bucket)
    }))
}

/// What one cycle read.
struct Fetched {
    /// Campaigns that are new, changed or failed, by key.
    /// A flat, sorted list rather than a map: a first cycle over a large account
    /// holds every campaign here, and a map's nodes cost a third more.
    observations: Vec<(String, Observation)>,
    /// Listed campaigns identical to their stored state: nothing can come of
    /// diffing them, so only their keys are kept.
    unchanged: Vec<String>,
    listing_failure: Option<FetchError>,
}

/// Read exactly as stored, with no debounce candidate or 404 to settle.
fn is_unchanged(stored: Option<&Brief>, observation: &Observation) -> bool {
    match (stored, observation) {
        (Some(brief), Observation::Found(snapshot)) => {
            !brief.not_found && !brief.pending && brief.fingerprint == snapshot.fingerprint()
        }
        _ => false,
    }
}

/// A quiet cycle logs at debug; one with events or failures at info. Inside the
/// cycle span, so the line carries the cycle id.
fn log_cycle(report: &CycleReport) {
    macro_rules! cycle_line {
        ($level:ident) => {
            tracing::$level!(
                campaigns = report.campaigns_read,
                failed = report.campaigns_failed,
                events = report.events.len(),
                requests = report.requests,
                duration_ms = report.duration.as_millis() as u64,
                "cycle finished"
            )
        };
    }
    if report.events.is_empty() && report.campaigns_failed == 0 {
        cycle_line!(debug);
    } else {
        cycle_line!(info);
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
