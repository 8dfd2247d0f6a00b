//! `silence`: keep matching events in history without sending them, for a while.
//! Each action prints what it did; a bad argument or unknown id exits 2.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use clap::Subcommand;

use super::failure::Failure;
use super::store_access::{delta, open_store, print_json, read, stamp};
use crate::commit::SilenceExpiry;
use crate::event::EventType;

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

pub(super) async fn silence(config: &Path, command: SilenceCommand) -> Result<(), Failure> {
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
            let what = match kind {
                None => format!(
                    "every event of campaigns matching \"{}\" is",
                    silence.campaign
                ),
                Some(kind) => format!(
                    "{} events of campaigns matching \"{}\" are",
                    kind.as_str(),
                    silence.campaign
                ),
            };
            println!(
                "silence {}: {what} kept in history and not sent until {} ({})",
                silence.id,
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
                Some(SilenceExpiry::AlreadyEnded(silence)) => {
                    println!(
                        "silence {id} had already ended at {}; nothing changed",
                        stamp(silence.expires_at)
                    );
                    Ok(())
                }
                Some(SilenceExpiry::EndedNow(_)) => {
                    println!("silence {id} ended now; nothing it held back is sent, the next transition is");
                    Ok(())
                }
            }
        }
    }
}
