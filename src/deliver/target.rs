//! One HTTP target of a channel: a URL to POST JSON to, which may itself be a
//! credential (Slack-style hooks carry their token in the path), so logs and
//! errors only ever show `scheme://host[:port]`; and the answer, read without
//! downloading a whole page.

use crate::deliver::PayloadError;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Client, StatusCode, Url};

use super::{DeliverError, SendOutcome};
use crate::backoff::parse_retry_after;
use crate::outbound::{self, ClientOptions, OutboundError, Scrubber};

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
    /// The URL's own secret parts (and the channel's keys): a receiver echoing
    /// them in an answer must not put them in logs or `last_error`.
    /// Behind an `Arc`: the channel enum stays small and a cloned target shares it.
    scrubber: Arc<Scrubber>,
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
    /// The channel's required `url` (webhook, Slack, Discord, Teams).
    pub fn required(
        channel: &str,
        url: Option<&str>,
        timeout: Duration,
        allow_link_local: bool,
    ) -> Result<Self, DeliverError> {
        let url =
            url.filter(|url| !url.trim().is_empty())
                .ok_or_else(|| DeliverError::MissingUrl {
                    channel: channel.to_string(),
                })?;
        Self::new(channel, url, timeout, allow_link_local)
    }

    /// `raw` must be http(s) with a host; its path may hold a token and is never shown.
    /// The client comes from the one builder ([`outbound::client_for`]): no
    /// redirects, no `Referer`, and no link-local or metadata destination
    /// unless the channel says `allow_link_local = true`.
    pub fn new(
        channel: &str,
        raw: &str,
        timeout: Duration,
        allow_link_local: bool,
    ) -> Result<Self, DeliverError> {
        Self::with_headers(channel, raw, timeout, allow_link_local, HeaderMap::new())
    }

    /// [`Target::new`] whose every request carries `headers` (a credential such
    /// as ntfy's bearer token or Opsgenie's `GenieKey`: mark it sensitive, so
    /// the HTTP stack never logs it, and add it to [`Target::scrubbing`]).
    pub fn with_headers(
        channel: &str,
        raw: &str,
        timeout: Duration,
        allow_link_local: bool,
        headers: HeaderMap,
    ) -> Result<Self, DeliverError> {
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
        let options = ClientOptions::new(timeout, CONNECT_TIMEOUT)
            .allow_link_local(allow_link_local)
            .headers(headers);
        let client = outbound::client_for(&url, options).map_err(|error| match error {
            OutboundError::Blocked(blocked) => DeliverError::InvalidUrl {
                channel: channel.to_string(),
                reason: blocked.to_string(),
            },
            OutboundError::Build { reason } => DeliverError::Client {
                channel: channel.to_string(),
                reason,
            },
        })?;
        Ok(Self {
            client,
            display: display_url(&url),
            scrubber: Arc::new(Scrubber::new(outbound::secret_parts_of_url(raw))),
            url,
        })
    }

    /// Also scrub these from every answer (e.g. PagerDuty's routing key).
    /// `text` with every piece of this target's secrets removed.
    pub fn scrub(&self, text: &str) -> String {
        self.scrubber.scrub(text)
    }

    pub fn scrubbing(mut self, secrets: &[&str]) -> Self {
        self.scrubber = Arc::new(Scrubber::clone(&self.scrubber).with(secrets));
        self
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
    /// One JSON message of a kind that sends one per event: a body that
    /// cannot be built is dead (retrying cannot build it), a failed request is
    /// retried, an answer is judged by the kind's own `classify`.
    pub async fn deliver_json(
        &self,
        body: Result<serde_json::Value, PayloadError>,
        classify: impl FnOnce(&str, &Answer) -> SendOutcome,
    ) -> SendOutcome {
        let body = match body {
            Ok(body) => body,
            Err(reason) => {
                return SendOutcome::Permanent {
                    reason: reason.to_string(),
                }
            }
        };
        match self.post_json(&body).await {
            Ok(answer) => classify(self.display(), &answer),
            Err(reason) => SendOutcome::Retry {
                reason: reason.to_string(),
                retry_after: None,
            },
        }
    }

    pub async fn post_json(&self, body: &serde_json::Value) -> Result<Answer, PayloadError> {
        let request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body.to_string());
        self.send(request, "POST").await
    }

    /// Sends `request`, built on this target's client (the `http` kind's own
    /// method, URL and headers), and reads the answer as [`Target::post_json`] does.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        method: &str,
    ) -> Result<Answer, PayloadError> {
        let response = request
            .send()
            .await
            .map_err(|e| PayloadError::Unreachable {
                method: method.to_string(),
                target: self.display.clone(),
                reason: describe(&e),
            })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        Ok(Answer {
            status,
            retry_after,
            body: self.scrubber.scrub(&read_start(response).await),
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

/// The url without userinfo, path or query: paths of chat webhooks carry tokens too.
pub(super) fn display_url(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
        (Some(host), None) => format!("{}://{host}", url.scheme()),
        _ => format!("{}://", url.scheme()),
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
    match std::error::Error::source(error) {
        Some(cause) => format!("{kind}: {}", outbound::error_chain(cause)),
        None => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_paths_join_without_double_slashes() {
        let target = Target::new(
            "am",
            "http://127.0.0.1:9093/",
            Duration::from_secs(1),
            false,
        )
        .unwrap()
        .join_path("/api/v2/alerts");
        assert_eq!(target.url.as_str(), "http://127.0.0.1:9093/api/v2/alerts");
        let prefixed = Target::new("am", "http://am/prefix", Duration::from_secs(1), false)
            .unwrap()
            .join_path("/api/v2/alerts");
        assert_eq!(prefixed.url.as_str(), "http://am/prefix/api/v2/alerts");
        assert_eq!(prefixed.display(), "http://am");
    }

    #[tokio::test]
    async fn an_answer_echoing_the_url_token_or_a_key_is_scrubbed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 4096];
            let _ = socket.read(&mut request).await;
            let body = "bad token /services/T0/B0/HOOKTOKEN9 for key ROUTINGKEY77";
            let answer = format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        });
        let url = format!("http://127.0.0.1:{port}/services/T0/B0/HOOKTOKEN9");
        let target = Target::new("pd", &url, Duration::from_secs(5), false)
            .unwrap()
            .scrubbing(&["ROUTINGKEY77"]);

        let answer = target.post_json(&serde_json::json!({})).await.unwrap();

        assert_eq!(answer.status, 400);
        assert!(!answer.body.contains("HOOKTOKEN"), "{}", answer.body);
        assert!(!answer.body.contains("ROUTINGKEY"), "{}", answer.body);
        assert!(
            answer.body.starts_with("bad token <redacted>"),
            "{}",
            answer.body
        );
    }

    #[test]
    fn the_shared_answer_rules() {
        let wait = Some(Duration::from_secs(7));
        let cases: [(u16, &str, Option<Duration>); 8] = [
            (200, "delivered", None),
            (204, "delivered", None),
            (408, "retry", wait),
            (429, "retry", wait),
            (503, "retry", wait),
            (400, "permanent", None),
            (404, "permanent", None),
            (302, "retry", None),
        ];
        for (status, expected, expected_wait) in cases {
            match outcome_for_status(status, "r".into(), wait) {
                SendOutcome::Delivered { .. } => assert_eq!(expected, "delivered", "{status}"),
                SendOutcome::Permanent { .. } => assert_eq!(expected, "permanent", "{status}"),
                SendOutcome::Retry { retry_after, .. } => {
                    assert_eq!(expected, "retry", "{status}");
                    assert_eq!(retry_after, expected_wait, "{status}");
                }
            }
        }
    }
}
