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
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::commit::Store;
    use crate::config::HttpSettings;
    use crate::http::{router, Access, HttpState, ServiceStatus};
    use crate::metrics::Metrics;

    const GET_HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

    async fn spawn(limits: Limits) -> (std::net::SocketAddr, CancellationToken) {
        spawn_counted(limits).await.0
    }

    async fn spawn_counted(limits: Limits) -> ((std::net::SocketAddr, CancellationToken), Metrics) {
        let metrics = Metrics::new();
        let state = HttpState {
            status: ServiceStatus::new(Duration::from_secs(60), false),
            access: Arc::new(Access::new(&HttpSettings::default(), metrics.clone())),
            metrics,
            store: Store::open("sqlite::memory:").await.unwrap(),
            accounts: Arc::from([crate::event::DEFAULT_ACCOUNT.to_string()]),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        tokio::spawn(serve_connections(
            listener,
            router(state.clone(), crate::http::live::Live::idle(&limits)),
            limits,
            state.metrics.clone(),
            stop.clone(),
        ));
        ((address, stop), state.metrics)
    }

    fn tight() -> Limits {
        Limits {
            connections: 2,
            probe_reserve: 1,
            per_client: 8,
            streams: 1,
            header_read_timeout: Duration::from_millis(300),
            probe_header_read_timeout: Duration::from_millis(300),
        }
    }

    /// Everything the server sends until it closes, or None if it stays open for `within`.
    async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Option<String> {
        let mut received = Vec::new();
        tokio::time::timeout(within, stream.read_to_end(&mut received))
            .await
            .ok()
            .map(|_| String::from_utf8_lossy(&received).into_owned())
    }

    #[test]
    fn the_bounds_follow_the_descriptors_this_process_may_open() {
        // (descriptors, connections, streams)
        let cases = [
            (64, 16, 8),
            (256, 64, 32),
            (640, 256, 128),
            (1024, 256, 128),
            (1 << 20, 256, 128),
        ];
        for (descriptors, connections, streams) in cases {
            let limits = Limits::for_descriptors(descriptors);
            assert_eq!(
                (limits.connections, limits.streams),
                (connections, streams),
                "{descriptors}"
            );
            assert_eq!(limits.probe_reserve, 16);
            assert_eq!(limits.per_client, connections / 2);
        }
        assert_eq!(Limits::default().per_client(Some(3)).per_client, 3);
        assert_eq!(Limits::default().per_client(None).per_client, 32);
        assert_eq!(Limits::default().connections, 64);
        // Raised towards the hard limit: never below what the process had.
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        let limits = Limits::for_this_process();
        let after = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        assert!(after >= soft);
        assert_eq!(
            limits.connections,
            Limits::for_descriptors(after.unwrap_or(4096)).connections
        );
    }

    #[tokio::test]
    async fn half_a_header_is_closed_after_the_header_timeout() {
        let (address, _stop) = spawn(tight()).await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHo")
            .await
            .unwrap();
        assert!(read_to_close(&mut stream, Duration::from_secs(3))
            .await
            .is_some());
    }

    #[tokio::test]
    async fn an_idle_kept_alive_connection_is_closed() {
        let (address, _stop) = spawn(tight()).await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(GET_HEALTHZ).await.unwrap();
        let answer = read_to_close(&mut stream, Duration::from_secs(3))
            .await
            .expect("closed once idle");
        assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    }

    #[tokio::test]
    async fn past_the_bound_probes_get_the_reserve_and_then_the_door() {
        let (address, _stop) = spawn(Limits {
            header_read_timeout: Duration::from_secs(30),
            probe_header_read_timeout: Duration::from_secs(30),
            ..tight()
        })
        .await;
        let mut idle = Vec::new();
        for _ in 0..2 {
            let mut stream = TcpStream::connect(address).await.unwrap();
            stream.write_all(b"GET /he").await.unwrap();
            idle.push(stream);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The reserved connection answers a probe, once, and closes...
        let mut probe = TcpStream::connect(address).await.unwrap();
        probe.write_all(GET_HEALTHZ).await.unwrap();
        let answer = read_to_close(&mut probe, Duration::from_secs(3))
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
        assert!(!answer.contains("every connection is busy"), "{answer}");
        // ...but nothing else.
        let mut other = TcpStream::connect(address).await.unwrap();
        other
            .write_all(b"GET /board HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let answer = read_to_close(&mut other, Duration::from_secs(3))
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        // With the reserve taken too, a new connection is closed at once.
        let mut held = TcpStream::connect(address).await.unwrap();
        held.write_all(b"GET /he").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut refused = TcpStream::connect(address).await.unwrap();
        let _ = refused.write_all(GET_HEALTHZ).await;
        assert_eq!(
            read_to_close(&mut refused, Duration::from_secs(3))
                .await
                .as_deref(),
            Some("")
        );
    }

    async fn connect_from(source: &str, address: std::net::SocketAddr) -> TcpStream {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
        socket.connect(address).await.unwrap()
    }

    #[tokio::test]
    async fn one_client_address_holds_its_share_and_the_others_are_still_served() {
        let ((address, _stop), metrics) = spawn_counted(Limits {
            connections: 8,
            per_client: 2,
            header_read_timeout: Duration::from_secs(30),
            probe_header_read_timeout: Duration::from_secs(30),
            ..tight()
        })
        .await;
        // One client's half-open connections: two are kept...
        let mut hog = Vec::new();
        for _ in 0..2 {
            let mut stream = connect_from("127.0.0.2", address).await;
            stream.write_all(b"GET /he").await.unwrap();
            hog.push(stream);
        }
        // ...its third gets only the probes (connections are taken in order)...
        let mut third = connect_from("127.0.0.2", address).await;
        third
            .write_all(b"GET /api/v1/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let answer = read_to_close(&mut third, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("every connection is busy"), "{answer}");
        // ...while another address is served in full, the API included.
        let mut other = connect_from("127.0.0.3", address).await;
        other
            .write_all(
                b"GET /api/v1/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            )
            .await
            .unwrap();
        let answer = read_to_close(&mut other, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"campaign_watcher_http_connections_refused_total{reason="per_client"} 1"#
            ),
            "{text}"
        );
        // A closed connection frees its place for the board and the API.
        drop(hog.pop());
        let answer = eventually_served(address).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    /// The API's answer to the hog's address, asked again while the server has
    /// not yet seen its earlier connection close (it is then a 503 from the
    /// probe reserve).
    async fn eventually_served(address: std::net::SocketAddr) -> String {
        loop {
            let mut retry = connect_from("127.0.0.2", address).await;
            retry
                .write_all(
                    b"GET /api/v1/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                )
                .await
                .unwrap();
            let answer = read_to_close(&mut retry, Duration::from_secs(5))
                .await
                .unwrap_or_default();
            if answer.starts_with("HTTP/1.1 200") {
                return answer;
            }
            tokio::task::yield_now().await;
        }
    }

    #[test]
    fn streams_have_their_own_bound() {
        let slots = StreamSlots::new(&tight());
        let first = slots.try_open();
        assert!(first.is_some());
        assert!(slots.try_open().is_none());
        drop(first);
        assert!(slots.try_open().is_some());
    }
}
