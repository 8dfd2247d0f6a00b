//! `/login` (the form and its POST), `/logout` and `/api/v1/whoami`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::guard::{client_of, closed, guard, held_back, FOREIGN_ORIGIN};
use super::origin::{cookie, provenance, safe_next, set_cookie, Mode, Provenance};
use super::{locked, refusal, Access, Verdict, Via, Viewer};

/// A login form is at most this long.
const LOGIN_FORM_LIMIT: usize = 16 * 1024;

/// `/login` (open to all, refused on a closed listener), and behind the guard
/// `POST /logout` and `GET /api/v1/whoami`.
pub fn routes<S>(access: Arc<Access>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let guarded = guard(
        Router::new()
            .route("/logout", post(logout))
            .route("/api/v1/whoami", get(whoami)),
        &access,
    );
    Router::new()
        .route("/login", get(login_page).post(log_in))
        .merge(guarded)
        .with_state(access)
}

#[derive(serde::Deserialize)]
struct NextPage {
    #[serde(default)]
    next: String,
}

async fn login_page(
    State(access): State<Arc<Access>>,
    Query(query): Query<NextPage>,
    request: Request,
) -> Response {
    let next = safe_next(&query.next);
    match access.rules().mode {
        Mode::Closed => closed(&access, false),
        Mode::Open => page(
            StatusCode::OK,
            "<p>Access is open on this loopback listener: there is nothing to log in to.</p><p><a href=\"/\">The board</a></p>",
        ),
        Mode::Protected => {
            let signed_in = cookie(request.headers(), access.rules().session_cookie())
                .and_then(|id| locked(&access.sessions).find(Instant::now(), id))
                .is_some();
            if signed_in {
                see_other(next)
            } else {
                login_form(StatusCode::OK, next, None)
            }
        }
    }
}

async fn log_in(State(access): State<Arc<Access>>, request: Request) -> Response {
    if access.rules().mode == Mode::Closed {
        return closed(&access, false);
    }
    // Login CSRF (a foreign page logging the victim in as the attacker): only
    // the watcher's own login form may post here.
    match provenance(request.headers(), access.rules().external.as_deref()) {
        Provenance::Same => {}
        Provenance::Foreign | Provenance::Unstated => {
            return refusal(StatusCode::FORBIDDEN, FOREIGN_ORIGIN, false)
        }
    }
    let client = client_of(&request);
    let body: Bytes = match axum::body::to_bytes(request.into_body(), LOGIN_FORM_LIMIT).await {
        Ok(body) => body,
        Err(_) => {
            return refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the login form is larger than 16 KiB",
                false,
            )
        }
    };
    let (mut user, mut password, mut next) = (String::new(), String::new(), String::new());
    for (key, value) in form_urlencoded::parse(&body) {
        match key.as_ref() {
            "username" => user = value.into_owned(),
            "password" => password = value.into_owned(),
            "next" => next = value.into_owned(),
            _ => {}
        }
    }
    let next = safe_next(&next).to_string();
    if access.rules().mode == Mode::Open {
        return see_other(&next);
    }
    match access.check_password(client, &user, &password).await {
        Verdict::Accepted(role) => {
            let id = locked(&access.sessions).open(
                Instant::now(),
                &user,
                role,
                access.rules().session_ttl,
            );
            tracing::info!(user = %crate::text::cap(&user, 64), client = %client, "http: {} logged in", crate::text::cap(&user, 64));
            let mut response = see_other(&next);
            let value = set_cookie(
                access.rules().session_cookie(),
                &id,
                access.rules().secure,
                access.rules().session_ttl.as_secs(),
            );
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Verdict::Refused => login_form(
            StatusCode::UNAUTHORIZED,
            &next,
            Some("Wrong user name or password."),
        ),
        verdict @ Verdict::HeldBack(_) => held_back(&verdict, false),
    }
}

/// Ends the session (the guard has checked its CSRF token and Origin).
async fn logout(State(access): State<Arc<Access>>, viewer: Viewer, request: Request) -> Response {
    let mut response = see_other("/login");
    if viewer.via == Via::Session {
        if let Some(id) = cookie(request.headers(), access.rules().session_cookie()) {
            locked(&access.sessions).close(id);
        }
        let value = set_cookie(
            access.rules().session_cookie(),
            "",
            access.rules().secure,
            0,
        );
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        tracing::info!(user = %viewer.user.as_deref().map(|u| crate::text::cap(u, 64)).unwrap_or_default(), "http: logged out");
    }
    response
}

/// `{"user", "role", "via", "csrf_token"}`: who the guard let in.
async fn whoami(viewer: Viewer) -> Response {
    let body = serde_json::json!({
        "user": viewer.user,
        "role": viewer.role.as_str(),
        "via": viewer.via.as_str(),
        "csrf_token": viewer.csrf_token(),
    });
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_string())],
        "",
    )
        .into_response()
}

fn login_form(status: StatusCode, next: &str, problem: Option<&str>) -> Response {
    let problem = problem
        .map(|text| {
            format!(
                "<p role=\"alert\"><strong>{}</strong></p>",
                crate::text::html(text)
            )
        })
        .unwrap_or_default();
    let body = format!(
        r#"{problem}<form method="post" action="/login">
<input type="hidden" name="next" value="{next}">
<p><label for="username">User name</label><br><input id="username" name="username" autocomplete="username" required autofocus></p>
<p><label for="password">Password</label><br><input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Log in</button></p>
</form>"#,
        next = crate::text::html(next),
    );
    page(status, &body)
}

fn page(status: StatusCode, main: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Log in · campaign-watcher</title></head>\n<body><main><h1>campaign-watcher</h1>\n{main}\n</main></body></html>\n"
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}
