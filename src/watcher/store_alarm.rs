//! When the state store refuses commits (a full disk, a lost database), the
//! watcher can record nothing, and so announce nothing through the outbox: it
//! would go silent exactly when it is needed. [`StoreAlarm`] counts refused
//! commits; after [`STORE_UNHEALTHY_AFTER`] in a row, `watcher.store_unhealthy`
//! is sent straight to the channels the rules pick, around the store
//! ([`Watcher::announce_without_store`]). The first cycle that commits again is
//! followed by `watcher.store_recovered`, through the outbox as usual
//! ([`Watcher::record_store_recovery`]); the changes that waited go out with
//! that cycle.
//!
//! The alarm lives in the process, not in the store it is about: it is sent at
//! most once per episode per process, so a restart during the episode may send
//! it again.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Watcher;
use crate::commit::{CycleCommit, RoutedEvent, StoreError};
use crate::deliver::{ChannelSet, SendOutcome};
use crate::event::{event_id, Event, EventType};
use crate::route::silence::silencing;

pub use crate::commit::STORE_UNHEALTHY_AFTER;

/// How long the announcement waits for the store to list the silences: a store
/// that cannot be written may not answer reads either.
const SILENCES_TIMEOUT: Duration = Duration::from_secs(2);

/// One episode of refused commits, as this process saw it.
#[derive(Debug, Default)]
pub struct StoreAlarm {
    /// Commits refused in a row.
    failures: u32,
    /// The episode's `watcher.store_unhealthy`, once sent, until its
    /// `watcher.store_recovered` is committed.
    announced: Option<Event>,
}

/// What closes an announced episode, in one commit: the announcement itself,
/// for the history only (it went out already), and the recovery, for the outbox.
#[derive(Debug, Clone)]
pub struct Recovery {
    pub announced: Event,
    pub recovered: Event,
}

impl StoreAlarm {
    /// A cycle the store refused to commit at `now`, for `reason`: the
    /// announcement to send, on the [`STORE_UNHEALTHY_AFTER`]th refusal in a
    /// row of an episode not yet announced.
    pub fn commit_refused(&mut self, now: DateTime<Utc>, reason: &str) -> Option<Event> {
        self.failures = self.failures.saturating_add(1);
        if self.failures < STORE_UNHEALTHY_AFTER || self.announced.is_some() {
            return None;
        }
        let event = Event::about_the_watcher(
            EventType::StoreUnhealthy,
            event_id(&[
                EventType::StoreUnhealthy.as_str(),
                &now.timestamp_millis().to_string(),
            ]),
            now,
            format!(
                "The state store refused {} consecutive commits ({reason}): changes are not being recorded; they are announced once it accepts them again",
                self.failures
            ),
        );
        self.announced = Some(event.clone());
        Some(event)
    }

    /// Whether commits are being refused now, or an announced episode is not
    /// closed yet.
    pub fn is_open(&self) -> bool {
        self.failures > 0 || self.announced.is_some()
    }

    /// A cycle committed at `now`: the refusals are over. Returns what closes
    /// the episode when it was announced; [`StoreAlarm::closed`] once that is
    /// committed too (until then, a new refusal continues the same episode).
    pub fn committed(&mut self, now: DateTime<Utc>) -> Option<Recovery> {
        self.failures = 0;
        let announced = self.announced.clone()?;
        let recovered = Event::about_the_watcher(
            EventType::StoreRecovered,
            event_id(&[EventType::StoreRecovered.as_str(), &announced.id]),
            now,
            "The state store accepts commits again: what changed meanwhile has been announced"
                .into(),
        );
        Some(Recovery {
            announced,
            recovered,
        })
    }

    /// The recovery is committed: the next refusal starts a new episode.
    pub fn closed(&mut self) {
        self.failures = 0;
        self.announced = None;
    }
}

impl Watcher {
    /// The channels [`Watcher::announce_without_store`] sends to (the same the
    /// dispatcher drains the outbox to).
    pub fn with_channels(mut self, channels: Arc<ChannelSet>) -> Self {
        self.channels = Some(channels);
        self
    }

    /// Sends `event` straight to the channels the rules pick, all at once and
    /// each once, without history or outbox: best effort, since the store is
    /// what fails. A silence applies if the store can still list them; a
    /// channel whose quiet hours hold this type is skipped, since only the
    /// outbox can hold an event. Returns how many channels took it.
    pub async fn announce_without_store(&self, event: &Event) -> usize {
        let Some(channels) = &self.channels else {
            tracing::error!(event_id = %event.id, summary = %event.summary, "the state store refuses commits, and no channel is at hand to say so");
            return 0;
        };
        let now = event.occurred_at;
        let silences = tokio::time::timeout(SILENCES_TIMEOUT, self.store.silences(now, false));
        if let Ok(Ok(silences)) = silences.await {
            if let Some(silence) = silencing(&silences, event, now) {
                tracing::warn!(event_id = %event.id, silence = silence.id, summary = %event.summary, "the state store refuses commits; the announcement is silenced");
                return 0;
            }
        }
        let targets: Vec<_> = self
            .router
            .route(event)
            .into_iter()
            .filter_map(|name| channels.get(&name))
            .filter(|configured| {
                let held = configured
                    .quiet_hours
                    .as_ref()
                    .and_then(|quiet| quiet.hold_until(event.kind, now));
                if held.is_some() {
                    tracing::warn!(channel = %configured.name, event_id = %event.id, "the state store refuses commits; not announced on this channel during its quiet hours");
                }
                held.is_none()
            })
            .collect();
        let outcomes = futures::future::join_all(
            targets
                .iter()
                .map(|configured| configured.channel.send(event)),
        )
        .await;
        let mut delivered = 0;
        for (configured, outcome) in targets.iter().zip(outcomes) {
            match outcome {
                SendOutcome::Delivered { .. } => {
                    delivered += 1;
                    tracing::warn!(channel = %configured.name, event_id = %event.id, summary = %event.summary, "the state store refuses commits; announced around it");
                }
                SendOutcome::Retry { reason, .. } | SendOutcome::Permanent { reason } => {
                    tracing::error!(channel = %configured.name, event_id = %event.id, error = %reason, "the state store refuses commits, and announcing it failed; it is not retried");
                }
            }
        }
        delivered
    }

    /// Commits what closes an announced episode (after the cycle that committed
    /// again, so the changes that waited go out first) and wakes the dispatcher.
    /// The announcement joins the history without outbox rows.
    ///
    /// Not fenced by the leader lease: only the replica that announced the
    /// episode closes it, even if another leads by now, and both ids are
    /// derived from the episode, so a second commit stores nothing twice.
    pub async fn record_store_recovery(
        &self,
        recovery: &Recovery,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let channels = self.router.route(&recovery.recovered);
        let commit = CycleCommit {
            now,
            states: vec![],
            health: None,
            events: vec![
                RoutedEvent::new(recovery.announced.clone(), vec![]),
                RoutedEvent::new(recovery.recovered.clone(), channels),
            ],
            reminders: vec![],
        };
        self.store.unfenced().commit_cycle(&commit).await?;
        self.dispatcher_wake.notify_one();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, second).unwrap()
    }

    #[test]
    fn announced_once_after_the_bound_and_closed_by_the_first_commit() {
        let mut alarm = StoreAlarm::default();
        for second in 0..STORE_UNHEALTHY_AFTER - 1 {
            assert!(alarm.commit_refused(at(second), "disk full").is_none());
        }
        let announced = alarm
            .commit_refused(at(9), "database or disk is full")
            .expect("announced on the third refusal");
        assert_eq!(announced.kind, EventType::StoreUnhealthy);
        assert!(announced.summary.contains("database or disk is full"));
        assert!(announced.campaign.is_none());
        for second in 10..20 {
            assert!(
                alarm.commit_refused(at(second), "disk full").is_none(),
                "once per episode"
            );
        }
        let recovery = alarm.committed(at(30)).expect("the episode was announced");
        assert_eq!(recovery.announced, announced);
        assert_eq!(recovery.recovered.kind, EventType::StoreRecovered);
        // The recovery's commit failed too: the same episode goes on, unannounced again.
        for second in 31..40 {
            assert!(alarm.commit_refused(at(second), "disk full").is_none());
        }
        let again = alarm.committed(at(41)).unwrap();
        assert_eq!(
            again.recovered.id, recovery.recovered.id,
            "one episode, one recovery id"
        );
        alarm.closed();
        assert!(!alarm.is_open());
        assert!(alarm.committed(at(42)).is_none(), "nothing left to close");
    }

    #[test]
    fn refusals_that_stop_before_the_bound_announce_nothing() {
        let mut alarm = StoreAlarm::default();
        for second in 0..STORE_UNHEALTHY_AFTER - 1 {
            assert!(alarm.commit_refused(at(second), "locked").is_none());
        }
        assert!(alarm.is_open());
        assert!(alarm.committed(at(5)).is_none());
        assert!(!alarm.is_open());
        // The count starts again from zero.
        for second in 6..6 + STORE_UNHEALTHY_AFTER - 1 {
            assert!(alarm.commit_refused(at(second), "locked").is_none());
        }
        let next = alarm.commit_refused(at(20), "locked").unwrap();
        assert_eq!(next.kind, EventType::StoreUnhealthy);
    }
}
