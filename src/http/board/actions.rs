//! The board's admin actions: the new-silence preview and its
//! form, ending a silence, sending a dead delivery again. Each POST has passed
//! the access guard (CSRF token and Origin for browsers); each handler checks
//! the admin role, acts through the same functions as the API (and the store
//! functions the CLI uses), and answers with a redirect to the page to look at.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use super::{campaign_page_path, error_page, failed, page, params, render, Controls};
use crate::config::Role;
use crate::event::EventType;
use crate::http::api::actor_of;
use crate::http::api::outbox::replay_as;
use crate::http::api::silences::{end_silence_as, make_silence, silence_preview, NewSilence};
use crate::http::{HttpState, Viewer};

const NEEDS_ADMIN: &str = "this needs the admin role; ask an admin, or log in as one";

fn forbidden() -> Response {
    error_page(StatusCode::FORBIDDEN, "Forbidden", NEEDS_ADMIN)
}

fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_string())],
        "",
    )
        .into_response()
}

/// The fields of a URL-encoded form (the last of a repeated name).
fn form_fields(body: &Bytes) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The form's fields as the API's new silence. An account chosen with no
/// campaign silences that whole account (`*` in it), as `silence add
/// --account` alone does.
pub(super) fn form_silence(fields: &HashMap<String, String>) -> NewSilence {
    let text = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let account_only = text("campaign").trim().is_empty() && !text("account").trim().is_empty();
    NewSilence {
        campaign: match account_only {
            true => "*".to_string(),
            false => text("campaign"),
        },
        event_type: fields.get("event_type").cloned(),
        account: fields.get("account").cloned(),
        duration: text("duration"),
        reason: text("reason"),
        confirm_all: fields.get("confirm_all").map(|value| value == "true"),
    }
}

/// The preview page of a silence with `problems`, and the form that makes
/// it when there is none.
async fn preview_page(
    state: &HttpState,
    viewer: &Viewer,
    silence: &NewSilence,
    status: StatusCode,
    problems: Vec<String>,
) -> Response {
    let preview = match silence.check(true, &state.accounts) {
        Ok(checked) => match silence_preview(state, &checked, Utc::now()).await {
            Ok(preview) => {
                let mut value = serde_json::to_value(&preview).unwrap_or_default();
                if let Some(rows) = value.get_mut("campaigns").and_then(|v| v.as_array_mut()) {
                    for row in rows {
                        let id = row.get("id").and_then(|v| v.as_str()).unwrap_or_default();
                        let account = row
                            .get("account")
                            .and_then(|v| v.as_str())
                            .unwrap_or_default();
                        row["page"] = json!(campaign_page_path(account, id));
                    }
                }
                Some(value)
            }
            Err(error) => return failed(error),
        },
        Err(_) => None,
    };
    let body = render(
        "silence_new.html",
        json!({
            "silence": {
                "campaign": silence.campaign,
                "event_type": silence.event_type.as_deref().filter(|t| !t.is_empty()),
                "account": silence.account.as_deref().filter(|a| !a.is_empty()),
                "duration": silence.duration,
                "reason": silence.reason,
            },
            "problems": problems,
            "preview": preview,
            "can_create": problems.is_empty(),
            "controls": Controls::of(viewer, "/silences"),
        }),
    );
    page("New silence", "silences", body, status)
}

/// `GET /silences/new?campaign=...&event_type=...&account=...&duration=...&reason=...`
pub async fn new_silence_page(
    State(state): State<HttpState>,
    viewer: Viewer,
    uri: Uri,
) -> Response {
    if !viewer.may(Role::Admin) {
        return forbidden();
    }
    let fields: HashMap<String, String> = match params(&uri) {
        Ok(fields) => fields,
        Err(response) => return *response,
    };
    let silence = form_silence(&fields);
    // The confirmation of a silence of everything is the form's own checkbox,
    // not a problem, on the first look.
    let confirmed = NewSilence {
        confirm_all: Some(true),
        ..silence.clone()
    };
    let problems = confirmed
        .check(false, &state.accounts)
        .err()
        .unwrap_or_default();
    preview_page(&state, &viewer, &silence, StatusCode::OK, problems).await
}

/// `POST /silences`: make it, then the silences page; any problem, the preview again with it.
pub async fn create_silence(
    State(state): State<HttpState>,
    viewer: Viewer,
    body: Bytes,
) -> Response {
    if !viewer.may(Role::Admin) {
        return forbidden();
    }
    let silence = form_silence(&form_fields(&body));
    let checked = match silence.check(false, &state.accounts) {
        Ok(checked) => checked,
        Err(problems) => {
            return preview_page(&state, &viewer, &silence, StatusCode::BAD_REQUEST, problems).await
        }
    };
    match make_silence(&state, &checked, &actor_of(&viewer, "board"), Utc::now()).await {
        Ok(made) => see_other(&format!("/silences#silence-{}", made.id)),
        Err(error) => failed(error),
    }
}

/// `POST /silences/{id}/end`
pub async fn end_silence(
    State(state): State<HttpState>,
    viewer: Viewer,
    path: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Response {
    if !viewer.may(Role::Admin) {
        return forbidden();
    }
    let Ok(Path(id)) = path else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "the silence id must be a whole number",
        );
    };
    match end_silence_as(&state, id, &actor_of(&viewer, "board"), Utc::now()).await {
        Ok(_) => see_other("/silences"),
        Err(error) => failed(error),
    }
}

/// `POST /outbox/{id}/replay` (a `back` field names the page to return to).
pub async fn replay(
    State(state): State<HttpState>,
    viewer: Viewer,
    path: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    body: Bytes,
) -> Response {
    if !viewer.may(Role::Admin) {
        return forbidden();
    }
    let Ok(Path(id)) = path else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "the outbox row id must be a whole number",
        );
    };
    let fields = form_fields(&body);
    let back = crate::http::access::safe_next(fields.get("back").map_or("/events", String::as_str))
        .to_string();
    match replay_as(&state, id, &actor_of(&viewer, "board"), Utc::now()).await {
        Ok(_) => see_other(&back),
        Err(error) => failed(error),
    }
}

/// Every event type, for the form's select.
pub fn event_types() -> Vec<&'static str> {
    EventType::ALL.iter().map(|kind| kind.as_str()).collect()
}
