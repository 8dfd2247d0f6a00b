//! One cycle of the pipeline: fetch → observe → diff → route → commit, then wake
//! the dispatcher (deliver). The scheduler, `once`, the demo and the tests all
//! call [`Watcher::tick`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::alert;
use crate::commit::bookkeeping::{Bookkeeping, Sighting};
use crate::commit::{CycleCommit, CycleOutcome, ReminderWrite, RoutedEvent, Store, StoreError};
use crate::config::WatchSettings;
use crate::deliver::heartbeat::Heartbeat;
use crate::deliver::ChannelSet;
use crate::diff::remind;
use crate::diff::unreadable::diff_read;
use crate::diff::{assess_health, CycleVerdict};
use crate::event::Event;
use crate::fetch::plan::Known;
use crate::fetch::{read_watched, FetchError, Fetched, ReadPlan, SigmaMindClient};
use crate::observe::{FetchFailure, Observation};
use crate::route::silence::{silencing, Silence};
use crate::route::Router;
use crate::state::CampaignState;

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
    /// Watched campaigns by status bucket (`crate::metrics::CAMPAIGN_STATUS_BUCKETS`), for metrics.
    pub campaigns_by_status: BTreeMap<&'static str, u64>,
    /// `watcher.api_unhealthy` is in force after this cycle (for some account).
    pub api_unhealthy: bool,
    /// Each account's outcome, in configuration order.
    pub accounts: Vec<AccountOutcome>,
}

/// How one account's part of a cycle went, for `/readyz` and the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountOutcome {
    pub account: String,
    /// Its API could be read this cycle.
    pub readable: bool,
    /// `watcher.api_unhealthy` is in force for it.
    pub api_unhealthy: bool,
    /// Its watched campaigns by status bucket, for metrics.
    pub campaigns_by_status: BTreeMap<&'static str, u64>,
}

impl CycleReport {
    /// Every account's API could be read this cycle.
    pub fn api_readable(&self) -> bool {
        self.verdict == CycleVerdict::Readable
    }

    /// At least one account's API could be read this cycle.
    pub fn any_account_readable(&self) -> bool {
        self.accounts.iter().any(|account| account.readable)
    }

    /// The accounts `watcher.api_unhealthy` is in force for.
    pub fn unhealthy_accounts(&self) -> Vec<String> {
        self.accounts
            .iter()
            .filter(|account| account.api_unhealthy)
            .map(|account| account.account.clone())
            .collect()
    }

    /// What the metrics record of this cycle.
    pub fn figures(&self) -> crate::metrics::CycleFigures<'_> {
        crate::metrics::CycleFigures {
            started_at: self.started_at,
            api_readable: self.api_readable(),
            duration: self.duration,
            events: &self.events,
            campaigns_by_status: self
                .accounts
                .iter()
                .map(|account| (account.account.as_str(), &account.campaigns_by_status))
                .collect(),
            accounts: self
                .accounts
                .iter()
                .map(|account| crate::metrics::AccountFigures {
                    account: &account.account,
                    readable: account.readable,
                    api_unhealthy: account.api_unhealthy,
                })
                .collect(),
        }
    }
}

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
    heartbeat: Option<Heartbeat>,
    /// The channels, for what must go out without the store (store_alarm.rs).
    channels: Option<Arc<ChannelSet>>,
    /// The watchers of the other SigmaMind accounts, each with its own client,
    /// plan, memory and account-scoped store; [`Watcher::tick`] runs them all
    /// at once.
    other_accounts: Vec<Watcher>,
}

/// What a cycle leaves for the next, so that a quiet cycle reads and writes
/// (almost) nothing. Anything missing is read from the store again.
struct Memory {
    /// A brief of every stored state as of the last commit.
    briefs: Option<HashMap<String, Brief>>,
    /// Campaigns no longer read and when the last read was, for `status`.
    bookkeeping: Bookkeeping,
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
            status_bucket: crate::metrics::status_bucket(
                &state.snapshot.status,
                state.not_found,
                state.reads.unreadable_since.is_some(),
            ),
            not_found: state.not_found,
            pending: state.pending.is_some() || !state.reads.is_clear(),
            changed_at: state.changed_at,
        }
    }

    /// What the fetch needs of it to skip an unchanged campaign.
    fn known(&self) -> Known {
        Known {
            fingerprint: self.fingerprint,
            not_found: self.not_found,
            pending: self.pending,
        }
    }
}

/// What the diff step leaves for routing and the commit.
#[derive(Default)]
struct Diffed {
    /// New states to commit with the cycle (quiet ones already sliced off are not here).
    states: Vec<(String, CampaignState)>,
    /// A brief of every state the cycle writes, sliced or not.
    committed: Vec<(String, Brief)>,
    events: Vec<Event>,
    /// Every campaign read, changed or not.
    read: Vec<String>,
    failures: Vec<(String, FetchFailure)>,
    /// Campaigns seen for the first time: recorded, never announced.
    first_seen: usize,
}

/// A first cycle over a large account commits its (event-free) states in slices
/// of this many.
const QUIET_STATES_PER_COMMIT: usize = 1_000;

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
            heartbeat: None,
            channels: None,
            other_accounts: Vec::new(),
        }
    }

    /// Watch these accounts too, in the same cycle: each is read concurrently
    /// with this one under its own client (concurrency limit and request
    /// budget) and commits its own transaction, so a slow, failing or
    /// rate-limited account neither delays nor loses another's changes.
    pub fn with_other_accounts(mut self, others: Vec<Watcher>) -> Self {
        self.other_accounts = others;
        self
    }

    /// Ping `heartbeat` after every cycle that read the API.
    pub fn with_heartbeat(mut self, heartbeat: Option<Heartbeat>) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Run one cycle. Only a store failure is an error: an unreadable API is a
    /// verdict in the report (and, after enough cycles, an event).
    ///
    /// With other accounts, every account's cycle runs at once and the report
    /// sums them; a store failure of one account is returned after all have
    /// finished (what the others committed stays committed).
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<CycleReport, StoreError> {
        if self.other_accounts.is_empty() {
            return self.tick_account(now).await;
        }
        let started = Instant::now();
        let cycles = std::iter::once(self)
            .chain(&self.other_accounts)
            .map(|watcher| watcher.tick_account(now));
        let mut reports = Vec::with_capacity(self.other_accounts.len() + 1);
        for (watcher, result) in std::iter::once(self)
            .chain(&self.other_accounts)
            .zip(futures::future::join_all(cycles).await)
        {
            reports.push((watcher.store.account().to_string(), result?));
        }
        Ok(merge_reports(now, reports, started.elapsed()))
    }

    #[tracing::instrument(name = "cycle", skip_all, fields(cycle_id = next_cycle_id(), account = self.store.account(), campaigns, events, verdict, reason, duration_ms))]
    async fn tick_account(&self, now: DateTime<Utc>) -> Result<CycleReport, StoreError> {
        let started = Instant::now();
        let requests_before = self.client.requests_sent();
        let reminding = !self.router.reminding_rules().is_empty();
        let (every_state, mut briefs) = self.recall(reminding).await?;

        // Fetch → observe: new, changed and failed campaigns, and their stored states.
        let mut fetched = self.fetch(&briefs).await;
        crate::crash::reached(crate::crash::Stage::AfterFetch);
        let stored = match every_state {
            Some(states) => states,
            None => self.stored_states(&fetched, &briefs).await?,
        };

        // Diff, then the API's health.
        let mut diffed = self.diff(&mut fetched, &stored, !reminding, now).await?;
        let failure = fetched.listing_failure.as_ref();
        let verdict = verdict(failure, &diffed.failures, diffed.read.len());
        let health = self.store.load_health().await?;
        let (new_health, health_event) =
            assess_health(&health, &verdict, self.watch.unhealthy_after, now);
        diffed.events.extend(health_event);
        self.assign_account(&mut diffed.events);

        // Route, then commit in one transaction.
        let (routed, reminders) = self.route(&mut diffed, &stored, now).await?;
        self.commit(CycleCommit {
            now,
            states: diffed.states,
            health: (new_health != health).then_some(new_health.clone()),
            events: routed,
            reminders,
        })
        .await?;

        if let CycleVerdict::Unreadable { reason, .. } = &verdict {
            tracing::warn!(%reason, "the SigmaMind API could not be read this cycle");
        }
        if diffed.first_seen > 0 {
            tracing::info!(
                campaigns = diffed.first_seen,
                "recorded {} campaign{} as the baseline; nothing is announced on first sight",
                diffed.first_seen,
                if diffed.first_seen == 1 { "" } else { "s" }
            );
        }
        let observed = diffed
            .read
            .iter()
            .chain(diffed.failures.iter().map(|(key, _)| key));
        let readable = verdict == CycleVerdict::Readable;
        let campaigns_by_status = count_by_status(observed, &diffed.committed, &briefs);
        let report = CycleReport {
            started_at: now,
            campaigns_read: diffed.read.len(),
            campaigns_failed: diffed.failures.len(),
            campaigns_by_status: campaigns_by_status.clone(),
            failures: diffed
                .failures
                .into_iter()
                .map(|(key, failure)| (key, failure.reason))
                .collect(),
            verdict,
            events: diffed.events,
            requests: self.client.requests_sent() - requests_before,
            duration: started.elapsed(),
            api_unhealthy: new_health.unhealthy,
            accounts: vec![AccountOutcome {
                account: self.store.account().to_string(),
                readable,
                api_unhealthy: new_health.unhealthy,
                campaigns_by_status,
            }],
        };
        self.record_outcome(&report, &diffed.read, &briefs, &diffed.committed)
            .await;
        if self.remember {
            briefs.extend(diffed.committed);
            self.memory.lock().await.briefs = Some(briefs);
        }
        self.finish(&report).await;
        Ok(report)
    }

    /// Every event of the cycle is this account's, before anything routes,
    /// silences or keys it: rules and silences match the account, and the ids
    /// of every account but `default` are derived from it
    /// ([`crate::event::account_event_id`]), so one campaign id in two accounts
    /// is two campaigns whose events never share an id (the history's key).
    fn assign_account(&self, events: &mut [Event]) {
        for event in events {
            event.assign_account(self.store.account());
        }
    }

    /// Commit states, health, history, outbox and reminders in one transaction,
    /// then wake the dispatcher. A cycle that changed nothing writes nothing.
    async fn commit(&self, commit: CycleCommit) -> Result<(), StoreError> {
        if commit.states.is_empty()
            && commit.events.is_empty()
            && commit.health.is_none()
            && commit.reminders.is_empty()
        {
            return Ok(());
        }
        self.store.commit_cycle(&commit).await?;
        crate::crash::reached(crate::crash::Stage::AfterCommit);
        if !commit.events.is_empty() {
            self.dispatcher_wake.notify_one();
        }
        Ok(())
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

    /// The stored states of the campaigns read as new, changed or failed.
    async fn stored_states(
        &self,
        fetched: &Fetched,
        briefs: &HashMap<String, Brief>,
    ) -> Result<HashMap<String, CampaignState>, StoreError> {
        let differing = fetched.observations.iter().map(|(key, _)| key.as_str());
        self.store
            .load_states_for(differing.filter(|key| briefs.contains_key(*key)))
            .await
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

    /// Every observation against its stored state. Observations are consumed as
    /// they are diffed, and with `slice_quiet_states` the states that come with no
    /// event (first sightings, debounce candidates) are committed a slice at a
    /// time: a first cycle over a large account never holds it twice. Nothing can
    /// be lost by committing them early, as there is nothing to announce.
    /// Reminders compare against this cycle's states, so they keep them all.
    async fn diff(
        &self,
        fetched: &mut Fetched,
        stored: &HashMap<String, CampaignState>,
        slice_quiet_states: bool,
        now: DateTime<Utc>,
    ) -> Result<Diffed, StoreError> {
        // A campaign's failed reads count only while the API as a whole answers.
        let unhealthy_after = fetched.api_answered().then_some(self.watch.unhealthy_after);
        // Taken, not copied: the observations are consumed one by one.
        let observations = std::mem::take(&mut fetched.observations);
        let unchanged = std::mem::take(&mut fetched.unchanged);
        let mut diffed = Diffed {
            read: Vec::with_capacity(unchanged.len()),
            ..Diffed::default()
        };
        let mut quiet_states = Vec::new();
        for (key, observation) in observations {
            let name = match &observation {
                Observation::Found(snapshot) => Some(snapshot.name.as_str()),
                _ => stored.get(&key).map(|state| state.snapshot.name.as_str()),
            };
            let confirm_polls = self.router.confirm_polls(
                self.store.account(),
                &key,
                name,
                self.watch.confirm_polls,
            );
            let diff = diff_read(
                &key,
                stored.get(&key),
                &observation,
                confirm_polls,
                unhealthy_after,
                now,
            );
            if stored.get(&key).is_none() && matches!(observation, Observation::Found(_)) {
                diffed.first_seen += 1;
            }
            if let Some(state) = diff.state {
                diffed.committed.push((key.clone(), Brief::of(&state)));
                if slice_quiet_states && diff.events.is_empty() {
                    quiet_states.push((key.clone(), state));
                    if quiet_states.len() >= QUIET_STATES_PER_COMMIT {
                        self.commit_quiet_states(now, std::mem::take(&mut quiet_states))
                            .await?;
                    }
                } else {
                    diffed.states.push((key.clone(), state));
                }
            }
            diffed.events.extend(diff.events);
            match observation {
                Observation::Failed(failure) => {
                    tracing::warn!(campaign = %key, reason = %failure.reason, "campaign could not be read; its stored state is kept");
                    diffed.failures.push((key, failure));
                }
                _ => diffed.read.push(key),
            }
        }
        diffed.states.append(&mut quiet_states);
        diffed.read.extend(unchanged);
        Ok(diffed)
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

    /// The channels of every event and of every reminder due (whose events join
    /// the cycle's), and the silences that hold some back. Silences are decided at
    /// commit time: a silenced event is history, never outbox.
    async fn route(
        &self,
        diffed: &mut Diffed,
        stored: &HashMap<String, CampaignState>,
        now: DateTime<Utc>,
    ) -> Result<(Vec<RoutedEvent>, Vec<ReminderWrite>), StoreError> {
        let (events, new_states, read) = (&mut diffed.events, &diffed.states, &diffed.read);
        let silences = self.store.silences(now, false).await?;
        let mut routed: Vec<RoutedEvent> = events
            .iter()
            .map(|event| routed_event(event.clone(), self.router.route(event), &silences, now))
            .collect();
        let reminders = self
            .plan_reminders(stored, new_states, read, &routed, now)
            .await?;
        for (mut event, channels) in reminders.events {
            event.assign_account(self.store.account());
            let reminder = routed_event(event, channels, &silences, now);
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
        let writes = reminders
            .changes
            .into_iter()
            .map(|change| ReminderWrite {
                campaign_id: change.campaign_id,
                rule: change.rule,
                reminder: change.reminder,
            })
            .collect();
        Ok((routed, writes))
    }

    /// [`alert::ends_an_announced_condition`], reading the campaign's history
    /// only for an event that ends a condition.
    async fn ends_an_announced_condition(&self, event: &Event) -> Result<bool, StoreError> {
        // Enough history to reach back past any realistic run of news.
        const LOOK_BACK: u32 = 200;
        if alert::ended_by(event).is_empty() {
            return Ok(false);
        }
        let campaign = event.campaign.as_ref().map(|campaign| campaign.id.as_str());
        let history = self.store.latest_events_of(campaign, LOOK_BACK).await?;
        Ok(alert::ends_an_announced_condition(event, &history))
    }

    /// Last seen per campaign and the cycle's outcome, for `status`.
    async fn record_outcome(
        &self,
        report: &CycleReport,
        read: &[String],
        stored: &HashMap<String, Brief>,
        committed: &[(String, Brief)],
    ) {
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
            campaigns_read: report.campaigns_read as u64,
        };
        let tracked = stored
            .iter()
            .chain(committed.iter().map(|(key, brief)| (key, brief)))
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
            found: read
                .iter()
                .map(String::as_str)
                .filter(|key| !not_found(key))
                .collect(),
            failed: report
                .failures
                .iter()
                .map(|(key, _)| key.as_str())
                .collect(),
            complete: report.verdict == CycleVerdict::Readable,
        };
        let mut memory = self.memory.lock().await;
        memory
            .bookkeeping
            .record_outcome(&self.store, &sighting, tracked, &outcome)
            .await;
    }

    /// The cycle's span fields and log line, then the heartbeat.
    async fn finish(&self, report: &CycleReport) {
        let span = tracing::Span::current();
        span.record("campaigns", report.campaigns_read + report.campaigns_failed);
        span.record("events", report.events.len());
        // What a person reads, not Rust's debug form of the enum.
        span.record("verdict", report.verdict.label());
        if let CycleVerdict::Unreadable { reason, .. } = &report.verdict {
            span.record("reason", reason.as_str());
        }
        span.record("duration_ms", report.duration.as_millis() as u64);
        log_cycle(report);
        // After the cycle is committed and measured: a slow ping delays nothing
        // that matters, and only a cycle that saw the campaigns counts as alive.
        if let (Some(heartbeat), true) = (&self.heartbeat, report.api_readable()) {
            heartbeat.ping().await;
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
}

/// One report of several accounts' cycles: counts summed, failures and an
/// unreadable verdict named by account (the cycle is unreadable when any
/// account was, so `once` exits 1 and the metrics say so).
fn merge_reports(
    started_at: DateTime<Utc>,
    reports: Vec<(String, CycleReport)>,
    duration: std::time::Duration,
) -> CycleReport {
    let mut merged = CycleReport {
        started_at,
        campaigns_read: 0,
        campaigns_failed: 0,
        failures: Vec::new(),
        verdict: CycleVerdict::Readable,
        events: Vec::new(),
        requests: 0,
        duration,
        campaigns_by_status: BTreeMap::new(),
        api_unhealthy: false,
        accounts: Vec::new(),
    };
    let mut unreadable: Vec<String> = Vec::new();
    let mut auth_rejected = false;
    for (account, report) in reports {
        merged.campaigns_read += report.campaigns_read;
        merged.campaigns_failed += report.campaigns_failed;
        merged.failures.extend(
            report
                .failures
                .into_iter()
                .map(|(key, reason)| (key, format!("account {account}: {reason}"))),
        );
        if let CycleVerdict::Unreadable {
            reason,
            auth_rejected: rejected,
        } = report.verdict
        {
            unreadable.push(format!("account {account}: {reason}"));
            auth_rejected |= rejected;
        }
        merged.events.extend(report.events);
        merged.requests += report.requests;
        for (bucket, count) in report.campaigns_by_status {
            *merged.campaigns_by_status.entry(bucket).or_default() += count;
        }
        merged.api_unhealthy |= report.api_unhealthy;
        merged.accounts.extend(report.accounts);
    }
    if !unreadable.is_empty() {
        merged.verdict = CycleVerdict::Unreadable {
            reason: unreadable.join("; "),
            auth_rejected,
        };
    }
    merged
}

/// Numbers cycles in log spans, across reloads, for the life of the process.
fn next_cycle_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
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
    }
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
    crate::metrics::count_by_status(keys.filter_map(|key| {
        let brief = new_states
            .get(key.as_str())
            .copied()
            .or_else(|| stored.get(key))?;
        Some(brief.status_bucket)
    }))
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
