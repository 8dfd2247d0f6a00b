//! Channel health, pure: a channel whose deliveries went dead, or have failed
//! without a break for its health window, is announced as
//! `watcher.channel_unhealthy` (once per episode); its next delivery is
//! announced as `watcher.channel_recovered`. The dispatcher sends both on the
//! OTHER channels: a revoked Slack URL must not be silent, and a channel never
//! announces its own failure through itself.
//!
//! Kept in memory by the dispatcher of this process: a restart (or a reload,
//! which builds a new dispatcher) that still finds the channel failing
//! announces it again once the window has passed.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use crate::event::{event_id, Event, EventType};

/// The longest a channel may fail without a break before it is announced.
pub(super) const LONGEST_WINDOW: Duration = Duration::from_secs(15 * 60);

/// A channel's health window: a quarter of its `max_age` (so the alert comes
/// well before its rows start going dead), at most [`LONGEST_WINDOW`].
pub(super) fn window_for(max_age: Duration) -> Duration {
    (max_age / 4).min(LONGEST_WINDOW)
}

/// How one delivery failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure<'a> {
    /// The row is dead: a permanent refusal, or retried past `max_age`.
    Dead(&'a str),
    /// It will be retried.
    Retrying(&'a str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Episode {
    failing_since: DateTime<Utc>,
    last_error: String,
    announced: bool,
}

/// Every channel's current failure episode, by channel name.
#[derive(Debug, Default)]
pub(super) struct ChannelHealth {
    episodes: BTreeMap<String, Episode>,
}

impl ChannelHealth {
    /// A delivery on `channel` failed; `Some` is the `watcher.channel_unhealthy` to send.
    pub(super) fn failed(
        &mut self,
        channel: &str,
        failure: Failure<'_>,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Option<Event> {
        let (reason, dead) = match failure {
            Failure::Dead(reason) => (reason, true),
            Failure::Retrying(reason) => (reason, false),
        };
        let episode = self
            .episodes
            .entry(channel.to_string())
            .or_insert_with(|| Episode {
                failing_since: now,
                last_error: String::new(),
                announced: false,
            });
        episode.last_error = without_urls(reason);
        let failing_for = now.signed_duration_since(episode.failing_since);
        let too_long = failing_for >= TimeDelta::from_std(window).unwrap_or(TimeDelta::MAX);
        if episode.announced || !(dead || too_long) {
            return None;
        }
        episode.announced = true;
        let how = if dead {
            "a delivery went dead".to_string()
        } else {
            format!(
                "deliveries have failed for {}",
                humantime::format_duration(failing_for.to_std().unwrap_or_default())
            )
        };
        Some(channel_event(
            EventType::ChannelUnhealthy,
            channel,
            episode.failing_since,
            now,
            format!(
                "Channel \"{channel}\" is failing: {how}, failing since {}; last error: {}",
                clock(episode.failing_since),
                episode.last_error
            ),
        ))
    }

    /// A delivery on `channel` went through; `Some` is the `watcher.channel_recovered` to send.
    pub(super) fn delivered(&mut self, channel: &str, now: DateTime<Utc>) -> Option<Event> {
        let episode = self.episodes.remove(channel)?;
        episode.announced.then(|| {
            channel_event(
                EventType::ChannelRecovered,
                channel,
                episode.failing_since,
                now,
                format!(
                    "Channel \"{channel}\" delivers again (it had been failing since {})",
                    clock(episode.failing_since)
                ),
            )
        })
    }
}

fn clock(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The same episode always gets the same ids.
fn channel_event(
    kind: EventType,
    channel: &str,
    failing_since: DateTime<Utc>,
    now: DateTime<Utc>,
    summary: String,
) -> Event {
    let id = event_id(&["watcher", kind.as_str(), channel, &clock(failing_since)]);
    Event::about_the_watcher(kind, id, now, summary)
}

/// A channel's error with every URL replaced: a Slack or Discord URL is the
/// channel's secret, and the message goes to other people's channels.
fn without_urls(reason: &str) -> String {
    reason
        .split(' ')
        .map(|word| if word.contains("://") { "<url>" } else { word })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap() + TimeDelta::minutes(minute)
    }

    const WINDOW: Duration = Duration::from_secs(15 * 60);

    #[test]
    fn a_dead_delivery_is_announced_at_once_and_only_once() {
        let mut health = ChannelHealth::default();
        let event = health
            .failed(
                "slack",
                Failure::Dead("HTTP 410 from https://hooks.slack.com/services/T/B/secret"),
                WINDOW,
                t(0),
            )
            .expect("dead is announced at once");
        assert_eq!(event.kind, EventType::ChannelUnhealthy);
        assert!(event.campaign.is_none());
        assert!(event.summary.contains("\"slack\""), "{}", event.summary);
        assert!(
            event.summary.contains("HTTP 410 from <url>"),
            "{}",
            event.summary
        );
        assert!(
            !event.summary.contains("hooks.slack.com"),
            "{}",
            event.summary
        );
        assert_eq!(
            health.failed("slack", Failure::Dead("again"), WINDOW, t(1)),
            None
        );
        let back = health
            .delivered("slack", t(2))
            .expect("recovery is announced");
        assert_eq!(back.kind, EventType::ChannelRecovered);
        assert_eq!(health.delivered("slack", t(3)), None, "once");
    }

    #[test]
    fn retries_are_announced_only_after_the_window() {
        let mut health = ChannelHealth::default();
        for minute in [0, 5, 14] {
            assert_eq!(
                health.failed(
                    "mail",
                    Failure::Retrying("535 auth failed"),
                    WINDOW,
                    t(minute)
                ),
                None
            );
        }
        let event = health.failed("mail", Failure::Retrying("535 auth failed"), WINDOW, t(15));
        assert!(event.is_some_and(|e| e.summary.contains("failed for 15m")));
        // A delivery between failures starts the count again, and says nothing
        // when nothing was announced.
        let mut health = ChannelHealth::default();
        health.failed("mail", Failure::Retrying("timeout"), WINDOW, t(0));
        assert_eq!(health.delivered("mail", t(10)), None);
        assert_eq!(
            health.failed("mail", Failure::Retrying("timeout"), WINDOW, t(16)),
            None
        );
    }

    #[test]
    fn the_window_is_a_quarter_of_max_age_at_most_15_minutes() {
        assert_eq!(
            window_for(Duration::from_secs(3600)),
            Duration::from_secs(900)
        );
        assert_eq!(window_for(Duration::from_secs(24 * 3600)), LONGEST_WINDOW);
        assert_eq!(window_for(Duration::from_secs(40)), Duration::from_secs(10));
    }
}
