//! `GET /api/v1/silences`: silences in force and ended ones, with how many
//! events each held back.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{given, ApiError, ApiQuery};
use crate::http::HttpState;
use crate::route::silence::Silence;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceParams {
    /// "active", "ended" or "all" (the default).
    pub state: Option<String>,
}

/// A silence named where it stopped an event.
#[derive(Debug, Clone, Serialize)]
pub struct SilenceRef {
    pub id: i64,
    pub matcher: String,
    pub reason: String,
    /// Who made it; empty for silences made before authors were kept.
    pub author: String,
}

impl SilenceRef {
    pub fn of(silence: &Silence) -> Self {
        Self {
            id: silence.id,
            matcher: silence.campaign.clone(),
            reason: silence.reason.clone(),
            author: silence.author.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SilenceView {
    pub id: i64,
    /// A campaign id or name, or a glob over either.
    pub matcher: String,
    /// Only this event type; null for every type.
    pub event_type: Option<&'static str>,
    pub reason: String,
    /// Who made it; empty for silences made before authors were kept.
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub active: bool,
    /// Events it kept from being sent.
    pub events_held: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SilenceList {
    pub silences: Vec<SilenceView>,
}

/// Which silences to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Active,
    Ended,
    All,
}

impl SilenceParams {
    pub fn which(&self) -> Result<Which, ApiError> {
        match given(&self.state) {
            None | Some("all") => Ok(Which::All),
            Some("active") => Ok(Which::Active),
            Some("ended") => Ok(Which::Ended),
            Some(other) => Err(ApiError::BadRequest(format!(
                "state must be active, ended or all, not {other:?}"
            ))),
        }
    }
}

/// Those in force first (newest first), then the ended ones (newest first).
pub async fn silence_list(
    state: &HttpState,
    which: Which,
    now: DateTime<Utc>,
) -> Result<SilenceList, ApiError> {
    let held = state.store.silenced_counts().await?;
    let mut silences: Vec<SilenceView> = state
        .store
        .silences(now, true)
        .await?
        .into_iter()
        .map(|silence| SilenceView {
            active: silence.active(now),
            events_held: held.get(&silence.id).copied().unwrap_or(0),
            id: silence.id,
            event_type: silence.event.map(|kind| kind.as_str()),
            matcher: silence.campaign,
            reason: silence.reason,
            author: silence.author,
            created_at: silence.created_at,
            expires_at: silence.expires_at,
        })
        .filter(|view| match which {
            Which::All => true,
            Which::Active => view.active,
            Which::Ended => !view.active,
        })
        .collect();
    silences.sort_by(|a, b| b.active.cmp(&a.active).then(b.id.cmp(&a.id)));
    Ok(SilenceList { silences })
}

pub async fn list(
    State(state): State<HttpState>,
    ApiQuery(params): ApiQuery<SilenceParams>,
) -> Result<Json<SilenceList>, ApiError> {
    let which = params.which()?;
    Ok(Json(silence_list(&state, which, Utc::now()).await?))
}
