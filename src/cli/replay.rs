//! `replay`: the stored history of a while through the routing of the current
//! or a candidate configuration (`--config`): per channel, what went out then
//! and what would go out now, and every event whose routing differs. Silences
//! in force at each event's time (ended ones too), quiet hours and rate limits
//! apply as they would have ([`crate::route::replay`]). Nothing is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use chrono::Utc;

use clap::Args;

use super::failure::Failure;
use super::output::SUMMARY_CHARS;
use super::routing::{self, Routing};
use super::store_access::{delta, print_json, read, stamp};
use crate::commit::HistoryEntry;
use crate::route::decide::{Decision, Shaping};
use crate::route::replay::{replay as replay_events, replayable, ChannelTally};
use crate::text::terminal;

/// At most this many events are replayed (the newest of the window).
const REPLAY_LIMIT: u32 = 100_000;

/// Said in the output and in docs/commands.md.
const CANNOT_SHOW: &str = "a replay routes the events that were stored; it cannot show events a change would add or remove: debounce (confirm_polls) and reminder (remind_every) changes act on the observations between events, which are not stored, so reminders and channel-health events are left out";

/// What went to one channel then, as the store recorded it.
#[derive(Debug, Default, Clone, Copy)]
struct Then {
    events: u32,
    messages: u32,
    held: u32,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// How far back to replay, e.g. 24h or 7d.
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
    since: Duration,
    /// The state store holding the history [default: `[state] url` of --config].
    #[arg(long)]
    state: Option<String>,
    /// List at most this many differing events (0: all).
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print one JSON document instead of tables.
    #[arg(long)]
    json: bool,
}

impl ReplayArgs {
    pub(super) async fn run(self, config: &Path) -> Result<(), Failure> {
        let Self {
            since,
            state,
            limit,
            json,
        } = self;
        let state = state.as_deref();
        let Routing {
            settings,
            router,
            shaping,
        } = routing::load(config)?;
        let url = state.unwrap_or(&settings.state.url);
        let Some(store) = routing::open_existing(url).await? else {
            return Err(Failure::usage(format!(
                "there is no state store at {url}: no history to replay (pass --state URL to name the watcher's store)"
            )));
        };
        let now = Utc::now();
        let from = now - delta(since);
        let mut entries = store
            .history(None, from, REPLAY_LIMIT)
            .await
            .map_err(read)?;
        let truncated = entries.len() >= REPLAY_LIMIT as usize;
        entries.reverse();
        let silences = store.silences(now, true).await.map_err(read)?;
        let events: Vec<_> = entries.iter().map(|entry| entry.event.clone()).collect();
        let replayed = replay_events(&router, &shaping, &silences, &events);

        let then = tally_then(&entries, &shaping);
        let mut names: BTreeSet<String> = replayed.channels.keys().cloned().collect();
        names.extend(then.keys().cloned());
        let differences: Vec<Difference> = entries
            .iter()
            .zip(&replayed.decisions)
            .filter_map(|(entry, decision)| difference(entry, decision.as_ref()?))
            .collect();
        let left_out = replayed.decisions.iter().filter(|d| d.is_none()).count();

        let store_shown = store.location().to_string();
        if json {
            let channels: BTreeMap<&String, serde_json::Value> = names
                .iter()
                .map(|name| {
                    let then = then.get(name).copied().unwrap_or_default();
                    let now = replayed.channels.get(name).cloned().unwrap_or_default();
                    (
                        name,
                        serde_json::json!({
                            "then": {"events": then.events, "messages": then.messages, "held": then.held},
                            "candidate": {
                                "events": now.events, "messages": now.messages, "held": now.held,
                                "digests": now.digests, "delayed": now.delayed,
                                "longest_delay_seconds": now.longest_delay.num_seconds(),
                            },
                        }),
                    )
                })
                .collect();
            let listed: Vec<serde_json::Value> = differences.iter().map(Difference::json).collect();
            print_json(&serde_json::json!({
                "config": config.display().to_string(),
                "store": store_shown,
                "since": from,
                "events": entries.len(),
                "truncated": truncated,
                "not_replayed": left_out,
                "channels": channels,
                "differences": listed,
                "cannot_show": CANNOT_SHOW,
            }));
            return Ok(());
        }

        say!(
            "replay of {} event{} since {} from {} under {}",
            entries.len(),
            if entries.len() == 1 { "" } else { "s" },
            stamp(from),
            terminal(&store_shown),
            terminal(&config.display().to_string())
        );
        if truncated {
            say!(
                "(only the newest {REPLAY_LIMIT} events of the window; pass a shorter --since for all)"
            );
        }
        say!(
            "{:<20} {:>12} {:>14} {:>12} {:>14} {:>6} {:>8}",
            "channel",
            "then events",
            "then messages",
            "now events",
            "now messages",
            "held",
            "delayed"
        );
        for name in &names {
            let then = then.get(name).copied().unwrap_or_default();
            let now = replayed.channels.get(name).cloned().unwrap_or_default();
            say!(
                "{:<20} {:>12} {:>14} {:>12} {:>14} {:>6} {:>8}{}",
                terminal(name),
                then.events,
                then.messages,
                now.events,
                now.messages,
                now.held,
                now.delayed,
                longest(&now)
            );
        }
        match differences.len() {
            0 => say!("no event's routing differs"),
            n => say!(
                "{n} event{} whose routing differs:",
                if n == 1 { "" } else { "s" }
            ),
        }
        let shown = if limit == 0 { differences.len() } else { limit };
        for difference in differences.iter().take(shown) {
            difference.print();
        }
        if differences.len() > shown {
            say!(
                "... and {} more (--limit 0 lists all, --json has every one)",
                differences.len() - shown
            );
        }
        if left_out > 0 {
            say!(
                "{left_out} reminder or channel-health event{} not replayed",
                if left_out == 1 { "" } else { "s" }
            );
        }
        say!("note: {CANNOT_SHOW}");
        Ok(())
    }
}

fn longest(tally: &ChannelTally) -> String {
    match tally.delayed {
        0 => String::new(),
        _ => format!(" (longest wait {}s)", tally.longest_delay.num_seconds()),
    }
}

/// Per channel, the rows the store holds for the replayable events: each sent
/// on its own is one message, each quiet-hours digest (or group still held
/// until the same instant) one, and on a channel that groups (email, Slack:
/// as the configuration has it now) one cycle's rows sent together one.
fn tally_then(
    entries: &[HistoryEntry],
    shaping: &BTreeMap<String, Shaping>,
) -> BTreeMap<String, Then> {
    let mut tallies: BTreeMap<String, Then> = BTreeMap::new();
    let mut digests: BTreeSet<(String, String)> = BTreeSet::new();
    for entry in entries.iter().filter(|entry| replayable(entry.event.kind)) {
        for delivery in &entry.deliveries {
            let tally = tallies.entry(delivery.channel.clone()).or_default();
            tally.events += 1;
            let groups = shaping.get(&delivery.channel).is_some_and(|s| s.groups);
            let group = match (&delivery.digest_id, delivery.held_until, delivery.sent_at) {
                (Some(digest), _, _) => Some(digest.clone()),
                (None, Some(until), _) if delivery.status == "pending" => Some(until.to_rfc3339()),
                (None, _, Some(sent)) if groups => Some(format!(
                    "cycle {} sent {}",
                    entry.event.occurred_at.to_rfc3339(),
                    sent.to_rfc3339()
                )),
                _ => None,
            };
            if delivery.held_until.is_some() || delivery.digest_id.is_some() {
                tally.held += 1;
            }
            match group {
                Some(group) => {
                    if digests.insert((delivery.channel.clone(), group)) {
                        tally.messages += 1;
                    }
                }
                None => tally.messages += 1,
            }
        }
    }
    tallies
}

/// One event whose channels differ between then and the candidate.
struct Difference<'a> {
    entry: &'a HistoryEntry,
    then: BTreeSet<String>,
    now: BTreeSet<String>,
    decision: &'a Decision,
}

fn difference<'a>(entry: &'a HistoryEntry, decision: &'a Decision) -> Option<Difference<'a>> {
    let then: BTreeSet<String> = match entry.silenced_by {
        Some(_) => BTreeSet::new(),
        None => entry.deliveries.iter().map(|d| d.channel.clone()).collect(),
    };
    let now: BTreeSet<String> = decision.receivers().into_iter().map(String::from).collect();
    (then != now).then_some(Difference {
        entry,
        then,
        now,
        decision,
    })
}

impl Difference<'_> {
    fn pages(&self) -> Vec<&str> {
        self.now
            .difference(&self.then)
            .map(String::as_str)
            .collect()
    }

    fn silent(&self) -> Vec<&str> {
        self.then
            .difference(&self.now)
            .map(String::as_str)
            .collect()
    }

    fn why(&self) -> String {
        let decision = self.decision;
        let reason = self.rules_reason();
        match decision.followers.is_empty() {
            true => reason,
            false => format!(
                "{reason}; plus every channel that got its start: {}",
                decision.followers.join(", ")
            ),
        }
    }

    fn rules_reason(&self) -> String {
        let decision = self.decision;
        if let (Some(silence), false) = (&decision.silenced_by, decision.sent_despite_silence) {
            return format!("silenced by {} ({})", silence.id, terminal(&silence.reason));
        }
        if decision.routing.by_default {
            return "no rules: every channel".into();
        }
        if decision.routing.matched.is_empty() {
            return "no rule matches".into();
        }
        let rules: Vec<String> = decision
            .routing
            .matched
            .iter()
            .map(|matched| format!("\"{}\"", terminal(&matched.rule)))
            .collect();
        format!("rule {}", rules.join(", "))
    }

    fn print(&self) {
        let event = &self.entry.event;
        let mut change = Vec::new();
        if !self.pages().is_empty() {
            change.push(format!("would now go to {}", self.pages().join(", ")));
        }
        if !self.silent().is_empty() {
            change.push(format!(
                "would now be silent on {}",
                self.silent().join(", ")
            ));
        }
        say!(
            "  {} {} {:<30} {}{}",
            stamp(event.occurred_at),
            terminal(&event.id),
            event.kind.as_str(),
            super::output::account_tag(event.account()),
            terminal(&crate::text::cap(&event.summary, SUMMARY_CHARS))
        );
        say!(
            "      then: {}  candidate: {}  ({}; {})",
            names_or_none(&self.then),
            names_or_none(&self.now),
            change.join(", "),
            self.why()
        );
    }

    fn json(&self) -> serde_json::Value {
        let event = &self.entry.event;
        serde_json::json!({
            "id": event.id,
            "type": event.kind,
            "occurred_at": event.occurred_at,
            "summary": event.summary,
            "then": self.then,
            "candidate": self.now,
            "now_pages": self.pages(),
            "now_silent": self.silent(),
            "candidate_silenced_by": self.decision.silenced_by.as_ref().filter(|_| !self.decision.sent_despite_silence).map(|s| s.id),
            "why": self.why(),
        })
    }
}

fn names_or_none(names: &BTreeSet<String>) -> String {
    match names.is_empty() {
        true => "none".into(),
        false => names
            .iter()
            .map(|name| terminal(name))
            .collect::<Vec<_>>()
            .join(", "),
    }
}
