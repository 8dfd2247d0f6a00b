//! When cycles start: `interval` on tokio's monotonic clock, cron `schedule` on
//! tokio-cron-scheduler. Either only asks for a cycle through a channel of
//! capacity one; the cycle loop decides what a tick does, so a tick that comes
//! while a cycle runs is dropped, never queued.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// When cycles start.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    Every(Duration),
    Cron(CronSchedule),
}

impl Schedule {
    /// The longest gap between two cycles (over the next few, for a cron
    /// schedule): what liveness measures a stuck scheduler against.
    pub fn period(&self) -> Duration {
        match self {
            Self::Every(every) => *every,
            Self::Cron(cron) => cron.period(Utc::now()),
        }
    }
}

/// `every 60s` or `cron "0 */5 * * * *"`: how logs name the schedule.
impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Every(every) => write!(f, "every {}", humantime::format_duration(*every)),
            Self::Cron(cron) => write!(f, "cron {:?}", cron.expression),
        }
    }
}

/// A cron expression (seconds first), parsed the way tokio-cron-scheduler
/// parses it, so one it accepts here it accepts at start.
#[derive(Debug, Clone, PartialEq)]
pub struct CronSchedule {
    expression: String,
    /// Boxed: a parsed pattern is some hundred bytes, `Every` sixteen.
    cron: Box<croner::Cron>,
}

impl CronSchedule {
    pub fn parse(expression: &str) -> Result<Self, croner::errors::CronError> {
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(expression)?;
        Ok(Self {
            expression: expression.to_string(),
            cron: Box::new(cron),
        })
    }

    /// The longest gap among the next 24 occurrences; 60 s for one that never comes.
    fn period(&self, from: chrono::DateTime<Utc>) -> Duration {
        let mut previous = from;
        let mut longest = Duration::ZERO;
        for next in self.cron.iter_after(from).take(24) {
            longest = longest.max((next - previous).to_std().unwrap_or_default());
            previous = next;
        }
        if longest.is_zero() {
            Duration::from_secs(60)
        } else {
            longest
        }
    }
}

/// The schedule could not be started (a cron expression the scheduler refuses).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(String);

/// A running schedule, sending a tick on `ticks` whenever a cycle is due.
pub enum Ticker {
    Interval {
        task: JoinHandle<()>,
        stop: CancellationToken,
    },
    Cron(JobScheduler),
}

impl Ticker {
    pub async fn start(
        schedule: &Schedule,
        ticks: mpsc::Sender<()>,
        metrics: Metrics,
    ) -> Result<Self, ScheduleError> {
        match schedule {
            &Schedule::Every(every) => {
                let stop = CancellationToken::new();
                let task = tokio::spawn(run_interval(every, ticks, stop.clone(), move |late| {
                    metrics.record_late_tick(late, every)
                }));
                Ok(Self::Interval { task, stop })
            }
            Schedule::Cron(cron) => start_cron(&cron.expression, ticks).await.map(Self::Cron),
        }
    }

    pub async fn shutdown(self) {
        match self {
            Self::Interval { task, stop } => {
                stop.cancel();
                let _ = task.await;
            }
            Self::Cron(mut scheduler) => {
                if let Err(error) = scheduler.shutdown().await {
                    tracing::warn!(%error, "scheduler did not stop cleanly");
                }
            }
        }
    }
}

/// A tick every `every` on the monotonic clock, the first one period from now.
/// A tick that comes a period or more late (the process was stopped, or its
/// runtime starved) is sent at once and reported through `on_late`; the ticks
/// missed meanwhile are not replayed, and the next one is a period later. A
/// wall-clock step changes nothing.
pub async fn run_interval(
    every: Duration,
    ticks: mpsc::Sender<()>,
    stop: CancellationToken,
    on_late: impl Fn(Duration),
) {
    let every = every.max(Duration::from_millis(1));
    let mut interval = tokio::time::interval_at(Instant::now() + every, every);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let due = tokio::select! {
            () = stop.cancelled() => return,
            due = interval.tick() => due,
        };
        let late = Instant::now().saturating_duration_since(due);
        if late >= every {
            tracing::warn!(
                late_ms = u64::try_from(late.as_millis()).unwrap_or(u64::MAX),
                "the schedule fell behind by {} (the process was stopped or starved); a cycle starts now and the missed ones are not replayed",
                humantime::format_duration(Duration::from_millis(
                    u64::try_from(late.as_millis()).unwrap_or(u64::MAX)
                ))
            );
            on_late(late);
        }
        send_tick(&ticks);
    }
}

fn send_tick(ticks: &mpsc::Sender<()>) {
    if ticks.try_send(()).is_err() {
        tracing::warn!(
            "a cycle is still running at the next tick; this tick is skipped (cycles never overlap)"
        );
    }
}

/// Cron expressions compute their next time from now, so a stall or a clock
/// step only delays the next occurrence. The scheduler takes the expression as
/// text; [`CronSchedule::parse`] already read it with the same parser.
async fn start_cron(
    expression: &str,
    ticks: mpsc::Sender<()>,
) -> Result<JobScheduler, ScheduleError> {
    let scheduler_error = |e: tokio_cron_scheduler::JobSchedulerError| {
        ScheduleError(format!("the scheduler could not start: {e}"))
    };
    let scheduler = JobScheduler::new().await.map_err(scheduler_error)?;
    let fire = move |_id, _scheduler| {
        let ticks = ticks.clone();
        Box::pin(async move { send_tick(&ticks) })
            as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
    };
    let job = Job::new_async(expression, fire)
        .map_err(|e| ScheduleError(format!("cannot schedule {expression:?}: {e}")))?;
    scheduler.add(job).await.map_err(scheduler_error)?;
    scheduler.start().await.map_err(scheduler_error)?;
    Ok(scheduler)
}

#[cfg(test)]
mod tests;
