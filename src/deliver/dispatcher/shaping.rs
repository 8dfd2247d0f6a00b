//! What happens to a channel's due rows before they are sent: quiet hours hold
//! them (and release them as one digest), the rate limit makes the excess wait.
//! Both only move `next_attempt_at`: nothing is dropped, and a held or deferred
//! row is not an attempt.

use chrono::{DateTime, Utc};

use super::{Dispatcher, DrainReport};
use crate::commit::{Delivery, StoreError};
use crate::deliver::{ConfiguredChannel, SendOutcome};
use crate::event::Event;
use crate::route::quiet;
use crate::route::rate::{RateBudget, WINDOW};
use crate::route::shape::{self, DueRow};

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
        let since = now - WINDOW;
        let sent = match configured.max_per_minute {
            Some(_) => self.store.sent_since(channel_name, since).await?,
            None => Vec::new(),
        };
        let mut budget = RateBudget::new(configured.max_per_minute, sent, now);
        let due: Vec<DueRow> = rows
            .iter()
            .map(|row| DueRow {
                kind: row.event.kind,
                released: row.held_until.is_some(),
            })
            .collect();
        let batches = configured.channel.sends_batches();
        let plan = shape::plan(
            configured.quiet_hours.as_ref(),
            &mut budget,
            &due,
            batches,
            now,
        );
        let mut slots: Vec<Option<Delivery>> = rows.into_iter().map(Some).collect();
        let held = take(&mut slots, plan.hold.iter().map(|(index, _)| *index));
        for (row, (_, until)) in held.iter().zip(&plan.hold) {
            tracing::info!(event_id = %row.event.id, channel = channel_name, until = %until, "held for quiet hours");
            self.store.hold(row.id, *until).await?;
            report.held += 1;
        }
        if !plan.digest.is_empty() {
            let released = take(&mut slots, plan.digest.iter().copied());
            match plan.digest_waits {
                None => self.send_digest(configured, &released, now, report).await?,
                Some(free_at) => self.defer_all(&released, free_at, report).await?,
            }
        }
        let ready = take(&mut slots, plan.send.iter().copied());
        if let Some(free_at) = plan.wait_until {
            let waiting = take(&mut slots, plan.wait.iter().copied());
            tracing::info!(channel = channel_name, waiting = waiting.len(), until = %free_at, "rate limit reached; the rest wait in the outbox");
            self.defer_all(&waiting, free_at, report).await?;
        }
        // Email and Slack send messages (a cycle's rows as one digest), not rows: one
        // message takes one unit of the budget.
        if batches {
            if ready.is_empty() {
                return Ok(());
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

/// The rows at `indices` (each row is taken once).
fn take(slots: &mut [Option<Delivery>], indices: impl Iterator<Item = usize>) -> Vec<Delivery> {
    indices
        .filter_map(|index| slots.get_mut(index)?.take())
        .collect()
}
