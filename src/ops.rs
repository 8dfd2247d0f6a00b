//! Operator commands on the stored state: `outbox`, `silence` and `history`.
//! Each prints what it did; a bad argument or unknown id exits 2, a state
//! database that cannot be read exits 1.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use clap::Subcommand;

use crate::cli::Failure;
use crate::commit::{HistoryEntry, ReplayOutcome, Store, StoreError};
use crate::config::Settings;
use crate::event::EventType;

/// `history` lists at most this many events.
const HISTORY_LIMIT: u32 = 10_000;

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Rows waiting to be sent (or, with --dead, the ones given up on).
    List {
        #[arg(long)]
        dead: bool,
        #[arg(long)]
        json: bool,
    },
    /// Put a dead row (or every dead row) back in the queue, due now.
    Replay {
        /// The outbox row id shown by `outbox list --dead`.
        #[arg(required_unless_present = "dead", conflicts_with = "dead")]
        id: Option<i64>,
        #[arg(long)]
        dead: bool,
    },
    /// Delete sent and dead rows older than this (pending rows are never purged).
    Purge {
        #[arg(long, value_parser = humantime::parse_duration)]
        older_than: Duration,
    },
}

#[derive(Debug, Subcommand)]
pub enum SilenceCommand {
    /// Stop sending events of matching campaigns for a while (they stay in history).
    Add {
        /// Campaign id or name, or a glob over either (`camp_eu_*`; `*` also covers watcher events).
        #[arg(long)]
        campaign: String,
        /// Only this event type (e.g. campaign.status_changed).
        #[arg(long)]
        event: Option<String>,
        /// How long, e.g. 2h.
        #[arg(long = "for", value_parser = humantime::parse_duration)]
        duration: Duration,
        #[arg(long)]
        reason: String,
    },
    /// Silences in force (with --all, ended ones too).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// End a silence now.
    Expire { id: i64 },
}

async fn open_store(config: &Path) -> Result<Store, Failure> {
    let settings = Settings::load(config)?;
    Store::open(&settings.state.url)
        .await
        .map_err(Failure::usage)
}

fn read(error: StoreError) -> Failure {
    Failure::runtime(error)
}

fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

pub(crate) async fn outbox(config: &Path, command: OutboxCommand) -> Result<(), Failure> {
    let store = open_store(config).await?;
    let now = Utc::now();
    match command {
        OutboxCommand::List { dead, json } => {
            let entries = store.outbox_entries(dead).await.map_err(read)?;
            if json {
                print_json(&entries);
                return Ok(());
            }
            for entry in &entries {
                let when = if dead {
                    "dead".to_string()
                } else if entry.held_until == Some(entry.next_attempt_at) {
                    format!(
                        "held for quiet hours until {}",
                        stamp(entry.next_attempt_at)
                    )
                } else {
                    format!("next attempt {}", stamp(entry.next_attempt_at))
                };
                println!(
                    "{:>6}  {:<16} {} {:<30} attempts={} {when}  {}",
                    entry.id,
                    entry.channel,
                    entry.event_id,
                    entry.event_type,
                    entry.attempts,
                    entry.summary
                );
                if let Some(error) = &entry.last_error {
                    println!("        last error: {error}");
                }
            }
            println!(
                "{} {} row{}",
                entries.len(),
                if dead { "dead" } else { "pending" },
                if entries.len() == 1 { "" } else { "s" }
            );
            Ok(())
        }
        OutboxCommand::Replay { id: Some(id), .. } => {
            match store.replay(id, now).await.map_err(read)? {
                ReplayOutcome::Replayed => {
                    println!("outbox row {id} is pending again, due now; a running daemon (or the next `once`) sends it");
                    Ok(())
                }
                ReplayOutcome::NotDead(status) => Err(Failure::usage(format!(
                    "outbox row {id} is {status}, not dead: only dead rows can be replayed"
                ))),
                ReplayOutcome::Unknown => Err(Failure::usage(format!(
                    "there is no outbox row {id}; `outbox list --dead` shows the dead ones"
                ))),
            }
        }
        OutboxCommand::Replay { id: None, .. } => {
            let count = store.replay_dead(now).await.map_err(read)?;
            println!(
                "{count} dead row{} pending again, due now",
                if count == 1 { "" } else { "s" }
            );
            Ok(())
        }
        OutboxCommand::Purge { older_than } => {
            let cutoff = now - delta(older_than);
            let (sent, dead) = store.purge_outbox(cutoff).await.map_err(read)?;
            println!(
                "purged {sent} sent and {dead} dead outbox rows created before {}; pending rows and the event history are kept",
                stamp(cutoff)
            );
            Ok(())
        }
    }
}

pub(crate) async fn silence(config: &Path, command: SilenceCommand) -> Result<(), Failure> {
    let now = Utc::now();
    match command {
        SilenceCommand::Add {
            campaign,
            event,
            duration,
            reason,
        } => {
            // Arguments first: a typo should not need a readable state file to be reported.
            if campaign.trim().is_empty() {
                return Err(Failure::usage(
                    "--campaign is empty: give a campaign id, name or glob",
                ));
            }
            if let Err(error) = globset::Glob::new(&campaign) {
                return Err(Failure::usage(format!(
                    "--campaign \"{campaign}\" is not a valid glob: {}",
                    error.kind()
                )));
            }
            let kind = match event.as_deref() {
                None => None,
                Some(text) => Some(EventType::parse(text).ok_or_else(|| {
                    let known: Vec<&str> = EventType::ALL.iter().map(|k| k.as_str()).collect();
                    Failure::usage(format!(
                        "--event \"{text}\" is not an event type (known: {})",
                        known.join(", ")
                    ))
                })?),
            };
            if duration.is_zero() {
                return Err(Failure::usage(
                    "--for must be longer than 0s, e.g. --for 2h",
                ));
            }
            if reason.trim().is_empty() {
                return Err(Failure::usage(
                    "--reason is empty: say why, for whoever reads `silence list` later",
                ));
            }
            let store = open_store(config).await?;
            let silence = store
                .add_silence(&campaign, kind, reason.trim(), now, now + delta(duration))
                .await
                .map_err(read)?;
            println!(
                "silence {}: {} of campaigns matching \"{}\" are kept in history and not sent until {} ({})",
                silence.id,
                kind.map_or("every event".to_string(), |k| k.as_str().to_string()),
                silence.campaign,
                stamp(silence.expires_at),
                silence.reason
            );
            Ok(())
        }
        SilenceCommand::List { all, json } => {
            let store = open_store(config).await?;
            let silences = store.silences(now, all).await.map_err(read)?;
            if json {
                print_json(&silences);
                return Ok(());
            }
            for silence in &silences {
                let state = if silence.active(now) {
                    "active"
                } else {
                    "ended"
                };
                println!(
                    "{:>4}  {state:<6} {:<24} {:<30} until {}  {}",
                    silence.id,
                    silence.campaign,
                    silence.event.map_or("(every event)", |k| k.as_str()),
                    stamp(silence.expires_at),
                    silence.reason
                );
            }
            println!(
                "{} {}silence{}",
                silences.len(),
                if all { "" } else { "active " },
                if silences.len() == 1 { "" } else { "s" }
            );
            Ok(())
        }
        SilenceCommand::Expire { id } => {
            let store = open_store(config).await?;
            match store.expire_silence(id, now).await.map_err(read)? {
                None => Err(Failure::usage(format!(
                    "there is no silence {id}; `silence list --all` shows them"
                ))),
                Some(silence) if silence.expires_at < now => {
                    println!(
                        "silence {id} had already ended at {}; nothing changed",
                        stamp(silence.expires_at)
                    );
                    Ok(())
                }
                Some(_) => {
                    println!("silence {id} ended now; nothing it held back is sent, the next transition is");
                    Ok(())
                }
            }
        }
    }
}

pub(crate) async fn history(
    config: &Path,
    campaign: Option<&str>,
    since: Duration,
    json: bool,
) -> Result<(), Failure> {
    let store = open_store(config).await?;
    let now = Utc::now();
    let entries = store
        .history(campaign, now - delta(since), HISTORY_LIMIT)
        .await
        .map_err(read)?;
    if json {
        print_json(&entries);
        return Ok(());
    }
    for entry in &entries {
        println!(
            "{} {} {:<30} {}  [{}]",
            stamp(entry.event.occurred_at),
            entry.event.id,
            entry.event.kind.as_str(),
            entry.event.summary.replace('\n', " / "),
            outcome(entry)
        );
    }
    println!(
        "{} event{} since {}",
        entries.len(),
        if entries.len() == 1 { "" } else { "s" },
        stamp(now - delta(since))
    );
    Ok(())
}

/// What became of one event, on one line.
fn outcome(entry: &HistoryEntry) -> String {
    if let Some(silence) = &entry.silenced_by {
        return format!("silenced by {} ({}): not sent", silence.id, silence.reason);
    }
    if entry.deliveries.is_empty() {
        return "no channel: no rule sends it".into();
    }
    entry
        .deliveries
        .iter()
        .map(|delivery| {
            let mut text = format!("{}={}", delivery.channel, delivery.status);
            if let Some(until) = delivery.held_until {
                text.push_str(&format!(" (held for quiet hours until {})", stamp(until)));
            }
            if let Some(digest) = &delivery.digest_id {
                text.push_str(&format!(" in digest {digest}"));
            }
            if delivery.status != "sent" {
                if let Some(error) = &delivery.last_error {
                    text.push_str(&format!(" after {} attempts: {error}", delivery.attempts));
                }
            }
            text
        })
        .collect::<Vec<_>>()
        .join(", ")
}
