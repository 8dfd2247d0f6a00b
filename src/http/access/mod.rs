//! Who may use the board and the API.
//!
//! - [`guard`] wraps a sub-router: on a loopback listener without users or
//!   tokens it is open (as the CLI is to the local user); on an exposed one
//!   without them it answers 403 with how to configure access; with them it
//!   asks for a session cookie (browsers, after `/login`), Basic credentials
//!   or a Bearer token, and hands the handler a [`Viewer`].
//! - State-changing requests from browsers need a CSRF token bound to the
//!   session (or, when open, to a per-daemon key and a cookie) and an `Origin`
//!   that is this listener's; a foreign `Origin` is refused for everyone.
//! - [`browser_safety`] puts the CSP and its companions on every answer.
//!
//! A bcrypt check costs 50-250 ms: logins are exchanged for a session, and
//! accepted Basic credentials are remembered for [`verified::REMEMBER_FOR`];
//! failed password checks are counted per client network and user name and
//! held back past a limit (`limiter.rs`); Bearer tokens are never held back.

mod guard;
mod headers;
mod limiter;
mod login;
mod origin;
mod sessions;
mod verified;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;

use crate::config::{external_origin, HttpSettings, Role, TokenValue};
use crate::metrics::Metrics;
use crate::setting::secret::Secret;
pub use guard::guard;
pub use headers::{browser_safety, CONTENT_SECURITY_POLICY};
pub use login::routes;
pub use origin::{safe_next, Mode};

/// bcrypt checks running at once: each takes a core for up to 250 ms.
const CONCURRENT_CHECKS: usize = 2;
/// The form field and the header that carry the CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Whether the browser session a request came with is still open (not
/// logged out, expired or ended by a reload): a long-lived stream asks it
/// before each event and ends once it is not. Put in the request's extensions
/// by [`guard`] for session callers only.
#[derive(Clone)]
pub struct SessionAlive {
    access: Arc<Access>,
    id: String,
}

impl SessionAlive {
    pub fn alive(&self) -> bool {
        locked(&self.access.sessions)
            .find(Instant::now(), &self.id)
            .is_some()
    }
}

impl std::fmt::Debug for SessionAlive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionAlive")
    }
}

/// Who is calling, for the handlers behind [`guard`] (an axum extractor).
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The user, `token:NAME` for a Bearer token, `None` when access is open.
    pub user: Option<String>,
    pub role: Role,
    pub via: Via,
    csrf: Option<String>,
}

/// How the caller was let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Loopback listener, nobody configured.
    Open,
    /// A board login's session cookie.
    Session,
    /// `Authorization: Basic`.
    Basic,
    /// `Authorization: Bearer`.
    Bearer,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Open => "open",
            Via::Session => "session",
            Via::Basic => "basic",
            Via::Bearer => "bearer",
        }
    }
}

impl Viewer {
    /// The CSRF token to send back with a state-changing request (a browser
    /// caller's; scripts with Basic or Bearer credentials need none).
    pub fn csrf_token(&self) -> Option<&str> {
        self.csrf.as_deref()
    }

    /// `<input type="hidden" name="csrf_token" value="...">` for a form that
    /// POSTs, or nothing when the caller needs no token.
    pub fn csrf_field(&self) -> String {
        self.csrf_token()
            .map(|token| format!(r#"<input type="hidden" name="{CSRF_FIELD}" value="{token}">"#))
            .unwrap_or_default()
    }

    /// `<meta name="csrf-token" content="...">` for a page whose script sends
    /// it as the `X-CSRF-Token` header.
    pub fn csrf_meta(&self) -> String {
        self.csrf_token()
            .map(|token| format!(r#"<meta name="csrf-token" content="{token}">"#))
            .unwrap_or_default()
    }

    /// Whether the caller's role covers `needed`.
    pub fn may(&self, needed: Role) -> bool {
        self.role.allows(needed)
    }

    /// `Ok` when the role covers `needed`, else the 403 to answer.
    pub fn require(&self, needed: Role) -> Result<(), Forbidden> {
        if self.may(needed) {
            Ok(())
        } else {
            Err(Forbidden(format!(
                "this needs the {} role; {} has the {} role",
                needed.as_str(),
                self.user.as_deref().unwrap_or("this caller"),
                self.role.as_str()
            )))
        }
    }
}

/// A 403 with one sentence (JSON `{"error": ...}`).
#[derive(Debug, Clone)]
pub struct Forbidden(pub String);

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        refusal(StatusCode::FORBIDDEN, &self.0, true)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = Forbidden;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // A handler outside the guard has no viewer: refused, never let in.
        parts.extensions.get::<Viewer>().cloned().ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "http: a route that needs a viewer is not behind the access guard");
            Forbidden("this route is not behind the access guard".to_string())
        })
    }
}

/// An extractor for admin-only handlers: a [`Viewer`] with the admin role, else 403.
#[derive(Debug, Clone)]
pub struct Admin(pub Viewer);

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = Forbidden;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        viewer.require(Role::Admin)?;
        Ok(Admin(viewer))
    }
}

struct User {
    hash: Secret,
    role: Role,
}

struct Token {
    name: String,
    digest: [u8; 32],
    role: Role,
}

/// What a password check came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Accepted(Role),
    Refused,
    /// Too many failures from this address: try again after this long.
    HeldBack(Duration),
}

/// What `[http]` grants, swapped whole on a reload.
struct Rules {
    mode: Mode,
    /// The origin of `http.external_url`.
    external: Option<String>,
    /// `Secure` cookies (`http.external_url` is https).
    secure: bool,
    session_ttl: Duration,
    users: BTreeMap<String, User>,
    tokens: Vec<Token>,
}

impl Rules {
    /// From validated settings (an unknown role reads as `read`, an unread
    /// token is left out: validation has refused both already). `listen` is
    /// the address actually served, which a reload does not change.
    fn new(settings: &HttpSettings, listen: &str) -> Self {
        let users = settings
            .users
            .iter()
            .map(|(name, user)| {
                let role = Role::parse(&user.role).unwrap_or(Role::Read);
                (
                    name.clone(),
                    User {
                        hash: user.password_hash.clone(),
                        role,
                    },
                )
            })
            .collect();
        let tokens = settings
            .tokens
            .iter()
            .filter_map(|(name, token)| match &token.token {
                TokenValue::Read(value) => Some(Token {
                    name: name.clone(),
                    digest: Sha256::digest(value.expose().as_bytes()).into(),
                    role: Role::parse(&token.role).unwrap_or(Role::Read),
                }),
                _ => None,
            })
            .collect();
        let external = settings
            .external_url
            .as_deref()
            .and_then(|url| external_origin(url).ok());
        Self {
            mode: origin::mode(listen, settings.has_credentials()),
            secure: external
                .as_deref()
                .is_some_and(|o| o.starts_with("https://")),
            external,
            session_ttl: settings.session_ttl,
            users,
            tokens,
        }
    }

    fn session_cookie(&self) -> &'static str {
        // `__Host-`: the browser keeps it only if Secure, Path=/ and no Domain.
        if self.secure {
            "__Host-cw_session"
        } else {
            "cw_session"
        }
    }

    fn csrf_cookie(&self) -> &'static str {
        if self.secure {
            "__Host-cw_csrf"
        } else {
            "cw_csrf"
        }
    }

    /// A Bearer token's name and role (every configured token compared, in constant time).
    fn check_token(&self, presented: &str) -> Option<(String, Role)> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for token in &self.tokens {
            if bool::from(token.digest.ct_eq(&digest)) {
                found = Some((format!("token:{}", token.name), token.role));
            }
        }
        found
    }
}

/// The access rules of one listener, and what they remember (sessions,
/// accepted credentials, failures). Built from `[http]`; [`Access::reload`]
/// swaps the rules.
pub struct Access {
    listen: String,
    rules: RwLock<Arc<Rules>>,
    /// Per-daemon key: the remembered-credentials table and open-mode CSRF tokens.
    key: [u8; 32],
    sessions: Mutex<sessions::Sessions>,
    verified: Mutex<verified::Verified>,
    limiter: Mutex<limiter::Limiter>,
    checks: Semaphore,
    metrics: Metrics,
    /// `http.max_connections_per_client`, read at start as the listener is.
    connections_per_client: Option<usize>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rules = self.rules();
        f.debug_struct("Access")
            .field("mode", &rules.mode)
            .field("users", &rules.users.keys().collect::<Vec<_>>())
            .field(
                "tokens",
                &rules.tokens.iter().map(|t| &t.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing in these tables can be left half-changed by a panic elsewhere.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Access {
    /// From validated settings.
    pub fn new(settings: &HttpSettings, metrics: Metrics) -> Self {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        Self {
            listen: settings.listen.clone(),
            rules: RwLock::new(Arc::new(Rules::new(settings, &settings.listen))),
            key,
            sessions: Mutex::default(),
            verified: Mutex::default(),
            limiter: Mutex::default(),
            checks: Semaphore::new(CONCURRENT_CHECKS),
            metrics,
            connections_per_client: settings.max_connections_per_client,
        }
    }

    /// `http.max_connections_per_client`, as configured at start.
    pub fn connections_per_client(&self) -> Option<usize> {
        self.connections_per_client
    }

    /// Takes the users, tokens, `external_url` and `session_ttl` of a reloaded
    /// (validated) configuration; the listen address stays. Sessions of users
    /// removed, or whose hash or role changed, end; remembered passwords are
    /// forgotten.
    pub fn reload(&self, settings: &HttpSettings) {
        let new = Arc::new(Rules::new(settings, &self.listen));
        let old = std::mem::replace(
            &mut *self.rules.write().unwrap_or_else(|p| p.into_inner()),
            new.clone(),
        );
        let unchanged: Vec<&str> = new
            .users
            .iter()
            .filter(|(name, user)| {
                old.users.get(*name).is_some_and(|before| {
                    before.role == user.role && before.hash.expose() == user.hash.expose()
                })
            })
            .map(|(name, _)| name.as_str())
            .collect();
        let ended = locked(&self.sessions).keep_only(&unchanged);
        *locked(&self.verified) = verified::Verified::default();
        tracing::info!(
            users = new.users.len(),
            tokens = new.tokens.len(),
            sessions_ended = ended,
            "http: access rules reloaded"
        );
    }

    fn rules(&self) -> Arc<Rules> {
        self.rules
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn mode(&self) -> Mode {
        self.rules().mode.clone()
    }

    /// The open mode's CSRF token for a cookie's nonce: HMAC under the daemon's key.
    fn open_csrf(&self, nonce: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as hmac::Mac>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(b"csrf\0");
        mac.update(nonce.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// How long `user` must wait from `client`'s network before its next
    /// password, if at all.
    fn held_back(&self, client: IpAddr, user: &str) -> Option<Duration> {
        locked(&self.limiter).wait(Instant::now(), client, user)
    }

    fn failed(&self, client: IpAddr, user: &str) {
        locked(&self.limiter).fail(Instant::now(), client, user);
    }

    /// A user's password: remembered if accepted lately, else one bcrypt check
    /// (at most [`CONCURRENT_CHECKS`] at once, off the async threads). An unknown
    /// user costs the same check, against the hash of the highest cost, so
    /// the answer's timing does not tell which names exist.
    async fn check_password(&self, client: IpAddr, user: &str, password: &str) -> Verdict {
        // Held back before the remembered credentials: a hold that let the
        // right password through uncounted would let guessing go on.
        if let Some(wait) = self.held_back(client, user) {
            return self.hold(client, wait);
        }
        let key = verified::credential_key(&self.key, user, password);
        if let Some(role) = locked(&self.verified).find(Instant::now(), &key) {
            return Verdict::Accepted(role);
        }
        let Ok(_permit) = self.checks.acquire().await else {
            return Verdict::Refused;
        };
        // Queued requests from one address are counted again once their turn comes.
        if let Some(wait) = self.held_back(client, user) {
            return self.hold(client, wait);
        }
        let rules = self.rules();
        let (hash, role) = match rules.users.get(user) {
            Some(known) => (known.hash.clone(), Some(known.role)),
            None => (
                decoy_hash(rules.users.values().map(|user| &user.hash)),
                None,
            ),
        };
        let password = password.to_string();
        let matched = if hash.expose().is_empty() {
            false
        } else {
            tokio::task::spawn_blocking(move || {
                bcrypt::verify(password.as_bytes(), hash.expose()).unwrap_or(false)
            })
            .await
            .unwrap_or(false)
        };
        self.metrics
            .record_password_check(matched && role.is_some());
        match role {
            Some(role) if matched => {
                locked(&self.verified).remember(Instant::now(), key, role);
                Verdict::Accepted(role)
            }
            _ => {
                self.failed(client, user);
                // A name typed into the password field must not reach the log:
                // only configured names are logged.
                let shown = if role.is_some() {
                    crate::text::cap(user, 64).into_owned()
                } else {
                    "(not a configured user)".to_string()
                };
                tracing::warn!(user = %shown, client = %client, "http: login refused: wrong user name or password for {shown} from {client}");
                Verdict::Refused
            }
        }
    }

    fn hold(&self, client: IpAddr, wait: Duration) -> Verdict {
        self.metrics.record_login_held_back();
        tracing::warn!(client = %client, "http: login refused: too many failed logins for one user name from {client}'s network; it may try again in {}s", wait.as_secs());
        Verdict::HeldBack(wait)
    }
}

/// The cost of a bcrypt hash (`$2b$12$...` is 12); 0 when it is not one.
fn bcrypt_cost(hash: &str) -> u32 {
    hash.parse::<bcrypt::HashParts>()
        .map_or(0, |parts| parts.get_cost())
}

/// The hash an unknown user name is checked against: the costliest
/// configured, so that no known name takes longer to refuse than an unknown
/// one. Empty (no check) without users.
fn decoy_hash<'a>(hashes: impl Iterator<Item = &'a Secret>) -> Secret {
    hashes
        .max_by_key(|hash| bcrypt_cost(hash.expose()))
        .cloned()
        .unwrap_or_else(|| Secret::new(String::new()))
}

/// A refusal in one sentence: JSON `{"error": ...}` for the API, text otherwise.
pub(crate) fn refusal(status: StatusCode, sentence: &str, json: bool) -> Response {
    if json {
        (status, axum::Json(serde_json::json!({ "error": sentence }))).into_response()
    } else {
        (status, format!("{sentence}\n")).into_response()
    }
}

/// Whether a path is the JSON API's (answers are JSON, never redirects).
fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// Constant-time equality of two tokens.
fn same_token(presented: &str, expected: &str) -> bool {
    presented.len() == expected.len() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests;
