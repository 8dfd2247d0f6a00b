//! `history`: stored events with each channel's delivery outcome, silences and
//! quiet-hours holds, and the audit log (who made or ended a silence, who
//! replayed a delivery): its lines follow the events', and `--audit` shows
//! only it (`--audit --json`: its records; `--json` alone stays the events).

use std::path::Path;
use std::time::Duration;

use chrono::Utc;

use clap::Args;

use super::failure::Failure;
use super::output::SUMMARY_CHARS;
use super::store_access::{delta, open_store_of, print_json, read, stamp, store_settings};
use crate::commit::{AuditRecord, HistoryEntry};
use crate::route::silence::{campaign_matches, Pattern};
use crate::text::terminal;

/// `history` lists at most this many events.
const HISTORY_LIMIT: u32 = 10_000;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this campaign: an id or name, or a glob over either (`camp_eu_*`), as `silence add` takes.
    #[arg(long)]
    campaign: Option<String>,
    /// Only this SigmaMind account's events (default: every account's and the watcher's own).
    #[arg(long)]
    account: Option<String>,
    /// How far back to look, e.g. 24h or 7d.
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    since: Duration,
    /// Print one JSON document instead of lines.
    #[arg(long)]
    json: bool,
    /// Only the audit log: who made or ended silences and replayed deliveries (with --json, its records).
    #[arg(long)]
    audit: bool,
}

impl HistoryArgs {
    pub(super) async fn run(self, config: &Path) -> Result<(), Failure> {
        let Self {
            campaign,
            account,
            since,
            json,
            audit,
        } = self;
        let (campaign, account) = (campaign.as_deref(), account.as_deref());
        let settings = store_settings(config)?;
        let accounts: Vec<String> = settings.account_names();
        if let Some(wanted) = account {
            if !accounts.iter().any(|known| known == wanted) {
                return Err(Failure::usage(format!(
                    "--account \"{}\" is not an account of {} (accounts: {})",
                    terminal(wanted),
                    config.display(),
                    accounts.join(", ")
                )));
            }
        }
        let store = open_store_of(&settings).await?;
        let now = Utc::now();
        let records: Vec<AuditRecord> = store
            .audit_log(now - delta(since), HISTORY_LIMIT)
            .await
            .map_err(read)?
            .into_iter()
            .filter(|record| campaign.map_or(true, |wanted| concerns(record, wanted)))
            .collect();
        if audit {
            if json {
                print_json(&records);
                return Ok(());
            }
            for record in &records {
                say!("{}", audit_line(record));
            }
            say!("{}", actions_since(records.len(), now - delta(since)));
            return Ok(());
        }
        // An exact id is filtered by the store; a name or a glob (as `silence add`
        // takes) over the events of the window.
        // A campaign is (account, id): an exact id is looked up in every account
        // asked about.
        let mut by_id = Vec::new();
        if let Some(id) = campaign {
            for name in accounts
                .iter()
                .filter(|name| account.map_or(true, |a| a == *name))
            {
                by_id.extend(
                    store
                        .for_account(name)
                        .history(Some(id), now - delta(since), HISTORY_LIMIT)
                        .await
                        .map_err(read)?,
                );
            }
            by_id.sort_by_key(|entry| std::cmp::Reverse(entry.event.occurred_at));
        }
        let entries =
            match campaign {
                None => store
                    .history(None, now - delta(since), HISTORY_LIMIT)
                    .await
                    .map_err(read)?,
                Some(_) if !by_id.is_empty() => by_id,
                Some(pattern) => {
                    let pattern = Pattern::new(pattern);
                    store
                        .history(None, now - delta(since), HISTORY_LIMIT)
                        .await
                        .map_err(read)?
                        .into_iter()
                        .filter(|entry| {
                            entry.event.campaign.as_ref().is_some_and(|campaign| {
                                pattern.matches(&campaign.id, &campaign.name)
                            })
                        })
                        .collect()
                }
            };
        let entries: Vec<HistoryEntry> = entries
            .into_iter()
            .filter(|entry| account.map_or(true, |wanted| entry.event.account() == Some(wanted)))
            .collect();
        if json {
            print_json(&entries);
            return Ok(());
        }
        for entry in &entries {
            say!(
                "{} {} {:<30} {}{}  [{}]",
                stamp(entry.event.occurred_at),
                terminal(&entry.event.id),
                entry.event.kind.as_str(),
                super::output::account_tag(entry.event.account()),
                terminal(&crate::text::cap(&entry.event.summary, SUMMARY_CHARS)),
                terminal(&outcome(entry))
            );
        }
        for record in &records {
            say!("{}", audit_line(record));
        }
        say!(
            "{} event{} since {}",
            entries.len(),
            if entries.len() == 1 { "" } else { "s" },
            stamp(now - delta(since))
        );
        if !records.is_empty() {
            say!("{}", actions_since(records.len(), now - delta(since)));
        }
        Ok(())
    }
}

/// Whether an audit record is about the campaigns `wanted` names: the same
/// matcher or id, or one matching the other.
fn concerns(record: &AuditRecord, wanted: &str) -> bool {
    record.campaign.as_deref().is_some_and(|campaign| {
        campaign == wanted
            || campaign_matches(wanted, campaign, campaign)
            || campaign_matches(campaign, wanted, wanted)
    })
}

fn audit_line(record: &AuditRecord) -> String {
    format!(
        "{} audit {:<30} by {} ({}): {}",
        stamp(record.at),
        record.action,
        terminal(&record.actor),
        record.via,
        terminal(&record.detail)
    )
}

fn actions_since(count: usize, since: chrono::DateTime<Utc>) -> String {
    format!(
        "{count} recorded action{} (silences made or ended, deliveries replayed) since {}",
        if count == 1 { "" } else { "s" },
        stamp(since)
    )
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
