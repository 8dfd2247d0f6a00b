use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::guard::GuardedResolver;
use super::*;

fn options() -> ClientOptions {
    ClientOptions::new(Duration::from_secs(5), Duration::from_secs(2))
}

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

#[test]
fn every_spelling_of_a_metadata_or_link_local_host_is_refused() {
    for spelling in [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.0.1:8080/",
        "http://2852039166/",
        "http://0xa9fea9fe/",
        "http://0xA9.0xFE.0xA9.0xFE/",
        "http://0251.0376.0251.0376/",
        "http://169.254.43518/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[64:ff9b::169.254.169.254]/",
        "http://[64:ff9b:1::a9fe:a9fe]/",
        "http://[::ffff:0:a9fe:a9fe]/",
        "http://[::ffff:0:169.254.169.254]/",
        "http://metadata/computeMetadata/v1/",
        "http://METADATA./",
        "http://[fe80::1]/",
        "http://[febf::1]/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.google.internal./",
        "https://metadata.goog/",
    ] {
        let refused = check_destination_text(spelling).expect_err(spelling);
        assert!(!refused.to_string().contains("/latest"), "{refused}");
        assert!(
            refused.to_string().contains("allow_link_local"),
            "{refused}"
        );
    }
}

#[test]
fn loopback_private_and_public_hosts_stay_allowed() {
    for allowed in [
        "http://127.0.0.1:9093/",
        "http://[::1]:8080/",
        "http://localhost/",
        "http://10.0.0.5/",
        "http://172.16.0.1/",
        "http://192.168.1.10/",
        "http://[fd12::1]/",
        "http://[fec0::1]/",
        "https://hooks.slack.com/services/T0/B0/X",
        "http://169.253.255.255/",
        "http://169.255.0.1/",
        "not a url",
    ] {
        assert_eq!(check_destination_text(allowed), Ok(()), "{allowed}");
    }
}

#[test]
fn the_refusal_shows_the_host_only() {
    let refused =
        check_destination_text("http://user:pw@169.254.169.254/SECRET_PATH?token=SECRET_Q")
            .unwrap_err();
    let text = refused.to_string();
    assert!(text.contains("169.254.169.254"), "{text}");
    assert!(!text.contains("SECRET") && !text.contains("pw"), "{text}");
}

#[test]
fn the_builder_refuses_a_blocked_destination_unless_allowed() {
    let target = url("http://169.254.169.254/hook");
    assert!(matches!(
        client_for(&target, options()),
        Err(OutboundError::Blocked(_))
    ));
    assert!(client_for(&target, options().allow_link_local(true)).is_ok());
}

#[test]
fn ipv4_inside_ipv6_is_recognised() {
    assert!(is_blocked_ip("::ffff:169.254.1.1".parse().unwrap()));
    assert!(is_blocked_ip("::169.254.1.1".parse().unwrap()));
    assert!(!is_blocked_ip("::1".parse().unwrap()));
    assert!(!is_blocked_ip("::ffff:127.0.0.1".parse().unwrap()));
}

/// A one-shot HTTP server: answers each connection with `answer` and counts them.
async fn serve(answer: &'static str) -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = vec![0u8; 8192];
            let read = socket.read(&mut buffer).await.unwrap_or(0);
            let _ = sender.send(String::from_utf8_lossy(&buffer[..read]).into_owned());
            let _ = socket.write_all(answer.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    (port, receiver)
}

const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";

#[tokio::test]
async fn a_name_resolving_only_to_link_local_is_refused_before_any_connection() {
    let resolver = GuardedResolver::fixed(vec![(
        "hook.test".into(),
        vec![IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254))],
    )]);
    let target = url("http://hook.test:9/hook");
    let client = build(&target, options(), Some(resolver)).unwrap();

    let error = client.get(target).send().await.unwrap_err();

    let chain = super::error_chain(&error);
    assert!(error.is_connect(), "{chain}");
    assert!(chain.contains("link-local"), "{chain}");
    assert!(chain.contains("hook.test"), "{chain}");
}

#[tokio::test]
async fn link_local_answers_are_dropped_and_the_rest_are_used() {
    let (port, mut requests) = serve(OK).await;
    let resolver = GuardedResolver::fixed(vec![(
        "hook.test".into(),
        vec![
            IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
            "fe80::1".parse().unwrap(),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        ],
    )]);
    let target = url(&format!("http://hook.test:{port}/hook"));
    let client = build(&target, options(), Some(resolver)).unwrap();

    let response = client.get(target).send().await.unwrap();

    assert_eq!(response.status(), 200);
    assert!(requests.recv().await.unwrap().starts_with("GET /hook"));
}

#[tokio::test]
async fn a_metadata_name_is_refused_by_the_resolver_even_if_it_resolves_elsewhere() {
    let resolver = GuardedResolver::fixed(vec![(
        "metadata.google.internal".into(),
        vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
    )]);
    // As if the load-time check had been passed some other way.
    let target = url("http://metadata.google.internal:9/");
    let client = build(&target, options().allow_link_local(true), Some(resolver)).unwrap();

    let error = client.get(target).send().await.unwrap_err();

    assert!(super::error_chain(&error).contains("metadata"));
}

#[tokio::test]
async fn redirects_are_not_followed_and_no_referer_is_sent() {
    let (second_port, mut second) = serve(OK).await;
    let redirect: &'static str = Box::leak(
        format!(
            "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{second_port}/elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
        .into_boxed_str(),
    );
    let (first_port, mut first) = serve(redirect).await;
    let target = url(&format!("http://127.0.0.1:{first_port}/ping/SECRET_TOKEN"));
    let client = client_for(&target, options()).unwrap();

    let response = client.get(target).send().await.unwrap();

    assert_eq!(response.status(), 302);
    let request = first.recv().await.unwrap().to_ascii_lowercase();
    assert!(!request.contains("referer"), "{request}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        second.try_recv().is_err(),
        "the redirect target got a request"
    );
}

#[test]
fn scrubbing_removes_whole_secrets_and_long_pieces_of_them() {
    let scrubber = Scrubber::new(["APIKEY_SEKRIT_1234", "", "ab"]);

    assert_eq!(
        scrubber.scrub("x-api-key=APIKEY_SEKRIT_1234; ok"),
        "x-api-key=<redacted>; ok"
    );
    // The start of a secret, as a cut body leaves it, and a piece from its middle.
    assert_eq!(scrubber.scrub("key=APIKEY_S"), "key=<redacted>");
    assert_eq!(scrubber.scrub("[SEKRIT_12]"), "[<redacted>]");
    // Five characters are not a piece worth hiding; "ab" is too short to scrub.
    assert_eq!(scrubber.scrub("APIKE about"), "APIKE about");
}

#[test]
fn a_cut_after_scrubbing_never_leaves_the_start_of_a_secret() {
    let secret = "APIKEY_SEKRIT_1234";
    let scrubber = Scrubber::new([secret]);
    let body = format!("{{not json x-api-key={secret} and more text after it}}");
    for max in 0..body.len() {
        let (excerpt, _) = scrubber.scrub_and_cut(&body, max);
        for piece in secret.as_bytes().windows(MIN_FRAGMENT_CHARS) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(!excerpt.contains(piece), "{max}: {excerpt}");
        }
    }
    let (whole, was_cut) = scrubber.scrub_and_cut("short", 60);
    assert_eq!((whole.as_str(), was_cut), ("short", false));
}

#[test]
fn secret_urls_are_shown_as_scheme_and_host() {
    assert_eq!(
        shown_url("https://user:pw@hooks.example.com:8443/services/T0/B0/X?token=Y"),
        "https://hooks.example.com:8443/<redacted>"
    );
    assert_eq!(
        shown_url("http://am.example:9093"),
        "http://am.example:9093"
    );
    assert_eq!(
        shown_url("http://am.example:9093/"),
        "http://am.example:9093"
    );
    assert_eq!(
        shown_url("https//hooks.example.com/services/SECRETTOKEN_TYPO"),
        "<redacted>"
    );
    assert_eq!(shown_url("ftp://ping.example/SECRET"), "<redacted>");
}

#[test]
fn the_secret_parts_of_a_url_are_what_follows_the_host() {
    assert_eq!(
        secret_parts_of_url("https://user:pw@hc.example/ping/TOKEN?key=K"),
        ["user", "pw", "/ping/TOKEN", "key=K"]
    );
    assert!(secret_parts_of_url("http://am.example:9093").is_empty());
    assert_eq!(secret_parts_of_url("not a url"), ["not a url"]);
}
