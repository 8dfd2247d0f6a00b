//! What the daemon would do with one event at one instant, pure: the rules
//! choose the channels, a silence in force keeps it in history (unless it ends
//! a condition whose start was sent), and each channel's quiet hours and rate
//! limit hold or delay it. The same functions the watcher and the dispatcher
//! call, asked in one place for `routes test` and `replay`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::quiet::QuietHours;
use super::rate::RateBudget;
use super::shape::{self, DueRow};
use super::silence::{silencing, Silence};
use super::{Router, Routing};
use crate::alert;
use crate::event::Event;

/// One channel's quiet hours and rate limit, and how it turns rows into
/// messages: built by the caller from the channel's settings and the built
/// channel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shaping {
    pub quiet: Option<QuietHours>,
    pub max_per_minute: Option<u32>,
    /// It sends a drain's ready rows as messages that take one unit of the
    /// budget together (email, Slack: the channel's `sends_batches`).
    pub batches: bool,
    /// Its messages are one cycle's events each (the channel's `groups`).
    pub groups: bool,
}

/// What one channel does with the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Sent at once.
    Sent,
    /// Held by quiet hours; sent in the digest when they end.
    Held { until: DateTime<Utc> },
    /// The rate limit is reached: it waits in the outbox until then.
    Delayed {
        until: DateTime<Utc>,
        per_minute: u32,
    },
}

/// What the daemon would do with one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub routing: Routing,
    /// The silence in force that covers it.
    pub silenced_by: Option<Silence>,
    /// Silenced, yet sent: it ends a condition whose start was sent, and a
    /// swallowed resolve would leave an incident open for good.
    pub sent_despite_silence: bool,
    /// Each routed channel's fate (empty when the silence holds it back),
    /// then each follower's.
    pub channels: Vec<(String, Fate)>,
    /// It ends a condition: every channel that got the episode's start gets
    /// it too, whatever the rules and silences say.
    pub ends_episode: bool,
    /// Of those, the channels the rules did not choose (or the silence held
    /// back), known from the episode's start; also in `channels`.
    pub followers: Vec<String>,
}

impl Decision {
    /// Whether it is kept from every channel by a silence.
    pub fn silenced(&self) -> bool {
        self.silenced_by.is_some() && !self.sent_despite_silence
    }

    /// The channels that get it (at once, after quiet hours or after a wait).
    pub fn receivers(&self) -> Vec<&str> {
        self.channels
            .iter()
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

/// What is known at the instant of the decision, besides the configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct Circumstances<'a> {
    /// Every stored silence (ended ones too: only those in force at `at` count).
    pub silences: &'a [Silence],
    /// The campaign's (or the watcher's) earlier events, newest first, each
    /// with whether a silence kept it back: does this event end something sent?
    pub history: &'a [(Event, bool)],
    /// When each channel's messages of the last minute went out.
    pub sent: Option<&'a BTreeMap<String, Vec<DateTime<Utc>>>>,
    /// The channels the start (and reminders) of the episode this event ends
    /// were given, when known.
    pub told: &'a [String],
}

/// The daemon's decision for `event` at `at`.
pub fn decide(
    router: &Router,
    shaping: &BTreeMap<String, Shaping>,
    known: Circumstances<'_>,
    event: &Event,
    at: DateTime<Utc>,
) -> Decision {
    let routing = router.explain(event);
    let silenced_by = silencing(known.silences, event, at).cloned();
    let sent_despite_silence =
        silenced_by.is_some() && alert::ends_an_announced_condition(event, known.history);
    let ends_episode = !alert::ended_by(event).is_empty();
    let mut decision = Decision {
        routing,
        silenced_by,
        sent_despite_silence,
        channels: vec![],
        ends_episode,
        followers: vec![],
    };
    let fate = |channel: &String| {
        let configured = shaping.get(channel).cloned().unwrap_or_default();
        let sent = known
            .sent
            .and_then(|sent| sent.get(channel))
            .cloned()
            .unwrap_or_default();
        let mut budget = RateBudget::new(configured.max_per_minute, sent, at);
        let row = DueRow {
            kind: event.kind,
            released: false,
        };
        let plan = shape::plan(
            configured.quiet.as_ref(),
            &mut budget,
            &[row],
            configured.batches,
            at,
        );
        match (plan.hold.first(), plan.wait_until) {
            (Some((_, until)), _) => Fate::Held { until: *until },
            (None, Some(until)) => Fate::Delayed {
                until,
                per_minute: configured.max_per_minute.unwrap_or_default(),
            },
            (None, None) => Fate::Sent,
        }
    };
    let routed: &[String] = match decision.silenced() {
        true => &[],
        false => &decision.routing.channels,
    };
    let mut channels: Vec<(String, Fate)> = routed
        .iter()
        .map(|channel| (channel.clone(), fate(channel)))
        .collect();
    if ends_episode {
        decision.followers = router.followers(known.told, routed);
        channels.extend(
            decision
                .followers
                .iter()
                .map(|channel| (channel.clone(), fate(channel))),
        );
    }
    decision.channels = channels;
    decision
}

#[cfg(test)]
mod tests;
