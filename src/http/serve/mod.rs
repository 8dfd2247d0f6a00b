//! The listener: idle or slow clients cannot starve the
//! probes, nor take the file descriptors deliveries need.
//!
//! - A client must send its request head within [`Limits::header_read_timeout`],
//!   and the next one on a kept-alive connection within the same time (hyper's
//!   header timer also runs while a connection waits idle between requests).
//! - At most [`Limits::connections`] connections are served at once. Past them,
//!   [`Limits::probe_reserve`] more are kept for the probes: such a connection
//!   answers `/healthz`, `/readyz` and `/metrics` only, once, with a shorter
//!   header timeout, then closes. Past both, a new connection is closed at once,
//!   so the descriptors stay bounded whatever the peers do.
//! - One client address holds at most [`Limits::per_client`] connections
//!   (`http.max_connections_per_client`) of the board and the API: past it,
//!   its new connection gets only the probe reserve (or is closed when that is
//!   taken), so one client's sockets cannot take the board and the API from
//!   everyone else. Each such connection is counted in `/metrics`.
//! - A request is answered within [`REQUEST_TIMEOUT`] or gets a 503.
//!
//! Long-lived streams (server-sent events, which a later board adds) are the
//! exception to the request timeout: their routes go after the timeout's
//! `route_layer` in [`super::router`], and each open stream holds a
//! [`StreamSlots`] permit, their own bound, so streams never take every connection.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower_layer::Layer as _;

/// The paths a reserved connection may ask for.
const PROBE_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];
/// After a failed accept (EMFILE: out of descriptors), wait this long before
/// the next, rather than spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Time to answer a request (streams excepted).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections get to finish at shutdown.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The listener's bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once, for any path.
    pub connections: usize,
    /// Connections past `connections` kept for one probe each.
    pub probe_reserve: usize,
    /// Connections one client address may hold at once, whatever they ask for.
    pub per_client: usize,
    /// Open long-lived streams (server-sent events), each also a connection.
    pub streams: usize,
    /// Time to send a request head, and between requests on a kept-alive connection.
    pub header_read_timeout: Duration,
    /// The same for a reserved (probe) connection.
    pub probe_header_read_timeout: Duration,
}

impl Default for Limits {
    /// The bounds under a 256-descriptor limit.
    fn default() -> Self {
        Self::for_descriptors(256)
    }
}

/// Descriptors kept for the store, the deliveries and the API client.
const DESCRIPTORS_KEPT: u64 = 128;
/// The most connections served at once, however many descriptors there are.
const MOST_CONNECTIONS: u64 = 256;
/// Raise the soft descriptor limit to the hard one, up to this (as Go's
/// runtime does): a board left open in many tabs needs more than 256.
const WANTED_DESCRIPTORS: u64 = 4096;

impl Limits {
    /// Bounds for a process that may open `descriptors` files: half of what
    /// the store and the deliveries leave (at least 16, at most 256
    /// connections), half of the connections for streams, 16 more for probes.
    /// 256 descriptors give 64 connections and 32 streams; 1,024 or more give
    /// 256 and 128.
    pub fn for_descriptors(descriptors: u64) -> Self {
        let connections =
            (descriptors.saturating_sub(DESCRIPTORS_KEPT) / 2).clamp(16, MOST_CONNECTIONS);
        let connections = usize::try_from(connections).unwrap_or(16);
        Self {
            connections,
            probe_reserve: 16,
            // Half the bound: one address (a script opening a client per
            // request leaves each connection idle for the header timeout)
            // never takes more, and the other half stays for everyone else.
            per_client: connections / 2,
            streams: connections / 2,
            header_read_timeout: Duration::from_secs(10),
            probe_header_read_timeout: Duration::from_secs(2),
        }
    }

    /// These bounds with `configured` connections per client address, when set.
    pub fn per_client(mut self, configured: Option<usize>) -> Self {
        if let Some(count) = configured {
            self.per_client = count.max(1);
        }
        self
    }

    /// Bounds for this process, after raising its soft descriptor limit
    /// towards the hard one. A limit that cannot be read counts as 256.
    pub fn for_this_process() -> Self {
        use rustix::process::{getrlimit, setrlimit, Resource};
        let mut limit = getrlimit(Resource::Nofile);
        let hard = limit.maximum.unwrap_or(WANTED_DESCRIPTORS);
        let wanted = hard.min(WANTED_DESCRIPTORS);
        if limit.current.is_some_and(|soft| soft < wanted) {
            let raised = rustix::process::Rlimit {
                current: Some(wanted),
                maximum: limit.maximum,
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                limit = getrlimit(Resource::Nofile);
            }
        }
        Self::for_descriptors(limit.current.unwrap_or(WANTED_DESCRIPTORS))
    }
}

/// The bound on open long-lived streams. A stream handler takes a permit with
/// [`StreamSlots::try_open`] (a 503 when there is none) and keeps it inside its
/// response body, so the slot frees when the client goes away.
#[derive(Clone)]
pub struct StreamSlots(Arc<Semaphore>);

impl StreamSlots {
    pub fn new(limits: &Limits) -> Self {
        Self(Arc::new(Semaphore::new(limits.streams)))
    }

    /// A slot for one more stream, or `None` when all are taken.
    pub fn try_open(&self) -> Option<OwnedSemaphorePermit> {
        self.0.clone().try_acquire_owned().ok()
    }
}

/// Which pool a connection was admitted from; dropping it frees the place.
enum Admission {
    Served(#[allow(dead_code)] OwnedSemaphorePermit),
    ProbeOnly(#[allow(dead_code)] OwnedSemaphorePermit),
}

/// Open connections per client address.
#[derive(Clone, Default)]
struct PerClient(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One client's open connection; dropping it frees its place.
struct ClientSlot {
    table: PerClient,
    client: IpAddr,
}

impl PerClient {
    /// A place for one more connection of `client`, or `None` when it holds `most`.
    fn try_take(&self, client: IpAddr, most: usize) -> Option<ClientSlot> {
        let mut table = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let open = table.entry(client).or_default();
        if *open >= most {
            return None;
        }
        *open += 1;
        Some(ClientSlot {
            table: self.clone(),
            client,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut table = self.table.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(open) = table.get_mut(&self.client) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                table.remove(&self.client);
            }
        }
    }
}

/// The address a peer is counted as: an IPv4-mapped IPv6 peer is its IPv4 one.
fn client_address(peer: SocketAddr) -> IpAddr {
    match peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Accept and serve until `stop` is cancelled; open connections then get
/// [`CLOSE_GRACE`] to finish.
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: crate::metrics::Metrics,
    stop: CancellationToken,
) {
    let per_client = PerClient::default();
    let served = Arc::new(Semaphore::new(limits.connections));
    let reserved = Arc::new(Semaphore::new(limits.probe_reserve));
    let probes = router.clone().layer(axum::middleware::from_fn(probes_only));
    let full = router;
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "http: cannot accept a connection; retrying shortly");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // A client past its share may still reach the probe reserve (a probe
        // from the same address as the hog still answers), never a slot of
        // the board and the API.
        let slot = per_client.try_take(client_address(peer), limits.per_client);
        if slot.is_none() {
            tracing::debug!(client = %peer.ip(), "http: this client holds http.max_connections_per_client connections; its new one may only ask a probe");
            metrics.record_connection_refused("per_client");
        }
        let served_permit = match slot {
            Some(_) => served.clone().try_acquire_owned().ok(),
            None => None,
        };
        let admission = if let Some(permit) = served_permit {
            Admission::Served(permit)
        } else if let Ok(permit) = reserved.clone().try_acquire_owned() {
            Admission::ProbeOnly(permit)
        } else {
            // Closing at once keeps the descriptor count bounded; the peer may retry.
            tracing::debug!("http: every connection slot is taken; closing a new connection");
            if slot.is_some() {
                metrics.record_connection_refused("full");
            }
            drop(stream);
            continue;
        };
        let (router, keep_alive, header_timeout) = match admission {
            Admission::Served(_) => (full.clone(), true, limits.header_read_timeout),
            Admission::ProbeOnly(_) => (probes.clone(), false, limits.probe_header_read_timeout),
        };
        let stop = stop.clone();
        tokio::spawn(async move {
            serve_one(stream, peer, router, keep_alive, header_timeout, stop).await;
            drop(admission);
            drop(slot);
        });
    }
}

async fn serve_one(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    keep_alive: bool,
    header_timeout: Duration,
    stop: CancellationToken,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(keep_alive);
    // Each request learns its peer (`ConnectInfo`): login failures are counted per address.
    let service = Extension(ConnectInfo(peer)).layer(router);
    let connection =
        builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                // Header timeouts and peers that hang up land here: not worth a warning.
                tracing::debug!(%error, "http: connection ended");
            }
        }
        () = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(CLOSE_GRACE, connection).await;
        }
    }
}

/// [`REQUEST_TIMEOUT`] as middleware, for `route_layer`.
pub async fn answer_within(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the request took too long to answer\n",
        )
            .into_response(),
    }
}

async fn probes_only(request: Request, next: Next) -> Response {
    if PROBE_PATHS.contains(&request.uri().path()) {
        next.run(request).await
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "every connection is busy; only /healthz, /readyz and /metrics are answered now\n",
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests;
