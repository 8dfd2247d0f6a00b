//! The simulator's routes: the two campaign reads in the API's drifting
//! shapes, and the `/admin` API that changes campaigns and injects faults.

use super::*;

pub(super) fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/campaigns", get(list_campaigns))
        .route("/v1/campaigns/{id}", get(get_campaign))
        .route("/admin/campaigns", get(admin_list).post(admin_insert))
        .route(
            "/admin/campaigns/{id}",
            get(admin_get).patch(admin_patch).delete(admin_delete),
        )
        .route(
            "/admin/faults",
            axum::routing::post(admin_inject).delete(admin_clear_faults),
        )
        .route("/admin/stats", get(admin_stats))
        .fallback(not_found)
        .with_state(state)
}

pub(super) async fn get_campaign(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if let Some(early) = api_prelude(&app, &headers, &uri, Some(&id)).await {
        return early;
    }
    match app.control.raw(&id) {
        Some(campaign) => json_with_faults(&app.control.with_name_fault(campaign)),
        None => spring_error(
            StatusCode::NOT_FOUND,
            &format!("Campaign not found: {id}"),
            uri.path(),
        ),
    }
}

pub(super) async fn list_campaigns(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if let Some(early) = api_prelude(&app, &headers, &uri, None).await {
        return early;
    }
    let number = |key: &str, default: u64| match query.get(key) {
        None => Some(default),
        Some(text) => text.trim().parse::<u64>().ok(),
    };
    let (Some(page), Some(size)) = (number("page", 0), number("size", 10)) else {
        return spring_error(
            StatusCode::BAD_REQUEST,
            "Invalid request parameters",
            uri.path(),
        );
    };
    if size == 0 {
        return spring_error(
            StatusCode::BAD_REQUEST,
            "Invalid request parameters",
            uri.path(),
        );
    }
    let status = query
        .get("status")
        .filter(|_| !app.control.ignores_status_filter())
        .map(|status| status.trim().to_ascii_lowercase());
    // An endless listing answers its first page whatever is asked, and never ends.
    let endless = app.control.endless_listing();
    let page = if endless { 0 } else { page };
    let skip = usize::try_from(page.saturating_mul(size)).unwrap_or(usize::MAX);
    let take = usize::try_from(size).unwrap_or(usize::MAX);
    let (data, total) = app
        .control
        .lock()
        .campaigns
        .page(status.as_deref(), skip, take);
    let total = total as u64;
    let data: Vec<Value> = data
        .into_iter()
        .map(|campaign| app.control.with_name_fault(campaign))
        .collect();
    json_with_faults(&json!({
        "data": data,
        "page": page,
        "size": size,
        "totalCount": total,
        "totalPages": total.div_ceil(size),
        "hasNext": endless || page.saturating_add(1).saturating_mul(size) < total,
        "hasPrevious": page > 0,
    }))
}

/// Counts the request, then applies a fault or the key check; `Some` is the answer to send instead.
pub(super) async fn api_prelude(
    app: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    campaign_id: Option<&str>,
) -> Option<Response> {
    app.control.requests.fetch_add(1, Ordering::Relaxed);
    // Faults come first: they stand for the gateway in front of the API, which answers before auth.
    if let Some(fault) = app.control.take_fault(campaign_id) {
        if let Some(answer) = fault_answer(fault, uri, campaign_id).await {
            return Some(answer);
        }
    }
    let expected = app.api_key.as_deref()?;
    let presented = headers
        .get("x-api-key")
        .and_then(|value| value.to_str().ok());
    if presented == Some(expected) {
        return None;
    }
    let message = if presented.is_none() {
        "Missing API key"
    } else {
        "Invalid API key"
    };
    Some(spring_error(StatusCode::UNAUTHORIZED, message, uri.path()))
}

pub(super) async fn fault_answer(
    fault: FaultKind,
    uri: &Uri,
    campaign_id: Option<&str>,
) -> Option<Response> {
    let answer = match fault {
        FaultKind::Status {
            status,
            retry_after,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut answer = spring_error(status, "Simulated failure", uri.path());
            if let Some(value) = retry_after.and_then(|text| HeaderValue::from_str(&text).ok()) {
                answer.headers_mut().insert(RETRY_AFTER, value);
            }
            answer
        }
        FaultKind::Html => (
            StatusCode::BAD_GATEWAY,
            [(CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\
             <body><h1>502 Bad Gateway</h1><hr><center>nginx</center></body></html>\n",
        )
            .into_response(),
        FaultKind::NotJson => (
            StatusCode::OK,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            "OK campaign=unavailable; try again later\n",
        )
            .into_response(),
        FaultKind::WrongShape => Json(json!({
            "campaignId": campaign_id.unwrap_or("camp_shape_drift"),
            "campaignName": "Shape drift",
            "state": "running",
        }))
        .into_response(),
        FaultKind::Delay { millis } => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            return None;
        }
        FaultKind::Huge => huge_answer(),
        // Never taken: standing faults are applied where answers are written.
        FaultKind::LoneSurrogate
        | FaultKind::InvalidUtf8
        | FaultKind::EndlessListing
        | FaultKind::IgnoreStatusFilter => return None,
    };
    Some(answer)
}

/// Spring Boot's default error body, the only error shape the API documents.
pub(super) fn spring_error(status: StatusCode, message: &str, path: &str) -> Response {
    let body = json!({
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
        "path": path,
        "status": status.as_u16(),
        "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    });
    (status, Json(body)).into_response()
}

pub(super) async fn not_found(uri: Uri) -> Response {
    spring_error(StatusCode::NOT_FOUND, "No such endpoint", uri.path())
}

pub(super) async fn admin_list(State(app): State<AppState>) -> Response {
    Json(app.control.all_raw()).into_response()
}

pub(super) async fn admin_get(
    State(app): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    match app.control.raw(&id) {
        Some(campaign) => Json(campaign).into_response(),
        None => spring_error(StatusCode::NOT_FOUND, "Unknown campaign", uri.path()),
    }
}

pub(super) async fn admin_insert(
    State(app): State<AppState>,
    uri: Uri,
    Json(campaign): Json<Value>,
) -> Response {
    if !campaign.is_object() {
        return spring_error(
            StatusCode::BAD_REQUEST,
            "A campaign must be a JSON object",
            uri.path(),
        );
    }
    let id = campaign
        .get("campaignId")
        .and_then(Value::as_str)
        .map(String::from);
    app.control.insert(campaign);
    let stored = match id {
        Some(id) => app.control.raw(&id),
        None => app.control.all_raw().pop(),
    };
    (StatusCode::CREATED, Json(stored.unwrap_or(Value::Null))).into_response()
}

pub(super) async fn admin_patch(
    State(app): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    Json(fields): Json<Value>,
) -> Response {
    if !fields.is_object() {
        return spring_error(
            StatusCode::BAD_REQUEST,
            "A patch must be a JSON object",
            uri.path(),
        );
    }
    if !app.control.patch(&id, fields) {
        return spring_error(StatusCode::NOT_FOUND, "Unknown campaign", uri.path());
    }
    Json(app.control.raw(&id).unwrap_or(Value::Null)).into_response()
}

pub(super) async fn admin_delete(
    State(app): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    if app.control.remove(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        spring_error(StatusCode::NOT_FOUND, "Unknown campaign", uri.path())
    }
}

pub(super) async fn admin_inject(
    State(app): State<AppState>,
    Json(fault): Json<Fault>,
) -> Response {
    app.control.inject(fault);
    let active = app.control.lock().faults.len();
    Json(json!({ "activeFaults": active })).into_response()
}

pub(super) async fn admin_clear_faults(State(app): State<AppState>) -> Response {
    app.control.clear_faults();
    StatusCode::NO_CONTENT.into_response()
}

pub(super) async fn admin_stats(State(app): State<AppState>) -> Response {
    Json(json!({ "requests": app.control.requests() })).into_response()
}
