use super::*;

fn settings(base_url: &str) -> SigmaMindSettings {
    SigmaMindSettings {
        base_url: base_url.into(),
        ..SigmaMindSettings::default()
    }
}

#[test]
fn base_urls_are_validated() {
    for bad in [
        "",
        "api.sigmamind.ai",
        "ftp://x",
        "mailto:a@b",
        "https://x/?a=1",
    ] {
        let error = SigmaMindClient::new(&settings(bad), Secret::new("k")).unwrap_err();
        assert!(
            matches!(error, FetchError::InvalidBaseUrl { .. }),
            "{bad}: {error}"
        );
    }
    let client = SigmaMindClient::new(&settings("https://host/prefix/"), Secret::new("k")).unwrap();
    assert_eq!(
        client.endpoint(&["v1", "campaigns", "a/b c"]).as_str(),
        "https://host/prefix/v1/campaigns/a%2Fb%20c"
    );
}

#[test]
fn the_key_never_shows() {
    let key = "sk_live_TOPSECRET";
    let client = SigmaMindClient::new(&settings("https://api.example"), Secret::new(key)).unwrap();
    assert!(!format!("{client:?}").contains(key));
    assert_eq!(
        client.excerpt(format!("echo X-API-Key: {key}\n").as_bytes()),
        "echo X-API-Key: <redacted>"
    );
    let error = SigmaMindClient::new(&settings("https://api.example"), Secret::new("bad\nkey"))
        .unwrap_err();
    assert!(!error.to_string().contains("bad\nkey"));
}

#[test]
fn excerpts_are_short_and_clean() {
    let client = SigmaMindClient::new(&settings("https://api.example"), Secret::new("k")).unwrap();
    let long = format!("a\u{7}b\r\n{}", "x".repeat(500));
    let excerpt = client.excerpt(long.as_bytes());
    assert!(excerpt.starts_with("a b x"));
    assert!(excerpt.chars().count() <= EXCERPT_CHARS + 1);
    assert_eq!(client.excerpt(b""), "(empty body)");
}

#[test]
fn retryable_errors() {
    let status = |status| FetchError::HttpStatus {
        status,
        excerpt: String::new(),
    };
    for code in [429, 500, 502, 503, 504] {
        assert!(status(code).is_retryable(), "{code}");
    }
    for code in [400, 404, 409, 501] {
        assert!(!status(code).is_retryable(), "{code}");
    }
    assert!(!FetchError::AuthRejected { status: 401 }.is_retryable());
    assert!(
        FetchError::AuthRejected { status: 403 }
            .to_failure()
            .auth_rejected
    );
    assert!(FetchError::HtmlPage { status: 502 }.is_retryable());
    assert!(!FetchError::HtmlPage { status: 200 }.is_retryable());
}

#[test]
fn html_is_recognised() {
    assert!(starts_like_html(b"  <!DOCTYPE html><html>"));
    assert!(starts_like_html(b"<HTML>"));
    assert!(!starts_like_html(b"{\"a\":1}"));
}

#[test]
fn a_non_json_answer_echoing_a_secret_shows_no_piece_of_it() {
    let key = "APIKEY_SEKRIT_0123";
    let hook_secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let client = SigmaMindClient::new(&settings("https://api.example"), Secret::new(key))
        .unwrap()
        .with_secrets([hook_secret]);
    // The body: the 60-byte cut used to fall inside the key.
    for body in [
        format!("not json; request was GET /v1/campaigns x-api-key={key} via proxy"),
        format!("oops {hook_secret} {key}"),
        format!("{}{key}", "y".repeat(50)),
    ] {
        let error = serde_json::from_slice::<Value>(body.as_bytes()).unwrap_err();
        let detail = client.excerpt_of_parse_error(&error, body.as_bytes());
        for secret in [key, hook_secret] {
            let chars: Vec<char> = secret.chars().collect();
            for piece in chars.windows(crate::outbound::MIN_FRAGMENT_CHARS) {
                let piece: String = piece.iter().collect();
                assert!(!detail.contains(&piece), "{piece} in {detail}");
            }
        }
    }
}

#[tokio::test]
async fn dot_segment_ids_are_not_fetched_as_the_list() {
    // Port 9 (discard) on loopback: nothing may be requested at all.
    let client = SigmaMindClient::new(&settings("http://127.0.0.1:9"), Secret::new("k")).unwrap();
    for id in [".", ".."] {
        let Observation::Failed(failure) = client.observe(id).await else {
            panic!("{id} was not refused");
        };
        assert!(
            failure.reason.contains("cannot be fetched"),
            "{}",
            failure.reason
        );
    }
    assert_eq!(client.requests_sent(), 0);
}
