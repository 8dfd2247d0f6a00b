//! The guard over a real socket, around routes like the board's: redirects,
//! roles, CSRF from a form field, and the answers' headers. (The real binary's
//! side is `tests/it/access.rs`.)

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::routing::{get, post};
use axum::Router;
use reqwest::redirect::Policy;

use super::*;
use crate::config::{TokenSettings, UserSettings};

const PASSWORD: &str = "correct horse battery";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn settings(listen: &str, with_users: bool) -> HttpSettings {
    let mut settings = HttpSettings {
        listen: listen.to_string(),
        ..HttpSettings::default()
    };
    if with_users {
        let hash = bcrypt::hash(PASSWORD, 4).unwrap();
        for (name, role) in [("alice", "admin"), ("bob", "read")] {
            settings.users.insert(
                name.into(),
                UserSettings {
                    password_hash: Secret::new(hash.clone()),
                    role: role.into(),
                },
            );
        }
        settings.tokens.insert(
            "ci".into(),
            TokenSettings {
                token_file: "/unused".into(),
                role: "admin".into(),
                token: TokenValue::Read(Secret::new(TOKEN)),
            },
        );
    }
    settings
}

/// The board's shape: a page, an admin action taking a form, behind the guard.
async fn serve(settings: HttpSettings) -> (SocketAddr, Metrics) {
    let metrics = Metrics::new();
    let access = Arc::new(Access::new(&settings, metrics.clone()));
    let board: Router = guard(
        Router::new()
            .route(
                "/",
                get(|viewer: Viewer| async move { viewer.csrf_field() }),
            )
            .route(
                "/silences",
                post(|_admin: Admin, request: Request| async move {
                    let body = axum::body::to_bytes(request.into_body(), 1024)
                        .await
                        .unwrap();
                    String::from_utf8_lossy(&body).into_owned()
                }),
            ),
        &access,
    );
    let app = board
        .merge(routes(access))
        .layer(axum::middleware::map_response(browser_safety));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    (address, metrics)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Signs alice in with the login form; her session cookie.
async fn log_in(origin: &str) -> String {
    let login = client()
        .post(format!("{origin}/login"))
        .header("origin", origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "username=alice&password={}&next=/",
            PASSWORD.replace(' ', "+")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn a_page_without_credentials_goes_to_the_login_form_and_the_api_gets_401() {
    let (address, _) = serve(settings("127.0.0.1:9464", true)).await;
    let page = client()
        .get(format!("http://{address}/?status=paused"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(
        page.headers()["location"],
        "/login?next=/%3Fstatus%3Dpaused"
    );
    assert_eq!(
        page.headers()["content-security-policy"],
        CONTENT_SECURITY_POLICY
    );

    let api = client()
        .get(format!("http://{address}/api/v1/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    let challenges: Vec<_> = api
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(challenges[0].starts_with("Basic realm=") && challenges[1].starts_with("Bearer"));
    let body: serde_json::Value = api.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("log in at /login"));
}

#[tokio::test]
async fn the_admin_extractor_refuses_a_read_user_and_lets_an_admin_through() {
    let (address, _) = serve(settings("127.0.0.1:9464", true)).await;
    let post = |user: &'static str| {
        client()
            .post(format!("http://{address}/silences"))
            .basic_auth(user, Some(PASSWORD))
            .body("matcher=x")
            .send()
    };
    let read = post("bob").await.unwrap();
    assert_eq!(read.status(), 403);
    assert!(read
        .text()
        .await
        .unwrap()
        .contains("this needs the admin role; bob has the read role"));
    let admin = post("alice").await.unwrap();
    assert_eq!(admin.status(), 200);
    assert_eq!(admin.text().await.unwrap(), "matcher=x");
    let token = client()
        .post(format!("http://{address}/silences"))
        .bearer_auth(TOKEN)
        .body("by=token")
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200, "a Bearer script needs no CSRF token");
}

#[tokio::test]
async fn a_session_form_posts_with_its_token_in_a_field_and_the_handler_still_reads_the_body() {
    let (address, metrics) = serve(settings("127.0.0.1:9464", true)).await;
    let origin = format!("http://{address}");
    let session = log_in(&origin).await;

    // The page hands out the session's token in a hidden field.
    let page = client()
        .get(format!("{origin}/"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = page
        .split("value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    assert_eq!(token.len(), 43, "{page}");

    let form = |body: String| {
        client()
            .post(format!("{origin}/silences"))
            .header("cookie", &session)
            .header("origin", &origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let accepted = form(format!("matcher=camp_1&csrf_token={token}"))
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    assert_eq!(
        accepted.text().await.unwrap(),
        format!("matcher=camp_1&csrf_token={token}")
    );
    let forged = form("matcher=camp_1&csrf_token=guess".to_string())
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let missing = form("matcher=camp_1".to_string()).await.unwrap();
    assert_eq!(missing.status(), 403);
    assert!(metrics
        .encode()
        .contains("campaign_watcher_http_password_checks_total{result=\"match\"} 1"));
}

#[tokio::test]
async fn open_mode_hands_a_cookie_bound_token_to_pages_and_wants_it_back_from_browsers() {
    let (address, _) = serve(settings("127.0.0.1:9464", false)).await;
    let origin = format!("http://{address}");
    let first = client().get(format!("{origin}/")).send().await.unwrap();
    let cookie = first.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("cw_csrf=") && cookie.contains("HttpOnly; SameSite=Strict"));
    let nonce = cookie.split(';').next().unwrap().to_string();
    let field = first.text().await.unwrap();
    let token = field
        .split("value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();

    let post = |cookie: Option<&str>, token: Option<&str>, origin_header: Option<&str>| {
        let mut request = client().post(format!("{origin}/silences")).body("x=1");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(token) = token {
            request = request.header(CSRF_HEADER, token);
        }
        if let Some(value) = origin_header {
            request = request.header("origin", value);
        }
        request.send()
    };
    type Case<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, u16);
    let table: [Case; 6] = [
        (Some(&nonce), Some(&token), Some(&origin), 200),
        (
            Some(&nonce),
            Some(&token),
            Some("https://evil.example"),
            403,
        ),
        (Some(&nonce), None, Some(&origin), 403),
        (None, Some(&token), Some(&origin), 403),
        (
            Some("cw_csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            Some(&token),
            Some(&origin),
            403,
        ),
        // A local script (no Origin, no cookie) is let in, as the CLI is.
        (None, None, None, 200),
    ];
    for (cookie, token, origin_header, expected) in table {
        let status = post(cookie, token, origin_header).await.unwrap().status();
        assert_eq!(status, expected, "{cookie:?} {token:?} {origin_header:?}");
    }
}

#[tokio::test]
async fn a_handler_outside_the_guard_refuses_rather_than_letting_anyone_in() {
    let app: Router = Router::new().route(
        "/",
        get(|viewer: Viewer| async move { viewer.role.as_str() }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let answer = client()
        .get(format!("http://{address}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);
}

#[test]
fn an_unknown_name_is_checked_against_the_costliest_hash() {
    let cheap = Secret::new(bcrypt::hash("a", 4).unwrap());
    let dear = Secret::new(bcrypt::hash("b", 6).unwrap());
    let middle = Secret::new(bcrypt::hash("c", 5).unwrap());
    for order in [
        vec![&cheap, &dear, &middle],
        vec![&dear, &cheap],
        vec![&middle, &cheap, &dear],
    ] {
        let decoy = decoy_hash(order.into_iter());
        assert_eq!(bcrypt_cost(decoy.expose()), 6);
    }
    assert_eq!(bcrypt_cost("not a hash"), 0);
    assert!(decoy_hash(std::iter::empty()).expose().is_empty());
}

#[tokio::test]
async fn guarded_answers_are_never_stored_by_a_cache() {
    for with_users in [true, false] {
        let (address, _) = serve(settings("127.0.0.1:9464", with_users)).await;
        let page = client()
            .get(format!("http://{address}/"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["cache-control"], "no-store", "{with_users}");
        let refused = client()
            .get(format!("http://{address}/"))
            .bearer_auth("not-the-token-at-all-0000")
            .send()
            .await
            .unwrap();
        assert_eq!(
            refused.headers()["cache-control"],
            "no-store",
            "{with_users}"
        );
    }
}

#[tokio::test]
async fn a_session_callers_liveness_ends_at_logout() {
    let settings = settings("127.0.0.1:9464", true);
    let access = Arc::new(Access::new(&settings, Metrics::new()));
    let seen: Arc<std::sync::Mutex<Option<SessionAlive>>> = Arc::default();
    let slot = seen.clone();
    let app = guard(
        Router::new().route(
            "/probe",
            get(
                move |alive: Option<axum::Extension<SessionAlive>>| async move {
                    *slot.lock().unwrap() = alive.map(|axum::Extension(alive)| alive);
                    "ok"
                },
            ),
        ),
        &access,
    )
    .merge(routes(access.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let origin = format!("http://{address}");
    let session = log_in(&origin).await;
    let probe = client()
        .get(format!("{origin}/probe"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), 200);
    let alive = seen
        .lock()
        .unwrap()
        .take()
        .expect("a session caller gets it");
    assert!(alive.alive());
    // A Bearer caller has no session to outlive.
    client()
        .get(format!("{origin}/probe"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(seen.lock().unwrap().is_none());

    let whoami: serde_json::Value = client()
        .get(format!("{origin}/api/v1/whoami"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = whoami["csrf_token"].as_str().unwrap().to_string();
    let out = client()
        .post(format!("{origin}/logout"))
        .header("cookie", &session)
        .header("origin", &origin)
        .header(CSRF_HEADER, csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert!(!alive.alive(), "the stream's session ended at logout");
}
