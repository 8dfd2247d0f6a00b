//! `status`: a summary of the watcher first (campaigns by status, the API's
//! health, the last cycle, the outbox, silences), then the campaigns, newest
//! change first, filtered and limited so that a large account stays readable.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::failure::Failure;
use super::output::{Column, SUMMARY_CHARS};
use super::store_access::{delta, print_json, read, stamp, stamp_or_dash};
use crate::commit::{CampaignActivity, Store};
use crate::route::silence::campaign_matches;
use crate::state::CampaignState;
use crate::text::terminal;

/// Which campaigns `status` lists (the summary always counts them all).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StatusFilter {
    /// Only this SigmaMind account's campaigns and API health (default: every account).
    #[arg(long)]
    pub account: Option<String>,
    /// Only campaigns in this status: live, scheduled, paused, completed, "not found" or unreadable.
    #[arg(long)]
    pub status: Option<String>,
    /// Only this campaign: an id or name, or a glob over either.
    #[arg(long)]
    pub campaign: Option<String>,
    /// Only campaigns that need a look: paused, with upload errors, not found or unreadable.
    #[arg(long)]
    pub problems: bool,
    /// Only campaigns that changed within this long, e.g. 1h.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub changed_since: Option<Duration>,
    /// At most this many campaigns, newest change first (0: all).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// The campaign table; on a narrow terminal `last seen` goes first, then
/// `last event`, then `changed`.
const CAMPAIGN_COLUMNS: [Column; 7] = [
    Column {
        title: "campaign",
        plain_width: 28,
        wraps: false,
        drop_rank: 0,
    },
    Column {
        title: "name",
        plain_width: 32,
        wraps: true,
        drop_rank: 0,
    },
    Column {
        title: "status",
        plain_width: 10,
        wraps: false,
        drop_rank: 0,
    },
    Column {
        title: "errors",
        plain_width: 6,
        wraps: false,
        drop_rank: 0,
    },
    Column {
        title: "changed",
        plain_width: 20,
        wraps: false,
        drop_rank: 1,
    },
    Column {
        title: "last seen",
        plain_width: 20,
        wraps: false,
        drop_rank: 3,
    },
    Column {
        title: "last event",
        plain_width: 0,
        wraps: true,
        drop_rank: 2,
    },
];

/// What `status` calls a campaign's state: its status, or why it has none
/// (the board's label, from the store that writes it beside each state).
fn label(state: &CampaignState) -> String {
    crate::commit::status_label(state)
}

fn is_problem(state: &CampaignState) -> bool {
    matches!(label(state).as_str(), "paused" | "not found" | "unreadable")
        || !state.snapshot.upload_errors.is_empty()
}

impl StatusFilter {
    fn keeps(&self, key: &str, state: &CampaignState, now: DateTime<Utc>) -> bool {
        self.status.as_ref().map_or(true, |wanted| {
            label(state).eq_ignore_ascii_case(wanted.trim())
        }) && self.campaign.as_ref().map_or(true, |pattern| {
            campaign_matches(pattern, key, &state.snapshot.name)
        }) && (!self.problems || is_problem(state))
            && self
                .changed_since
                .map_or(true, |within| state.changed_at >= now - delta(within))
    }
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print one JSON document instead of tables.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    filter: StatusFilter,
}

impl StatusArgs {
    pub(super) async fn run(self, config: &Path) -> Result<(), Failure> {
        let Self { json, filter } = self;
        let settings = super::store_access::store_settings(config)?;
        // A read-only look at a watcher that never ran creates nothing.
        if let Some(file) = Store::file_of(&settings.state.url) {
            if !file.exists() {
                if json {
                    print_json(
                        &serde_json::json!({"campaigns": [], "api": {"health": "unknown"}, "last_cycle": null}),
                    );
                } else {
                    let working_dir = std::env::current_dir().ok();
                    let hint = super::store_access::relative_hint(&file, working_dir.as_deref())
                        .map(|hint| format!("; {hint}"))
                        .unwrap_or_default();
                    say!(
                        "no state yet at {}: no cycle has run (api: unknown){hint}",
                        super::store_access::looked_for(&file, working_dir.as_deref())
                    );
                }
                return Ok(());
            }
        }
        let store = Store::open(&settings.state.url)
            .await
            .map_err(Failure::usage)?;
        let now = Utc::now();
        let configured: Vec<String> = settings.account_names();
        let several = configured.len() > 1;
        let chosen: Vec<String> = match &filter.account {
            None => configured.clone(),
            Some(wanted) if configured.contains(wanted) => vec![wanted.clone()],
            Some(wanted) => {
                return Err(Failure::usage(format!(
                    "--account \"{}\" is not an account of {} (accounts: {})",
                    terminal(wanted),
                    config.display(),
                    configured.join(", ")
                )))
            }
        };
        // Every chosen account's campaigns, health and activity; a campaign is
        // (account, id), shown as `account/id` when there are several accounts.
        let mut all: Vec<(String, String, CampaignState)> = Vec::new();
        let mut healths = Vec::new();
        let mut activity = std::collections::HashMap::new();
        for account in &chosen {
            let view = store.for_account(account);
            for (key, state) in view.load_states().await.map_err(read)? {
                all.push((account.clone(), key, state));
            }
            healths.push((account.clone(), view.load_health().await.map_err(read)?));
            for (key, seen) in view.campaign_activity().await.map_err(read)? {
                activity.insert((account.clone(), key), seen);
            }
        }
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for (_, _, state) in &all {
            *counts.entry(label(state)).or_default() += 1;
        }
        let with_errors = all
            .iter()
            .filter(|(_, _, state)| !state.snapshot.upload_errors.is_empty())
            .count();
        let mut states: Vec<(String, String, CampaignState)> = all
            .into_iter()
            .filter(|(_, key, state)| filter.keeps(key, state, now))
            .collect();
        // Newest change first: what an operator looks for.
        states.sort_by(|a, b| {
            b.2.changed_at
                .cmp(&a.2.changed_at)
                .then((&a.1, &a.0).cmp(&(&b.1, &b.0)))
        });
        let matching = states.len();
        if filter.limit > 0 {
            states.truncate(filter.limit);
        }
        let shown = |account: &str, key: &str| match several {
            true => format!("{account}/{key}"),
            false => key.to_string(),
        };
        let health = healths
            .iter()
            .find(|(account, _)| account == crate::event::DEFAULT_ACCOUNT)
            .or(healths.first())
            .map(|(_, health)| health.clone())
            .unwrap_or_default();
        let outbox = store.outbox_counts().await.map_err(read)?;
        let recent = store.recent_events(10).await.map_err(read)?;
        let last_cycle = store.last_cycle().await.map_err(read)?;
        let account_cycles = store.account_cycles().await.map_err(read)?;
        let silences = store.silences(now, false).await.map_err(read)?;
        let store_size = store.size_bytes().await.map_err(read)?;
        let oldest_event = store.oldest_event_at().await.map_err(read)?;
        let retention = settings
            .state
            .retention()
            .map(|kept| humantime::format_duration(kept).to_string());
        let held = store
            .outbox_entries(false)
            .await
            .map_err(read)?
            .iter()
            .filter(|entry| entry.held_until.is_some_and(|until| until > now))
            .count();
        // Until a cycle ran, nobody knows whether the API can be read.
        let api_of = |health: &crate::state::ApiHealth| match (&last_cycle, health.unhealthy) {
            (None, _) => "unknown",
            (Some(_), true) => "UNHEALTHY",
            (Some(_), false) => "healthy",
        };
        let api = match several {
            false => api_of(&health),
            // Several accounts: unhealthy when any chosen one is.
            true => match healths.iter().find(|(_, health)| health.unhealthy) {
                Some((_, unhealthy)) => api_of(unhealthy),
                None => api_of(&health),
            },
        };
        let no_activity = CampaignActivity::default();
        if json {
            let campaigns: Vec<_> = states
                .iter()
                .map(|(account, key, state)| {
                    let seen = activity
                        .get(&(account.clone(), key.clone()))
                        .unwrap_or(&no_activity);
                    serde_json::json!({
                        "account": account,
                        "id": key,
                        "name": state.snapshot.name,
                        "status": state.snapshot.status,
                        "upload_errors": state.snapshot.upload_errors.len(),
                        "not_found": state.not_found,
                        "unreadable": state.reads.unreadable_since.is_some(),
                        "failed_reads": state.reads.failed,
                        "unreadable_since": state.reads.unreadable_since,
                        "last_read_error": state.reads.last_error,
                        "changed_at": state.changed_at,
                        "last_seen_at": seen.last_seen_at,
                        "last_event": seen.last_event_type.as_ref().map(|kind| serde_json::json!({
                            "type": kind,
                            "id": seen.last_event_id,
                            "occurred_at": seen.last_event_at,
                        })),
                    })
                })
                .collect();
            let events: Vec<_> = recent
                .iter()
                .map(|stored| serde_json::json!({"event": stored.event, "deliveries": stored.deliveries, "silence_id": stored.silence_id}))
                .collect();
            let body = serde_json::json!({
                "campaigns": campaigns,
                "api": {"health": api, "unhealthy": health.unhealthy, "consecutive_failures": health.consecutive_failures},
                "accounts": healths.iter().map(|(account, health)| serde_json::json!({
                    "name": account,
                    "health": api_of(health),
                    "unhealthy": health.unhealthy,
                    "consecutive_failures": health.consecutive_failures,
                    "last_cycle": account_cycles.get(account),
                })).collect::<Vec<_>>(),
                "accounts_healthy": healths.iter().filter(|(_, health)| !health.unhealthy).count(),
                "counts": counts,
                "matching": matching,
                "outbox": outbox,
                "held_for_quiet_hours": held,
                "silences": silences,
                "last_cycle": last_cycle,
                "recent_events": events,
                "store": {
                    "kind": store.kind(),
                    "size_bytes": store_size,
                    "retention": retention.as_deref().unwrap_or("0"),
                    "oldest_event_at": oldest_event,
                },
            });
            print_json(&body);
            return Ok(());
        }
        let by_status: Vec<String> = counts
            .iter()
            .map(|(label, count)| format!("{count} {label}"))
            .collect();
        say!(
            "campaigns: {} ({}); {with_errors} with upload errors",
            counts.values().sum::<usize>(),
            if by_status.is_empty() {
                "none yet".to_string()
            } else {
                by_status.join(", ")
            }
        );
        match &last_cycle {
            Some(cycle) => say!(
                "last cycle: {} at {} ({})",
                cycle.result,
                stamp(cycle.started_at),
                terminal(&cycle.detail)
            ),
            None => say!("last cycle: none recorded yet"),
        }
        if several {
            say!(
                "accounts: {} of {} healthy",
                healths
                    .iter()
                    .filter(|(_, health)| !health.unhealthy)
                    .count(),
                healths.len()
            );
            for (account, health) in &healths {
                say!(
                    "api {account}: {} ({} consecutive failed cycles)",
                    api_of(health),
                    health.consecutive_failures
                );
                if let Some(cycle) = account_cycles.get(account) {
                    say!(
                        "  last cycle of {account}: {} at {}, {} campaigns read ({})",
                        cycle.result,
                        stamp(cycle.started_at),
                        cycle.campaigns_read,
                        terminal(&cycle.detail)
                    );
                }
            }
        } else {
            say!(
                "api: {api} ({} consecutive failed cycles)",
                health.consecutive_failures
            );
        }
        let held = match held {
            0 => String::new(),
            held => format!(" ({held} held for quiet hours)"),
        };
        say!(
            "outbox: {} pending{held}, {} dead, {} sent",
            outbox.pending,
            outbox.dead,
            outbox.sent
        );
        say!(
            "store: {} {:.1} MB, retention {}, oldest event {}",
            store.kind(),
            store_size as f64 / 1e6,
            retention.as_deref().unwrap_or("none (everything is kept)"),
            oldest_event.map_or_else(|| "-".to_string(), stamp)
        );
        for silence in &silences {
            let scope = match &silence.account {
                Some(account) => format!(" in account {}", terminal(account)),
                None => String::new(),
            };
            say!(
                "silence {}: {}{scope} {} until {} ({})",
                silence.id,
                terminal(&silence.campaign),
                silence.event.map_or("every event", |kind| kind.as_str()),
                stamp(silence.expires_at),
                terminal(&silence.reason)
            );
        }
        let rows: Vec<Vec<String>> = states
            .iter()
            .map(|(account, key, state)| {
                let seen = activity
                    .get(&(account.clone(), key.clone()))
                    .unwrap_or(&no_activity);
                let last_event = match &seen.last_event_type {
                    Some(kind) => format!("{kind} at {}", stamp_or_dash(seen.last_event_at)),
                    None => "-".into(),
                };
                vec![
                    terminal(&shown(account, key)).into_owned(),
                    // Cut before escaping, so the column holds whole escapes.
                    terminal(&crate::text::cap(&state.snapshot.name, 32)).into_owned(),
                    label(state),
                    state.snapshot.upload_errors.len().to_string(),
                    stamp(state.changed_at),
                    stamp_or_dash(seen.last_seen_at),
                    terminal(&last_event).into_owned(),
                ]
            })
            .collect();
        super::output::verbatim(&super::output::table(
            &CAMPAIGN_COLUMNS,
            &rows,
            super::output::terminal_width(),
        ));
        for (account, key, state) in &states {
            if let Some(since) = state.reads.unreadable_since {
                say!(
                    "unreadable: {} since {} ({} failed reads, last stored status {}): {}",
                    terminal(&shown(account, key)),
                    stamp(since),
                    state.reads.failed,
                    state.snapshot.status,
                    terminal(state.reads.last_error.as_deref().unwrap_or("-"))
                );
            }
        }
        if matching > states.len() {
            say!(
                "… and {} more campaigns: narrow with --status, --campaign, --problems or --changed-since, or --limit 0 for all",
                matching - states.len()
            );
        }
        for stored in &recent {
            let deliveries: Vec<String> = stored
                .deliveries
                .iter()
                .map(|(c, s)| format!("{}={}", terminal(c), terminal(s)))
                .collect();
            let deliveries = match (stored.silence_id, deliveries.is_empty()) {
                (Some(silence), _) => format!("silenced by silence {silence}"),
                (None, true) => "no channel: no rule sends it".to_string(),
                (None, false) => deliveries.join(" "),
            };
            say!(
                "{} {}{} {} [{}]",
                stamp(stored.event.occurred_at),
                super::output::account_tag(stored.event.account()),
                terminal(&crate::text::cap(&stored.event.summary, SUMMARY_CHARS)),
                terminal(&stored.event.id),
                deliveries
            );
        }
        Ok(())
    }
}
