//! The long-running service: build everything from the settings, run a cycle on
//! every tick of the schedule, run the outbox dispatcher beside them, stop on request.
//! As a service (`run`) it also serves `/healthz` `/readyz` `/metrics`, talks to
//! systemd, and reloads its configuration on request (SIGHUP).
//!
//! A supervisor in the manner of a server's accept loop: what the settings
//! build is one [`Components`] value per configuration generation, started
//! under a child cancellation token with its tasks tracked together
//! (`components.rs`). A reload builds the new value, stops the old one within
//! [`SHUTDOWN_GRACE`] and starts the new; shutdown stops the generation the
//! same way, then the election, the listener and the watchdog.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, Mutex, Notify};
use tokio_util::sync::CancellationToken;

use crate::commit::pruning::Pruner;
use crate::commit::{StateLock, StateLockError, Store, StoreError};
use crate::config::{ConfigError, Settings};
use crate::deliver::DrainReport;
use crate::fetch::FetchError;
use crate::http::{self, HttpError, HttpState, ServiceStatus};
use crate::lead::{Elector, LeaseState, DEFAULT_LEASE_TTL};
use crate::metrics::Metrics;
use crate::schedule::{ScheduleError, Ticker};
use crate::systemd;
use crate::watcher::{CycleReport, StoreAlarm};

mod components;
mod cycles;
use components::{validated, Components, Ending, Generation};
use cycles::{follow_leadership, Cycles};

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
    Heartbeat(crate::deliver::heartbeat::HeartbeatError),
    #[error("watch.schedule: {0}")]
    Schedule(#[from] ScheduleError),
    #[error("{0}")]
    Http(#[from] HttpError),
    /// Another `run` or `once` is active on this state file (exit code 1: nothing
    /// to fix in the configuration).
    #[error("{0}")]
    Locked(#[from] StateLockError),
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
    components: Components,
    dispatcher_wake: Arc<Notify>,
    metrics: Metrics,
    status: ServiceStatus,
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
        let components = Components::build(settings, built, &store, &dispatcher_wake, &metrics)?;
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
        let status = ServiceStatus::new(components.schedule.period(), api_unhealthy);
        metrics.set_schedule_period(components.schedule.period());
        status.set_standby(elector.is_some());
        Ok(Self {
            components,
            dispatcher_wake,
            metrics,
            status,
            elector,
        })
    }

    pub fn store(&self) -> &Store {
        self.components.watchers.store()
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
        self.components.watchers.tick(Utc::now()).await
    }

    /// One cycle as if the clock read `now` (tests drive time through this).
    pub async fn tick_at(&self, now: chrono::DateTime<Utc>) -> Result<CycleReport, StoreError> {
        self.components.watchers.tick(now).await
    }

    /// Send every outbox row due at `now` once (tests drive time through this).
    pub async fn drain_at(&self, now: chrono::DateTime<Utc>) -> Result<DrainReport, StoreError> {
        self.components.dispatcher.drain_due(now).await
    }

    /// One cycle, then deliver what it produced, waiting at most `wait` for retries.
    /// Returns the cycle and how many of its deliveries are still pending.
    /// With a shared store it first takes the leadership, and refuses (NotLeader)
    /// while a running replica holds it; on a state file it refuses (Locked)
    /// while a `run` is active on it, which already polls and sends.
    pub async fn run_once(&self, wait: Duration) -> Result<(CycleReport, u64), StartupError> {
        let _one_watcher = StateLock::acquire(&self.components.settings.state.url)?;
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
        self.components.dispatcher.drain_due(Utc::now()).await
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
            components,
            dispatcher_wake,
            metrics,
            status,
            elector,
        } = self;
        let settings = &components.settings;
        let store = components.watchers.store().clone();
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

        let (ticks, tick_rx) = mpsc::channel::<()>(1);
        let ticker = Ticker::start(&components.schedule, ticks.clone(), metrics.clone()).await?;
        let _ = ticks.try_send(());
        let cycles = Arc::new(Mutex::new(Cycles {
            ticks: tick_rx,
            alarm: StoreAlarm::default(),
            pruner: Pruner::new(settings.state.retention(), metrics.clone()),
            metrics: metrics.clone(),
            status: status.clone(),
        }));
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
        tracing::info!(schedule = %components.schedule, "campaign-watcher running");
        let generation = components.start(&cycles, &dispatcher_wake, &stop);
        if options.notify_systemd {
            systemd::ready("watching");
        }

        let mut supervisor = Supervisor {
            store,
            dispatcher_wake,
            metrics,
            status,
            stop,
            cycles,
            ticks,
            ticker,
            generation,
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
                    supervisor.reload(options.config_path.as_deref()).await;
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
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        let Supervisor {
            stop,
            ticker,
            generation,
            ..
        } = supervisor;
        ticker.shutdown().await;
        // Let an in-flight cycle commit; cancelling it mid-transaction would only roll it back.
        stop.cancel();
        generation.stop_by(deadline, Ending::Shutdown).await;
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
        for task in [http_task, watchdog].into_iter().flatten() {
            let _ = tokio::time::timeout_at(deadline, task).await;
        }
        drop(one_watcher);
        tracing::info!("stopped");
        Ok(())
    }
}

/// What runs across generations, and the generation running now.
struct Supervisor {
    store: Store,
    dispatcher_wake: Arc<Notify>,
    metrics: Metrics,
    status: ServiceStatus,
    /// Shutdown: every generation's token is a child of it.
    stop: CancellationToken,
    cycles: Arc<Mutex<Cycles>>,
    /// The scheduler's end of the tick channel, for a replacement scheduler.
    ticks: mpsc::Sender<()>,
    /// Kept across reloads that keep the schedule, so a reload does not move
    /// the next cycle.
    ticker: Ticker,
    generation: Generation,
    /// The HTTP guard's rules, replaced on a reload.
    access: Arc<http::Access>,
}

impl Supervisor {
    /// Re-read and validate; build every new component; only then stop the old
    /// generation and start the new. On any problem: one log line, and the
    /// running configuration stays as it was. The store is kept, so campaign
    /// states and pending outbox rows carry over.
    async fn reload(&mut self, config_path: Option<&Path>) {
        let Some(path) = config_path else {
            tracing::warn!("reload requested, but this daemon was not started from a configuration file; ignored");
            return;
        };
        let settings = match Settings::load(path) {
            Ok(settings) => settings,
            Err(error) => return reject(&error, &self.metrics),
        };
        let components = validated(&settings).and_then(|built| {
            Components::build(
                &settings,
                built,
                &self.store,
                &self.dispatcher_wake,
                &self.metrics,
            )
        });
        let components = match components {
            Ok(components) => components,
            Err(error) => return reject(&error, &self.metrics),
        };
        let new_ticker = if components.schedule != self.generation.schedule {
            match Ticker::start(
                &components.schedule,
                self.ticks.clone(),
                self.metrics.clone(),
            )
            .await
            {
                Ok(ticker) => Some(ticker),
                Err(error) => return reject(&error, &self.metrics),
            }
        } else {
            None
        };
        let running = &self.generation.settings;
        for (key, old, new) in [
            ("state.url", &running.state.url, &settings.state.url),
            ("http.listen", &running.http.listen, &settings.http.listen),
        ] {
            if old != new {
                tracing::warn!("reload: {key} changed; it takes effect only after a restart (the running value stays)");
            }
        }
        if !running.http.same_access(&settings.http) {
            self.access.reload(&settings.http);
        }
        let campaigns: usize = settings
            .accounts()
            .iter()
            .map(|account| account.watch.campaigns.len())
            .sum();
        let channels = components.channels.names().len();
        let rules = settings.rules.len();

        // The old generation finishes the cycle and the drain it is in before
        // the new one starts, so cycles never overlap and no row is picked up
        // by both dispatchers.
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        self.generation.stop_by(deadline, Ending::Reload).await;
        let period = components.schedule.period();
        self.generation = components.start(&self.cycles, &self.dispatcher_wake, &self.stop);
        if let Some(new_ticker) = new_ticker {
            std::mem::replace(&mut self.ticker, new_ticker)
                .shutdown()
                .await;
            self.status.set_period(period);
            self.metrics.set_schedule_period(period);
        }
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
fn reject(error: &dyn std::fmt::Display, metrics: &Metrics) {
    metrics.record_reload(false, Utc::now());
    let sentence = error
        .to_string()
        .replace("\n  - ", " | ")
        .replace('\n', " ");
    tracing::error!("reload rejected, the previous configuration keeps running: {sentence}");
}
