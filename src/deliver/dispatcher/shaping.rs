//! What happens to a channel's due rows before they are sent: quiet hours hold
//! them (and release them as one digest), the rate limit makes the excess wait.
//! Both only move `next_attempt_at`: nothing is dropped, and a held or deferred
//! row is not an attempt.

use chrono::{DateTime, TimeDelta, Utc};

use super::{Dispatcher, DrainReport};
use crate::commit::{Delivery, StoreError};
use crate::deliver::{ConfiguredChannel, SendOutcome};
use crate::event::Event;
use crate::route::quiet;

const WINDOW: TimeDelta = TimeDelta::minutes(1);

/// A rolling one-minute send budget, from the sends the store remembers (so a
/// restart does not reset it) plus those made in this drain.
#[derive(Debug, Clone)]
pub(crate) struct RateBudget {
    limit: Option<u32>,
    /// Send times inside the window, oldest first.
    sent: Vec<DateTime<Utc>>,
}

impl RateBudget {
    pub(crate) fn new(
        limit: Option<u32>,
        mut sent: Vec<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        sent.retain(|at| *at > now - WINDOW);
        sent.sort();
        Self { limit, sent }
    }

    /// Take one send now, or `Err(when the next one is allowed)`.
    pub(crate) fn take(&mut self, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        self.sent.retain(|at| *at > now - WINDOW);
        let limit = usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
        if self.sent.len() < limit {
            self.sent.push(now);
            return Ok(());
        }
        // The window frees a slot when the send `limit` places from the end leaves it.
        Err(self.sent[self.sent.len() - limit] + WINDOW)
    }
}

impl Dispatcher {
    pub(super) async fn drain_shaped(
        &self,
        channel_name: &str,
        rows: Vec<Delivery>,
        now: DateTime<Utc>,
        report: &mut DrainReport,
    ) -> Result<(), StoreError> {
        let Some(configured) = self.channels.get(channel_name) else {
            for row in &rows {
                self.deliver_one(channel_name, row, now, report).await?;
            }
            return Ok(());
        };
        let mut ready = Vec::new();
        let mut released = Vec::new();
        for row in rows {
            let hold = configured
                .quiet_hours
                .as_ref()
                .and_then(|quiet| quiet.hold_until(row.event.kind, now));
            if let Some(until) = hold {
                tracing::info!(event_id = %row.event.id, channel = channel_name, until = %until, "held for quiet hours");
                self.store.hold(row.id, until).await?;
                report.held += 1;
            } else if row.held_until.is_some() {
                released.push(row);
            } else {
                ready.push(row);
            }
        }

        let since = now - WINDOW;
        let sent = match configured.max_per_minute {
            Some(_) => self.store.sent_since(channel_name, since).await?,
            None => Vec::new(),
        };
        let mut budget = RateBudget::new(configured.max_per_minute, sent, now);
        if !released.is_empty() {
            match budget.take(now) {
                Ok(()) => self.send_digest(configured, &released, now, report).await?,
                Err(free_at) => self.defer_all(&released, free_at, report).await?,
            }
        }
        // Email and Slack send messages (a cycle's rows as one digest), not rows: one
        // message takes one unit of the budget.
        if configured.channel.sends_batches() {
            if ready.is_empty() {
                return Ok(());
            }
            if let Err(free_at) = budget.take(now) {
                return self.defer_all(&ready, free_at, report).await;
            }
            let (partial, error) = self
                .drain_batched(
                    channel_name,
                    &configured.channel,
                    &configured.retry,
                    ready,
                    now,
                )
                .await;
            report.add(partial);
            return error.map_or(Ok(()), Err);
        }
        for (index, row) in ready.iter().enumerate() {
            if let Err(free_at) = budget.take(now) {
                tracing::info!(channel = channel_name, waiting = ready.len() - index, until = %free_at, "rate limit reached; the rest wait in the outbox");
                return self.defer_all(&ready[index..], free_at, report).await;
            }
            // A failing target is probed with one row, not with every due row
            // each drain: the rest wait (no attempt spent) until the retry.
            if let Some(retry_at) = self.deliver_one(channel_name, row, now, report).await? {
                let waiting = &ready[index + 1..];
                if !waiting.is_empty() {
                    tracing::info!(channel = channel_name, waiting = waiting.len(), until = %retry_at, "channel failing; the rest wait for its retry");
                    return self.defer_all(waiting, retry_at, report).await;
                }
            }
        }
        Ok(())
    }

    async fn defer_all(
        &self,
        rows: &[Delivery],
        until: DateTime<Utc>,
        report: &mut DrainReport,
    ) -> Result<(), StoreError> {
        for row in rows {
            self.store.defer(row.id, until).await?;
            report.deferred += 1;
        }
        Ok(())
    }

    /// Everything the channel held, as one message. On failure each row is
    /// retried (still held, so they group again) or dies on its own terms.
    async fn send_digest(
        &self,
        configured: &ConfiguredChannel,
        rows: &[Delivery],
        now: DateTime<Utc>,
        report: &mut DrainReport,
    ) -> Result<(), StoreError> {
        let events: Vec<Event> = rows.iter().map(|row| row.event.clone()).collect();
        let zone = configured
            .quiet_hours
            .as_ref()
            .map_or(chrono_tz::UTC, |quiet| quiet.zone());
        let digest = quiet::digest(&configured.name, &events, zone, now);
        // Fencing: a replica that lost the leadership sends nothing more.
        self.store.check_leader()?;
        match configured.channel.send(&digest).await {
            SendOutcome::Delivered { detail } => {
                crate::crash::reached(crate::crash::Stage::AfterSend);
                tracing::info!(event_id = %digest.id, channel = %configured.name, held = rows.len(), %detail, "quiet hours digest delivered");
                let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
                self.store
                    .mark_sent_in_digest(&ids, &digest.id, now)
                    .await?;
                report.sent += u32::try_from(rows.len()).unwrap_or(u32::MAX);
            }
            failure => {
                for row in rows {
                    self.record(configured, row, failure.clone(), now, report)
                        .await?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap() + TimeDelta::seconds(seconds)
    }

    #[test]
    fn the_budget_allows_n_per_rolling_minute_and_says_when_the_next_is_free() {
        let mut unlimited = RateBudget::new(None, vec![], t(0));
        assert!((0..1000).all(|_| unlimited.take(t(0)).is_ok()));

        // Three already sent (one of them outside the window), limit 3.
        let mut budget = RateBudget::new(Some(3), vec![t(-90), t(-50), t(-10)], t(0));
        assert_eq!(budget.take(t(0)), Ok(()));
        assert_eq!(
            budget.take(t(1)),
            Err(t(10)),
            "frees when the send at -50s leaves the window"
        );
        assert_eq!(
            budget.take(t(10)),
            Ok(()),
            "the -50s send has left the window"
        );
        assert_eq!(budget.take(t(11)), Err(t(50)));
        assert_eq!(budget.take(t(50)), Ok(()));
    }
}
