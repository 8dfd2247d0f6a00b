//! `GET /api/v1/status`: the board at a glance.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ApiError;
use crate::commit::{AccountCounts, CycleOutcome, Summary, STATUS_LABELS};
use crate::http::HttpState;

/// The answer (and the board's header).
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    /// "leader" (polls and sends) or "standby" (another replica does).
    pub role: &'static str,
    pub api: ApiView,
    pub last_cycle: Option<CycleView>,
    pub campaigns: CountsView,
    pub outbox: OutboxView,
    pub silences_in_force: u64,
    /// Accounts whose API is readable (not unhealthy), of `accounts`.
    pub accounts_healthy: u64,
    /// Each configured account: its API health, its last cycle, its campaigns.
    pub accounts: Vec<AccountView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    pub account: String,
    pub api: ApiView,
    pub last_cycle: Option<CycleView>,
    pub campaigns: CountsView,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiView {
    /// "healthy", "unhealthy", or "unknown" until a cycle ran.
    pub health: &'static str,
    pub consecutive_failures: u32,
    /// When a cycle last read the API.
    pub last_read_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CycleView {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// "success" or "api_unreadable".
    pub result: String,
    /// Requests and events counted, or why the API could not be read.
    pub detail: String,
    /// Campaigns read (every account's, in the watcher's last cycle).
    pub campaigns_read: u64,
}

impl CycleView {
    fn of(cycle: &CycleOutcome) -> Self {
        Self {
            started_at: cycle.started_at,
            finished_at: cycle.finished_at,
            duration_ms: (cycle.finished_at - cycle.started_at).num_milliseconds(),
            result: cycle.result.clone(),
            detail: cycle.detail.clone(),
            campaigns_read: cycle.campaigns_read,
        }
    }
}

/// "unknown" until a cycle ran, then whether the API could be read.
fn health_word(cycled: bool, unhealthy: bool) -> &'static str {
    match (cycled, unhealthy) {
        (false, _) => "unknown",
        (true, true) => "unhealthy",
        (true, false) => "healthy",
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CountsView {
    pub total: u64,
    pub by_status: std::collections::BTreeMap<String, u64>,
    pub with_upload_errors: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutboxView {
    pub pending: u64,
    pub held_for_quiet_hours: u64,
    pub dead: u64,
    pub sent: u64,
}

/// The status as of `now`, from the store (the same on a leader and a standby)
/// and this replica's role. The watcher's API is unhealthy when any account's is.
pub async fn status_view(state: &HttpState, now: DateTime<Utc>) -> Result<StatusView, ApiError> {
    let summary: Summary = state.store.summary(now).await?;
    let silences = state.store.silences(now, false).await?;
    let mut cycles = state.store.account_cycles().await?;
    let mut counts = state.store.account_counts().await?;
    let record = state.status.snapshot();
    let last_read_at = match (&summary.last_cycle, record.last_success_at) {
        (_, Some(at)) => Some(at),
        (Some(cycle), None) if cycle.result == "success" => Some(cycle.started_at),
        _ => None,
    };
    let mut accounts = Vec::with_capacity(state.accounts.len());
    for account in state.accounts.iter() {
        let health = state.store.for_account(account).load_health().await?;
        let cycle = cycles.remove(account);
        let read_at = cycle
            .as_ref()
            .filter(|cycle| cycle.result == "success")
            .map(|cycle| cycle.started_at);
        let campaigns = counts.remove(account).unwrap_or_else(|| AccountCounts {
            counts: STATUS_LABELS
                .iter()
                .map(|label| (label.to_string(), 0))
                .collect(),
            with_upload_errors: 0,
        });
        accounts.push(AccountView {
            account: account.clone(),
            api: ApiView {
                health: health_word(
                    cycle.is_some() || summary.last_cycle.is_some(),
                    health.unhealthy,
                ),
                consecutive_failures: health.consecutive_failures,
                last_read_at: read_at,
            },
            last_cycle: cycle.as_ref().map(CycleView::of),
            campaigns: CountsView {
                total: campaigns.counts.values().sum(),
                by_status: campaigns.counts,
                with_upload_errors: campaigns.with_upload_errors,
            },
        });
    }
    let worst = accounts
        .iter()
        .map(|account| {
            (
                account.api.health == "unhealthy",
                account.api.consecutive_failures,
            )
        })
        .max();
    let cycled = summary.last_cycle.is_some();
    Ok(StatusView {
        role: if record.standby { "standby" } else { "leader" },
        api: ApiView {
            health: match worst {
                Some((true, _)) => "unhealthy",
                _ if !cycled => "unknown",
                _ => health_word(true, summary.health.unhealthy),
            },
            consecutive_failures: worst
                .map_or(summary.health.consecutive_failures, |(_, failures)| {
                    failures
                }),
            last_read_at,
        },
        last_cycle: summary.last_cycle.as_ref().map(CycleView::of),
        campaigns: CountsView {
            total: summary.campaigns,
            by_status: summary.counts,
            with_upload_errors: summary.with_upload_errors,
        },
        outbox: OutboxView {
            pending: summary.outbox.pending,
            held_for_quiet_hours: summary.held_for_quiet_hours,
            dead: summary.outbox.dead,
            sent: summary.outbox.sent,
        },
        silences_in_force: silences.len() as u64,
        accounts_healthy: accounts
            .iter()
            .filter(|account| account.api.health != "unhealthy")
            .count() as u64,
        accounts,
    })
}

pub async fn get_status(State(state): State<HttpState>) -> Result<Json<StatusView>, ApiError> {
    Ok(Json(status_view(&state, Utc::now()).await?))
}
