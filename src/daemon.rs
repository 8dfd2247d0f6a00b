//! The long-running service: build everything from the settings, schedule ticks
//! (tokio-cron-scheduler), run the outbox dispatcher beside them, stop on request.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, Notify};
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

use crate::commit::{Store, StoreError};
use crate::config::{ConfigError, Settings};
use crate::deliver::{ChannelSet, Dispatcher, DrainReport};
use crate::fetch::{FetchError, SigmaMindClient};
use crate::route::Router;
use crate::watcher::{CycleReport, Watcher};

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
    #[error("watch.schedule: {0}")]
    Schedule(String),
}

/// When cycles start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Every(Duration),
    Cron(String),
}

impl Schedule {
    pub fn from_settings(settings: &Settings) -> Self {
        match &settings.watch.schedule {
            Some(cron) => Self::Cron(cron.clone()),
            None => Self::Every(settings.watch.effective_interval()),
        }
    }
}

pub struct Daemon {
    watcher: Arc<Watcher>,
    dispatcher: Dispatcher,
    dispatcher_wake: Arc<Notify>,
    schedule: Schedule,
}

impl Daemon {
    /// Validate the settings, open the state store, build the API client and the channels.
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        settings
            .validate()
            .map_err(|problems| ConfigError::invalid("configuration", problems))?;
        let api_key = settings.sigmamind.api_key.clone().ok_or_else(|| {
            ConfigError::invalid(
                "configuration",
                vec![
                    "sigmamind.api_key: no API key: set api_key, api_key_file or SIGMAMIND_API_KEY"
                        .into(),
                ],
            )
        })?;
        let client = SigmaMindClient::new(&settings.sigmamind, api_key)?;
        let store = Store::open(&settings.state.url).await?;
        let channels = ChannelSet::build(&settings.channels)
            .map_err(|e| StartupError::Channels(e.to_string()))?;
        let router =
            Router::new(&settings.rules, &channels.names()).map_err(StartupError::Channels)?;
        let dispatcher_wake = Arc::new(Notify::new());
        let watcher = Watcher::new(
            client,
            store.clone(),
            router,
            settings.watch.clone(),
            settings.sigmamind.max_in_flight,
            dispatcher_wake.clone(),
        );
        Ok(Self {
            watcher: Arc::new(watcher),
            dispatcher: Dispatcher::new(store, Arc::new(channels)),
            dispatcher_wake,
            schedule: Schedule::from_settings(settings),
        })
    }

    pub fn store(&self) -> &Store {
        self.watcher.store()
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
    pub async fn run_once(&self, wait: Duration) -> Result<(CycleReport, u64), StoreError> {
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

    /// The daemon: a first cycle at once, then on schedule; cycles never overlap.
    /// Returns when `shutdown` completes, after the in-flight cycle (bounded).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), StartupError> {
        let Daemon {
            watcher,
            dispatcher,
            dispatcher_wake,
            schedule,
        } = self;
        let stop = CancellationToken::new();

        // Capacity 1: one tick may wait while a cycle runs; more are overruns.
        let (ticks, mut tick_rx) = mpsc::channel::<()>(1);
        let mut scheduler = start_scheduler(&schedule, ticks.clone()).await?;
        let _ = ticks.try_send(());

        let dispatcher_task = tokio::spawn(dispatcher.run(dispatcher_wake, stop.clone()));
        let cycle_stop = stop.clone();
        let cycles = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = cycle_stop.cancelled() => break,
                    tick = tick_rx.recv() => {
                        if tick.is_none() { break; }
                        match watcher.tick(Utc::now()).await {
                            Ok(report) => log_cycle(&report),
                            Err(error) => tracing::error!(%error, "cycle could not be committed; nothing was sent for it and it will be retried next cycle"),
                        }
                    }
                }
            }
        });
        tracing::info!(schedule = ?schedule, "campaign-watcher running");

        shutdown.await;
        tracing::info!("stopping: finishing the current cycle and sends");
        if let Err(error) = scheduler.shutdown().await {
            tracing::warn!(%error, "scheduler did not stop cleanly");
        }
        drop(ticks);
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
        let mut dispatcher_task = dispatcher_task;
        if tokio::time::timeout_at(deadline, &mut dispatcher_task)
            .await
            .is_err()
        {
            tracing::warn!("sends still running at shutdown; they stay pending in the outbox");
            dispatcher_task.abort();
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// A quiet cycle logs at debug; one with events or failures at info.
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

async fn start_scheduler(
    schedule: &Schedule,
    ticks: mpsc::Sender<()>,
) -> Result<JobScheduler, StartupError> {
    let scheduler_error = |e: tokio_cron_scheduler::JobSchedulerError| {
        StartupError::Schedule(format!("the scheduler could not start: {e}"))
    };
    let scheduler = JobScheduler::new().await.map_err(scheduler_error)?;
    let fire = move |_id, _scheduler| {
        let ticks = ticks.clone();
        Box::pin(async move {
            if ticks.try_send(()).is_err() {
                tracing::warn!("a cycle is still running at the next tick; this tick is skipped (cycles never overlap)");
            }
        }) as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
    };
    let job = match schedule {
        Schedule::Every(every) => Job::new_repeated_async(*every, fire),
        Schedule::Cron(cron) => Job::new_async(cron.as_str(), fire),
    }
    .map_err(|e| StartupError::Schedule(format!("cannot schedule {schedule:?}: {e}")))?;
    scheduler.add(job).await.map_err(scheduler_error)?;
    scheduler.start().await.map_err(scheduler_error)?;
    Ok(scheduler)
}
