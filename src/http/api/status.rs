//! `GET /api/v1/status`: the board at a glance.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ApiError;
use crate::commit::Summary;
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
/// and this replica's role.
pub async fn status_view(state: &HttpState, now: DateTime<Utc>) -> Result<StatusView, ApiError> {
    let summary: Summary = state.store.summary(now).await?;
    let silences = state.store.silences(now, false).await?;
    let record = state.status.snapshot();
    let last_read_at = match (&summary.last_cycle, record.last_success_at) {
        (_, Some(at)) => Some(at),
        (Some(cycle), None) if cycle.result == "success" => Some(cycle.started_at),
        _ => None,
    };
    Ok(StatusView {
        role: if record.standby { "standby" } else { "leader" },
        api: ApiView {
            health: match (&summary.last_cycle, summary.health.unhealthy) {
                (None, _) => "unknown",
                (Some(_), true) => "unhealthy",
                (Some(_), false) => "healthy",
            },
            consecutive_failures: summary.health.consecutive_failures,
            last_read_at,
        },
        last_cycle: summary.last_cycle.as_ref().map(|cycle| CycleView {
            started_at: cycle.started_at,
            finished_at: cycle.finished_at,
            duration_ms: (cycle.finished_at - cycle.started_at).num_milliseconds(),
            result: cycle.result.clone(),
            detail: cycle.detail.clone(),
        }),
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
    })
}

pub async fn get_status(State(state): State<HttpState>) -> Result<Json<StatusView>, ApiError> {
    Ok(Json(status_view(&state, Utc::now()).await?))
}
