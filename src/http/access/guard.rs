//! The middleware in front of the board and the API.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::origin::{
    changes_state, cookie, from_a_browser, host_is_local, provenance, set_cookie, Mode, Provenance,
};
use super::sessions::random_token;
use super::{is_api, locked, refusal, same_token, Access, SessionAlive, Verdict, Via, Viewer};
use super::{CSRF_FIELD, CSRF_HEADER};

/// A form body read for its CSRF token is at most this long.
const FORM_LIMIT: usize = 64 * 1024;
/// The open mode's CSRF cookie lives this long (it is renewed when missing).
const OPEN_COOKIE_SECS: u64 = 30 * 24 * 3600;
/// Characters left as they are in `next=`: a path and its query stay readable.
const NEXT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub(super) const FOREIGN_ORIGIN: &str = "refused: this request comes from another site (its Origin is not this watcher's); state-changing requests are only taken from the watcher's own pages";
const NO_ORIGIN: &str = "refused: a browser's state-changing request must carry an Origin (or Referer) naming this watcher";
const NO_TOKEN: &str = "refused: the CSRF token is missing or wrong; reload the page and try again";
const NOT_LOCAL: &str = "refused: this open listener answers only to a loopback host name (localhost, 127.0.0.1, [::1]) or http.external_url; configure users to serve other names";
const NEEDS_CREDENTIALS: &str =
    "this needs credentials: log in at /login, or send Basic credentials or a Bearer token";

/// Puts `router`'s routes behind the access rules. Handlers read the caller
/// with the [`Viewer`] (or `Admin`) extractor.
pub fn guard<S>(router: Router<S>, access: &Arc<Access>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.route_layer(middleware::from_fn_with_state(access.clone(), admit))
}

async fn admit(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    let static_asset = request.uri().path().starts_with("/assets/");
    let mut response = match access.rules().mode {
        Mode::Closed => closed(&access, is_api(request.uri().path())),
        Mode::Open => admit_open(&access, request, next).await,
        Mode::Protected => admit_protected(&access, request, next).await,
    };
    // What a caller may see is for that caller only: no shared or browser
    // cache keeps it past a logout. The stylesheet and script are the same
    // for everyone.
    if !static_asset {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// 403 on an exposed listener nobody is configured for.
pub(super) fn closed(access: &Access, json: bool) -> Response {
    let sentence = format!(
        "access is closed: this watcher listens on {}, which is not a loopback address, and no users or tokens are configured; add [http.users.NAME] (with a hash from `campaign-watcher hash-password`) or [http.tokens.NAME] to the configuration, or listen on 127.0.0.1 (see docs/security.md)",
        access.listen
    );
    refusal(StatusCode::FORBIDDEN, &sentence, json)
}

async fn admit_open(access: &Access, request: Request, next: Next) -> Response {
    let json = is_api(request.uri().path());
    if !host_is_local(request.headers(), access.rules().external.as_deref()) {
        return refusal(StatusCode::FORBIDDEN, NOT_LOCAL, json);
    }
    let name = access.rules().csrf_cookie();
    let nonce = cookie(request.headers(), name)
        .filter(|nonce| nonce.len() == 43)
        .map(str::to_string);
    let fresh = nonce.is_none();
    let nonce = nonce.unwrap_or_else(random_token);
    let token = access.open_csrf(&nonce);
    let mut request = request;
    if changes_state(request.method()) && from_a_browser(request.headers()) {
        let expected = (!fresh).then_some(token.as_str());
        request = match check_browser_write(access, request, expected).await {
            Ok(request) => request,
            Err(refused) => return refused,
        };
    }
    request.extensions_mut().insert(Viewer {
        user: None,
        role: crate::config::Role::Admin,
        via: Via::Open,
        csrf: Some(token),
    });
    let mut response = next.run(request).await;
    if fresh {
        let value = set_cookie(name, &nonce, access.rules().secure, OPEN_COOKIE_SECS);
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// What the `Authorization` header holds.
enum Presented {
    Bearer(String),
    Basic { user: String, password: String },
    Malformed,
}

fn authorization(headers: &HeaderMap) -> Option<Presented> {
    let value = headers.get(header::AUTHORIZATION)?;
    let Ok(text) = value.to_str() else {
        return Some(Presented::Malformed);
    };
    let (scheme, rest) = text.trim().split_once(' ').unwrap_or((text, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        return Some(Presented::Bearer(rest.to_string()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        if let Some((user, password)) = decoded.as_deref().and_then(|text| text.split_once(':')) {
            return Some(Presented::Basic {
                user: user.to_string(),
                password: password.to_string(),
            });
        }
    }
    Some(Presented::Malformed)
}

pub(super) fn client_of(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
}

async fn admit_protected(access: &Arc<Access>, request: Request, next: Next) -> Response {
    let mut alive = None;
    let client = client_of(&request);
    let json = is_api(request.uri().path());
    let viewer = match authorization(request.headers()) {
        // A token is never held back and its failures are never counted: a
        // long random token needs no rate limit, and a hold would lock out the
        // right token with the wrong ones (behind a proxy, everyone's).
        Some(Presented::Bearer(token)) => match access.rules().check_token(&token) {
            Some((user, role)) => Viewer {
                user: Some(user),
                role,
                via: Via::Bearer,
                csrf: None,
            },
            None => {
                tracing::warn!(client = %client, "http: a Bearer token from {client} matches no configured token");
                return unauthenticated(&request, true);
            }
        },
        Some(Presented::Basic { user, password }) => {
            match access.check_password(client, &user, &password).await {
                Verdict::Accepted(role) => Viewer {
                    user: Some(user),
                    role,
                    via: Via::Basic,
                    csrf: None,
                },
                Verdict::Refused => return unauthenticated(&request, true),
                verdict @ Verdict::HeldBack(_) => return held_back(&verdict, json),
            }
        }
        Some(Presented::Malformed) => return unauthenticated(&request, true),
        None => {
            let id = cookie(request.headers(), access.rules().session_cookie());
            let session = id.and_then(|id| locked(&access.sessions).find(Instant::now(), id));
            match (session, id) {
                (Some(session), Some(id)) => {
                    alive = Some(SessionAlive {
                        access: access.clone(),
                        id: id.to_string(),
                    });
                    Viewer {
                        user: Some(session.user),
                        role: session.role,
                        via: Via::Session,
                        csrf: Some(session.csrf),
                    }
                }
                _ => return unauthenticated(&request, false),
            }
        }
    };
    let mut request = request;
    if let Some(alive) = alive {
        request.extensions_mut().insert(alive);
    }
    if changes_state(request.method()) {
        if viewer.via == Via::Session {
            request = match check_browser_write(access, request, viewer.csrf.as_deref()).await {
                Ok(request) => request,
                Err(refused) => return refused,
            };
        } else if provenance(request.headers(), access.rules().external.as_deref())
            == Provenance::Foreign
        {
            return refusal(StatusCode::FORBIDDEN, FOREIGN_ORIGIN, json);
        }
    }
    request.extensions_mut().insert(viewer);
    next.run(request).await
}

/// A browser page goes to the login form; the API (and any other method) gets
/// 401 with the schemes it may use. `wrong` says credentials were sent and refused.
fn unauthenticated(request: &Request, wrong: bool) -> Response {
    let path = request.uri().path();
    let page = matches!(*request.method(), Method::GET | Method::HEAD) && !is_api(path);
    if page && !wrong {
        let next = request
            .uri()
            .path_and_query()
            .map_or("/", |path| path.as_str());
        let location = format!("/login?next={}", utf8_percent_encode(next, NEXT));
        return (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, location)],
            "log in first\n",
        )
            .into_response();
    }
    let sentence = if wrong {
        "the credentials were refused: wrong user name, password or token"
    } else {
        NEEDS_CREDENTIALS
    };
    let mut response = refusal(StatusCode::UNAUTHORIZED, sentence, is_api(path));
    let headers = response.headers_mut();
    for challenge in [
        r#"Basic realm="campaign-watcher", charset="UTF-8""#,
        r#"Bearer realm="campaign-watcher""#,
    ] {
        headers.append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    response
}

pub(super) fn held_back(verdict: &Verdict, json: bool) -> Response {
    let Verdict::HeldBack(wait) = verdict else {
        return refusal(StatusCode::UNAUTHORIZED, NEEDS_CREDENTIALS, json);
    };
    let seconds = wait.as_secs().max(1);
    let mut response = refusal(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "too many failed logins for this user name from this network; try again in {seconds} s"
        ),
        json,
    );
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// A browser's state-changing request: its `Origin` must be this watcher's
/// and it must carry `expected` (the CSRF token) in the `X-CSRF-Token` header
/// or a `csrf_token` form field. `None` expected: the caller has no token yet.
pub(super) async fn check_browser_write(
    access: &Access,
    request: Request,
    expected: Option<&str>,
) -> Result<Request, Response> {
    let json = is_api(request.uri().path());
    match provenance(request.headers(), access.rules().external.as_deref()) {
        Provenance::Same => {}
        Provenance::Foreign => return Err(refusal(StatusCode::FORBIDDEN, FOREIGN_ORIGIN, json)),
        Provenance::Unstated => return Err(refusal(StatusCode::FORBIDDEN, NO_ORIGIN, json)),
    }
    let (presented, request) = presented_token(request).await?;
    match (presented, expected) {
        (Some(presented), Some(expected)) if same_token(&presented, expected) => Ok(request),
        _ => Err(refusal(StatusCode::FORBIDDEN, NO_TOKEN, json)),
    }
}

/// The token from the header, or from a URL-encoded form body (which is read
/// and put back for the handler).
async fn presented_token(request: Request) -> Result<(Option<String>, Request), Response> {
    if let Some(value) = request.headers().get(CSRF_HEADER) {
        let token = value.to_str().ok().map(str::to_string);
        return Ok((token, request));
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|kind| kind.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((None, request));
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|_| {
        refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the form is larger than 64 KiB",
            false,
        )
    })?;
    let token = form_urlencoded::parse(&bytes)
        .find(|(key, _)| key == CSRF_FIELD)
        .map(|(_, value)| value.into_owned());
    Ok((token, Request::from_parts(parts, Body::from(bytes))))
}
