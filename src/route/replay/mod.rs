//! Replaying stored events through a configuration, pure: each event is routed
//! and silenced as [`decide`] says at the instant it happened (silences ended
//! since count while they were in force), then each channel's rows go through
//! its quiet hours and rate limit as the dispatcher would have drained them
//! ([`shape::plan`] at every instant something fell due), so held events
//! become digests and the excess of a busy minute waits.
//!
//! A channel that batches (email, Slack) sends a drain's ready rows together,
//! one message per cycle when it groups, as the dispatcher does.
//!
//! What a replay cannot show: whether the events themselves would differ.
//! Debounce (`confirm_polls`) and reminders (`remind_every`) act on the
//! observations between events, which are not stored; so reminders and
//! channel-health events (which depend on the deliveries) are left out
//! ([`replayable`]).

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};

use super::decide::{decide, Circumstances, Decision, Shaping};
use super::rate::{RateBudget, WINDOW};
use super::shape::{self, DueRow};
use super::silence::Silence;
use super::Router;
use crate::event::{Event, EventType};

/// Whether a stored event of this type can be replayed: reminders are planned
/// from observations and `remind_every`, channel health from deliveries, so a
/// replay of events cannot say whether they would happen.
pub fn replayable(kind: EventType) -> bool {
    !matches!(
        kind,
        EventType::Reminder
            | EventType::ChannelUnhealthy
            | EventType::ChannelRecovered
            | EventType::Test
            | EventType::QuietHoursDigest
    )
}

/// What one channel would have sent. A channel that groups (email, Slack)
/// sends the events of one cycle (one instant) that go out together as one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelTally {
    /// Events routed to it (not silenced).
    pub events: u32,
    /// Messages: events sent on their own, plus one per quiet-hours digest.
    pub messages: u32,
    /// Events held by quiet hours (sent in a digest).
    pub held: u32,
    pub digests: u32,
    /// Events (or digests' events) that waited for the rate limit.
    pub delayed: u32,
    /// The longest such wait.
    pub longest_delay: TimeDelta,
}

/// The outcome of a replay.
#[derive(Debug, Clone, Default)]
pub struct Replayed {
    /// Per event, in the order given: the decision, or `None` when it is not
    /// [`replayable`].
    pub decisions: Vec<Option<Decision>>,
    /// Every channel of the configuration, and any other that got something.
    pub channels: BTreeMap<String, ChannelTally>,
}

/// Replay `events` (oldest first) through `router` and `shaping`, with every
/// stored `silence`.
pub fn replay(
    router: &Router,
    shaping: &BTreeMap<String, Shaping>,
    silences: &[Silence],
    events: &[Event],
) -> Replayed {
    let unshaped = BTreeMap::new();
    // Each campaign's replayed history, newest first, for the silence exception.
    let mut histories: HashMap<Option<String>, VecDeque<(Event, bool)>> = HashMap::new();
    let mut decisions = Vec::with_capacity(events.len());
    // Each replayed event's receivers, by id: an end follows its start's.
    let mut receivers: HashMap<String, Vec<String>> = HashMap::new();
    for event in events {
        if !replayable(event.kind) {
            decisions.push(None);
            continue;
        }
        let key = event.campaign.as_ref().map(|campaign| campaign.id.clone());
        let history = histories.entry(key).or_default();
        let history = history.make_contiguous();
        // The end follows its start as this configuration routes the start.
        let told = told_in(event, history, &receivers);
        let known = Circumstances {
            silences,
            history,
            sent: None,
            told: &told,
        };
        let decision = decide(router, &unshaped, known, event, event.occurred_at);
        receivers.insert(
            event.id.clone(),
            decision
                .receivers()
                .into_iter()
                .map(str::to_string)
                .collect(),
        );
        let history = histories
            .entry(event.campaign.as_ref().map(|c| c.id.clone()))
            .or_default();
        history.push_front((event.clone(), decision.silenced()));
        decisions.push(Some(decision));
    }

    let mut channels: BTreeMap<String, ChannelTally> = shaping
        .keys()
        .map(|name| (name.clone(), ChannelTally::default()))
        .collect();
    let mut arrivals: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, decision) in decisions.iter().enumerate() {
        for channel in decision.iter().flat_map(Decision::receivers) {
            arrivals.entry(channel).or_default().push(index);
        }
    }
    for (channel, indices) in arrivals {
        let configured = shaping.get(channel).cloned().unwrap_or_default();
        let tally = drain(&configured, events, &indices);
        channels.insert(channel.to_string(), tally);
    }
    Replayed {
        decisions,
        channels,
    }
}

/// The channels the replayed start of the episode `event` ends went to:
/// every start since the last end of the condition, in `history` (newest
/// first).
fn told_in(
    event: &Event,
    history: &[(Event, bool)],
    receivers: &HashMap<String, Vec<String>>,
) -> Vec<String> {
    let mut told = std::collections::BTreeSet::new();
    for condition in crate::alert::ended_by(event) {
        for (earlier, _) in history {
            let transitions = crate::alert::transitions(earlier);
            if transitions.contains(&crate::alert::Transition::Ends(condition)) {
                break;
            }
            if transitions.contains(&crate::alert::Transition::Starts(condition)) {
                told.extend(receivers.get(&earlier.id).into_iter().flatten().cloned());
            }
        }
    }
    told.into_iter().collect()
}

/// One outbox row of the simulation.
struct Row {
    kind: EventType,
    /// When its event happened (one cycle's events share the instant).
    arrived: DateTime<Utc>,
    due: DateTime<Utc>,
    released: bool,
    /// When the rate limit first made it wait.
    waiting_since: Option<DateTime<Utc>>,
}

/// Drain one channel's rows as the dispatcher would: at every instant a row
/// arrives or falls due, [`shape::plan`] over the due rows.
fn drain(configured: &Shaping, events: &[Event], indices: &[usize]) -> ChannelTally {
    let mut tally = ChannelTally::default();
    let mut incoming = indices.iter().map(|index| &events[*index]).peekable();
    let mut pending: Vec<Row> = Vec::new();
    let mut sent: Vec<DateTime<Utc>> = Vec::new();
    loop {
        let next_arrival = incoming.peek().map(|event| event.occurred_at);
        let next_due = pending.iter().map(|row| row.due).min();
        let now = match (next_arrival, next_due) {
            (Some(a), Some(d)) => a.min(d),
            (Some(a), None) => a,
            (None, Some(d)) => d,
            (None, None) => break,
        };
        while let Some(event) = incoming.next_if(|event| event.occurred_at <= now) {
            tally.events += 1;
            pending.push(Row {
                kind: event.kind,
                arrived: event.occurred_at,
                due: now,
                released: false,
                waiting_since: None,
            });
        }
        let due: Vec<usize> = (0..pending.len())
            .filter(|index| pending[*index].due <= now)
            .collect();
        let rows: Vec<DueRow> = due
            .iter()
            .map(|index| DueRow {
                kind: pending[*index].kind,
                released: pending[*index].released,
            })
            .collect();
        sent.retain(|at| *at > now - WINDOW);
        let mut budget = RateBudget::new(configured.max_per_minute, sent.clone(), now);
        let plan = shape::plan(
            configured.quiet.as_ref(),
            &mut budget,
            &rows,
            configured.batches,
            now,
        );
        let mut done = Vec::new();
        for (position, until) in &plan.hold {
            let row = &mut pending[due[*position]];
            if !row.released {
                tally.held += 1;
            }
            row.released = true;
            row.due = *until;
        }
        if !plan.digest.is_empty() {
            match plan.digest_waits {
                Some(until) => {
                    for position in &plan.digest {
                        wait(&mut pending[due[*position]], now, until);
                    }
                }
                None => {
                    tally.messages += 1;
                    tally.digests += 1;
                    sent.push(now);
                    for position in &plan.digest {
                        done.push(due[*position]);
                        finish(&mut tally, &pending[due[*position]], now);
                    }
                }
            }
        }
        let mut cycles = std::collections::BTreeSet::new();
        for position in &plan.send {
            let row = &pending[due[*position]];
            // As the store counts sends for the budget: one per row.
            sent.push(now);
            if !configured.groups || cycles.insert(row.arrived) {
                tally.messages += 1;
            }
            done.push(due[*position]);
            finish(&mut tally, row, now);
        }
        if let Some(until) = plan.wait_until {
            for position in &plan.wait {
                wait(&mut pending[due[*position]], now, until);
            }
        }
        done.sort_unstable();
        for index in done.into_iter().rev() {
            pending.remove(index);
        }
    }
    tally
}

fn wait(row: &mut Row, now: DateTime<Utc>, until: DateTime<Utc>) {
    row.waiting_since.get_or_insert(now);
    row.due = until;
}

/// A row goes out at `now`: count its wait for the rate limit, if it had one.
fn finish(tally: &mut ChannelTally, row: &Row, now: DateTime<Utc>) {
    if let Some(since) = row.waiting_since {
        tally.delayed += 1;
        tally.longest_delay = tally.longest_delay.max(now - since);
    }
}

#[cfg(test)]
mod tests;
