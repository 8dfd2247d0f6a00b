//! What the Slack, Discord, Teams, PagerDuty and Alertmanager channels share:
//! one JSON POST to a URL that may itself be a credential, an answer read
//! without downloading a page, and the shared event→text rendering.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{redirect, Client, StatusCode, Url};

use super::webhook::{describe, display_url};
use super::{DeliverError, SendOutcome};
use crate::backoff::parse_retry_after;
use crate::config::ChannelSettings;
use crate::event::Event;
use crate::render::{RenderContext, Rendered, Templates};

const USER_AGENT: &str = concat!("campaign-watcher/", env!("CARGO_PKG_VERSION"));
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Enough of an answer to find an error in, or to quote one.
const ANSWER_READ_BYTES: usize = 8192;
const EXCERPT_CHARS: usize = 200;

/// One URL to POST JSON to. Logs and errors only ever show `scheme://host[:port]`.
#[derive(Clone)]
pub(super) struct Target {
    pub(super) client: Client,
    pub(super) url: Url,
    display: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

/// The answer rules the chat and incident targets share: 2xx delivered; 408,
/// 429 and 5xx retried (honouring `Retry-After`); any other 4xx will not get
/// better by itself, so dead; anything else retried. Targets match their own
/// special cases first.
pub(super) fn outcome_for_status(
    status: u16,
    reason: String,
    retry_after: Option<Duration>,
) -> SendOutcome {
    match status {
        200..=299 => SendOutcome::Delivered { detail: reason },
        408 | 429 | 500..=599 => SendOutcome::Retry {
            reason,
            retry_after,
        },
        400..=499 => SendOutcome::Permanent { reason },
        _ => SendOutcome::Retry {
            reason,
            retry_after: None,
        },
    }
}

/// What the receiver answered.
#[derive(Debug)]
pub(super) struct Answer {
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    /// The start of the body (at most 8 KiB), lossily decoded.
    pub body: String,
}

impl Answer {
    /// The start of the body on one line, for a failure reason.
    pub fn excerpt(&self) -> String {
        let mut excerpt = self.body.split_whitespace().collect::<Vec<_>>().join(" ");
        if excerpt.chars().count() > EXCERPT_CHARS {
            excerpt = excerpt.chars().take(EXCERPT_CHARS).collect();
            excerpt.push('…');
        }
        excerpt
    }
}

impl Target {
    /// The channel's required `url` (Slack, Discord, Teams).
    pub fn from_settings(channel: &str, settings: &ChannelSettings) -> Result<Self, DeliverError> {
        let url = settings
            .url
            .as_deref()
            .filter(|url| !url.trim().is_empty())
            .ok_or_else(|| DeliverError::MissingUrl {
                channel: channel.to_string(),
            })?;
        Self::new(channel, url, settings.timeout)
    }

    /// `raw` must be http(s) with a host; its path may hold a token and is never shown.
    pub fn new(channel: &str, raw: &str, timeout: Duration) -> Result<Self, DeliverError> {
        let url = Url::parse(raw.trim()).map_err(|e| DeliverError::InvalidUrl {
            channel: channel.to_string(),
            // url::ParseError names the problem, never the input.
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(DeliverError::InvalidUrl {
                channel: channel.to_string(),
                reason: format!(
                    "scheme \"{}\" is not supported, use http:// or https:// with a host",
                    url.scheme()
                ),
            });
        }
        let client = Client::builder()
            .redirect(redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| DeliverError::Client {
                channel: channel.to_string(),
                reason: e.without_url().to_string(),
            })?;
        Ok(Self {
            client,
            display: display_url(&url),
            url,
        })
    }

    /// The same client and host, another path (Alertmanager's `/api/v2/alerts`).
    pub fn join_path(mut self, path: &str) -> Self {
        let base = self.url.path().trim_end_matches('/').to_string();
        self.url.set_path(&format!("{base}{path}"));
        self
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    /// POSTs `body` as JSON. `Err` is a network failure or timeout, already
    /// worded for a log line (without the URL).
    pub async fn post_json(&self, body: &serde_json::Value) -> Result<Answer, String> {
        let response = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("POST to {} failed: {}", self.display, describe(&e)))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        Ok(Answer {
            status,
            retry_after,
            body: read_start(response).await,
        })
    }
}

async fn read_start(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < ANSWER_READ_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(ANSWER_READ_BYTES);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `host answered 429 Too Many Requests: <excerpt>`
pub(super) fn answered(display: &str, answer: &Answer) -> String {
    let mut reason = format!("{display} answered {}", answer.status);
    if answer.status.is_redirection() {
        reason.push_str(" (redirects are not followed; configure the final url)");
    }
    let excerpt = answer.excerpt();
    if !excerpt.is_empty() {
        reason.push_str(": ");
        reason.push_str(&excerpt);
    }
    reason
}

/// The shared event→text rendering with this channel's template overrides.
#[derive(Debug)]
pub(super) struct ChatText {
    templates: Templates,
    pub context: RenderContext,
}

impl ChatText {
    pub fn new(
        channel: &str,
        settings: &ChannelSettings,
        instance: &str,
    ) -> Result<Self, DeliverError> {
        let invalid = |reason: String| DeliverError::Chat {
            channel: channel.to_string(),
            reason,
        };
        let timezone =
            match &settings.timezone {
                Some(zone) => Some(zone.parse::<chrono_tz::Tz>().map_err(|_| {
                    invalid(format!("`timezone` \"{zone}\" is not an IANA time zone"))
                })?),
                None => None,
            };
        let templates =
            Templates::load(&settings.template_files()).map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            templates,
            context: RenderContext {
                instance: instance.to_string(),
                timezone,
            },
        })
    }

    /// As email does: the built-in templates stand in if a custom one fails at
    /// send time, so an alert still goes out.
    pub fn render(&self, events: &[Event]) -> Result<Rendered, String> {
        match self.templates.render(events, &self.context) {
            Ok(rendered) => Ok(rendered),
            Err(error) => {
                tracing::error!(error = %error, "custom template failed; using the built-in one for this message");
                Templates::builtin()
                    .render(events, &self.context)
                    .map_err(|e| e.to_string())
            }
        }
    }

    pub fn instance(&self) -> &str {
        &self.context.instance
    }
}

/// At most `max` characters, with `…` when cut (targets reject longer fields).
pub(super) fn clip(text: &str, max: usize) -> String {
    crate::text::cap(text, max).into_owned()
}

/// The template's subject without the `[campaign-watcher]` mail-filter prefix,
/// which a chat message does not need.
pub(super) fn headline(rendered: &Rendered) -> String {
    rendered
        .subject
        .strip_prefix(crate::render::SUBJECT_PREFIX)
        .unwrap_or(&rendered.subject)
        .trim()
        .to_string()
}

/// `1.5` seconds from a JSON body (Discord's `retry_after`).
pub(super) fn json_seconds(body: &str, field: &str) -> Option<Duration> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let seconds = value.get(field)?.as_f64()?;
    (seconds.is_finite() && seconds >= 0.0)
        .then(|| Duration::try_from_secs_f64(seconds).ok())
        .flatten()
}

#[cfg(test)]
#[path = "chat_tests.rs"]
mod tests;
