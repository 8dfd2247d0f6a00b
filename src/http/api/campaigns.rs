//! `GET /api/v1/campaigns` (filtered, paged) and
//! `GET /api/v1/accounts/{account}/campaigns/{id}` (its state, its events and
//! their deliveries).

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::{entry_view, EventView};
use super::silences::SilenceRef;
use super::{checked_page, given, ApiError, ApiQuery, BASE};
use crate::commit::{status_label, CampaignQuery, CampaignRow, LastEvent, STATUS_LABELS};
use crate::http::HttpState;
use crate::route::silence::Silence;

/// The longest search text `q`: far above any id or name searched for, far
/// below the store's pattern limit (SQLite refuses LIKE patterns over 50,000
/// bytes), so a long one is the caller's mistake (400), never the store's (503).
pub const MAX_SEARCH_CHARS: usize = 200;

/// The events a campaign's answer carries, newest first.
pub const CAMPAIGN_EVENTS: u32 = 100;

/// The list's query string (the board's filter form sends the same).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignParams {
    /// Only this account's campaigns.
    pub account: Option<String>,
    pub status: Option<String>,
    /// Text the id or the name contains.
    pub q: Option<String>,
    pub problems: Option<bool>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

impl CampaignParams {
    /// The store's query, or a 400 naming the bad value.
    pub fn query(&self) -> Result<CampaignQuery, ApiError> {
        let status = given(&self.status).map(str::to_string);
        if let Some(status) = &status {
            if !STATUS_LABELS.contains(&status.as_str()) {
                return Err(ApiError::BadRequest(format!(
                    "status must be one of {}",
                    STATUS_LABELS.join(", ")
                )));
            }
        }
        if given(&self.q).is_some_and(|q| q.chars().count() > MAX_SEARCH_CHARS) {
            return Err(ApiError::BadRequest(format!(
                "q is longer than {MAX_SEARCH_CHARS} characters; search for a shorter part of the id or name"
            )));
        }
        let (page, per_page) = checked_page(self.page, self.per_page)?;
        Ok(CampaignQuery {
            account: given(&self.account).map(str::to_string),
            status,
            text: given(&self.q).map(str::to_string),
            problems: self.problems.unwrap_or(false),
            page,
            per_page,
        })
    }
}

/// One campaign in a list.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignItem {
    pub account: String,
    pub id: String,
    pub name: String,
    pub status: String,
    pub upload_errors: u64,
    pub changed_at: DateTime<Utc>,
    pub last_event: Option<LastEvent>,
    /// Ids of the silences in force that match it.
    pub silenced_by: Vec<i64>,
    /// Its own resource.
    pub href: String,
}

/// A page of campaigns.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignList {
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub campaigns: Vec<CampaignItem>,
}

/// What a path segment escapes: everything but RFC 3986's unreserved characters.
pub const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Whether `id` cannot be a path segment: `.` and `..` are resolved away by
/// every URL parser (`%2e` too), so such a campaign is linked by its query.
pub fn is_dot_segment(id: &str) -> bool {
    id == "." || id == ".."
}

/// The resource of one campaign of `account`: `/campaigns/{id}`, or
/// `/campaign?id=` for an id that cannot be a path segment.
pub fn campaign_href(account: &str, id: &str) -> String {
    let account = percent_encoding::utf8_percent_encode(account, PATH_SEGMENT);
    let id_text = percent_encoding::utf8_percent_encode(id, PATH_SEGMENT);
    if is_dot_segment(id) {
        format!("{BASE}/accounts/{account}/campaign?id={id_text}")
    } else {
        format!("{BASE}/accounts/{account}/campaigns/{id_text}")
    }
}

/// `?id=` of `/accounts/{account}/campaign`.
#[derive(Debug, Deserialize)]
pub struct IdParam {
    pub id: String,
}

fn matching(silences: &[Silence], account: &str, id: &str, name: &str) -> Vec<i64> {
    silences
        .iter()
        .filter(|silence| silence.covers_campaign(account, id, name))
        .map(|silence| silence.id)
        .collect()
}

fn item(row: CampaignRow, silences: &[Silence]) -> CampaignItem {
    CampaignItem {
        silenced_by: matching(silences, &row.account, &row.id, &row.name),
        href: campaign_href(&row.account, &row.id),
        account: row.account,
        id: row.id,
        name: row.name,
        status: row.status,
        upload_errors: row.upload_errors,
        changed_at: row.changed_at,
        last_event: row.last_event,
    }
}

/// One page of campaigns, as the API answers it and the board shows it.
pub async fn campaign_list(
    state: &HttpState,
    query: &CampaignQuery,
    now: DateTime<Utc>,
) -> Result<CampaignList, ApiError> {
    let page = state.store.campaign_page(query).await?;
    let silences = state.store.silences(now, false).await?;
    let (per_page, _) = crate::commit::page_bounds(query.page, query.per_page);
    // A page of campaigns against thousands of silences is CPU work: kept off
    // the runtime's workers, which answer probes and run the cycle.
    let rows = page.rows;
    let campaigns = tokio::task::spawn_blocking(move || {
        rows.into_iter().map(|row| item(row, &silences)).collect()
    })
    .await
    .map_err(|_| ApiError::Unavailable("the watcher is stopping; try again shortly".into()))?;
    Ok(CampaignList {
        total: page.total,
        page: query.page.max(1),
        per_page,
        campaigns,
    })
}

pub async fn list(
    State(state): State<HttpState>,
    ApiQuery(params): ApiQuery<CampaignParams>,
) -> Result<Json<CampaignList>, ApiError> {
    let query = params.query()?;
    Ok(Json(campaign_list(&state, &query, Utc::now()).await?))
}

/// One campaign's current state.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignDetail {
    pub account: String,
    pub id: String,
    pub name: String,
    pub status: String,
    /// The status last read (for a campaign not found or unreadable, what it was).
    pub last_read_status: String,
    pub changed_at: DateTime<Utc>,
    /// The upload-error rows, sorted.
    pub upload_errors: Vec<String>,
    pub caller_number: Option<String>,
    /// `phoneNumber.active` as last read; none when the API did not say.
    pub caller_active: Option<bool>,
    /// The probable causes of the last status change, as sent.
    pub hints: Vec<crate::event::Hint>,
    pub agent: Option<AgentView>,
    pub concurrent_calls: Option<i64>,
    pub scheduled_date: Option<String>,
    pub failed_reads: u32,
    pub unreadable_since: Option<DateTime<Utc>>,
    pub last_read_error: Option<String>,
    pub silenced_by: Vec<SilenceRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
}

/// A campaign with its newest events.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignAnswer {
    pub campaign: CampaignDetail,
    pub events: Vec<EventView>,
}

/// One campaign of `account`, or a 404.
pub async fn campaign_answer(
    state: &HttpState,
    account: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Result<CampaignAnswer, ApiError> {
    let unknown = || {
        ApiError::NotFound(format!(
            "no campaign {:?} in account {:?}",
            crate::text::cap(id, 200),
            crate::text::cap(account, 64)
        ))
    };
    let store = state
        .account_store(account)
        .map_err(|unknown| ApiError::NotFound(unknown.to_string()))?;
    let mut states = store.load_states_for([id]).await?;
    let stored = states.remove(id).ok_or_else(unknown)?;
    let silences = store.silences(now, false).await?;
    let snapshot = &stored.snapshot;
    let silenced_by = silences
        .iter()
        .filter(|silence| silence.covers_campaign(account, id, &snapshot.name))
        .map(SilenceRef::of)
        .collect();
    let history = store
        .history(Some(id), DateTime::<Utc>::MIN_UTC, CAMPAIGN_EVENTS)
        .await?;
    let agent = snapshot.agent.as_ref().map(|agent| AgentView {
        id: agent.id.clone(),
        name: agent.name.clone(),
        status: agent.status.clone(),
    });
    Ok(CampaignAnswer {
        campaign: CampaignDetail {
            account: account.to_string(),
            id: id.to_string(),
            name: snapshot.name.clone(),
            status: status_label(&stored),
            last_read_status: snapshot.status.to_string(),
            changed_at: stored.changed_at,
            upload_errors: snapshot.upload_errors.iter().cloned().collect(),
            caller_number: snapshot.caller_number.clone(),
            caller_active: snapshot.caller_active,
            hints: stored.hints.clone(),
            agent,
            concurrent_calls: snapshot.concurrent_calls,
            scheduled_date: snapshot.scheduled_date.clone(),
            failed_reads: stored.reads.failed,
            unreadable_since: stored.reads.unreadable_since,
            last_read_error: stored.reads.last_error.clone(),
            silenced_by,
        },
        events: history.into_iter().map(|e| entry_view(e, now)).collect(),
    })
}

/// `GET /api/v1/accounts/{account}/campaign?id=`: [`one`] for any id, `.`
/// and `..` included.
pub async fn one_by_query(
    State(state): State<HttpState>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    query: Result<axum::extract::Query<IdParam>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CampaignAnswer>, ApiError> {
    let Path(account) =
        path.map_err(|_| ApiError::BadRequest("the account path is not valid UTF-8".into()))?;
    let axum::extract::Query(IdParam { id }) = query.map_err(|_| {
        ApiError::BadRequest("give the campaign as ?id=ID (and nothing else)".into())
    })?;
    Ok(Json(
        campaign_answer(&state, &account, &id, Utc::now()).await?,
    ))
}

pub async fn one(
    State(state): State<HttpState>,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> Result<Json<CampaignAnswer>, ApiError> {
    let Path((account, id)) =
        path.map_err(|_| ApiError::BadRequest("the campaign path is not valid UTF-8".into()))?;
    Ok(Json(
        campaign_answer(&state, &account, &id, Utc::now()).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_text_past_the_documented_length_is_the_callers_mistake() {
        let params = |q: String| CampaignParams {
            q: Some(q),
            ..CampaignParams::default()
        };
        let longest = params("é".repeat(MAX_SEARCH_CHARS)).query().unwrap();
        assert_eq!(
            longest.text.map(|q| q.chars().count()),
            Some(MAX_SEARCH_CHARS)
        );
        for q in ["x".repeat(MAX_SEARCH_CHARS + 1), "%".repeat(60_000)] {
            let Err(ApiError::BadRequest(sentence)) = params(q).query() else {
                panic!("a long q is a 400");
            };
            assert!(sentence.contains("200 characters"), "{sentence}");
        }
    }
}
