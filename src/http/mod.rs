//! The daemon's own HTTP endpoints on `[http] listen`: `/healthz` (the scheduler
//! is alive), `/readyz` (a cycle has read the API, the store answers, the API is
//! not declared unhealthy) and `/metrics` (Prometheus / OpenMetrics text);
//! `/login`, `/logout` and `/api/v1/whoami`, and the access guard the board and
//! the API sit behind (`access`).

pub mod access;
pub mod api;
mod board;
mod health;
pub mod live;
pub mod probe;
mod serve;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::commit::Store;
use crate::metrics::Metrics;
pub use access::{Access, Admin, Forbidden, Viewer};
pub use health::{liveness, readiness, ServiceStatus, StatusRecord, Verdict, LIVENESS_PERIODS};
pub use serve::{Limits, StreamSlots, REQUEST_TIMEOUT};

/// A probe or scrape never waits longer than this for the state store.
const STORE_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("http.listen: cannot listen on {listen}: {reason}; pick a free address or stop what holds it")]
    Bind { listen: String, reason: String },
}

/// What the handlers read.
#[derive(Clone)]
pub struct HttpState {
    pub status: ServiceStatus,
    pub metrics: Metrics,
    /// The store as the `default` account sees it; [`HttpState::account_store`]
    /// gives each account's view.
    pub store: Store,
    /// The configured accounts' names, as at start.
    pub accounts: Arc<[String]>,
    /// Who may use the guarded routes (`[http]` users and tokens).
    pub access: Arc<Access>,
}

/// An account name the watcher does not have.
#[derive(Debug, thiserror::Error)]
#[error("account \"{shown}\" is not known: this watcher has {known}")]
pub struct UnknownAccount {
    shown: String,
    known: String,
}

impl HttpState {
    /// `account`'s view of the store, or the sentence naming the accounts there are.
    pub fn account_store(&self, account: &str) -> Result<Store, UnknownAccount> {
        if self.accounts.iter().any(|known| known == account) {
            Ok(self.store.for_account(account))
        } else {
            Err(UnknownAccount {
                shown: crate::text::cap(account, 64).to_string(),
                known: self.accounts.join(", "),
            })
        }
    }
}

impl FromRef<HttpState> for Arc<Access> {
    fn from_ref(state: &HttpState) -> Self {
        state.access.clone()
    }
}

/// Bind before anything else starts, so a taken port stops startup with exit 2.
pub async fn bind(listen: &str) -> Result<TcpListener, HttpError> {
    TcpListener::bind(listen)
        .await
        .map_err(|error| HttpError::Bind {
            listen: listen.to_string(),
            reason: error.to_string(),
        })
}

/// Every route of the listener. The board, the API and the board's live
/// stream sit behind the access guard; the probes and the login page do not.
pub fn router(state: HttpState, live: live::Live) -> Router {
    let access = state.access.clone();
    let streams = access::guard(
        Router::new()
            .route("/board/live", get(live::stream))
            .with_state(live),
        &access,
    );
    let board = access::guard(
        Router::new()
            .nest(api::BASE, api::routes())
            .merge(board::routes()),
        &access,
    );
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .merge(access::routes(access.clone()))
        .merge(board)
        .route_layer(axum::middleware::from_fn(serve::answer_within))
        .with_state(state)
        // Long-lived streams (server-sent events) are routed here, after the
        // request timeout, each holding a `StreamSlots` permit.
        .merge(streams)
        // Every answer, 404s included, carries the browser-safety headers.
        .layer(axum::middleware::map_response(access::browser_safety))
}

/// Serve until `stop` is cancelled, within [`Limits::for_this_process`].
pub fn serve(listener: TcpListener, state: HttpState, stop: CancellationToken) -> JoinHandle<()> {
    let limits = Limits::for_this_process().per_client(state.access.connections_per_client());
    serve_within(listener, state, limits, stop)
}

/// [`serve`] within `limits`.
pub fn serve_within(
    listener: TcpListener,
    state: HttpState,
    limits: Limits,
    stop: CancellationToken,
) -> JoinHandle<()> {
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(listen = %address, "http listening on {address} (/healthz /readyz /metrics, the board at / and the API at /api/v1)");
    let live = live::Live::start(state.store.clone(), &limits, stop.clone());
    let metrics = state.metrics.clone();
    tokio::spawn(serve::serve_connections(
        listener,
        router(state, live),
        limits,
        metrics,
        stop,
    ))
}

/// The address a listener ended up on (port 0 picks one).
pub fn local_addr(listener: &TcpListener) -> Option<SocketAddr> {
    listener.local_addr().ok()
}

fn verdict_response(verdict: health::Verdict) -> Response {
    match verdict {
        Verdict::Ok(text) => (StatusCode::OK, text + "\n").into_response(),
        Verdict::Failing(text) => (StatusCode::SERVICE_UNAVAILABLE, text + "\n").into_response(),
    }
}

async fn healthz(State(state): State<HttpState>) -> Response {
    verdict_response(state.status.liveness())
}

async fn readyz(State(state): State<HttpState>) -> Response {
    let reachable = matches!(
        tokio::time::timeout(STORE_PROBE_TIMEOUT, state.store.ping()).await,
        Ok(Ok(()))
    );
    state.status.set_store_reachable(reachable);
    verdict_response(state.status.readiness())
}

async fn metrics_text(State(state): State<HttpState>) -> Response {
    // The outbox is counted at scrape time: it changes from several places, and
    // a GROUP BY over an indexed column is cheap at scrape intervals.
    match tokio::time::timeout(STORE_PROBE_TIMEOUT, state.store.outbox_counts()).await {
        Ok(Ok(counts)) => state.metrics.set_outbox(counts.pending, counts.dead),
        Ok(Err(error)) => tracing::warn!(%error, "metrics: cannot count the outbox"),
        Err(_) => tracing::warn!("metrics: counting the outbox timed out"),
    }
    let now = chrono::Utc::now();
    match tokio::time::timeout(STORE_PROBE_TIMEOUT, state.store.scrape_counts(now)).await {
        Ok(Ok((silences, held))) => state.metrics.set_scraped(silences, held),
        Ok(Err(error)) => {
            tracing::warn!(%error, "metrics: cannot count silences and held deliveries")
        }
        Err(_) => tracing::warn!("metrics: counting silences and held deliveries timed out"),
    }
    (
        [(header::CONTENT_TYPE, OPENMETRICS)],
        state.metrics.encode(),
    )
        .into_response()
}
