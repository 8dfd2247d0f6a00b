use std::time::{Duration, Instant};

use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::deliver::channel::{ChannelConfig, TextSettings};
use crate::deliver::email::EmailSettings;
use crate::setting::secret::Secret;

const SECRET: &str = "cl1ent-SECRET-value-77";
const TOKEN: &str = "eyJ0eXAi.ACCESS-TOKEN-ONE.sig";

#[test]
fn a_token_is_reused_until_shortly_before_it_expires() {
    let t0 = Instant::now();
    let secs = Duration::from_secs;
    // (expires_in, reused for)
    let cases = [
        (Some(secs(3600)), secs(3300)), // five minutes early at most
        (Some(secs(600)), secs(540)),   // a tenth of a short life
        (Some(secs(60)), secs(54)),
        (Some(secs(0)), secs(0)), // never reused
        (None, secs(3300)),       // assumed an hour
    ];
    for (expires_in, reused_for) in cases {
        assert_eq!(
            reuse_until(t0, expires_in),
            t0 + reused_for,
            "{expires_in:?}"
        );
    }
}

#[test]
fn token_answers_are_read_without_ever_quoting_the_token() {
    let now = Instant::now();
    let parsed = parse_answer(
        br#"{"token_type":"Bearer","expires_in":3599,"access_token":"abc.def"}"#,
        now,
    )
    .unwrap();
    assert_eq!(parsed.value.expose(), "abc.def");
    assert_eq!(parsed.expires_in, Some(Duration::from_secs(3599)));
    // Microsoft's v1 endpoint sends the number as a string.
    let v1 = parse_answer(
        br#"{"token_type":"bearer","expires_in":"3599","access_token":"abc"}"#,
        now,
    )
    .unwrap();
    assert_eq!(v1.expires_in, Some(Duration::from_secs(3599)));
    let no_expiry = parse_answer(br#"{"access_token":"abc"}"#, now).unwrap();
    assert_eq!(no_expiry.expires_in, None);
    for (body, expected) in [
        (
            &br#"{"token_type":"mac","access_token":"SECRETTOKEN"}"#[..],
            "not Bearer",
        ),
        (br#"{"expires_in":5}"#, "no access_token"),
        (br#"{"access_token":"  "}"#, "no access_token"),
        (b"access_token=SECRETTOKEN", "not a JSON object"),
    ] {
        let reason = parse_answer(body, now).unwrap_err();
        assert!(reason.contains(expected), "{reason}");
        assert!(!reason.contains("SECRETTOKEN"), "{reason}");
    }
}

#[test]
fn error_answers_show_the_oauth_error_on_one_line() {
    let json = r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1"}"#;
    assert_eq!(
        error_detail(json, false),
        ": invalid_client: AADSTS7000215: Invalid client secret provided. Trace ID: 1"
    );
    assert_eq!(
        error_detail("<html>\n oops </html>", false),
        ": <html> oops </html>"
    );
    assert_eq!(error_detail("", false), "");
    assert!(error_detail("", true).contains("redirects are not followed"));
    assert!(error_detail(&"x".repeat(5000), false).chars().count() < 400);
}

fn oauth2(url: &str) -> OAuth2Settings {
    OAuth2Settings {
        token_url: Some(url.to_string()),
        client_id: Some("app-id".into()),
        client_secret: Some(Secret::new(SECRET)),
        scope: Some("https://outlook.office365.com/.default".into()),
        ..OAuth2Settings::default()
    }
}

fn email(oauth2: Option<OAuth2Settings>) -> EmailSettings {
    EmailSettings {
        smtp_url: Some("smtp://127.0.0.1:2525".into()),
        from: Some("watcher@example.com".into()),
        to: vec!["ops@example.com".into()],
        username: Some("watcher@example.com".into()),
        oauth2,
        ..EmailSettings::default()
    }
}

fn problems(settings: &EmailSettings) -> Vec<String> {
    let mut problems = Vec::new();
    settings.check("channels.mail", &TextSettings::default(), &mut problems);
    problems
}

#[test]
fn the_oauth2_table_is_checked_key_by_key() {
    let good = email(Some(oauth2(
        "https://login.example.com/t/oauth2/v2.0/token",
    )));
    assert_eq!(problems(&good), Vec::<String>::new());
    let loopback = email(Some(oauth2("http://127.0.0.1:8080/token")));
    assert_eq!(problems(&loopback), Vec::<String>::new());

    let plain = email(Some(oauth2("http://login.example.com/token")));
    let found = problems(&plain);
    assert!(
        found[0].starts_with("channels.mail.oauth2.token_url: is plain http://"),
        "{found:?}"
    );

    let empty = email(Some(OAuth2Settings {
        scope: Some(" ".into()),
        ..OAuth2Settings::default()
    }));
    let found = problems(&empty);
    for key in ["token_url", "client_id", "client_secret_file", "scope"] {
        let prefix = format!("channels.mail.oauth2.{key}: ");
        assert!(
            found.iter().any(|p| p.starts_with(&prefix)),
            "{key}: {found:?}"
        );
    }

    let mut with_password = email(Some(oauth2("https://login.example.com/token")));
    with_password.password = Some(Secret::new("hunter2"));
    let mut no_user = email(Some(oauth2("https://login.example.com/token")));
    no_user.username = None;
    assert!(problems(&with_password)[0].contains("replaces the password"));
    assert!(problems(&no_user)[0].starts_with("channels.mail.username: oauth2 signs in"));
}

#[test]
fn the_client_secret_is_a_secret_of_the_channel_and_never_shown() {
    let mut settings = email(Some(oauth2(
        "https://u:URLPASSWORD@login.example.com/token",
    )));
    assert!(settings.secrets().contains(&SECRET.to_string()));
    assert!(settings.secrets().contains(&"URLPASSWORD".to_string()));
    settings.redact();
    let shown = serde_json::to_string(&settings).unwrap();
    assert!(
        !shown.contains(SECRET) && !shown.contains("URLPASSWORD"),
        "{shown}"
    );
    assert!(
        shown.contains("\"client_secret\":\"<redacted>\""),
        "{shown}"
    );
}

fn source(server: &MockServer) -> TokenSource {
    TokenSource::new(
        "mail",
        &format!("{}/tenant/oauth2/v2.0/token", server.uri()),
        "app-id",
        &Secret::new(SECRET),
        Some("https://outlook.office365.com/.default"),
        Duration::from_secs(5),
        false,
    )
    .unwrap()
}

fn answer(token: &str, expires_in: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "token_type": "Bearer", "expires_in": expires_in, "access_token": token,
    }))
}

#[tokio::test]
async fn the_grant_is_asked_once_and_the_token_kept() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/tenant/oauth2/v2.0/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_id=app-id"))
        .and(body_string_contains(format!("client_secret={SECRET}")))
        .and(body_string_contains(
            "scope=https%3A%2F%2Foutlook.office365.com%2F.default",
        ))
        .respond_with(answer(TOKEN, 3600))
        .expect(2)
        .mount(&server)
        .await;
    let tokens = source(&server);
    let (first, origin) = tokens.token().await.unwrap();
    assert_eq!((first.value.expose(), origin), (TOKEN, Origin::Fetched));
    let (again, origin) = tokens.token().await.unwrap();
    assert_eq!((again.value.expose(), origin), (TOKEN, Origin::Cached));
    // Refused by the server: asked again, once.
    let (_, origin) = tokens.replace(&first).await.unwrap();
    assert_eq!(origin, Origin::Fetched);
    assert!(!format!("{tokens:?} {first:?}").contains(SECRET));
    assert!(!format!("{first:?}").contains(TOKEN));
}

#[tokio::test]
async fn an_error_answer_echoing_the_secret_and_a_token_is_scrubbed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(answer(TOKEN, 3600))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let echo = format!(
        r#"{{"error":"invalid_client","error_description":"client_secret={SECRET} old token {TOKEN} refused"}}"#
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_string(echo))
        .mount(&server)
        .await;
    let tokens = source(&server);
    let (first, _) = tokens.token().await.unwrap();
    let error = tokens.replace(&first).await.unwrap_err();
    let text = error.to_string();
    assert!(error.is_refusal());
    assert!(text.contains("answered 401"), "{text}");
    assert!(text.contains("invalid_client"), "{text}");
    assert!(text.contains("check oauth2.client_id"), "{text}");
    assert!(
        !text.contains(SECRET) && !text.contains("ACCESS-TOKEN"),
        "{text}"
    );
    assert!(!text.contains("/tenant/"), "the path is not shown: {text}");
}

/// Microsoft's client secrets hold `~`, which the form sends as `%7E`: an
/// endpoint that echoes the form must not show the secret in that spelling.
#[tokio::test]
async fn an_echoed_form_encoded_secret_is_scrubbed_too() {
    // No run between two `~` is long enough to match a piece of the raw secret.
    let secret = "Qx8~Lm2~Rt5~Vw9~Zk3~Hp7~Jd4~Ns6";
    let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    assert_ne!(encoded, secret, "the form spells it differently");
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400).set_body_string(format!(
                r#"{{"error":"invalid_request","error_description":"grant_type=client_credentials&client_secret={encoded}"}}"#
            )),
        )
        .mount(&server)
        .await;
    let tokens = TokenSource::new(
        "mail",
        &format!("{}/token", server.uri()),
        "app-id",
        &Secret::new(secret),
        None,
        Duration::from_secs(5),
        false,
    )
    .unwrap();
    let text = tokens.token().await.unwrap_err().to_string();
    assert!(text.contains("invalid_request"), "{text}");
    for piece in encoded.as_bytes().windows(12) {
        let piece = std::str::from_utf8(piece).unwrap();
        assert!(
            !text.contains(piece),
            "{piece:?} of the secret shows in {text}"
        );
    }
}
