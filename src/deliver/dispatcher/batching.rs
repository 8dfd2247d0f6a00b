//! Email and Slack rows go out as messages, not one per row: the rows of one
//! cycle (one `commit_cycle`, so one shared `created_at`) become one digest, and
//! every row of a message is marked by that message's outcome.
//!
//! A digest is re-sent as the same digest: a retry reschedules all its rows to
//! the same instant, so they come due together and form the same batch again
//! (and an email's `Message-ID`, derived from the event ids, stays the same).

use chrono::{DateTime, Utc};

use super::{delta, Dispatcher, DrainReport};
use crate::backoff::jittered_exponential;
use crate::commit::{Delivery, StoreError};
use crate::deliver::{Channel, RetryPolicy, SendOutcome};
use crate::event::Event;
use crate::metrics::NotificationResult;

/// Splits one channel's due rows into messages, keeping the outbox order:
/// grouped by `created_at` (one cycle) when `group`, else one row each.
pub(super) fn batches(rows: Vec<Delivery>, group: bool) -> Vec<Vec<Delivery>> {
    if !group {
        return rows.into_iter().map(|row| vec![row]).collect();
    }
    let mut batches: Vec<Vec<Delivery>> = Vec::new();
    for row in rows {
        match batches
            .iter_mut()
            .find(|batch| batch[0].created_at == row.created_at)
        {
            Some(batch) => batch.push(row),
            None => batches.push(vec![row]),
        }
    }
    batches
}

impl Dispatcher {
    /// One batching channel's due rows. After an SMTP relay rejects the
    /// credentials (535), the rest of this drain is not sent (same credentials,
    /// same answer, and a lockout risk); the problem is logged once, every row
    /// is retried.
    pub(super) async fn drain_batched(
        &self,
        channel_name: &str,
        channel: &Channel,
        retry: &RetryPolicy,
        rows: Vec<Delivery>,
        now: DateTime<Utc>,
    ) -> (DrainReport, Option<StoreError>) {
        let mut report = DrainReport::default();
        let mut auth_failure: Option<String> = None;
        for batch in batches(rows, channel.groups()) {
            let events: Vec<Event> = batch.iter().map(|row| row.event.clone()).collect();
            let outcome = match &auth_failure {
                Some(reason) => SendOutcome::Retry {
                    reason: reason.clone(),
                    retry_after: None,
                },
                None => {
                    let sent = channel.send_batch(&events).await;
                    if let (true, SendOutcome::Retry { reason, .. }) =
                        (sent.auth_failure, &sent.outcome)
                    {
                        tracing::error!(
                            channel = channel_name,
                            error = %reason,
                            "configuration problem: this channel's credentials were refused (by the SMTP server, or by its OAuth2 token endpoint); alerts stay in the outbox and are retried"
                        );
                        auth_failure = Some(reason.clone());
                    }
                    sent.outcome
                }
            };
            if let Err(error) = self
                .record_batch(channel_name, retry, &batch, outcome, now, &mut report)
                .await
            {
                return (report, Some(error));
            }
        }
        (report, None)
    }

    /// Marks every row of one message by its outcome, with one log line per message.
    async fn record_batch(
        &self,
        channel_name: &str,
        policy: &RetryPolicy,
        batch: &[Delivery],
        outcome: SendOutcome,
        now: DateTime<Utc>,
        report: &mut DrainReport,
    ) -> Result<(), StoreError> {
        let ids: Vec<&str> = batch.iter().map(|row| row.event.id.as_str()).collect();
        let event_ids = ids.join(",");
        let attempts = batch.iter().map(|row| row.attempts).max().unwrap_or(0);
        match outcome {
            SendOutcome::Delivered { detail } => {
                tracing::info!(event_ids, channel = channel_name, events = batch.len(), %detail, "delivered");
                for row in batch {
                    self.store.mark_sent(row.id, now).await?;
                    self.metrics
                        .record_notification(channel_name, NotificationResult::sent);
                    report.sent += 1;
                }
            }
            SendOutcome::Permanent { reason } => {
                tracing::error!(event_ids, channel = channel_name, error = %reason, attempts = attempts + 1, "delivery dead: permanent failure");
                for row in batch {
                    self.store.mark_dead(row.id, now, &reason).await?;
                    self.metrics
                        .record_notification(channel_name, NotificationResult::dead);
                    report.dead += 1;
                }
            }
            SendOutcome::Retry {
                reason,
                retry_after,
            } => {
                // One wait for the whole message, so its rows come due together.
                let wait =
                    jittered_exponential(policy.initial_backoff, policy.max_backoff, attempts)
                        .max(retry_after.unwrap_or_default())
                        .min(policy.max_age.max(policy.initial_backoff));
                let next = now.checked_add_signed(delta(wait)).unwrap_or(now);
                let mut gave_up = 0;
                for row in batch {
                    let age = now.signed_duration_since(row.created_at);
                    if age >= delta(policy.max_age) {
                        let reason = format!("gave up after max_age: {reason}");
                        self.store.mark_dead(row.id, now, &reason).await?;
                        self.metrics
                            .record_notification(channel_name, NotificationResult::dead);
                        report.dead += 1;
                        gave_up += 1;
                    } else {
                        self.store.reschedule(row.id, next, &reason).await?;
                        self.metrics
                            .record_notification(channel_name, NotificationResult::retry);
                        report.retried += 1;
                    }
                }
                if gave_up > 0 {
                    tracing::error!(event_ids, channel = channel_name, error = %reason, attempts = attempts + 1, "delivery dead: still failing after max_age");
                } else {
                    tracing::warn!(event_ids, channel = channel_name, error = %reason, retry_in_secs = wait.as_secs(), "delivery failed, will retry");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;
    use crate::event::EventType;
    use crate::render::sample_event;

    fn row(id: i64, cycle: i64) -> Delivery {
        let created_at =
            Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap() + TimeDelta::seconds(cycle * 60);
        let mut event = sample_event(EventType::StatusChanged, created_at);
        event.id = format!("evt_{id}");
        Delivery {
            id,
            channel: "mail".into(),
            event,
            attempts: 0,
            created_at,
            held_until: None,
        }
    }

    fn ids(batches: &[Vec<Delivery>]) -> Vec<Vec<i64>> {
        batches
            .iter()
            .map(|batch| batch.iter().map(|row| row.id).collect())
            .collect()
    }

    #[test]
    fn rows_are_grouped_by_cycle_in_outbox_order() {
        let cases: Vec<(Vec<Delivery>, bool, Vec<Vec<i64>>)> = vec![
            (vec![], true, vec![]),
            (vec![row(1, 0)], true, vec![vec![1]]),
            (
                vec![row(1, 0), row(2, 0), row(3, 1), row(4, 1), row(5, 1)],
                true,
                vec![vec![1, 2], vec![3, 4, 5]],
            ),
            // A retried older cycle due again beside a new one stays apart.
            (
                vec![row(1, 1), row(2, 0), row(3, 1), row(4, 0)],
                true,
                vec![vec![1, 3], vec![2, 4]],
            ),
            (
                vec![row(1, 0), row(2, 0), row(3, 1)],
                false,
                vec![vec![1], vec![2], vec![3]],
            ),
        ];
        for (rows, group, expected) in cases {
            assert_eq!(ids(&batches(rows, group)), expected);
        }
    }
}
