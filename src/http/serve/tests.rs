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
        .write_all(b"GET /api/v1/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut other, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let text = metrics.encode();
    assert!(
        text.contains(r#"campaign_watcher_http_connections_refused_total{reason="per_client"} 1"#),
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
