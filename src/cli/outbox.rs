//! `outbox`: inspect the outbox, replay dead rows, purge old ones. Each action
//! prints what it did; an unknown or not-dead row exits 2.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Subcommand;

use super::failure::Failure;
use super::output::SUMMARY_CHARS;
use super::store_access::{
    cli_actor, delta, open_store_of, print_json, read, stamp, store_settings,
};
use crate::commit::{OutboxEntry, ReplayOutcome};
use crate::config::Settings;
use crate::event::EventType;
use crate::route::quiet::QuietHours;
use crate::text::terminal;

/// How often a running daemon's dispatcher looks at the outbox when nothing
/// wakes it: a row this process made due is sent at most this long after, or
/// after the daemon's next cycle if that comes first. Nothing reaches the
/// daemon from here to wake it sooner.
const DISPATCHER_LOOKS_EVERY: Duration = crate::deliver::IDLE_WAIT;

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Rows waiting to be sent (or, with --dead, the ones given up on).
    List {
        /// List the dead rows (given up on) instead of those waiting.
        #[arg(long)]
        dead: bool,
        /// Only rows of this SigmaMind account's events.
        #[arg(long)]
        account: Option<String>,
        /// Print one JSON document instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Put a dead row (or every dead row) back in the queue: a running daemon sends it within 30 s, or when its channel's quiet hours end.
    Replay {
        /// The outbox row id shown by `outbox list --dead`.
        #[arg(required_unless_present = "dead", conflicts_with = "dead")]
        id: Option<i64>,
        /// Replay every dead row.
        #[arg(long)]
        dead: bool,
        /// Who replays it, for the audit log (default: the OS user, from $USER or $LOGNAME).
        #[arg(long)]
        author: Option<String>,
    },
    /// Delete sent and dead rows older than this (pending rows are never purged).
    Purge {
        /// Age of the rows to delete, e.g. 7d (by when they were created).
        #[arg(long, value_parser = humantime::parse_duration)]
        older_than: Duration,
    },
}

impl OutboxCommand {
    pub(super) async fn run(self, config: &Path) -> Result<(), Failure> {
        let command = self;
        let settings = store_settings(config)?;
        let store = open_store_of(&settings).await?;
        let now = Utc::now();
        match command {
            OutboxCommand::List {
                dead,
                account,
                json,
            } => {
                let entries: Vec<_> = store
                    .outbox_entries(dead)
                    .await
                    .map_err(read)?
                    .into_iter()
                    .filter(|entry| {
                        account
                            .as_deref()
                            .map_or(true, |wanted| entry.account.as_deref() == Some(wanted))
                    })
                    .collect();
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
                    say!(
                        "{:>6}  {:<16} {} {:<30} attempts={} {when}  {}{}",
                        entry.id,
                        entry.channel,
                        terminal(&entry.event_id),
                        entry.event_type,
                        entry.attempts,
                        super::output::account_tag(entry.account.as_deref()),
                        terminal(&crate::text::cap(&entry.summary, SUMMARY_CHARS))
                    );
                    if let Some(error) = &entry.last_error {
                        say!("        last error: {}", terminal(error));
                    }
                }
                say!(
                    "{} {} row{}",
                    entries.len(),
                    if dead { "dead" } else { "pending" },
                    if entries.len() == 1 { "" } else { "s" }
                );
                Ok(())
            }
            OutboxCommand::Replay {
                id: Some(id),
                author,
                ..
            } => {
                let dead = store.outbox_entries(true).await.map_err(read)?;
                let row = dead.iter().find(|entry| entry.id == id);
                match store
                    .replay_by(&cli_actor(author), id, now)
                    .await
                    .map_err(read)?
                {
                    ReplayOutcome::Replayed => {
                        let hold = row.and_then(|row| hold_of(&settings, row, now));
                        let when = when_it_goes("it", hold, now);
                        say!("outbox row {id} is pending again: {when}");
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
            OutboxCommand::Replay {
                id: None, author, ..
            } => {
                let dead = store.outbox_entries(true).await.map_err(read)?;
                let count = store
                    .replay_dead_by(&cli_actor(author), now)
                    .await
                    .map_err(read)?;
                say!(
                    "{count} dead row{} pending again: {}",
                    if count == 1 { "" } else { "s" },
                    when_it_goes(if count == 1 { "it" } else { "them" }, None, now)
                );
                // Each channel whose quiet hours hold its rows, once.
                let mut told = std::collections::BTreeSet::new();
                for row in &dead {
                    if let Some(hold) = hold_of(&settings, row, now) {
                        if told.insert(row.channel.clone()) {
                            say!(
                                "  except on {}: {}",
                                terminal(&row.channel),
                                when_it_goes("them", Some(hold), now)
                            );
                        }
                    }
                }
                Ok(())
            }
            OutboxCommand::Purge { older_than } => {
                let cutoff = now - delta(older_than);
                let (sent, dead) = store.purge_outbox(cutoff).await.map_err(read)?;
                say!(
                    "purged {sent} sent and {dead} dead outbox rows created before {}; pending rows and the event history are kept",
                    stamp(cutoff)
                );
                Ok(())
            }
        }
    }
}

/// The quiet hours that hold `row` at `now`, with when they end: the
/// channel's, as the configuration names them (a channel since removed or
/// renamed holds nothing here).
fn hold_of<'a>(
    settings: &'a Settings,
    row: &OutboxEntry,
    now: DateTime<Utc>,
) -> Option<(&'a QuietHours, DateTime<Utc>)> {
    let channel = settings.channels.get(&row.channel)?;
    if !channel.kind.holds_quiet_hours() {
        return None;
    }
    let quiet = channel.shared.quiet_hours.as_ref()?.parsed().ok()?;
    let kind = EventType::parse(&row.event_type)?;
    quiet.hold_until(kind, now).map(|until| (quiet, until))
}

/// When a replayed row (`what`: "it", "them") really goes: at the end of
/// the quiet hours holding it, else within the dispatcher's idle wait of a
/// running daemon.
fn when_it_goes(
    what: &str,
    hold: Option<(&QuietHours, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> String {
    match hold {
        Some((quiet, until)) => {
            let wait = Duration::from_secs(u64::try_from((until - now).num_minutes() * 60).unwrap_or(0));
            format!(
                "its channel's quiet hours ({}) hold {what} until {} (in {}), then {what} go{} in their digest",
                quiet.describe(),
                stamp(until),
                humantime::format_duration(wait),
                if what == "it" { "es" } else { "" }
            )
        }
        None => format!(
            "a running daemon sends {what} within {}s (its dispatcher looks at the outbox that often, and after each cycle); with none running, the next `once` does",
            DISPATCHER_LOOKS_EVERY.as_secs()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::quiet::QuietHoursSettings;

    #[test]
    fn a_replayed_row_says_when_it_really_goes() {
        let now: DateTime<Utc> = "2026-11-26T23:10:00Z".parse().unwrap();
        let quiet = QuietHours::from_settings(&QuietHoursSettings {
            start: "22:00".into(),
            end: "07:00".into(),
            timezone: "UTC".into(),
            except: vec![],
        })
        .unwrap();
        let hold = quiet
            .hold_until(EventType::StatusChanged, now)
            .map(|until| (&quiet, until));
        assert_eq!(
            when_it_goes("it", hold, now),
            "its channel's quiet hours (22:00-07:00 UTC) hold it until 2026-11-27 07:00:00Z (in 7h 50m), then it goes in their digest"
        );
        assert_eq!(
            when_it_goes("them", None, now),
            "a running daemon sends them within 30s (its dispatcher looks at the outbox that often, and after each cycle); with none running, the next `once` does"
        );
    }
}
