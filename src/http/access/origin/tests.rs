use axum::http::HeaderValue;

use super::*;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

#[test]
fn the_mode_follows_the_listener_and_the_credentials() {
    let table = [
        ("127.0.0.1:9464", false, Mode::Open),
        ("127.0.0.2:9464", false, Mode::Open),
        ("[::1]:9464", false, Mode::Open),
        ("0.0.0.0:9464", false, Mode::Closed),
        ("[::]:9464", false, Mode::Closed),
        ("10.0.0.5:9464", false, Mode::Closed),
        ("localhost:9464", false, Mode::Closed),
        ("127.0.0.1:9464", true, Mode::Protected),
        ("0.0.0.0:9464", true, Mode::Protected),
    ];
    for (listen, credentials, expected) in table {
        assert_eq!(
            mode(listen, credentials),
            expected,
            "{listen} {credentials}"
        );
    }
}

#[test]
fn provenance_is_the_origin_or_the_referer_against_this_listener() {
    let host = ("host", "127.0.0.1:9464");
    type Case<'a> = (&'a [(&'static str, &'a str)], Option<&'a str>, Provenance);
    let table: [Case; 14] = [
        (
            &[host, ("origin", "http://127.0.0.1:9464")],
            None,
            Provenance::Same,
        ),
        (
            &[host, ("origin", "https://127.0.0.1:9464")],
            None,
            Provenance::Same,
        ),
        (
            &[host, ("origin", "HTTP://127.0.0.1:9464")],
            None,
            Provenance::Same,
        ),
        (
            &[host, ("origin", "http://127.0.0.1:9465")],
            None,
            Provenance::Foreign,
        ),
        (
            &[host, ("origin", "https://evil.example")],
            None,
            Provenance::Foreign,
        ),
        (&[host, ("origin", "null")], None, Provenance::Foreign),
        // `null` from our own page under no-referrer: the browser's
        // Sec-Fetch-Site says so; from anywhere else it does not.
        (
            &[host, ("origin", "null"), ("sec-fetch-site", "same-origin")],
            None,
            Provenance::Same,
        ),
        (
            &[host, ("origin", "null"), ("sec-fetch-site", "cross-site")],
            None,
            Provenance::Foreign,
        ),
        (
            &[
                host,
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "same-origin"),
            ],
            None,
            Provenance::Foreign,
        ),
        (
            &[host, ("referer", "http://127.0.0.1:9464/campaigns?x=1")],
            None,
            Provenance::Same,
        ),
        (
            &[host, ("referer", "https://evil.example/127.0.0.1:9464")],
            None,
            Provenance::Foreign,
        ),
        (&[host], None, Provenance::Unstated),
        (
            &[host, ("origin", "https://watcher.example.com")],
            Some("https://watcher.example.com"),
            Provenance::Same,
        ),
        (
            &[
                ("host", "watcher.example.com"),
                ("origin", "http://watcher.example.com"),
            ],
            Some("https://watcher.example.com"),
            Provenance::Foreign,
        ),
    ];
    for (pairs, external, expected) in table {
        assert_eq!(
            provenance(&headers(pairs), external),
            expected,
            "{pairs:?} {external:?}"
        );
    }
}

#[test]
fn only_loopback_names_and_the_external_host_are_local() {
    let table = [
        ("127.0.0.1:9464", None, true),
        ("localhost:9464", None, true),
        ("board.localhost", None, true),
        ("[::1]:9464", None, true),
        ("127.9.9.9", None, true),
        ("rebind.evil.example:9464", None, false),
        ("10.0.0.5:9464", None, false),
        ("[::2]:9464", None, false),
        ("localhost.evil.example", None, false),
        (
            "watcher.example.com",
            Some("https://watcher.example.com"),
            true,
        ),
        (
            "other.example.com",
            Some("https://watcher.example.com"),
            false,
        ),
    ];
    for (host, external, expected) in table {
        assert_eq!(
            host_is_local(&headers(&[("host", host)]), external),
            expected,
            "{host}"
        );
    }
    assert!(!host_is_local(&HeaderMap::new(), None));
}

#[test]
fn cookies_are_found_by_exact_name() {
    let map = headers(&[
        ("cookie", "a=1; cw_session=abc; cw_session_x=no"),
        ("cookie", "b=2"),
    ]);
    assert_eq!(cookie(&map, "cw_session"), Some("abc"));
    assert_eq!(cookie(&map, "b"), Some("2"));
    assert_eq!(cookie(&map, "cw"), None);
}

#[test]
fn the_next_page_stays_on_this_site() {
    let table = [
        ("/", "/"),
        ("/campaigns?status=paused", "/campaigns?status=paused"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("", "/"),
        ("/login?next=/x", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
    ];
    for (next, expected) in table {
        assert_eq!(safe_next(next), expected, "{next:?}");
    }
}

#[test]
fn cookies_are_http_only_strict_and_secure_over_tls() {
    assert_eq!(
        set_cookie("cw_session", "v", false, 60),
        "cw_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
    );
    assert!(set_cookie("cw_session", "v", true, 60).ends_with("; Secure"));
}

#[test]
fn browsers_are_told_from_scripts() {
    assert!(from_a_browser(&headers(&[("origin", "http://x")])));
    assert!(from_a_browser(&headers(&[(
        "sec-fetch-site",
        "same-origin"
    )])));
    assert!(from_a_browser(&headers(&[("cookie", "a=b")])));
    assert!(!from_a_browser(&headers(&[("user-agent", "curl/8")])));
    assert!(changes_state(&Method::DELETE) && !changes_state(&Method::GET));
}
