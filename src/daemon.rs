//! The long-running service: build everything from the settings, run a cycle on
//! every tick of the schedule, run the outbox dispatcher beside them, stop on request.
//! As a service (`run`) it also serves `/healthz` `/readyz` `/metrics`, talks to
//! systemd, and reloads its configuration on request (SIGHUP).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, Notify, RwLock};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::commit::pruning::Pruner;
use crate::commit::{StateLock, StateLockError, Store, StoreError};
use crate::config::{Built, ConfigError, Settings};
use crate::deliver::heartbeat::Heartbeat;
use crate::deliver::{ChannelSet, Dispatcher, DrainReport};
use crate::fetch::{FetchError, SigmaMindClient};
use crate::http::{self, HttpError, HttpState, ServiceStatus};
use crate::lead::{Elector, LeaseState, DEFAULT_LEASE_TTL};
use crate::metrics::Metrics;
use crate::reassert::{self, Reasserter};
use crate::route::Router;
use crate::schedule::{Schedule, ScheduleError, Ticker};
use crate::systemd;
use crate::watcher::{CycleReport, StoreAlarm, Watcher};

/// How long `run` may take to stop after SIGTERM/SIGINT: the in-flight cycle and
/// sends get this long, then they are abandoned (the outbox keeps what is unsent).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// Everything that can stop the watcher from starting. All are operator-fixable
/// (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    State(#[from] StoreError),
    #[error("{0}")]
    Client(#[from] FetchError),
    #[error("{0}")]
    Channels(String),
    #[error("{0}")]
    Heartbeat(String),
    #[error("watch.schedule: {0}")]
    Schedule(#[from] ScheduleError),
    #[error("{0}")]
    Http(#[from] HttpError),
    /// Another `run` or `once` is active on this state file (exit code 1: nothing
    /// to fix in the configuration).
    #[error("{0}")]
    Locked(#[from] StateLockError),
}

/// The pieces a reload replaces: everything built from the settings except the
/// state store and the HTTP listener.
struct Pieces {
    watcher: Watcher,
    /// Shared by the dispatcher and the watcher (which sends around a broken store).
    channels: Arc<ChannelSet>,
    /// The dispatcher's copy, for channel-health events.
    router: Router,
    schedule: Schedule,
}

impl Pieces {
    /// Build client and channels around what validation built; the caller
    /// swaps nothing in unless every piece built.
    fn build(
        settings: &Settings,
        built: Built,
        store: &Store,
        dispatcher_wake: &Arc<Notify>,
        metrics: &Metrics,
    ) -> Result<Self, StartupError> {
        let channels = Arc::new(
            ChannelSet::build_for_instance(&settings.channels, &settings.instance_name())
                .map_err(|e| StartupError::Channels(e.to_string()))?,
        );
        let router = built.router;
        let heartbeat =
            Heartbeat::from_settings(&settings.heartbeat).map_err(StartupError::Heartbeat)?;
        // One watcher per account, each with its own client (limit, budget)
        // and its account's view of the store; the first drives the others.
        let mut watchers = Vec::new();
        for account in settings.accounts() {
            let api_key = account.api.api_key.clone().ok_or_else(|| {
                ConfigError::invalid(
                    "configuration",
                    vec![format!(
                        "{}.api_key: no API key: set api_key, api_key_file or SIGMAMIND_API_KEY",
                        account.api_at
                    )],
                )
            })?;
            let client = SigmaMindClient::new(&account.api, api_key)?
                .with_secrets(settings.secret_values())
                .with_metrics(metrics.clone(), &account.name);
            watchers.push(Watcher::new(
                client,
                store.for_account(&account.name),
                router.clone(),
                account.watch.clone(),
                account.api.max_in_flight,
                dispatcher_wake.clone(),
            ));
        }
        let mut watchers = watchers.into_iter();
        let Some(first) = watchers.next() else {
            return Err(ConfigError::invalid(
                "configuration",
                vec!["sigmamind.accounts: no account to watch".to_string()],
            )
            .into());
        };
        let watcher = first
            .with_heartbeat(heartbeat)
            .with_channels(channels.clone())
            .with_other_accounts(watchers.collect());
        Ok(Self {
            watcher,
            channels,
            router,
            schedule: built.schedule,
        })
    }
}

/// A configured account with no stored campaign beside a stored account that
/// is no longer configured looks like a rename, which would silently start a
/// fresh baseline under the new name: said once at start, with the command
/// that keeps the history (a new account and a removed one are legitimate,
/// so nothing is refused).
async fn warn_of_renamed_accounts(settings: &Settings, store: &Store) {
    let Ok(stored) = store.stored_accounts().await else {
        return;
    };
    let configured: Vec<String> = settings.account_names();
    let gone: Vec<&String> = stored
        .iter()
        .filter(|name| !configured.contains(name))
        .collect();
    let new: Vec<&String> = configured
        .iter()
        .filter(|name| !stored.contains(name))
        .collect();
    if let (Some(gone), Some(new)) = (gone.first(), new.first()) {
        tracing::warn!(
            "the store has campaigns of account \"{gone}\", which is not configured, and none of the configured account \"{new}\": if \"{new}\" is \"{gone}\" renamed, stop the watcher and run `campaign-watcher state rename-account {gone} {new}` to keep its history and open conditions (otherwise \"{new}\" starts from a fresh baseline)"
        );
    }
}

pub struct Daemon {
    watcher: Arc<Watcher>,
    dispatcher: Dispatcher,
    dispatcher_wake: Arc<Notify>,
    schedule: Schedule,
    settings: Settings,
    metrics: Metrics,
    status: ServiceStatus,
    /// Alertmanager channels' re-posting of active alerts (issue 4), started by
    /// `run_service`; built from the channels at start (a reload keeps them).
    reasserters: Vec<Reasserter>,
    /// With a shared (PostgreSQL) store: the leader election. None: always leader.
    elector: Option<Arc<Elector>>,
}

/// A PostgreSQL store is shared by replicas: fence it with a lease and elect.
/// SQLite has one replica, which always leads.
fn elect(store: Store, settings: &Settings) -> (Store, Option<Arc<Elector>>) {
    let Some(options) = store.postgres_options() else {
        return (store, None);
    };
    let lease = LeaseState::new(settings.state.lease_ttl.unwrap_or(DEFAULT_LEASE_TTL));
    let elector = Arc::new(Elector::new(options, lease.clone()));
    (store.with_lease(lease), Some(elector))
}

/// What `run` adds to the in-process uses (`demo`, tests).
#[derive(Debug, Default)]
pub struct ServiceOptions {
    /// Re-read from here on every reload request (SIGHUP in `run`).
    pub config_path: Option<PathBuf>,
    /// Serve `/healthz`, `/readyz` and `/metrics` on `[http] listen`.
    pub serve_http: bool,
    /// Tell systemd READY/RELOADING/STOPPING and feed its watchdog.
    pub notify_systemd: bool,
}

impl Daemon {
    /// Validate the settings, open the state store, build the API client and the channels.
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        // Validation first: a bad file must not create a state database.
        let built = validated(settings)?;
        let store = Store::open(&settings.state.url).await?;
        let (store, elector) = elect(store, settings);
        let metrics = Metrics::new();
        metrics.set_leader(elector.is_none());
        let dispatcher_wake = Arc::new(Notify::new());
        let pieces = Pieces::build(settings, built, &store, &dispatcher_wake, &metrics)?;
        warn_of_renamed_accounts(settings, &store).await;
        if let Ok(setting) = store.autovacuum().await {
            let warning = crate::commit::pruning::autovacuum_warning(
                setting.as_deref(),
                settings.state.retention(),
            );
            if let Some(warning) = warning {
                tracing::warn!("{warning}");
            }
        }
        let api_unhealthy = store.load_health().await?.unhealthy;
        let status = ServiceStatus::new(pieces.schedule.period(), api_unhealthy);
        metrics.set_schedule_period(pieces.schedule.period());
        let reasserters = reassert::reasserters(
            &pieces.channels,
            &reassert::reasserted_accounts(settings, &store),
        );
        status.set_standby(elector.is_some());
        Ok(Self {
            watcher: Arc::new(pieces.watcher),
            dispatcher: Dispatcher::new(store, pieces.channels)
                .with_metrics(metrics.clone())
                .with_router(pieces.router),
            dispatcher_wake,
            schedule: pieces.schedule,
            settings: settings.clone(),
            metrics,
            status,
            reasserters,
            elector,
        })
    }

    pub fn store(&self) -> &Store {
        self.watcher.store()
    }

    /// This daemon's metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// What `/healthz` and `/readyz` read.
    pub fn status(&self) -> &ServiceStatus {
        &self.status
    }

    /// One cycle now (for `once`, tests and benchmarks).
    pub async fn tick(&self) -> Result<CycleReport, StoreError> {
        self.watcher.tick(Utc::now()).await
    }

    /// One cycle as if the clock read `now` (tests drive time through this).
    pub async fn tick_at(&self, now: chrono::DateTime<Utc>) -> Result<CycleReport, StoreError> {
        self.watcher.tick(now).await
    }

    /// Send every outbox row due at `now` once (tests drive time through this).
    pub async fn drain_at(&self, now: chrono::DateTime<Utc>) -> Result<DrainReport, StoreError> {
        self.dispatcher.drain_due(now).await
    }

    /// One cycle, then deliver what it produced, waiting at most `wait` for retries.
    /// Returns the cycle and how many of its deliveries are still pending.
    /// With a shared store it first takes the leadership, and refuses (NotLeader)
    /// while a running replica holds it; on a state file it refuses (Locked)
    /// while a `run` is active on it, which already polls and sends.
    pub async fn run_once(&self, wait: Duration) -> Result<(CycleReport, u64), StartupError> {
        let _one_watcher = StateLock::acquire(&self.settings.state.url)?;
        if let Some(elector) = &self.elector {
            if !elector.lease().is_leader() && !elector.round().await {
                return Err(StoreError::NotLeader.into());
            }
        }
        let report = self.tick().await?;
        let ids: Vec<String> = report.events.iter().map(|e| e.id.clone()).collect();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            self.drain().await?;
            let pending = self.store().pending_for(&ids).await?;
            if pending == 0 || tokio::time::Instant::now() >= deadline {
                return Ok((report, pending));
            }
            let next = self
                .store()
                .next_due_at()
                .await?
                .and_then(|at| (at - Utc::now()).to_std().ok())
                .unwrap_or(Duration::from_millis(100));
            let until = tokio::time::Instant::now() + next.max(Duration::from_millis(50));
            tokio::time::sleep_until(until.min(deadline)).await;
        }
    }

    /// Send every due outbox row once.
    pub async fn drain(&self) -> Result<DrainReport, StoreError> {
        self.dispatcher.drain_due(Utc::now()).await
    }

    /// The daemon without HTTP, systemd or reloads (`demo`, tests): a first cycle
    /// at once, then on schedule; cycles never overlap. Returns when `shutdown`
    /// completes, after the in-flight cycle (bounded).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), StartupError> {
        let (_no_reloads, reloads) = mpsc::channel(1);
        self.run_service(ServiceOptions::default(), reloads, shutdown)
            .await
    }

    /// The daemon as a service: [`Daemon::run_until_stopped`] plus, per `options`,
    /// the HTTP endpoints, systemd notifications, and a reload on every message
    /// from `reloads`.
    pub async fn run_service(
        self,
        options: ServiceOptions,
        mut reloads: mpsc::Receiver<()>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), StartupError> {
        let Daemon {
            watcher,
            dispatcher,
            dispatcher_wake,
            schedule,
            settings,
            metrics,
            status,
            reasserters,
            elector,
        } = self;
        let store = watcher.store().clone();
        let stop = CancellationToken::new();
        // Before the port: a second daemon on this file is told why it cannot run,
        // not that the port is taken. Held until this function returns.
        let one_watcher = StateLock::acquire(&settings.state.url)?;
        if let Some(lock) = &one_watcher {
            tracing::info!(lock = %lock.path().display(), "holding the state file's lock");
        }

        // Bound before anything runs, so a taken port is a startup error (exit 2).
        let http_listener = if options.serve_http {
            Some(http::bind(&settings.http.listen).await?)
        } else {
            None
        };

        // Capacity 1: one tick may wait while a cycle runs; more are overruns.
        let (ticks, tick_rx) = mpsc::channel::<()>(1);
        let mut scheduler = Ticker::start(&schedule, ticks.clone(), metrics.clone()).await?;
        let _ = ticks.try_send(());

        let mut deliveries = DispatcherTask::spawn(dispatcher, dispatcher_wake.clone(), &stop);
        let reasserting = Reasserting::spawn(reasserters, &stop);
        // Stopped last, after the cycle and the sends: then the lock is released
        // at once rather than left to expire.
        let election_stop = CancellationToken::new();
        let election = elector.map(|elector| {
            let follower = tokio::spawn(follow_leadership(
                elector.subscribe(),
                metrics.clone(),
                status.clone(),
                ticks.clone(),
                dispatcher_wake.clone(),
            ));
            let task = tokio::spawn(elector.run(election_stop.clone()));
            (task, follower)
        });
        let current = Arc::new(RwLock::new(watcher));
        let cycles = tokio::spawn(cycle_loop(
            current.clone(),
            tick_rx,
            stop.clone(),
            metrics.clone(),
            status.clone(),
            Pruner::new(settings.state.retention(), metrics.clone()),
        ));
        let access = Arc::new(http::Access::new(&settings.http, metrics.clone()));
        let http_task = http_listener.map(|listener| {
            let state = HttpState {
                status: status.clone(),
                metrics: metrics.clone(),
                store: store.clone(),
                accounts: settings.account_names().into(),
                access: access.clone(),
            };
            http::serve(listener, state, stop.clone())
        });
        let watchdog = options
            .notify_systemd
            .then(systemd::watchdog_period)
            .flatten()
            .map(|period| systemd::spawn_watchdog(period, status.clone(), stop.clone()));
        tracing::info!(schedule = %schedule, "campaign-watcher running");
        if options.notify_systemd {
            systemd::ready("watching");
        }

        let mut running = Running {
            settings,
            schedule,
            ticks,
            reasserting,
            access,
        };
        tokio::pin!(shutdown);
        let mut reloads_open = true;
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                request = reloads.recv(), if reloads_open => {
                    if request.is_none() {
                        // Nobody can ask for a reload any more; run until shutdown.
                        reloads_open = false;
                        continue;
                    }
                    if options.notify_systemd {
                        systemd::reloading();
                    }
                    let reload = Reload {
                        config_path: options.config_path.as_deref(),
                        store: &store,
                        dispatcher_wake: &dispatcher_wake,
                        metrics: &metrics,
                        status: &status,
                        current: &current,
                        stop: &stop,
                    };
                    reload.apply(&mut running, &mut scheduler, &mut deliveries).await;
                    if options.notify_systemd {
                        systemd::ready("watching");
                    }
                }
            }
        }

        if options.notify_systemd {
            systemd::stopping();
        }
        tracing::info!("stopping: finishing the current cycle and sends");
        scheduler.shutdown().await;
        let reasserting = std::mem::take(&mut running.reasserting.handles);
        drop(running);
        // Let an in-flight cycle commit; cancelling it mid-transaction would only roll it back.
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        let mut cycles = cycles;
        stop.cancel();
        if tokio::time::timeout_at(deadline, &mut cycles)
            .await
            .is_err()
        {
            tracing::warn!(
                "cycle still running at shutdown; abandoned (its transaction rolls back)"
            );
            cycles.abort();
        }
        if !deliveries.stop_by(deadline).await {
            tracing::warn!("sends still running at shutdown; they stay pending in the outbox");
        }
        if let Some((task, follower)) = election {
            election_stop.cancel();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                tracing::warn!(
                    "the leader lock was not released in time; it ends with this process"
                );
            }
            follower.abort();
        }
        for task in [http_task, watchdog]
            .into_iter()
            .flatten()
            .chain(reasserting)
        {
            let _ = tokio::time::timeout_at(deadline, task).await;
        }
        drop(one_watcher);
        tracing::info!("stopped");
        Ok(())
    }
}

/// What the running daemon was last configured with.
struct Running {
    settings: Settings,
    schedule: Schedule,
    /// The scheduler's end of the tick channel, for a replacement scheduler.
    ticks: mpsc::Sender<()>,
    reasserting: Reasserting,
    /// The HTTP guard's rules, replaced on a reload.
    access: Arc<http::Access>,
}

/// The Alertmanager channels' re-posting tasks and the token that stops them
/// alone (a child of shutdown), so that a reload can replace them.
struct Reasserting {
    handles: Vec<JoinHandle<()>>,
    stop: CancellationToken,
}

impl Reasserting {
    fn spawn(reasserters: Vec<Reasserter>, shutdown: &CancellationToken) -> Self {
        let stop = shutdown.child_token();
        let handles = reasserters
            .into_iter()
            .map(|reasserter| tokio::spawn(reasserter.run(stop.clone())))
            .collect();
        Self { handles, stop }
    }
}

/// The dispatcher task and the token that stops it alone (a child of shutdown).
struct DispatcherTask {
    handle: JoinHandle<()>,
    stop: CancellationToken,
}

impl DispatcherTask {
    fn spawn(dispatcher: Dispatcher, wake: Arc<Notify>, shutdown: &CancellationToken) -> Self {
        let stop = shutdown.child_token();
        let handle = tokio::spawn(dispatcher.run(wake, stop.clone()));
        Self { handle, stop }
    }

    /// Stop after the drain in progress; false if it was still sending at `deadline`.
    async fn stop_by(&mut self, deadline: tokio::time::Instant) -> bool {
        self.stop.cancel();
        if tokio::time::timeout_at(deadline, &mut self.handle)
            .await
            .is_err()
        {
            self.handle.abort();
            return false;
        }
        true
    }
}

/// One reload, with what it may replace borrowed from `run_service`.
struct Reload<'a> {
    config_path: Option<&'a Path>,
    store: &'a Store,
    dispatcher_wake: &'a Arc<Notify>,
    metrics: &'a Metrics,
    status: &'a ServiceStatus,
    current: &'a RwLock<Arc<Watcher>>,
    stop: &'a CancellationToken,
}

impl Reload<'_> {
    /// Re-read and validate; build every new piece; only then swap them in. On any
    /// problem: one log line, and the running configuration stays as it was. The
    /// store is kept, so campaign states and pending outbox rows carry over.
    async fn apply(
        self,
        running: &mut Running,
        scheduler: &mut Ticker,
        deliveries: &mut DispatcherTask,
    ) {
        let Some(path) = self.config_path else {
            tracing::warn!("reload requested, but this daemon was not started from a configuration file; ignored");
            return;
        };
        let settings = match Settings::load(path) {
            Ok(settings) => settings,
            Err(error) => return reject(&error, self.metrics),
        };
        let pieces = validated(&settings).and_then(|built| {
            Pieces::build(
                &settings,
                built,
                self.store,
                self.dispatcher_wake,
                self.metrics,
            )
        });
        let pieces = match pieces {
            Ok(pieces) => pieces,
            Err(error) => return reject(&error, self.metrics),
        };
        let new_scheduler = if pieces.schedule != running.schedule {
            match Ticker::start(
                &pieces.schedule,
                running.ticks.clone(),
                self.metrics.clone(),
            )
            .await
            {
                Ok(scheduler) => Some(scheduler),
                Err(error) => return reject(&error, self.metrics),
            }
        } else {
            None
        };
        for (key, old, new) in [
            (
                "state.url",
                &running.settings.state.url,
                &settings.state.url,
            ),
            (
                "http.listen",
                &running.settings.http.listen,
                &settings.http.listen,
            ),
        ] {
            if old != new {
                tracing::warn!("reload: {key} changed; it takes effect only after a restart (the running value stays)");
            }
        }
        if !running.settings.http.same_access(&settings.http) {
            running.access.reload(&settings.http);
        }
        let reasserters = reassert::reasserters(
            &pieces.channels,
            &reassert::reasserted_accounts(&settings, self.store),
        );
        let campaigns: usize = settings
            .accounts()
            .iter()
            .map(|account| account.watch.campaigns.len())
            .sum();
        let channels = pieces.channels.names().len();
        let rules = settings.rules.len();

        // Swap. A cycle in flight finishes with the old pieces.
        *self.current.write().await = Arc::new(pieces.watcher);
        // The old dispatcher finishes the drain it is in before the new one starts,
        // so no row is picked up by both.
        let dispatcher = Dispatcher::new(self.store.clone(), pieces.channels)
            .with_metrics(self.metrics.clone())
            .with_router(pieces.router);
        if !deliveries
            .stop_by(tokio::time::Instant::now() + SHUTDOWN_GRACE)
            .await
        {
            tracing::warn!("reload: sends of the previous configuration were cut short; they stay pending in the outbox");
        }
        *deliveries = DispatcherTask::spawn(dispatcher, self.dispatcher_wake.clone(), self.stop);
        if let Some(new_scheduler) = new_scheduler {
            std::mem::replace(scheduler, new_scheduler).shutdown().await;
            self.status.set_period(pieces.schedule.period());
            self.metrics.set_schedule_period(pieces.schedule.period());
        }
        // The Alertmanager re-posting follows the new channels; a round in flight
        // finishes first, the next one is the new task's.
        running.reasserting.stop.cancel();
        for handle in std::mem::take(&mut running.reasserting.handles) {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, handle).await;
        }
        running.reasserting = Reasserting::spawn(reasserters, self.stop);
        running.schedule = pieces.schedule;
        running.settings = settings;
        self.metrics.record_reload(true, Utc::now());
        tracing::info!(
            campaigns,
            channels,
            rules,
            "configuration reloaded from {}",
            path.display()
        );
    }
}

/// One log line, whatever the error: the running configuration stays, and
/// `/metrics` says the reload failed.
/// Validated settings, their warnings logged; what validation built is kept.
fn validated(settings: &Settings) -> Result<Built, StartupError> {
    let built = settings
        .validate()
        .map_err(|problems| ConfigError::invalid("configuration", problems))?;
    for warning in settings.warnings() {
        tracing::warn!("{warning}");
    }
    Ok(built)
}

fn reject(error: &dyn std::fmt::Display, metrics: &Metrics) {
    metrics.record_reload(false, Utc::now());
    let sentence = error
        .to_string()
        .replace("\n  - ", " | ")
        .replace('\n', " ");
    tracing::error!("reload rejected, the previous configuration keeps running: {sentence}");
}

/// Runs a cycle per tick with whatever watcher is current; records metrics and
/// status, and raises the alarm when the store refuses commits (the alarm
/// outlives reloads: it is about the store, which a reload keeps).
async fn cycle_loop(
    current: Arc<RwLock<Arc<Watcher>>>,
    mut tick_rx: mpsc::Receiver<()>,
    stop: CancellationToken,
    metrics: Metrics,
    status: ServiceStatus,
    mut pruner: Pruner,
) {
    let mut alarm = StoreAlarm::default();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            tick = tick_rx.recv() => {
                if tick.is_none() { break; }
                let watcher = current.read().await.clone();
                if watcher.store().check_leader().is_err() {
                    status.standby_tick();
                    tracing::debug!("standby: another replica is the leader; this tick is skipped");
                    if alarm.is_open() {
                        follow_store_episode(&watcher, &mut alarm, &status).await;
                    }
                    continue;
                }
                status.cycle_started();
                let started = std::time::Instant::now();
                match watcher.tick(Utc::now()).await {
                    Ok(report) => {
                        metrics.record_cycle(&report.figures());
                        status.cycle_finished(
                            report.started_at,
                            report.any_account_readable(),
                            report.unhealthy_accounts(),
                            report.accounts.len(),
                        );
                        close_store_episode(&watcher, &mut alarm).await;
                        pruner.after_cycle(watcher.store(), Utc::now()).await;
                    }
                    Err(StoreError::NotLeader) => {
                        tracing::warn!("leadership lost during a cycle: none of its events were committed; the new leader polls from here");
                        if alarm.is_open() {
                            follow_store_episode(&watcher, &mut alarm, &status).await;
                        }
                    }
                    Err(error) => {
                        metrics.record_store_failure(started.elapsed());
                        let reason = error.to_string();
                        let failures = status.commit_failed(reason.clone());
                        tracing::error!(%error, failures, "cycle could not be committed; nothing was sent for it and it will be retried next cycle");
                        if let Some(event) = alarm.commit_refused(Utc::now(), &reason) {
                            watcher.announce_without_store(&event).await;
                        }
                    }
                }
            }
        }
    }
}

/// After the cycle that committed again: commit what closes an announced
/// episode of refused commits; if that fails, the next good cycle tries again.
async fn close_store_episode(watcher: &Watcher, alarm: &mut StoreAlarm) {
    let Some(recovery) = alarm.committed(Utc::now()) else {
        return;
    };
    match watcher.record_store_recovery(&recovery, Utc::now()).await {
        Ok(()) => {
            alarm.closed();
            tracing::info!(event_id = %recovery.recovered.id, "the state store accepts commits again; watcher.store_recovered is in the outbox");
        }
        Err(error) => {
            tracing::warn!(%error, "the state store took the cycle but not the recovery notice; trying again after the next cycle");
        }
    }
}

/// The store refused commits while this replica led, and then the lease went
/// (a lost PostgreSQL server takes the leader lock with it). The replica that
/// was leading speaks for the episode to its end: no other replica saw it
/// begin. A store that does not answer at all still counts as refusing.
async fn follow_store_episode(watcher: &Watcher, alarm: &mut StoreAlarm, status: &ServiceStatus) {
    match watcher.store().ping().await {
        Ok(()) => {
            status.commits_resumed();
            close_store_episode(watcher, alarm).await;
        }
        Err(error) => {
            watcher.store().note_unanswered();
            let reason = error.to_string();
            status.commit_failed(reason.clone());
            if let Some(event) = alarm.commit_refused(Utc::now(), &reason) {
                watcher.announce_without_store(&event).await;
            }
        }
    }
}

/// Mirrors the election in the metrics and status; on taking over, a cycle at
/// once and a drain of whatever the previous leader left in the outbox.
async fn follow_leadership(
    mut changes: tokio::sync::watch::Receiver<bool>,
    metrics: Metrics,
    status: ServiceStatus,
    ticks: mpsc::Sender<()>,
    dispatcher_wake: Arc<Notify>,
) {
    while changes.changed().await.is_ok() {
        let leading = *changes.borrow_and_update();
        metrics.set_leader(leading);
        status.set_standby(!leading);
        if leading {
            tracing::info!("this replica is now the leader: polling and sending");
            let _ = ticks.try_send(());
            dispatcher_wake.notify_one();
        } else {
            tracing::info!("this replica is a standby: another replica polls and sends");
        }
    }
}
