//! The generic webhook channel: payload v1, one event per POST, signed with
//! Standard Webhooks v1 when the channel has a secret.

use std::time::{Duration, SystemTime};

use chrono::Utc;
use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{redirect, Client, StatusCode, Url};

use super::signing::{self, signature_header};
use super::{DeliverError, SendOutcome};
use crate::backoff::parse_retry_after;
use crate::config::{ChannelSettings, Secret};
use crate::event::Event;

const USER_AGENT: &str = concat!("campaign-watcher/", env!("CARGO_PKG_VERSION"));
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Enough of an error body to say why, without storing a whole HTML page per retry.
const EXCERPT_CHARS: usize = 200;
const EXCERPT_READ_BYTES: usize = 4096;

pub struct WebhookChannel {
    client: Client,
    url: Url,
    /// `scheme://host[:port]`: what logs and errors may show of the url.
    display_url: String,
    /// Current secret first, then the previous one during a rotation.
    secrets: Vec<Secret>,
}

impl std::fmt::Debug for WebhookChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookChannel")
            .field("url", &self.display_url)
            .field("signed", &!self.secrets.is_empty())
            .finish_non_exhaustive()
    }
}

/// The url without userinfo, path or query: paths of chat webhooks carry tokens too.
pub(crate) fn display_url(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
        (Some(host), None) => format!("{}://{host}", url.scheme()),
        _ => format!("{}://", url.scheme()),
    }
}

impl WebhookChannel {
    pub fn new(name: &str, settings: &ChannelSettings) -> Result<Self, DeliverError> {
        let raw = settings
            .url
            .as_deref()
            .filter(|url| !url.trim().is_empty())
            .ok_or_else(|| DeliverError::MissingUrl {
                channel: name.to_string(),
            })?;
        let url = Url::parse(raw.trim()).map_err(|e| DeliverError::InvalidUrl {
            channel: name.to_string(),
            // url::ParseError names the problem, never the input.
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(DeliverError::InvalidUrl {
                channel: name.to_string(),
                reason: format!(
                    "scheme \"{}\" is not supported, use http:// or https:// with a host",
                    url.scheme()
                ),
            });
        }
        let mut secrets = Vec::new();
        for (key, secret) in [
            ("secret", &settings.secret),
            ("previous_secret", &settings.previous_secret),
        ] {
            if let Some(secret) = secret {
                signing::decode_secret(secret.expose()).map_err(|source| {
                    DeliverError::InvalidSecret {
                        channel: name.to_string(),
                        key,
                        source,
                    }
                })?;
                secrets.push(secret.clone());
            }
        }
        let client = Client::builder()
            .redirect(redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| DeliverError::Client {
                channel: name.to_string(),
                reason: e.without_url().to_string(),
            })?;
        Ok(Self {
            client,
            display_url: display_url(&url),
            url,
            secrets,
        })
    }

    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    pub async fn send(&self, event: &Event) -> SendOutcome {
        let body = event.to_json();
        let timestamp = Utc::now().timestamp();
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("webhook-id", event.id.as_str())
            .header("webhook-timestamp", timestamp.to_string());
        if !self.secrets.is_empty() {
            let secrets: Vec<&Secret> = self.secrets.iter().collect();
            match signature_header(&secrets, &event.id, timestamp, &body) {
                Ok(signature) => request = request.header("webhook-signature", signature),
                // Validated when the channel was built, so this is a broken invariant.
                Err(e) => {
                    return SendOutcome::Permanent {
                        reason: format!("cannot sign: {e}"),
                    }
                }
            }
        }
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(e) => {
                return SendOutcome::Retry {
                    reason: format!("POST to {} failed: {}", self.display_url, describe(&e)),
                    retry_after: None,
                }
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        if status.is_success() {
            return SendOutcome::Delivered {
                detail: format!("{} answered {status}", self.display_url),
            };
        }
        let excerpt = body_excerpt(response).await;
        let mut reason = format!("{} answered {status}", self.display_url);
        if status.is_redirection() {
            reason.push_str(" (redirects are not followed; configure the final url)");
        }
        if !excerpt.is_empty() {
            reason.push_str(": ");
            reason.push_str(&excerpt);
        }
        if status == StatusCode::GONE {
            return SendOutcome::Permanent {
                reason: format!("endpoint gone: {reason}"),
            };
        }
        SendOutcome::Retry {
            reason,
            retry_after,
        }
    }
}

/// The error and its causes on one line, without the url (it may hold credentials).
pub(super) fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request error"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The start of the body, on one line, read without downloading a large answer.
async fn body_excerpt(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_READ_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut excerpt: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if excerpt.chars().count() > EXCERPT_CHARS {
        excerpt = excerpt.chars().take(EXCERPT_CHARS).collect();
        excerpt.push('…');
    }
    excerpt
}
