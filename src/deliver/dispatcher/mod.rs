//! The outbox dispatcher: drains due rows, sends them, records each outcome.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{ChannelSet, SendOutcome};

mod shaping;
use crate::backoff::jittered_exponential;
use crate::commit::{CycleCommit, Delivery, RoutedEvent, Store, StoreError};
use crate::event::Event;
use crate::metrics::{Metrics, NotificationResult};

mod batching;
mod health;
use health::{ChannelHealth, Failure};

/// Rows fetched per drain; a full batch makes `run` drain again at once.
const BATCH: u32 = 500;
/// The longest `run` sleeps without looking at the outbox: a row another
/// process made due (`outbox replay`) is sent at most this long after.
pub const IDLE_WAIT: Duration = Duration::from_secs(30);
/// Pause after a store error before trying again.
const ERROR_PAUSE: Duration = Duration::from_secs(5);
/// Keeps a row due "now" from turning `run` into a busy loop.
const MIN_WAIT: Duration = Duration::from_millis(50);

pub struct Dispatcher {
    store: Store,
    channels: Arc<ChannelSet>,
    metrics: Metrics,
    /// Routes `watcher.channel_unhealthy`/`_recovered`; without it (tests that
    /// drive the dispatcher alone) a channel's health is only logged.
    router: Option<crate::route::Router>,
    channel_health: std::sync::Mutex<ChannelHealth>,
    /// `[http] external_url`: each event sent links to its page on the board.
    board: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    pub sent: u32,
    pub retried: u32,
    pub dead: u32,
    /// Rows held by quiet hours in this drain.
    pub held: u32,
    /// Rows left waiting by the channel's rate limit.
    pub deferred: u32,
}

impl DrainReport {
    fn add(&mut self, other: DrainReport) {
        self.sent += other.sent;
        self.retried += other.retried;
        self.dead += other.dead;
        self.held += other.held;
        self.deferred += other.deferred;
    }
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

impl Dispatcher {
    pub fn new(store: Store, channels: Arc<ChannelSet>) -> Self {
        Self {
            store,
            channels,
            metrics: Metrics::default(),
            router: None,
            channel_health: Default::default(),
            board: None,
        }
    }

    /// Link every event sent to its page on the board served at
    /// `external_url` (computed as it is sent, never stored).
    pub fn with_board(mut self, external_url: Option<String>) -> Self {
        self.board = external_url;
        self
    }

    /// Announce a failing channel's health on the other channels, as these rules route it.
    pub fn with_router(mut self, router: crate::route::Router) -> Self {
        self.router = Some(router);
        self
    }

    /// Count every delivery outcome in these metrics (the daemon's registry).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Sends every due row once (channels concurrently, rows of one channel in
    /// order), then marks each: Delivered → sent; Retry → rescheduled at
    /// now + max(backoff, Retry-After), or dead once the row is `max_age` old;
    /// Permanent → dead. A row for a channel no longer configured → dead.
    ///
    /// On a standby replica (shared store, another leads) it sends nothing, and
    /// every send is fenced: once leadership is lost, no further row goes out.
    pub async fn drain_due(&self, now: DateTime<Utc>) -> Result<DrainReport, StoreError> {
        if self.store.check_leader().is_err() {
            return Ok(DrainReport::default());
        }
        let due = self.store.due_deliveries(now, BATCH).await?;
        let mut by_channel: BTreeMap<String, Vec<Delivery>> = BTreeMap::new();
        for mut delivery in due {
            if let Some(board) = &self.board {
                let links = crate::event::Links::on_board(board, &delivery.event);
                delivery.event.links = Some(links);
            }
            by_channel
                .entry(delivery.channel.clone())
                .or_default()
                .push(delivery);
        }
        let results = futures::future::join_all(
            by_channel
                .into_iter()
                .map(|(channel, rows)| self.drain_channel(channel, rows, now)),
        )
        .await;
        let mut report = DrainReport::default();
        let mut first_error = None;
        for (partial, error) in results {
            report.add(partial);
            if first_error.is_none() {
                first_error = error;
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(report),
        }
    }

    /// One channel's rows, in order, through its quiet hours and rate limit
    /// (`shaping`). A store error stops this channel (its rows stay pending and
    /// are retried) and is returned with what was already done.
    async fn drain_channel(
        &self,
        channel_name: String,
        rows: Vec<Delivery>,
        now: DateTime<Utc>,
    ) -> (DrainReport, Option<StoreError>) {
        let mut report = DrainReport::default();
        let result = self
            .drain_shaped(&channel_name, rows, now, &mut report)
            .await;
        (report, result.err())
    }

    async fn deliver_one(
        &self,
        channel_name: &str,
        row: &Delivery,
        now: DateTime<Utc>,
        report: &mut DrainReport,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let event_id = row.event.id.as_str();
        let Some(configured) = self.channels.get(channel_name) else {
            let reason = format!("channel \"{channel_name}\" is no longer configured");
            tracing::error!(event_id, channel = channel_name, error = %reason, "delivery dead");
            self.store.mark_dead(row.id, now, &reason).await?;
            report.dead += 1;
            self.metrics
                .record_notification(channel_name, NotificationResult::dead);
            return Ok(None);
        };
        self.store.check_leader()?;
        let outcome = configured.channel.send(&row.event).await;
        self.record(configured, row, outcome, now, report).await
    }

    /// Store what one send of `row` came to; `Some(when)` if it was rescheduled.
    async fn record(
        &self,
        configured: &super::ConfiguredChannel,
        row: &Delivery,
        outcome: SendOutcome,
        now: DateTime<Utc>,
        report: &mut DrainReport,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let channel_name = configured.name.as_str();
        let window = health::window_for(configured.retry.max_age);
        let news = {
            let mut health = self
                .channel_health
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match &outcome {
                SendOutcome::Delivered { .. } => health.delivered(channel_name, now),
                SendOutcome::Permanent { reason } => {
                    health.failed(channel_name, Failure::Dead(reason), window, now)
                }
                SendOutcome::Retry { reason, .. } => {
                    let born = row
                        .held_until
                        .map_or(row.created_at, |held| held.max(row.created_at));
                    let dead = now.signed_duration_since(born) >= delta(configured.retry.max_age);
                    let failure = match dead {
                        true => Failure::Dead(reason),
                        false => Failure::Retrying(reason),
                    };
                    health.failed(channel_name, failure, window, now)
                }
            }
        };
        let rescheduled = self
            .record_outcome(configured, row, outcome, now, report)
            .await?;
        if let Some(event) = news {
            self.announce(event, channel_name, now).await?;
        }
        Ok(rescheduled)
    }

    /// Route a channel-health event like any other, minus the channel it is
    /// about, and put it in the outbox (silences apply).
    async fn announce(
        &self,
        event: Event,
        about: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let Some(router) = &self.router else {
            tracing::warn!(channel = about, summary = %event.summary, "channel health changed");
            return Ok(());
        };
        let mut channels = router.route(&event);
        channels.retain(|channel| channel != about);
        if channels.is_empty() {
            // Nobody to tell: the dead rows and the metrics are all there is.
            tracing::warn!(channel = about, summary = %event.summary, "channel health changed, and no other channel takes the news");
            return Ok(());
        }
        tracing::warn!(channel = about, to = ?channels, summary = %event.summary, "channel health changed: telling the other channels");
        let silences = self.store.silences(now, false).await?;
        let silence = crate::route::silence::silencing(&silences, &event, now).map(|s| s.id);
        self.store
            .commit_cycle(&CycleCommit {
                now,
                states: vec![],
                health: None,
                events: vec![RoutedEvent {
                    event,
                    channels,
                    silence,
                    followers: vec![],
                    incident: None,
                }],
                reminders: vec![],
            })
            .await
    }

    async fn record_outcome(
        &self,
        configured: &super::ConfiguredChannel,
        row: &Delivery,
        outcome: SendOutcome,
        now: DateTime<Utc>,
        report: &mut DrainReport,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let event_id = row.event.id.as_str();
        let channel_name = configured.name.as_str();
        match outcome {
            SendOutcome::Delivered { detail } => {
                crate::crash::reached(crate::crash::Stage::AfterSend);
                tracing::info!(event_id, channel = channel_name, %detail, "delivered");
                self.store.mark_sent(row.id, now).await?;
                report.sent += 1;
                self.metrics
                    .record_notification(channel_name, NotificationResult::sent);
            }
            SendOutcome::Permanent { reason } => {
                tracing::error!(event_id, channel = channel_name, error = %reason, attempts = row.attempts + 1, "delivery dead: permanent failure");
                self.store.mark_dead(row.id, now, &reason).await?;
                report.dead += 1;
                self.metrics
                    .record_notification(channel_name, NotificationResult::dead);
            }
            SendOutcome::Retry {
                reason,
                retry_after,
            } => {
                let policy = &configured.retry;
                // A row held for quiet hours ages from its release, not from the night before.
                let born = row
                    .held_until
                    .map_or(row.created_at, |held| held.max(row.created_at));
                let age = now.signed_duration_since(born);
                if age >= delta(policy.max_age) {
                    tracing::error!(event_id, channel = channel_name, error = %reason, attempts = row.attempts + 1, "delivery dead: still failing after max_age");
                    let reason = format!("gave up after max_age: {reason}");
                    self.store.mark_dead(row.id, now, &reason).await?;
                    report.dead += 1;
                    self.metrics
                        .record_notification(channel_name, NotificationResult::dead);
                } else {
                    let backoff = jittered_exponential(
                        policy.initial_backoff,
                        policy.max_backoff,
                        row.attempts,
                    );
                    // A Retry-After beyond max_age cannot be honoured anyway; the
                    // next failure after it marks the row dead.
                    let wait = backoff
                        .max(retry_after.unwrap_or_default())
                        .min(policy.max_age.max(policy.initial_backoff));
                    let next = now.checked_add_signed(delta(wait)).unwrap_or(now);
                    tracing::warn!(event_id, channel = channel_name, error = %reason, retry_in_secs = wait.as_secs(), "delivery failed, will retry");
                    self.store.reschedule(row.id, next, &reason).await?;
                    report.retried += 1;
                    self.metrics
                        .record_notification(channel_name, NotificationResult::retry);
                    return Ok(Some(next));
                }
            }
        }
        Ok(None)
    }

    /// Loop until `shutdown` is cancelled: drain, then wait for the earliest of the
    /// next due row, `wake` (use `notify_one`, which is not lost if nobody waits yet),
    /// 30 s, or shutdown. A store error is logged and retried after a pause.
    pub async fn run(self, wake: Arc<Notify>, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let wait = match self.drain_due(Utc::now()).await {
                // A standby is woken when it takes over; until then it idles.
                Ok(_) if self.store.check_leader().is_err() => IDLE_WAIT,
                Ok(_) => self.wait_for_next().await,
                Err(StoreError::NotLeader) => {
                    tracing::info!(
                        "leadership lost: sending stopped; the new leader sends the rest"
                    );
                    IDLE_WAIT
                }
                Err(e) => {
                    tracing::error!(error = %e, "outbox drain failed; retrying shortly");
                    ERROR_PAUSE
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        tracing::debug!("outbox dispatcher stopped");
    }

    async fn wait_for_next(&self) -> Duration {
        match self.store.next_due_at().await {
            Ok(Some(at)) => at
                .signed_duration_since(Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .clamp(MIN_WAIT, IDLE_WAIT),
            Ok(None) => IDLE_WAIT,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox schedule; retrying shortly");
                ERROR_PAUSE
            }
        }
    }
}
