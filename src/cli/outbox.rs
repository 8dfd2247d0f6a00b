//! `outbox`: inspect the outbox, replay dead rows, purge old ones. Each action
//! prints what it did; an unknown or not-dead row exits 2.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use clap::Subcommand;

use super::failure::Failure;
use super::output::SUMMARY_CHARS;
use super::store_access::{cli_actor, delta, open_store, print_json, read, stamp};
use crate::commit::ReplayOutcome;
use crate::text::terminal;

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
    /// Put a dead row (or every dead row) back in the queue, due now.
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
        let store = open_store(config).await?;
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
                match store
                    .replay_by(&cli_actor(author), id, now)
                    .await
                    .map_err(read)?
                {
                    ReplayOutcome::Replayed => {
                        say!("outbox row {id} is pending again, due now; a running daemon (or the next `once`) sends it");
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
                let count = store
                    .replay_dead_by(&cli_actor(author), now)
                    .await
                    .map_err(read)?;
                say!(
                    "{count} dead row{} pending again, due now",
                    if count == 1 { "" } else { "s" }
                );
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
