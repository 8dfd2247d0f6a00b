//! The client-credentials grant (RFC 6749 §4.4): one POST to the token
//! endpoint, the token kept until shortly before it expires.
//!
//! The client secret goes in the form body, the token comes back in the
//! answer: neither is ever put in a reason, a log line or `Debug`. An error
//! answer is quoted only after every known secret and token is scrubbed from
//! it, because identity providers echo what they were sent.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use serde::Deserialize;
use serde_json::Value;

use crate::deliver::target::{describe, Target};
use crate::deliver::DeliverError;
use crate::outbound::Scrubber;
use crate::setting::secret::Secret;

/// Assumed when the answer has no `expires_in` (RFC 6749 makes it optional;
/// Microsoft and Google send it): a token refused earlier is fetched again anyway.
pub const ASSUMED_LIFETIME: Duration = Duration::from_secs(3600);
/// A token is not used in the last tenth of its life, and never in its last
/// five minutes when it lives longer than 50: a send that starts just before
/// expiry must not be refused halfway.
const LONGEST_MARGIN: Duration = Duration::from_secs(300);
/// Access tokens are a few KiB (a JWT with claims); more is not a token answer.
const ANSWER_LIMIT: usize = 64 * 1024;
const EXCERPT_CHARS: usize = 300;

/// Until when a token fetched at `fetched_at` (taken before the request went
/// out) that lives `expires_in` is used.
pub fn reuse_until(fetched_at: Instant, expires_in: Option<Duration>) -> Instant {
    let life = expires_in.unwrap_or(ASSUMED_LIFETIME);
    let margin = (life / 10).min(LONGEST_MARGIN);
    fetched_at + (life - margin)
}

/// Why no token came. Never holds the secret or a token: error texts from
/// the endpoint are scrubbed before they get here.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error("token request to {endpoint} failed: {reason}")]
    Unreachable { endpoint: String, reason: String },
    /// An answer other than 2xx; `refused` when it says the client or the
    /// scope is wrong (a configuration problem retrying will not fix).
    #[error("{endpoint} answered {status} to the token request{detail}{advice}", advice = if *.refused { "; check oauth2.client_id, the client secret and oauth2.scope" } else { "" })]
    Status {
        endpoint: String,
        status: u16,
        detail: String,
        refused: bool,
    },
    #[error("{endpoint} answered the token request without a usable token: {reason}")]
    BadAnswer { endpoint: String, reason: String },
}

impl TokenError {
    /// The endpoint refused these client credentials or this scope.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Status { refused: true, .. })
    }
}

/// A token and how long it was said to live.
#[derive(Clone)]
pub struct Token {
    pub value: Secret,
    pub expires_in: Option<Duration>,
    reuse_until: Instant,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("value", &self.value)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Where a token came from this time (what `test-notify` reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Cached,
    Fetched,
}

/// The token endpoint and the one token kept from it.
pub struct TokenSource {
    target: Target,
    client_id: String,
    client_secret: Secret,
    scope: Option<String>,
    /// Held across a fetch, so concurrent sends wait for one request.
    kept: tokio::sync::Mutex<Option<Token>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("endpoint", &self.target.display())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The token endpoint's answer (RFC 6749 §5.1). `expires_in` is a number, or
/// a string of one (Microsoft's v1 endpoint).
#[derive(Deserialize)]
struct Answer {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<Value>,
}

impl TokenSource {
    /// The client comes from the one builder (no redirects, the address guard).
    pub fn new(
        channel: &str,
        token_url: &str,
        client_id: &str,
        client_secret: &Secret,
        scope: Option<&str>,
        timeout: Duration,
        allow_link_local: bool,
    ) -> Result<Self, DeliverError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let secret = client_secret.expose().trim();
        // The request sends the secret form-encoded: an endpoint that echoes
        // the form quotes it in that spelling (`~` as `%7E`, ` ` as `+`).
        let form_encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let target = Target::with_headers(channel, token_url, timeout, allow_link_local, headers)?
            .scrubbing(&[secret, &form_encoded]);
        Ok(Self {
            target,
            client_id: client_id.trim().to_string(),
            client_secret: Secret::new(client_secret.expose().trim()),
            scope: scope.map(|scope| scope.trim().to_string()),
            kept: tokio::sync::Mutex::new(None),
        })
    }

    /// `scheme://host[:port]` of the token endpoint.
    pub fn endpoint(&self) -> &str {
        self.target.display()
    }

    /// The kept token while it is fresh, else a new one.
    pub async fn token(&self) -> Result<(Token, Origin), TokenError> {
        let mut kept = self.kept.lock().await;
        if let Some(token) = kept.as_ref() {
            if Instant::now() < token.reuse_until {
                return Ok((token.clone(), Origin::Cached));
            }
        }
        let token = self.fetch(kept.as_ref()).await?;
        *kept = Some(token.clone());
        Ok((token, Origin::Fetched))
    }

    /// After the server refused `rejected`: a new token, unless another send
    /// already replaced it (then that one, without a request).
    pub async fn replace(&self, rejected: &Token) -> Result<(Token, Origin), TokenError> {
        let mut kept = self.kept.lock().await;
        if let Some(token) = kept.as_ref() {
            if token.value != rejected.value && Instant::now() < token.reuse_until {
                return Ok((token.clone(), Origin::Cached));
            }
        }
        let old = kept.take();
        let token = self.fetch(old.as_ref()).await?;
        *kept = Some(token.clone());
        Ok((token, Origin::Fetched))
    }

    /// One token request. `previous` is scrubbed from an error answer too.
    async fn fetch(&self, previous: Option<&Token>) -> Result<Token, TokenError> {
        let endpoint = self.endpoint().to_string();
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
        ];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope.as_str()));
        }
        let fetched_at = Instant::now();
        let response = self
            .target
            .client
            .post(self.target.url.clone())
            .form(&form)
            .send()
            .await
            .map_err(|error| TokenError::Unreachable {
                endpoint: endpoint.clone(),
                reason: describe(&error),
            })?;
        let status = response.status();
        let body = read_capped(response)
            .await
            .map_err(|reason| TokenError::Unreachable {
                endpoint: endpoint.clone(),
                reason,
            })?;
        if !status.is_success() {
            let known_tokens = Scrubber::new(previous.map(|token| token.value.expose()));
            let text = known_tokens.scrub(&self.target.scrub(&String::from_utf8_lossy(&body)));
            return Err(TokenError::Status {
                endpoint,
                status: status.as_u16(),
                detail: error_detail(&text, status.is_redirection()),
                refused: matches!(status.as_u16(), 400 | 401 | 403),
            });
        }
        parse_answer(&body, fetched_at).map_err(|reason| TokenError::BadAnswer { endpoint, reason })
    }
}

/// The answer's body, at most [`ANSWER_LIMIT`] bytes.
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() > ANSWER_LIMIT {
                    return Err(format!("the answer is larger than {ANSWER_LIMIT} bytes"));
                }
            }
            Ok(None) => return Ok(body),
            Err(error) => return Err(describe(&error)),
        }
    }
}

/// A 2xx answer's token. The reasons never quote the body: it holds the token.
pub fn parse_answer(body: &[u8], fetched_at: Instant) -> Result<Token, String> {
    let answer: Answer =
        serde_json::from_slice(body).map_err(|_| "the answer is not a JSON object".to_string())?;
    let value = answer
        .access_token
        .filter(|token| !token.trim().is_empty())
        .ok_or_else(|| "the answer has no access_token".to_string())?;
    if let Some(kind) = &answer.token_type {
        if !kind.eq_ignore_ascii_case("bearer") {
            return Err(format!(
                "token_type is \"{}\", not Bearer",
                crate::text::plain(&crate::text::cap(kind, 40))
            ));
        }
    }
    let expires_in = match answer.expires_in {
        None | Some(Value::Null) => None,
        Some(Value::Number(seconds)) => seconds.as_u64().map(Duration::from_secs),
        Some(Value::String(seconds)) => seconds.trim().parse().ok().map(Duration::from_secs),
        Some(_) => None,
    };
    Ok(Token {
        value: Secret::new(value.trim()),
        expires_in,
        reuse_until: reuse_until(fetched_at, expires_in),
    })
}

/// `: invalid_client: AADSTS7000215 …` from an OAuth error answer (§5.2),
/// else the start of the (already scrubbed) body, on one line.
pub fn error_detail(scrubbed: &str, redirect: bool) -> String {
    let mut detail = String::new();
    if redirect {
        detail.push_str(" (redirects are not followed; configure the final token_url)");
    }
    let quoted = match serde_json::from_str::<Value>(scrubbed) {
        Ok(Value::Object(fields)) => {
            let field = |name: &str| fields.get(name).and_then(Value::as_str).unwrap_or_default();
            [field("error"), field("error_description")]
                .into_iter()
                .filter(|text| !text.is_empty())
                .collect::<Vec<_>>()
                .join(": ")
        }
        _ => scrubbed.to_string(),
    };
    let one_line = quoted.split_whitespace().collect::<Vec<_>>().join(" ");
    if !one_line.is_empty() {
        detail.push_str(": ");
        detail.push_str(&crate::text::cap(&one_line, EXCERPT_CHARS));
    }
    detail
}
