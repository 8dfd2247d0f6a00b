//! The email channel signing in with OAuth2: a loopback token endpoint
//! (wiremock) for the client-credentials grant, and aiosmtpd taking only
//! AUTH XOAUTH2 with the token the test names.

use std::collections::BTreeMap;
use std::time::Duration;

use campaign_watcher::config::{ChannelSettings, Settings};
use campaign_watcher::deliver::email::{EmailSettings, OAuth2Settings};
use campaign_watcher::deliver::{ChannelSet, SendOutcome};
use campaign_watcher::event::EventType;
use campaign_watcher::render::sample_event;
use campaign_watcher::setting::secret::Secret;
use chrono::Utc;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{run_cli, write_config, TestApp};
use crate::smtp::Aiosmtpd;

const USER: &str = "watcher@example.com";
const SECRET: &str = "Zq8xK3.VaLuE_77pQ";
const TOKEN_ONE: &str = "eyJhbGciOi.TOKEN-ONE-payload.sig1";
const TOKEN_TWO: &str = "eyJhbGciOi.TOKEN-TWO-payload.sig2";
const TOKEN_PATH: &str = "/tenant-id/oauth2/v2.0/token";
const SCOPE: &str = "https://outlook.office365.com/.default";

fn token_answer(token: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token,
    }))
}

/// The grant as Microsoft's endpoint takes it, answered with `token`.
fn grant(token: &str) -> Mock {
    grant_request().respond_with(token_answer(token))
}

fn grant_request() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_id=app-client-id"))
        .and(body_string_contains(format!("client_secret={SECRET}")))
        .and(body_string_contains(
            "scope=https%3A%2F%2Foutlook.office365.com%2F.default",
        ))
}

fn mail_settings(smtp: &Aiosmtpd, tokens: &MockServer) -> ChannelSettings {
    let mut mail = ChannelSettings::new(EmailSettings {
        smtp_url: Some(smtp.url()),
        from: Some(format!("Campaign Watcher <{USER}>")),
        to: vec!["ops@example.com".into()],
        username: Some(USER.into()),
        oauth2: Some(OAuth2Settings {
            token_url: Some(format!("{}{TOKEN_PATH}", tokens.uri())),
            client_id: Some("app-client-id".into()),
            client_secret: Some(Secret::new(SECRET)),
            scope: Some(SCOPE.into()),
            ..OAuth2Settings::default()
        }),
        ..EmailSettings::default()
    });
    mail.shared.timeout = Duration::from_secs(2);
    mail.shared.retry_initial_backoff = Duration::from_millis(100);
    mail.shared.retry_max_backoff = Duration::from_millis(400);
    mail
}

async fn token_requests(tokens: &MockServer) -> usize {
    tokens.received_requests().await.unwrap_or_default().len()
}

fn no_secret(text: &str) {
    for secret in [SECRET, "TOKEN-ONE", "TOKEN-TWO"] {
        assert!(!text.contains(secret), "{secret} shown in: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_token_the_server_refuses_is_fetched_again_once_and_the_new_one_kept() {
    let smtp = Aiosmtpd::start_xoauth2(USER, TOKEN_ONE).await;
    let tokens = MockServer::start().await;
    grant(TOKEN_ONE).up_to_n_times(1).mount(&tokens).await;
    grant(TOKEN_TWO).mount(&tokens).await;
    let set = ChannelSet::build(&BTreeMap::from([(
        "mail".to_string(),
        mail_settings(&smtp, &tokens),
    )]))
    .unwrap();
    let channel = &set.get("mail").unwrap().channel;
    let event = sample_event(EventType::Test, Utc::now());

    let detail = match channel.send(&event).await {
        SendOutcome::Delivered { detail } => detail,
        other => panic!("{other:?}"),
    };
    assert!(detail.contains("fetched, expires in 59m 59s"), "{detail}");
    assert!(
        detail.contains(&format!("AUTH XOAUTH2 as {USER}")),
        "{detail}"
    );
    assert_eq!(smtp.wait_for(1).await.len(), 1);

    // The server now takes only the next token: the kept one is refused.
    smtp.accept_token(TOKEN_TWO);
    let detail = match channel.send(&event).await {
        SendOutcome::Delivered { detail } => detail,
        other => panic!("{other:?}"),
    };
    // Each step, in order: kept, refused, fetched, sent.
    let mut rest = detail.as_str();
    for step in [
        ": cached; ",
        "refused the OAuth2 token for watcher@example.com (permanent error (535)",
        "; fetching a new token; token from ",
        ": fetched, expires in 59m 59s; ",
        "answered 250",
    ] {
        let at = rest
            .find(step)
            .unwrap_or_else(|| panic!("{step:?} (in order) in {detail}"));
        rest = &rest[at + step.len()..];
    }
    no_secret(&detail);
    assert_eq!(smtp.wait_for(2).await.len(), 2);

    // The new token is kept: no request for the third message.
    assert!(matches!(
        channel.send(&event).await,
        SendOutcome::Delivered { .. }
    ));
    assert_eq!(smtp.wait_for(3).await.len(), 3);
    assert_eq!(token_requests(&tokens).await, 2);
    let attempts = smtp.auth_attempts();
    assert_eq!(attempts[..3], ["accepted", "refused", "accepted"]);
    assert!(
        attempts[3..].iter().all(|a| a == "accepted"),
        "{attempts:?}"
    );

    // A freshly fetched token that is refused is not fetched again.
    smtp.accept_token("a-token-nobody-has");
    tokens.reset().await;
    grant(TOKEN_ONE).mount(&tokens).await;
    let before = smtp.auth_attempts().len();
    match channel.send_batch(std::slice::from_ref(&event)).await {
        outcome if outcome.auth_failure => match outcome.outcome {
            SendOutcome::Retry { reason, .. } => {
                assert!(reason.contains("refused the OAuth2 token"), "{reason}");
                assert!(reason.contains("SMTP.SendAsApp"), "{reason}");
                no_secret(&reason);
            }
            other => panic!("{other:?}"),
        },
        other => panic!("not an auth failure: {other:?}"),
    }
    assert_eq!(
        token_requests(&tokens).await,
        1,
        "kept one refused: one fetch"
    );
    assert_eq!(smtp.auth_attempts().len() - before, 2);
    assert_eq!(smtp.messages().len(), 3);
}

/// Gmail refuses a token with an error challenge before its 535: a refusal
/// all the same, so a kept token is replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_challenge_is_a_refusal_too() {
    let smtp = Aiosmtpd::start_xoauth2_challenging(USER, TOKEN_ONE).await;
    let tokens = MockServer::start().await;
    grant(TOKEN_ONE).up_to_n_times(1).mount(&tokens).await;
    grant(TOKEN_TWO).mount(&tokens).await;
    let set = ChannelSet::build(&BTreeMap::from([(
        "mail".to_string(),
        mail_settings(&smtp, &tokens),
    )]))
    .unwrap();
    let channel = &set.get("mail").unwrap().channel;
    let event = sample_event(EventType::Test, Utc::now());
    assert!(matches!(
        channel.send(&event).await,
        SendOutcome::Delivered { .. }
    ));
    smtp.accept_token(TOKEN_TWO);
    match channel.send(&event).await {
        SendOutcome::Delivered { detail } => {
            assert!(detail.contains("refused the OAuth2 token"), "{detail}");
            assert!(detail.contains("with an error challenge (334)"), "{detail}");
            assert!(detail.contains("fetching a new token"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(smtp.auth_attempts(), ["accepted", "refused", "accepted"]);
    assert_eq!(smtp.wait_for(2).await.len(), 2);
}

fn only_mail(settings: &mut Settings, mail: ChannelSettings) {
    settings.channels.clear();
    settings.channels.insert("mail".into(), mail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_endpoint_failing_or_slow_leaves_the_rows_to_be_retried_and_loses_nothing() {
    let smtp = Aiosmtpd::start_xoauth2(USER, TOKEN_ONE).await;
    let tokens = MockServer::start().await;
    let echo = format!(
        r#"{{"error":"temporarily_unavailable","error_description":"secret {SECRET} was fine"}}"#
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string(echo))
        .mount(&tokens)
        .await;
    let mail = mail_settings(&smtp, &tokens);
    let app = TestApp::spawn_with(3, |s| only_mail(s, mail)).await;
    app.all_live();
    app.cycle().await;
    for index in 0..2 {
        app.sim.control.set_status(&app.id(index), "paused");
    }
    app.daemon.tick().await.unwrap();
    let now = Utc::now();
    let report = app.daemon.drain_at(now).await.unwrap();
    assert_eq!((report.sent, report.retried, report.dead), (0, 2, 0));
    let history = app
        .daemon
        .store()
        .history(None, now - chrono::Duration::hours(1), 10)
        .await
        .unwrap();
    let errors: Vec<String> = history
        .iter()
        .flat_map(|entry| entry.deliveries.iter())
        .filter_map(|delivery| delivery.last_error.clone())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains("answered 500 to the token request"),
        "{errors:?}"
    );
    assert!(errors[0].contains("nothing was sent"), "{errors:?}");
    no_secret(&format!("{errors:?}"));

    // Slower than the channel's timeout (2 s): the request is given up, the rows wait.
    tokens.reset().await;
    grant_request()
        .respond_with(token_answer(TOKEN_ONE).set_delay(Duration::from_secs(3600)))
        .mount(&tokens)
        .await;
    let report = app
        .daemon
        .drain_at(now + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!((report.sent, report.retried, report.dead), (0, 2, 0));
    assert!(smtp.messages().is_empty());

    // The endpoint answers again: one digest with both changes, nothing lost.
    tokens.reset().await;
    grant(TOKEN_ONE).mount(&tokens).await;
    let report = app
        .daemon
        .drain_at(now + chrono::Duration::hours(2))
        .await
        .unwrap();
    assert_eq!((report.sent, report.retried, report.dead), (2, 0, 0));
    let mails = smtp.wait_for(1).await;
    // A digest's headline names its worst change first.
    assert_eq!(
        mails[0].header("Subject"),
        "[campaign-watcher] Outreach #0 paused, and 1 more change"
    );
    let counts = app.daemon.store().outbox_counts().await.unwrap();
    assert_eq!((counts.sent, counts.pending, counts.dead), (2, 0, 0));
    assert_eq!(smtp.auth_attempts(), ["accepted"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_notify_shows_each_step_and_no_output_shows_the_secret_or_the_token() {
    let smtp = Aiosmtpd::start_xoauth2(USER, TOKEN_ONE).await;
    let tokens = MockServer::start().await;
    grant(TOKEN_ONE).mount(&tokens).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("client-secret"), format!("{SECRET}\n")).unwrap();
    let config = write_config(
        dir.path(),
        "http://127.0.0.1:9",
        &["camp_1".to_string()],
        "http://127.0.0.1:9/hook",
        &format!(
            r#"
[channels.mail]
kind = "email"
smtp_url = "{}"
from = "Campaign Watcher <{USER}>"
to = ["ops@example.com"]
username = "{USER}"

[channels.mail.oauth2]
token_url = "{}{TOKEN_PATH}"
client_id = "app-client-id"
client_secret_file = "{}"
scope = "{SCOPE}"
"#,
            smtp.url(),
            tokens.uri(),
            dir.path().join("client-secret").display()
        ),
    );
    let config = config.display().to_string();
    let trace = [("RUST_LOG", "trace")];

    let sent = run_cli(&["--config", &config, "test-notify", "mail"], &trace).await;
    assert_eq!(sent.code, Some(0), "{}", sent.all_output());
    let line = sent
        .stdout
        .lines()
        .find(|line| line.starts_with("mail: delivered ("))
        .unwrap_or_else(|| panic!("{}", sent.stdout));
    assert!(
        line.contains(&format!(
            "token from {}: fetched, expires in 59m 59s; ",
            tokens.uri()
        )),
        "{line}"
    );
    assert!(line.contains("answered 250"), "{line}");
    assert!(
        line.contains(&format!("to AUTH XOAUTH2 as {USER}")),
        "{line}"
    );
    no_secret(&sent.all_output());
    assert!(smtp.wait_for(1).await[0].header("Subject").contains("TEST"));

    let checked = run_cli(&["--config", &config, "check-config"], &trace).await;
    assert_eq!(checked.code, Some(0), "{}", checked.all_output());
    assert!(
        checked.stdout.contains("client_secret_file"),
        "{}",
        checked.stdout
    );
    no_secret(&checked.all_output());

    // The endpoint refuses the client and echoes what it was sent.
    tokens.reset().await;
    let echo = format!(
        r#"{{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided: {SECRET}"}}"#
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_string(echo))
        .mount(&tokens)
        .await;
    let failed = run_cli(&["--config", &config, "test-notify", "mail"], &trace).await;
    assert_eq!(failed.code, Some(1), "{}", failed.all_output());
    assert!(
        failed.stdout.contains(&format!(
            "mail: FAILED: {} answered 401 to the token request: invalid_client: AADSTS7000215",
            tokens.uri()
        )),
        "{}",
        failed.stdout
    );
    assert!(
        failed.stdout.contains("nothing was sent"),
        "{}",
        failed.stdout
    );
    no_secret(&failed.all_output());
    assert_eq!(smtp.messages().len(), 1);
}

async fn check_config(dir: &std::path::Path, channel: &str) -> String {
    let config = write_config(
        dir,
        "http://127.0.0.1:9",
        &["camp_1".to_string()],
        "http://127.0.0.1:9/hook",
        channel,
    );
    let checked = run_cli(
        &["--config", &config.display().to_string(), "check-config"],
        &[],
    )
    .await;
    let output = checked.all_output();
    assert_eq!(checked.code, Some(2), "{output}");
    no_secret(&output);
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelt_oauth2_key_or_a_missing_username_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let channel = |oauth2: &str, user: &str| {
        format!(
            r#"
[channels.mail]
kind = "email"
smtp_url = "smtps://smtp.office365.com"
from = "{USER}"
to = ["ops@example.com"]
{user}

[channels.mail.oauth2]
client_secret = "{SECRET}"
{oauth2}
"#
        )
    };
    let misspelt = channel(
        "token_url = \"https://login.example.com/t/token\"\nclinet_id = \"app\"",
        &format!("username = \"{USER}\""),
    );
    let output = check_config(dir.path(), &misspelt).await;
    let expected = "unknown key \"channels.mail.oauth2.clinet_id\" (did you mean \"client_id\"?)";
    assert!(output.contains(expected), "{output}");

    let incomplete = channel("token_url = \"http://login.example.com/t/token\"", "");
    let output = check_config(dir.path(), &incomplete).await;
    for expected in [
        "channels.mail.oauth2.client_id: missing",
        "channels.mail.oauth2.token_url: is plain http://",
        "channels.mail.username: oauth2 signs in",
    ] {
        assert!(output.contains(expected), "{expected:?} in {output}");
    }
}
