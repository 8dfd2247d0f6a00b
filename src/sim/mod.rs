//! A simulated SigmaMind API (axum), for `simulate`, `demo`, tests and benchmarks.
//!
//! It serves the two campaign reads the watcher uses, in the API's drifting
//! shapes, plus an unauthenticated `/admin` API (and [`SimControl`] in-process)
//! to change campaigns and inject faults: error statuses, HTML and non-JSON
//! answers, wrong shapes, delays and oversized bodies, undecodable names and
//! listings that never end.

pub mod campaigns;
mod demo;

pub use demo::{demo_campaigns, run_demo_script};

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long `stop` lets in-flight answers (a long `Delay` fault, say) finish before aborting.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Size of the `Huge` fault's body: well past any sane `max_response_bytes`.
const HUGE_BODY_BYTES: usize = 10 * 1024 * 1024;
const HUGE_CHUNK_BYTES: usize = 64 * 1024;

/// No `Debug`: it would print the key.
#[derive(Clone, Default)]
pub struct SimOptions {
    /// Campaigns generated at start (see [`campaigns::generate`]).
    pub campaigns: usize,
    /// When set, API requests must carry this `X-API-Key`.
    pub api_key: Option<String>,
}

/// A fault to inject into API answers. JSON form: `{"kind":"status","status":503,"retry_after":"2","times":1}`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Fault {
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many answers it affects; `None` = until cleared.
    #[serde(default)]
    pub times: Option<u32>,
    /// Only GETs of this campaign id; `None` = every API request.
    #[serde(default)]
    pub campaign: Option<String>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// A Spring-style error answer with this status (and `Retry-After` when given).
    Status {
        status: u16,
        #[serde(default)]
        retry_after: Option<String>,
    },
    /// 502 with an HTML error page, as a gateway would send.
    Html,
    /// 200 with `text/plain` garbage.
    NotJson,
    /// 200 JSON lacking `campaignStatus` (and, for lists, lacking `data`).
    WrongShape,
    /// Wait this long, then answer normally.
    Delay { millis: u64 },
    /// 200 with a ~10 MiB streamed body.
    Huge,
    /// The campaign's name is sent as `"lone \ud800 surrogate"` (a lone UTF-16
    /// surrogate escape), in its GET and in listings, until cleared.
    LoneSurrogate,
    /// The campaign's name is sent with bytes that are not UTF-8 (0xFF 0xFE), in
    /// its GET and in listings, until cleared.
    InvalidUtf8,
    /// Listings ignore `page` and answer the first page with `hasNext: true`,
    /// for ever, until cleared.
    EndlessListing,
}

impl FaultKind {
    /// Standing faults change how answers are written rather than answering
    /// instead of them; they are never used up (`times` does not apply).
    fn is_standing(&self) -> bool {
        matches!(
            self,
            Self::LoneSurrogate | Self::InvalidUtf8 | Self::EndlessListing
        )
    }
}

/// Stands in for a campaign name until the answer is serialised, then is
/// replaced by bytes `serde_json` would never write.
const LONE_SURROGATE_MARK: &str = "sim-mark:lone-surrogate";
const INVALID_UTF8_MARK: &str = "sim-mark:invalid-utf8";

struct ActiveFault {
    fault: Fault,
    remaining: Option<u32>,
}

/// Campaigns in creation order plus an id index, so lookups and pages never scan or clone everything.
#[derive(Default)]
struct CampaignStore {
    ordered: Vec<Value>,
    position_by_id: HashMap<String, usize>,
    /// Positions per lower-cased status, built on the first filtered list after a change;
    /// without it every filtered page would rescan all campaigns.
    positions_by_status: Option<HashMap<String, Vec<usize>>>,
}

impl CampaignStore {
    fn get(&self, id: &str) -> Option<&Value> {
        self.ordered.get(*self.position_by_id.get(id)?)
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut Map<String, Value>> {
        let at = *self.position_by_id.get(id)?;
        self.positions_by_status = None;
        self.ordered.get_mut(at)?.as_object_mut()
    }

    fn upsert(&mut self, id: String, campaign: Value) {
        self.positions_by_status = None;
        match self.position_by_id.get(&id) {
            Some(&at) if at < self.ordered.len() => self.ordered[at] = campaign,
            _ => {
                self.position_by_id.insert(id, self.ordered.len());
                self.ordered.push(campaign);
            }
        }
    }

    fn remove(&mut self, id: &str) -> bool {
        let Some(at) = self.position_by_id.remove(id) else {
            return false;
        };
        self.positions_by_status = None;
        if at >= self.ordered.len() {
            return false;
        }
        self.ordered.remove(at);
        for (offset, campaign) in self.ordered[at..].iter().enumerate() {
            if let Some(moved) = campaign.get("campaignId").and_then(Value::as_str) {
                self.position_by_id.insert(moved.to_string(), at + offset);
            }
        }
        true
    }

    /// One page of campaigns in `status` (any status when `None`), and how many there are in all.
    fn page(&mut self, status: Option<&str>, skip: usize, take: usize) -> (Vec<Value>, usize) {
        let Some(status) = status else {
            let window = self.ordered.iter().skip(skip).take(take).cloned().collect();
            return (window, self.ordered.len());
        };
        let ordered = &self.ordered;
        let by_status = self.positions_by_status.get_or_insert_with(|| {
            let mut by_status: HashMap<String, Vec<usize>> = HashMap::new();
            for (at, campaign) in ordered.iter().enumerate() {
                if let Some(status) = campaign.get("campaignStatus").and_then(Value::as_str) {
                    by_status
                        .entry(status.to_ascii_lowercase())
                        .or_default()
                        .push(at);
                }
            }
            by_status
        });
        let positions = by_status.get(status).map(Vec::as_slice).unwrap_or_default();
        let window = positions
            .iter()
            .skip(skip)
            .take(take)
            .filter_map(|&at| ordered.get(at).cloned())
            .collect();
        (window, positions.len())
    }
}

#[derive(Default)]
struct SimState {
    campaigns: CampaignStore,
    faults: Vec<ActiveFault>,
    inserted_without_id: u64,
}

/// In-process handle on the simulator's data and faults; clones share the same server.
#[derive(Clone, Default)]
pub struct SimControl {
    state: Arc<Mutex<SimState>>,
    requests: Arc<AtomicU64>,
}

impl SimControl {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        // A panic in another handler cannot leave the JSON half-written, so keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Campaign ids in creation order.
    pub fn ids(&self) -> Vec<String> {
        self.lock()
            .campaigns
            .ordered
            .iter()
            .filter_map(|campaign| campaign.get("campaignId").and_then(Value::as_str))
            .map(String::from)
            .collect()
    }

    /// One campaign exactly as the API would send it.
    pub fn raw(&self, id: &str) -> Option<Value> {
        self.lock().campaigns.get(id).cloned()
    }

    /// Every campaign exactly as the API would send it, in creation order.
    pub fn all_raw(&self) -> Vec<Value> {
        self.lock().campaigns.ordered.clone()
    }

    pub fn set_status(&self, id: &str, status: &str) -> bool {
        self.patch(id, json!({ "campaignStatus": status }))
    }

    pub fn set_errors(&self, id: &str, errors: Vec<String>) -> bool {
        self.patch(id, json!({ "errors": errors }))
    }

    /// Shallow-merges raw API fields; `campaignId` is kept, since the id is the campaign's identity.
    pub fn patch(&self, id: &str, fields: Value) -> bool {
        let Value::Object(fields) = fields else {
            return false;
        };
        let mut state = self.lock();
        let Some(campaign) = state.campaigns.get_mut(id) else {
            return false;
        };
        for (key, value) in fields {
            if key != "campaignId" {
                campaign.insert(key, value);
            }
        }
        true
    }

    /// Adds a raw API-shaped campaign, replacing one with the same id; one without an id gets one.
    pub fn insert(&self, campaign: Value) {
        let mut state = self.lock();
        let mut campaign = match campaign {
            Value::Object(fields) => fields,
            other => {
                tracing::warn!(kind = ?other, "simulator ignored a campaign that is not a JSON object");
                return;
            }
        };
        let id = match campaign.get("campaignId").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => {
                state.inserted_without_id += 1;
                let id = format!("camp_sim{:08}", state.inserted_without_id);
                campaign.insert("campaignId".into(), json!(id));
                id
            }
        };
        state.campaigns.upsert(id, Value::Object(campaign));
    }

    /// Afterwards a GET of the id answers 404 and the list omits it.
    pub fn remove(&self, id: &str) -> bool {
        self.lock().campaigns.remove(id)
    }

    pub fn inject(&self, fault: Fault) {
        let remaining = fault.times;
        if remaining == Some(0) {
            return;
        }
        self.lock().faults.push(ActiveFault { fault, remaining });
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// API requests served (admin calls not counted).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Consumes one use of the first fault that applies to this request.
    fn take_fault(&self, campaign_id: Option<&str>) -> Option<FaultKind> {
        let mut state = self.lock();
        let at = state.faults.iter().position(|active| {
            !active.fault.kind.is_standing()
                && match &active.fault.campaign {
                    None => true,
                    Some(target) => campaign_id == Some(target.as_str()),
                }
        })?;
        let kind = state.faults[at].fault.kind.clone();
        if let Some(remaining) = &mut state.faults[at].remaining {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                state.faults.remove(at);
            }
        }
        Some(kind)
    }
}

impl SimControl {
    /// The standing name fault on this campaign, if any.
    fn name_fault(&self, campaign_id: &str) -> Option<&'static str> {
        self.lock().faults.iter().find_map(|active| {
            let applies = active
                .fault
                .campaign
                .as_deref()
                .map_or(true, |target| target == campaign_id);
            match active.fault.kind {
                FaultKind::LoneSurrogate if applies => Some(LONE_SURROGATE_MARK),
                FaultKind::InvalidUtf8 if applies => Some(INVALID_UTF8_MARK),
                _ => None,
            }
        })
    }

    fn endless_listing(&self) -> bool {
        self.lock()
            .faults
            .iter()
            .any(|active| matches!(active.fault.kind, FaultKind::EndlessListing))
    }

    /// `campaign` with its name marked for a standing name fault, if one applies.
    fn with_name_fault(&self, mut campaign: Value) -> Value {
        let id = campaign
            .get("campaignId")
            .and_then(Value::as_str)
            .map(String::from);
        if let (Some(mark), Some(fields)) = (
            id.and_then(|id| self.name_fault(&id)),
            campaign.as_object_mut(),
        ) {
            fields.insert("campaignName".into(), Value::String(mark.into()));
        }
        campaign
    }
}

/// `value` as a JSON answer, with the name-fault marks replaced by what they stand for.
fn json_with_faults(value: &Value) -> Response {
    let text = value.to_string();
    let mut body = text.into_bytes();
    for (mark, raw) in [
        (LONE_SURROGATE_MARK, &br#"lone \ud800 surrogate"#[..]),
        (INVALID_UTF8_MARK, &b"bad \xff\xfe bytes"[..]),
    ] {
        body = replace_bytes(&body, mark.as_bytes(), raw);
    }
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response()
}

fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut at = 0;
    while at < haystack.len() {
        if haystack[at..].starts_with(needle) {
            out.extend_from_slice(with);
            at += needle.len();
        } else {
            out.push(haystack[at]);
            at += 1;
        }
    }
    out
}

/// A running simulator; stops on [`SimServer::stop`] or when dropped.
pub struct SimServer {
    pub addr: SocketAddr,
    pub control: SimControl,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimServer {
    /// `http://127.0.0.1:PORT` (a wildcard listen address is reached via loopback).
    pub fn base_url(&self) -> String {
        let host = if self.addr.ip().is_unspecified() {
            match self.addr {
                SocketAddr::V4(_) => "127.0.0.1".to_string(),
                SocketAddr::V6(_) => "[::1]".to_string(),
            }
        } else {
            match self.addr {
                SocketAddr::V4(v4) => v4.ip().to_string(),
                SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
            }
        };
        format!("http://{host}:{}", self.addr.port())
    }

    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

#[derive(Clone)]
struct AppState {
    control: SimControl,
    api_key: Option<Arc<str>>,
}

/// Binds `listen` (port 0 allowed) and serves in a spawned task until `stop()` or drop.
pub async fn start(listen: SocketAddr, options: SimOptions) -> std::io::Result<SimServer> {
    let control = SimControl::default();
    {
        let mut state = control.lock();
        for campaign in campaigns::generate(options.campaigns) {
            if let Some(id) = campaign.get("campaignId").and_then(Value::as_str) {
                let id = id.to_string();
                state.campaigns.upsert(id, campaign);
            }
        }
    }
    let app = router(AppState {
        control: control.clone(),
        api_key: options.api_key.map(Arc::from),
    });
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (shutdown, shutdown_requested) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = shutdown_requested.await;
            })
            .await;
        if let Err(error) = served {
            tracing::warn!(%error, "simulated SigmaMind API stopped with an error");
        }
    });
    Ok(SimServer {
        addr,
        control,
        shutdown: Some(shutdown),
        task: Some(task),
    })
}

fn router(state: AppState) -> Router {
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

async fn get_campaign(
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

async fn list_campaigns(
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
async fn api_prelude(
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

async fn fault_answer(fault: FaultKind, uri: &Uri, campaign_id: Option<&str>) -> Option<Response> {
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
        FaultKind::LoneSurrogate | FaultKind::InvalidUtf8 | FaultKind::EndlessListing => {
            return None
        }
    };
    Some(answer)
}

/// Streamed without a Content-Length, so a client must enforce its cap while reading.
fn huge_answer() -> Response {
    let chunks = HUGE_BODY_BYTES / HUGE_CHUNK_BYTES;
    let opening = std::iter::once(Bytes::from_static(
        b"{\"campaignId\":\"camp_huge\",\"padding\":\"",
    ));
    let padding = (0..chunks).map(|_| Bytes::from(vec![b'x'; HUGE_CHUNK_BYTES]));
    let closing = std::iter::once(Bytes::from_static(b"\",\"campaignStatus\":\"live\"}"));
    let body = futures::stream::iter(
        opening
            .chain(padding)
            .chain(closing)
            .map(Ok::<_, Infallible>),
    );
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

/// Spring Boot's default error body, the only error shape the API documents.
fn spring_error(status: StatusCode, message: &str, path: &str) -> Response {
    let body = json!({
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
        "path": path,
        "status": status.as_u16(),
        "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    });
    (status, Json(body)).into_response()
}

async fn not_found(uri: Uri) -> Response {
    spring_error(StatusCode::NOT_FOUND, "No such endpoint", uri.path())
}

async fn admin_list(State(app): State<AppState>) -> Response {
    Json(app.control.all_raw()).into_response()
}

async fn admin_get(State(app): State<AppState>, Path(id): Path<String>, uri: Uri) -> Response {
    match app.control.raw(&id) {
        Some(campaign) => Json(campaign).into_response(),
        None => spring_error(StatusCode::NOT_FOUND, "Unknown campaign", uri.path()),
    }
}

async fn admin_insert(
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

async fn admin_patch(
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

async fn admin_delete(State(app): State<AppState>, Path(id): Path<String>, uri: Uri) -> Response {
    if app.control.remove(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        spring_error(StatusCode::NOT_FOUND, "Unknown campaign", uri.path())
    }
}

async fn admin_inject(State(app): State<AppState>, Json(fault): Json<Fault>) -> Response {
    app.control.inject(fault);
    let active = app.control.lock().faults.len();
    Json(json!({ "activeFaults": active })).into_response()
}

async fn admin_clear_faults(State(app): State<AppState>) -> Response {
    app.control.clear_faults();
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_stats(State(app): State<AppState>) -> Response {
    Json(json!({ "requests": app.control.requests() })).into_response()
}

#[cfg(test)]
mod tests;
