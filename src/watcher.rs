//! One cycle of the pipeline over every account: load → decide → commit, then
//! wake the dispatcher (deliver). The scheduler, `once`, the demo and the tests
//! all call [`Watchers::tick`].
//!
//! Each account's cycle reads what its decision needs (the stored states,
//! health, silences in force and reminders, after fetching the API), decides
//! over those values alone ([`decide`]), and commits in one transaction.
//! Where a silenced event ends a condition, the decision asks for one more
//! load, that campaign's history, to know whether the start was announced.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::alert;
use crate::commit::bookkeeping::{Bookkeeping, Sighting};
use crate::commit::{CycleOutcome, RoutedEvent, Store, StoreError};
use crate::config::WatchSettings;
use crate::deliver::heartbeat::Heartbeat;
use crate::deliver::ChannelSet;
use crate::diff::CycleVerdict;
use crate::event::Event;
use crate::fetch::{read_watched, Fetched, ReadPlan, SigmaMindClient};
use crate::route::Router;
use crate::state::{CampaignState, Incident};

mod brief;
mod decide;
mod episodes;
mod report;
mod store_alarm;
use brief::{Brief, Memory};
use decide::{decide, Decision, Loaded, Rules};
pub use report::{AccountReport, CycleReport};
pub use store_alarm::{Recovery, StoreAlarm, STORE_UNHEALTHY_AFTER};

/// The watchers of every configured account, in configuration order. Each
/// account is read concurrently with the others under its own client
/// (concurrency limit and request budget) and commits its own transaction, so
/// a slow, failing or rate-limited account neither delays nor loses another's
/// changes.
pub struct Watchers {
    accounts: Vec<Watcher>,
    heartbeat: Option<Heartbeat>,
}

impl Watchers {
    /// # Panics
    /// With no account: a configuration always has one.
    pub fn new(accounts: Vec<Watcher>) -> Self {
        assert!(!accounts.is_empty(), "at least one account is watched");
        Self {
            accounts,
            heartbeat: None,
        }
    }

    /// Ping `heartbeat` after every cycle that read the first account's API.
    pub fn with_heartbeat(mut self, heartbeat: Option<Heartbeat>) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// The channels the store alarm announces to when commits are refused.
    pub fn with_channels(mut self, channels: Arc<ChannelSet>) -> Self {
        for watcher in &mut self.accounts {
            watcher.channels = Some(channels.clone());
        }
        self
    }

    /// The store, as the first account sees it (the store alarm's view: the
    /// store is one, whichever account it is scoped to).
    pub fn store(&self) -> &Store {
        self.first().store()
    }

    /// The watcher that speaks for the store as a whole (its alarm, its
    /// recovery), which every account shares.
    pub fn first(&self) -> &Watcher {
        &self.accounts[0]
    }

    /// Run one cycle of every account at once. Only a store failure is an
    /// error: an unreadable API is a verdict in the report (and, after enough
    /// cycles, an event). A store failure of one account is returned after all
    /// have finished (what the others committed stays committed).
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<CycleReport, StoreError> {
        let started = Instant::now();
        let cycles = self.accounts.iter().map(|watcher| watcher.tick(now));
        let mut report = CycleReport {
            started_at: now,
            duration: std::time::Duration::ZERO,
            events: Vec::new(),
            accounts: Vec::with_capacity(self.accounts.len()),
        };
        for result in futures::future::join_all(cycles).await {
            let (account, events) = result?;
            report.accounts.push(account);
            report.events.extend(events);
        }
        report.duration = started.elapsed();
        // After the cycle is committed and measured: a slow ping delays nothing
        // that matters, and only a cycle that saw the campaigns counts as alive.
        if let (Some(heartbeat), true) = (&self.heartbeat, report.accounts[0].readable()) {
            heartbeat.ping().await;
        }
        Ok(report)
    }
}

/// One account's watcher: its client, plan, memory and account-scoped store.
pub struct Watcher {
    client: SigmaMindClient,
    store: Store,
    router: Router,
    watch: WatchSettings,
    /// What to read each cycle, by listing or by id.
    plan: ReadPlan,
    concurrency: usize,
    dispatcher_wake: Arc<Notify>,
    /// Only a store this process owns alone (SQLite) may be remembered between
    /// cycles; replicas sharing PostgreSQL read it afresh each cycle.
    remember: bool,
    memory: tokio::sync::Mutex<Memory>,
    /// The channels, for what must go out without the store (store_alarm.rs).
    channels: Option<Arc<ChannelSet>>,
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
        let remember = !store.is_shared();
        Self {
            client,
            router,
            plan: ReadPlan::new(&watch),
            watch,
            concurrency: concurrency.max(1),
            dispatcher_wake,
            remember,
            memory: tokio::sync::Mutex::new(Memory {
                briefs: None,
                bookkeeping: Bookkeeping::new(remember),
            }),
            store,
            channels: None,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// This account's cycle: its report and every event it committed.
    #[tracing::instrument(name = "cycle", skip_all, fields(cycle_id = next_cycle_id(), account = self.store.account(), campaigns, events, verdict, reason, duration_ms))]
    async fn tick(&self, now: DateTime<Utc>) -> Result<(AccountReport, Vec<Event>), StoreError> {
        let started = Instant::now();
        let requests_before = self.client.requests_sent();
        let reminding = !self.router.reminding_rules().is_empty();

        // Load: what the API says, and what the decision needs of the store.
        let (every_state, mut briefs) = self.recall(reminding).await?;
        let mut fetched = self.fetch(&briefs).await;
        let reading = std::mem::take(&mut fetched.reading);
        crate::crash::reached(crate::crash::Stage::AfterFetch);
        let loaded = self
            .load(&fetched, every_state, &briefs, reminding, now)
            .await?;

        // Decide, over those values alone; one more load where a silenced
        // event ends a condition.
        let rules = Rules {
            account: self.store.account(),
            router: &self.router,
            watch: &self.watch,
        };
        let mut decision = decide(&rules, fetched, &loaded, !reminding, now);
        drop(loaded);
        self.send_announced_ends(&mut decision.commit.events)
            .await?;
        self.follow_episodes(&mut decision).await?;
        for silenced in decision
            .commit
            .events
            .iter()
            .filter(|routed| routed.silence.is_some())
        {
            tracing::info!(event_id = %silenced.event.id, silence = silenced.silence, summary = %silenced.event.summary, "event silenced: kept in history, not sent");
        }

        // Commit.
        self.commit(&mut decision).await?;

        let report = AccountReport {
            account: self.store.account().to_string(),
            campaigns_read: decision.read.len(),
            campaigns_failed: decision.failures.len(),
            failures: decision
                .failures
                .iter()
                .map(|(key, failure)| (key.clone(), failure.reason.clone()))
                .collect(),
            verdict: decision.verdict.clone(),
            requests: self.client.requests_sent() - requests_before,
            api_unhealthy: decision.api_unhealthy,
            campaigns_by_status: match reading.partial {
                true => decide::every_campaign_by_status(&decision.committed, &briefs),
                false => decision.campaigns_by_status(&briefs),
            },
            reading,
        };
        self.log(&report, &decision, started.elapsed());
        self.record_outcome(&report, now, &decision, &briefs).await;
        if self.remember {
            briefs.extend(decision.committed);
            self.memory.lock().await.briefs = Some(briefs);
        }
        Ok((report, decision.events))
    }

    /// The states reminders need (all of them, with reminding rules: reminders
    /// look at every campaign) and a brief of every stored state, remembered from
    /// the last cycle or read.
    async fn recall(
        &self,
        reminding: bool,
    ) -> Result<
        (
            Option<HashMap<String, CampaignState>>,
            HashMap<String, Brief>,
        ),
        StoreError,
    > {
        // Taken out for the cycle: an early return leaves nothing stale behind.
        let remembered = self.memory.lock().await.briefs.take();
        let every_state = match reminding {
            true => Some(self.store.load_states().await?),
            false => None,
        };
        let briefs = match (remembered, &every_state) {
            (Some(briefs), _) => briefs,
            (None, Some(states)) => states
                .iter()
                .map(|(key, state)| (key.clone(), Brief::of(state)))
                .collect(),
            (None, None) => self.load_briefs().await?,
        };
        Ok((every_state, briefs))
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

    /// Read every watched campaign, as the plan says.
    async fn fetch(&self, briefs: &HashMap<String, Brief>) -> Fetched {
        read_watched(
            &self.client,
            &self.plan,
            self.concurrency,
            briefs,
            Brief::known,
        )
        .await
    }

    /// What the decision needs of the store: the stored states of the
    /// campaigns read as new, changed or failed (unless every state was read),
    /// the API health, the silences in force and, with reminding rules, the
    /// reminders.
    async fn load(
        &self,
        fetched: &Fetched,
        every_state: Option<HashMap<String, CampaignState>>,
        briefs: &HashMap<String, Brief>,
        reminding: bool,
        now: DateTime<Utc>,
    ) -> Result<Loaded, StoreError> {
        let stored = match every_state {
            Some(states) => states,
            None => {
                let differing = fetched.observations.iter().map(|(key, _)| key.as_str());
                self.store
                    .load_states_for(differing.filter(|key| briefs.contains_key(*key)))
                    .await?
            }
        };
        Ok(Loaded {
            stored,
            health: self.store.load_health().await?,
            silences: self.store.silences(now, false).await?,
            reminders: match reminding {
                true => self.store.load_reminders().await?,
                false => HashMap::new(),
            },
        })
    }

    /// A silenced event that ends a condition whose start was sent is sent
    /// despite the silence, so nothing is left open: the one decision that
    /// needs the campaign's history, read only for such an event.
    async fn send_announced_ends(&self, routed: &mut [RoutedEvent]) -> Result<(), StoreError> {
        for routed in routed.iter_mut().filter(|routed| routed.silence.is_some()) {
            if alert::ended_by(&routed.event).is_empty() {
                continue;
            }
            let campaign = routed
                .event
                .campaign
                .as_ref()
                .map(|campaign| campaign.id.as_str());
            let history = self.store.latest_events_of(campaign, LOOK_BACK).await?;
            if alert::ends_an_announced_condition(&routed.event, &history) {
                tracing::info!(event_id = %routed.event.id, silence = routed.silence, summary = %routed.event.summary, "event ends a condition whose start was sent: sent despite the silence, so nothing is left open");
                routed.silence = None;
            }
        }
        Ok(())
    }

    /// Each event's episode ([`episodes::follow`]): the open incidents are
    /// read only when an event starts or ends a condition, and an episode
    /// open since before incidents were stored is rebuilt from its history
    /// and the outbox rows of its start and reminders.
    async fn follow_episodes(&self, decision: &mut Decision) -> Result<(), StoreError> {
        let routed = &mut decision.commit.events;
        if routed
            .iter()
            .all(|routed| alert::transitions(&routed.event).is_empty())
        {
            return Ok(());
        }
        let mut open = episodes::by_key(self.store.open_incidents().await?);
        for ((subject, key), condition) in episodes::unknown(routed, &open) {
            let campaign =
                (condition != alert::Condition::ApiUnhealthy).then_some(subject.as_str());
            let history = self.store.latest_events_of(campaign, LOOK_BACK).await?;
            let Some((start, told)) = episodes::open_in_history(condition, &history) else {
                continue;
            };
            let mut incident = Incident::open(
                start.account.clone(),
                subject.clone(),
                key,
                &start.id,
                start.occurred_at,
            );
            incident.channels_told = self.store.channels_given(&told).await?;
            tracing::info!(incident = %incident.id, subject = %subject, condition = key, "an episode open since before incidents were stored: its row is written now, from its start's deliveries");
            open.insert((subject, key), incident);
        }
        episodes::follow(&self.router, &mut open, routed);
        // The report's copies carry the same episodes as the committed ones.
        let followed: HashMap<&str, &Event> = routed
            .iter()
            .map(|routed| (routed.event.id.as_str(), &routed.event))
            .collect();
        for event in &mut decision.events {
            if let Some(followed) = followed.get(event.id.as_str()) {
                event.clone_from(followed);
            }
        }
        Ok(())
    }

    /// The quiet states in the store's slices, then states, health, history,
    /// outbox and reminders in one transaction; then wake the dispatcher. A
    /// cycle that changed nothing writes nothing.
    async fn commit(&self, decision: &mut Decision) -> Result<(), StoreError> {
        let quiet = std::mem::take(&mut decision.quiet_states);
        let rest = self
            .store
            .commit_quiet_states(decision.commit.now, quiet)
            .await?;
        let commit = &mut decision.commit;
        commit.states.extend(rest);
        if commit.states.is_empty()
            && commit.events.is_empty()
            && commit.health.is_none()
            && commit.reminders.is_empty()
        {
            return Ok(());
        }
        self.store.commit_cycle(commit).await?;
        crate::crash::reached(crate::crash::Stage::AfterCommit);
        if !commit.events.is_empty() {
            self.dispatcher_wake.notify_one();
        }
        // Committed: the states are the store's now, not the report's.
        commit.states = Vec::new();
        Ok(())
    }

    /// Last seen per campaign and the cycle's outcome, for `status`.
    async fn record_outcome(
        &self,
        report: &AccountReport,
        started_at: DateTime<Utc>,
        decision: &Decision,
        stored: &HashMap<String, Brief>,
    ) {
        let (result, detail) = match &report.verdict {
            CycleVerdict::Readable => (
                "success",
                format!(
                    "{} campaigns read, {} failed, {} events{}",
                    report.campaigns_read,
                    report.campaigns_failed,
                    decision.events.len(),
                    lane_detail(&report.reading)
                ),
            ),
            CycleVerdict::Unreadable { reason, .. } => ("api_unreadable", reason.clone()),
        };
        let outcome = CycleOutcome {
            started_at,
            finished_at: Utc::now(),
            result: result.into(),
            detail,
            campaigns_read: report.campaigns_read as u64,
        };
        let committed = &decision.committed;
        let reading = &report.reading;
        // A cycle that read part of the account (the sweep under way) speaks
        // only of the campaigns it read; the rest are not due, not missing.
        // The cycle that ends a sweep speaks of them all, and counts as found
        // every watched one the sweep listed.
        let read_now: HashSet<&str> = decision
            .read
            .iter()
            .chain(report.failures.iter().map(|(key, _)| key))
            .map(String::as_str)
            .collect();
        let tracked = stored
            .iter()
            .chain(committed.iter().map(|(key, brief)| (key, brief)))
            .filter(|(key, _)| !reading.partial || read_now.contains(key.as_str()))
            .map(|(key, brief)| (key, brief.changed_at));
        let latest: HashMap<&str, &Brief> = committed
            .iter()
            .map(|(key, brief)| (key.as_str(), brief))
            .collect();
        let not_found = |key: &str| {
            latest
                .get(key)
                .copied()
                .or_else(|| stored.get(key))
                .is_some_and(|brief| brief.not_found)
        };
        let sighting = Sighting {
            found: decision
                .read
                .iter()
                .chain(reading.swept.iter())
                .map(String::as_str)
                .filter(|key| !not_found(key))
                .collect(),
            failed: report
                .failures
                .iter()
                .map(|(key, _)| key.as_str())
                .collect(),
            complete: report.readable(),
        };
        let mut memory = self.memory.lock().await;
        memory
            .bookkeeping
            .record_outcome(&self.store, &sighting, tracked, &outcome)
            .await;
    }

    /// The cycle's span fields and log lines. A quiet cycle logs at debug; one
    /// with events or failures at info. Inside the cycle span, so the line
    /// carries the cycle id.
    fn log(&self, report: &AccountReport, decision: &Decision, duration: std::time::Duration) {
        if let CycleVerdict::Unreadable { reason, .. } = &report.verdict {
            tracing::warn!(%reason, "the SigmaMind API could not be read this cycle");
        }
        if decision.first_seen > 0 {
            tracing::info!(
                campaigns = decision.first_seen,
                "recorded {} campaign{} as the baseline; nothing is announced on first sight",
                decision.first_seen,
                if decision.first_seen == 1 { "" } else { "s" }
            );
        }
        let events = decision.events.len();
        let span = tracing::Span::current();
        span.record("campaigns", report.campaigns_read + report.campaigns_failed);
        span.record("events", events);
        // What a person reads, not Rust's debug form of the enum.
        span.record("verdict", report.verdict.label());
        if let CycleVerdict::Unreadable { reason, .. } = &report.verdict {
            span.record("reason", reason.as_str());
        }
        span.record("duration_ms", duration.as_millis() as u64);
        let reading = &report.reading;
        if let Some(period) = reading.sweep_ended {
            tracing::info!(
                pages = period.pages,
                cycles = period.cycles,
                campaigns = period.campaigns,
                "sweep ended: {} campaigns in {} pages over {} cycle{}; live campaigns are listed every cycle",
                period.campaigns,
                period.pages,
                period.cycles,
                if period.cycles == 1 { "" } else { "s" }
            );
        }
        macro_rules! cycle_line {
            ($level:ident) => {
                tracing::$level!(
                    campaigns = report.campaigns_read,
                    failed = report.campaigns_failed,
                    events,
                    requests = report.requests,
                    lane_requests = reading.lane_requests,
                    sweep_pages = reading.sweep_pages,
                    direct_reads = reading.direct_reads,
                    duration_ms = duration.as_millis() as u64,
                    "cycle finished"
                )
            };
        }
        if events == 0 && report.campaigns_failed == 0 {
            cycle_line!(debug);
        } else {
            cycle_line!(info);
        }
    }
}

/// Events of one campaign read back to find whether a condition is open:
/// enough to reach past any realistic run of news.
const LOOK_BACK: u32 = 200;

/// How a lane cycle read, for `status`: the lane's requests, the sweep's page
/// and the last sweep's period. Nothing for a cycle that listed whole.
fn lane_detail(reading: &crate::fetch::Reading) -> String {
    let Some(lane) = reading.lane_requests else {
        return String::new();
    };
    let mut detail = format!(
        "; live lane {lane} request{}, sweep at page {}",
        if lane == 1 { "" } else { "s" },
        reading.sweep_next_page
    );
    if let Some(last) = reading.last_sweep {
        detail.push_str(&format!(
            ", the last sweep {} pages over {} cycle{}",
            last.pages,
            last.cycles,
            if last.cycles == 1 { "" } else { "s" }
        ));
    }
    detail
}

/// Numbers cycles in log spans, across reloads, for the life of the process.
fn next_cycle_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
