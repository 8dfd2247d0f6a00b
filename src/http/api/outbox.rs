//! `POST /api/v1/outbox/{id}/replay` (admin): a dead delivery back in the
//! queue, due now, with a fresh `max_age` and the same event id, as `outbox
//! replay` does (through the same store function, which records who did it).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{actor_of, ApiError, ApiPath};
use crate::commit::{Actor, ReplayOutcome};
use crate::http::{Admin, HttpState};

/// What a replay did.
#[derive(Debug, Clone, Serialize)]
pub struct Replayed {
    /// The outbox row.
    pub id: i64,
    /// "pending": the dispatcher sends it on its next pass.
    pub status: &'static str,
}

/// Replay dead row `id` as `actor`, or the 404/409 saying why not.
pub async fn replay_as(
    state: &crate::http::HttpState,
    id: i64,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Replayed, ApiError> {
    match state.store.replay_by(actor, id, now).await? {
        ReplayOutcome::Replayed => Ok(Replayed {
            id,
            status: "pending",
        }),
        ReplayOutcome::NotDead(status) => Err(ApiError::Conflict(format!(
            "outbox row {id} is {status}, not dead: only dead deliveries can be sent again"
        ))),
        ReplayOutcome::Unknown => Err(ApiError::NotFound(format!("there is no outbox row {id}"))),
    }
}

pub async fn replay(
    State(state): State<HttpState>,
    Admin(viewer): Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Replayed>, ApiError> {
    Ok(Json(
        replay_as(&state, id, &actor_of(&viewer, "api"), Utc::now()).await?,
    ))
}
