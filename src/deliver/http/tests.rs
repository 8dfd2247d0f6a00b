use std::time::Duration;

use chrono::Utc;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::deliver::channel::TextSettings;
use crate::setting::secret::Secret;

/// Quotes, backslashes, line breaks, a closing script tag and a CRLF header
/// injection: what a hostile API could name a campaign.
const HOSTILE: &str =
    "Q4 \"Outreach\" \\ C:\\new\nline</script><script>alert(1)</script>\r\nX-Injected: yes\u{2028}&?#/";
const TOKEN: &str = "TOKEN_RECOGNISABLE_4711abc";

fn settings(url: &str, body: &str) -> HttpChannelSettings {
    HttpChannelSettings {
        url: Some(url.to_string()),
        body: Some(body.to_string()),
        secrets: [("token".to_string(), Secret::new(TOKEN))].into(),
        ..HttpChannelSettings::default()
    }
}

fn channel(settings: &HttpChannelSettings) -> HttpChannel {
    HttpChannel::new(settings, &BuildContext::for_tests("custom")).expect("the channel builds")
}

fn event(kind: EventType) -> Event {
    crate::render::sample_event(kind, Utc::now())
}

fn hostile(kind: EventType) -> Event {
    let mut event = event(kind);
    if let Some(campaign) = event.campaign.as_mut() {
        campaign.name = HOSTILE.into();
        campaign.id = format!("camp_{HOSTILE}");
    }
    event.summary = HOSTILE.into();
    event
}

fn problems(settings: &HttpChannelSettings) -> Vec<String> {
    let mut problems = Vec::new();
    settings.check("channels.custom", &TextSettings::default(), &mut problems);
    problems
}

#[test]
fn hostile_names_give_a_valid_json_body_url_and_headers() {
    let mut settings = settings(
        "https://hooks.example.com/campaigns/{{ event.campaign.id if event.campaign else 'watcher' }}/notify?name={{ event.campaign.name if event.campaign }}&token={{ secrets.token }}",
        r#"{"text": "{% if event.campaign %}{{ event.campaign.name }} is now {{ event.campaign.status }}{% endif %}", "summary": "{{ event.summary }}", "errors": {{ event.upload_errors.added | tojson }}, "campaign": {{ event.campaign | tojson }}}"#,
    );
    settings.headers = [
        ("X-Title".to_string(), "{{ headline }}".to_string()),
        (
            "Authorization".to_string(),
            "Bearer {{ secrets.token }}".to_string(),
        ),
    ]
    .into();
    assert_eq!(problems(&settings), Vec::<String>::new());
    let channel = channel(&settings);
    let (request, _) = channel
        .request(&hostile(EventType::StatusChanged), &channel.secrets)
        .expect("renders");

    let body: serde_json::Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["text"], format!("{HOSTILE} is now paused"));
    assert_eq!(body["summary"], HOSTILE);
    assert_eq!(body["campaign"]["name"], HOSTILE);
    assert!(body["errors"].is_array());
    assert!(!request.body.as_deref().unwrap().contains("</script>"));

    // The name stays inside its path segment and its query value.
    assert_eq!(request.url.host_str(), Some("hooks.example.com"));
    let segments: Vec<&str> = request.url.path_segments().unwrap().collect();
    assert_eq!(segments.len(), 3, "{segments:?}");
    assert_eq!(segments[0], "campaigns");
    let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
    assert_eq!(
        query,
        vec![
            ("name".to_string(), HOSTILE.to_string()),
            ("token".to_string(), TOKEN.to_string())
        ]
    );
    assert_eq!(request.url.fragment(), None);

    let title = String::from_utf8(request.headers["x-title"].as_bytes().to_vec()).unwrap();
    assert!(title.starts_with("Q4 \"Outreach\""), "{title}");
    assert!(!title.contains(['\r', '\n']), "{title}");
    assert!(!request.headers.contains_key("x-injected"));
    assert_eq!(
        request.headers["authorization"].to_str().unwrap(),
        format!("Bearer {TOKEN}")
    );
}

#[test]
fn form_bodies_are_form_encoded_and_text_bodies_left_as_they_are() {
    let mut form = settings(
        "https://api.pushover.net/1/messages.json",
        "token={{ secrets.token }}&title={{ headline }}&message={{ event.summary }}",
    );
    form.content_type = Some("application/x-www-form-urlencoded".into());
    let channel = channel(&form);
    let (request, _) = channel
        .request(&hostile(EventType::StatusChanged), &channel.secrets)
        .unwrap();
    let body = request.body.unwrap();
    let pairs: Vec<(String, String)> = form_pairs(&body);
    assert_eq!(pairs.len(), 3, "{body}");
    assert_eq!(pairs[0], ("token".into(), TOKEN.into()));
    assert_eq!(pairs[2], ("message".into(), HOSTILE.into()));

    let mut text = settings("https://x.example.com/", "{{ event.summary }}");
    text.content_type = Some("text/plain; charset=utf-8".into());
    let plain = self::channel(&text);
    let (request, _) = plain
        .request(&hostile(EventType::StatusChanged), &plain.secrets)
        .unwrap();
    assert_eq!(request.body.unwrap(), HOSTILE);
}

fn form_pairs(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            let decode = |text: &str| {
                percent_encoding::percent_decode_str(&text.replace('+', " "))
                    .decode_utf8()
                    .unwrap()
                    .into_owned()
            };
            (decode(name), decode(value))
        })
        .collect()
}

#[test]
fn a_template_error_at_load_names_the_key_and_the_line() {
    let broken = settings(
        "https://x.example.com/",
        "{\n  \"text\": \"{{ event.campaign.name }}\",\n  \"n\": \"{{ event.campaign.nmae | upper }}\"\n}",
    );
    let problems = problems(&broken);
    // The misspelt field on line 3, and line 2 for watcher events (no campaign).
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems
            .iter()
            .all(|p| p.starts_with("channels.custom.body: undefined value")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("(line 3)") && p.contains("campaign.status_changed")),
        "{problems:?}"
    );
    let watcher = problems
        .iter()
        .find(|p| p.contains("(line 2)"))
        .expect("line 2");
    assert!(
        watcher.contains("watcher.api_unhealthy") && watcher.contains("{% if event.campaign %}"),
        "{watcher}"
    );

    let mut syntax = settings("https://x.example.com/{{ event.id", "{}");
    syntax.end = Some(Box::new(RequestOverride {
        body: Some("{\n{% if %}\n}".into()),
        ..RequestOverride::default()
    }));
    let problems = self::problems(&syntax);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("channels.custom.end.body: syntax error"),
        "{problems:?}"
    );
    assert!(problems[0].contains("(line 2)"), "{problems:?}");
    assert!(
        problems[1].starts_with("channels.custom.url: syntax error"),
        "{problems:?}"
    );

    // A body that is not JSON for some event type is found at load too.
    let unquoted = settings(
        "https://x.example.com/",
        r#"{"name": {{ event.campaign.name }}}"#,
    );
    let problems = self::problems(&unquoted);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("channels.custom.body: renders to invalid JSON")),
        "{problems:?}"
    );
    // A secret that is not configured is named.
    let missing = settings("https://x.example.com/?k={{ secrets.tokn }}", "{}");
    assert_eq!(
        self::problems(&missing),
        ["channels.custom.url: uses secrets.tokn, which is not configured: set secret_files.tokn (or secrets.tokn from the environment)"]
    );
}

#[test]
fn the_start_and_end_of_a_condition_take_their_own_request() {
    let mut settings = settings(
        "https://x.example.com/news",
        r#"{"kind": "news", "condition": "{{ condition.name }}", "severity": "{{ severity }}"}"#,
    );
    settings.severity = Some(
        std::collections::BTreeMap::from([("paused".to_string(), "critical".to_string())]).into(),
    );
    settings.start = Some(Box::new(RequestOverride {
        url: Some("https://x.example.com/open".into()),
        headers: [("X-State".to_string(), "{{ condition.state }}".to_string())].into(),
        body: Some(r#"{"kind": "open {{ condition.name }}", "severity": "{{ severity }}"}"#.into()),
        ..RequestOverride::default()
    }));
    settings.end = Some(Box::new(RequestOverride {
        method: Some("PUT".into()),
        body: Some(r#"{"kind": "close {{ condition.name }}", "at": "{{ occurred_at }}"}"#.into()),
        ..RequestOverride::default()
    }));
    let channel = channel(&settings);
    let render = |event: &Event| channel.request(event, &channel.secrets).unwrap().0;

    let paused = render(&event(EventType::StatusChanged));
    assert_eq!(paused.url.path(), "/open");
    assert_eq!(paused.headers["x-state"], "start");
    let body: serde_json::Value = serde_json::from_str(paused.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["kind"], "open paused");
    assert_eq!(body["severity"], "critical");

    let mut resumed = event(EventType::StatusChanged);
    let campaign = resumed.campaign.as_mut().unwrap();
    campaign.previous_status = Some(crate::observe::CampaignStatus::Paused);
    campaign.status = crate::observe::CampaignStatus::Live;
    let resumed = render(&resumed);
    assert_eq!(resumed.method, Method::PUT);
    assert_eq!(resumed.url.path(), "/news");
    let body: serde_json::Value = serde_json::from_str(resumed.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["kind"], "close paused");
    assert!(body["at"].as_str().unwrap().ends_with('Z'));

    let news = render(&event(EventType::SettingsChanged));
    assert_eq!(news.method, Method::POST);
    let body: serde_json::Value = serde_json::from_str(news.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["kind"], "news");
    assert_eq!(body["condition"], "", "news has no condition");
    assert_eq!(body["severity"], "info");
}

#[test]
fn a_body_over_max_body_bytes_is_rendered_again_with_shorter_texts() {
    let mut settings = settings(
        "https://x.example.com/",
        r#"{"errors": {{ event.upload_errors.added | tojson }}, "summary": "{{ event.summary }}"}"#,
    );
    settings.max_body_bytes = Some(2048);
    let channel = channel(&settings);
    let mut event = event(EventType::UploadErrorsAdded);
    event.upload_errors.added = (0..5000)
        .map(|row| format!("Row {row}: {}", "x".repeat(100)))
        .collect();
    event.summary = "s".repeat(100_000);
    let (request, note) = channel.request(&event, &channel.secrets).unwrap();
    let body = request.body.unwrap();
    assert!(body.len() <= 2048, "{}", body.len());
    serde_json::from_str::<serde_json::Value>(&body).expect("still valid JSON");
    assert!(note.is_some());

    // A template that cannot fit even with every text cut is refused at load.
    let mut tiny = settings.clone();
    tiny.max_body_bytes = Some(256);
    tiny.body = Some(format!("{{\"pad\": \"{}\"}}", "p".repeat(300)));
    assert!(
        problems(&tiny)
            .iter()
            .any(|p| p.starts_with("channels.custom.max_body_bytes:")),
        "{:?}",
        problems(&tiny)
    );
}

#[test]
fn render_shows_secrets_as_their_names_only() {
    let mut settings = settings(
        "https://gotify.example.com/message?token={{ secrets.token }}",
        r#"{"title": "{{ headline }}", "key": "{{ secrets.token }}"}"#,
    );
    settings.headers = [
        (
            "X-Gotify-Key".to_string(),
            "{{ secrets.token }}".to_string(),
        ),
        ("X-Api-Key".to_string(), "literal-key-in-config".to_string()),
    ]
    .into();
    let channel = channel(&settings);
    let shown = channel
        .preview(
            &[event(EventType::StatusChanged), event(EventType::Test)],
            false,
        )
        .unwrap();
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(!shown.contains("literal-key-in-config"), "{shown}");
    assert!(
        shown.contains("POST https://gotify.example.com/message?token=<secret token>"),
        "{shown}"
    );
    assert!(shown.contains("x-gotify-key: <secret token>"), "{shown}");
    assert!(shown.contains("x-api-key: <redacted>"), "{shown}");
    assert!(shown.contains(r#""key": "<secret token>""#), "{shown}");
    assert!(!format!("{channel:?}").contains(TOKEN));
    assert!(settings.secrets().contains(&TOKEN.to_string()));
    let mut redacted = settings.clone();
    redacted.redact();
    let printed = serde_json::to_string(&redacted).unwrap();
    assert!(
        !printed.contains(TOKEN) && !printed.contains("literal-key-in-config"),
        "{printed}"
    );
    assert_eq!(
        settings.warnings("channels.custom").len(),
        1,
        "the literal key is warned about"
    );
}

#[test]
fn settings_problems_are_reported_together() {
    let mut bad = settings("", "{}");
    bad.url = None;
    bad.headers = [
        ("Content-Type".to_string(), "text/plain".to_string()),
        ("bad header".to_string(), "x".to_string()),
    ]
    .into();
    bad.secrets = [("Bad-Name".to_string(), Secret::new("abc"))].into();
    bad.content_type = Some("json".into());
    bad.max_body_bytes = Some(10);
    bad.method = Some("TRACE".into());
    let problems = problems(&bad);
    for expected in [
        "channels.custom.url: an http channel needs",
        "channels.custom.headers.Content-Type: set the body's type with content_type",
        "channels.custom.headers.bad header: \"bad header\" is not a valid header name",
        "channels.custom.secrets.Bad-Name: a secret's name",
        "channels.custom.secrets.Bad-Name: is shorter than 6",
        "channels.custom.content_type: \"json\" is not a media type",
        "channels.custom.max_body_bytes: 10 is outside",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(expected)),
            "{expected} in {problems:#?}"
        );
    }
    let method = settings("https://x.example.com/", "{}");
    let method = HttpChannelSettings {
        method: Some("{{ 'TRACE' }}".into()),
        ..method
    };
    assert!(
        self::problems(&method)[0].starts_with("channels.custom.method: \"TRACE\" is not one of")
    );
}

#[tokio::test]
async fn answers_429_with_retry_after_is_retried_4xx_dead_2xx_sent() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/rest/api/2/issue/OPS-1"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "30")
                .set_body_string(format!("slow down, {TOKEN}")),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/rest/api/2/issue/OPS-1"))
        .respond_with(ResponseTemplate::new(204))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(404).set_body_string("no such issue"))
        .mount(&server)
        .await;
    let mut settings = settings(&format!("{}/rest/api/2/issue/OPS-1", server.uri()), "{}");
    settings.method = Some("PUT".into());
    settings.headers = [(
        "Authorization".to_string(),
        "Bearer {{ secrets.token }}".to_string(),
    )]
    .into();
    let channel = channel(&settings);
    let event = event(EventType::StatusChanged);

    let SendOutcome::Retry {
        reason,
        retry_after,
    } = channel.send(&event).await
    else {
        panic!("429 is retried");
    };
    assert_eq!(retry_after, Some(Duration::from_secs(30)));
    assert!(
        reason.contains("429") && !reason.contains("RECOGNISABLE"),
        "{reason}"
    );
    assert!(matches!(
        channel.send(&event).await,
        SendOutcome::Delivered { .. }
    ));
    let SendOutcome::Permanent { reason } = channel.send(&event).await else {
        panic!("404 is dead");
    };
    assert!(reason.contains("404"), "{reason}");
}

#[tokio::test]
async fn a_url_whose_host_depends_on_the_event_is_not_sent() {
    let settings = settings(
        "http://{{ event.campaign.status if event.campaign else 'watcher' }}.example.com/",
        "{}",
    );
    let channel = channel(&settings);
    let mut event = event(EventType::StatusChanged);
    event.campaign.as_mut().unwrap().status = crate::observe::CampaignStatus::Live;
    let SendOutcome::Permanent { reason } = channel.send(&event).await else {
        panic!("a host not seen at build is refused");
    };
    assert!(
        reason.contains("not seen when the channel was built"),
        "{reason}"
    );
    assert!(reason.contains("http://live.example.com"), "{reason}");
}

#[tokio::test]
async fn a_secret_host_is_delivered_to_and_shown_only_by_its_name() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_string("gone"))
        .mount(&server)
        .await;
    let port = server.address().port();
    let mut settings = settings(&format!("http://{{{{ secrets.host }}}}:{port}/hook"), "{}");
    settings
        .secrets
        .insert("host".into(), Secret::new("127.0.0.1"));
    assert_eq!(problems(&settings), Vec::<String>::new());
    let channel = channel(&settings);
    let event = event(EventType::StatusChanged);

    let shown = channel
        .preview(std::slice::from_ref(&event), false)
        .unwrap();
    assert!(
        shown.starts_with(&format!("POST http://<secret host>:{port}/hook")),
        "{shown}"
    );
    let SendOutcome::Delivered { detail } = channel.send(&event).await else {
        panic!("a host from a secret is delivered to");
    };
    assert!(!detail.contains("127.0.0.1"), "{detail}");
    let SendOutcome::Permanent { reason } = channel.send(&event).await else {
        panic!("404 is dead");
    };
    assert!(
        reason.contains("404") && !reason.contains("127.0.0.1"),
        "{reason}"
    );
    assert!(reason.contains("<secret host>"), "{reason}");
}

#[tokio::test]
async fn a_dead_reason_never_shows_a_secret_in_the_host() {
    let mut settings = settings(
        "http://{{ secrets.sub }}.{{ event.campaign.status if event.campaign else 'watcher' }}.example.com/",
        "{}",
    );
    settings
        .secrets
        .insert("sub".into(), Secret::new("SubDomainToken4711"));
    let channel = channel(&settings);
    let mut event = event(EventType::StatusChanged);
    event.campaign.as_mut().unwrap().status = crate::observe::CampaignStatus::Live;
    let SendOutcome::Permanent { reason } = channel.send(&event).await else {
        panic!("a host not seen at build is refused");
    };
    assert!(
        !reason.to_lowercase().contains("token4711"),
        "the secret shows: {reason}"
    );
    assert!(
        reason.contains("http://<secret sub>.live.example.com"),
        "{reason}"
    );
}

#[test]
fn a_secret_host_is_checked_for_link_local_and_named_in_the_problem() {
    let mut settings = settings("http://{{ secrets.host }}/latest/meta-data/", "{}");
    settings
        .secrets
        .insert("host".into(), Secret::new("169.254.169.254"));
    let problems = problems(&settings);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("<secret host>"), "{problems:?}");
    assert!(!problems[0].contains("169.254"), "{problems:?}");
}

#[test]
fn dot_segments_are_found_however_they_are_spelt() {
    let cases = [
        ("https://h.example/campaigns/./x", Some(".")),
        ("https://h.example/campaigns/../x", Some("..")),
        ("https://h.example/campaigns/%2e%2E", Some("..")),
        ("https://h.example/campaigns/.%2e/x?y=1", Some("..")),
        ("https://h.example/a\\..\\b", Some("..")),
        ("https://h.example/campaigns/...", None),
        ("https://h.example/campaigns/.x", None),
        ("https://h.example/campaigns/%252e%252e", None),
        ("https://h.example/campaigns/x?id=..", None),
        ("https://h.example/campaigns/x#..", None),
        ("https://h.example", None),
    ];
    for (url, expected) in cases {
        assert_eq!(dot_segment(url), expected, "{url}");
    }
}

#[tokio::test]
async fn a_dot_id_in_the_url_path_is_dead_naming_the_template() {
    let mut settings = settings(
        "https://hooks.example.com/campaigns/{{ event.campaign.id if event.campaign else 'watcher' }}/notify",
        "{}",
    );
    settings.end = Some(Box::new(RequestOverride {
        url: Some("https://hooks.example.com/end/{{ event.campaign.id if event.campaign }}".into()),
        ..RequestOverride::default()
    }));
    assert_eq!(problems(&settings), Vec::<String>::new());
    let channel = channel(&settings);
    let resumed = || {
        let mut resumed = event(EventType::StatusChanged);
        let campaign = resumed.campaign.as_mut().unwrap();
        campaign.previous_status = Some(crate::observe::CampaignStatus::Paused);
        campaign.status = crate::observe::CampaignStatus::Live;
        resumed
    };
    for (id, mut event, key) in [
        ("..", event(EventType::StatusChanged), "url"),
        (".", event(EventType::SettingsChanged), "url"),
        ("..", resumed(), "end.url"),
    ] {
        event.campaign.as_mut().unwrap().id = id.into();
        let SendOutcome::Permanent { reason } = channel.send(&event).await else {
            panic!("{id}: a dot segment is never sent");
        };
        assert!(
            reason.contains(&format!("{key}: renders a path segment \"{id}\"")),
            "{id}: {reason}"
        );
    }
}
