//! The HTTP side of fetching: one `reqwest` client, retries, pacing and limits.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::error::FetchError;
use super::{lenient, wire};
use crate::backoff::{full_jitter, parse_retry_after};
use crate::config::SigmaMindSettings;
use crate::observe::{FetchFailure, Observation};
use crate::outbound::{self, ClientOptions, Scrubber};
use crate::pacing::RequestBudget;
use crate::setting::secret::Secret;

/// Longest body excerpt kept in an error message.
/// How often a long listing logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
const EXCERPT_CHARS: usize = 200;
/// Longest excerpt of a 2xx body that is not JSON.
const NOT_JSON_EXCERPT_CHARS: usize = 60;
/// Error bodies are only read for an excerpt; there is no reason to read more than this.
const ERROR_BODY_BYTES: usize = 8 * 1024;

/// One failed attempt, with the server's `Retry-After` if it sent one.
struct AttemptFailure {
    error: FetchError,
    retry_after: Option<Duration>,
}

impl From<FetchError> for AttemptFailure {
    fn from(error: FetchError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

/// A successful exchange: a JSON document, or a genuine 404.
enum Answer {
    Json(Value),
    NotFound,
}

/// Client for the SigmaMind campaigns API; cheap to share behind an `Arc`.
pub struct SigmaMindClient {
    http: reqwest::Client,
    base_url: Url,
    /// The API key and the other configured secrets, scrubbed from error
    /// excerpts in case a server echoes request headers.
    scrubber: Scrubber,
    in_flight: Semaphore,
    budget: RequestBudget,
    /// The budget as configured (0: unlimited), for what a cycle may plan to spend.
    requests_per_second: f64,
    requests_sent: AtomicU64,
    timeout: Duration,
    max_retries: u32,
    retry_base: Duration,
    retry_max: Duration,
    max_response_bytes: usize,
    metrics: crate::metrics::Metrics,
    /// The account its requests are counted under.
    account: std::sync::Arc<str>,
}

impl fmt::Debug for SigmaMindClient {
    // Hand-written so neither the key nor reqwest's header dump can ever reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigmaMindClient")
            .field("base_url", &self.base_url.as_str())
            .field("requests_sent", &self.requests_sent())
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

impl SigmaMindClient {
    /// rustls reqwest client: connect_timeout and total timeout from settings, no redirects followed,
    /// X-API-Key header (sensitive), user agent "campaign-watcher/<version>"; Semaphore(max_in_flight);
    /// request budget max_requests_per_second (0 = unlimited; requests spaced 1/rps apart).
    pub fn new(settings: &SigmaMindSettings, api_key: Secret) -> Result<Self, FetchError> {
        let base_url = parse_base_url(&settings.base_url)?;
        let mut key_header =
            HeaderValue::from_str(api_key.expose()).map_err(|_| FetchError::InvalidApiKey)?;
        key_header.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", key_header);
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        // The builder never follows a redirect (it would resend the key to
        // wherever the Location points). The API is the one destination the
        // operator must name, so the link-local guard is for channels only.
        let options = ClientOptions::new(settings.timeout, settings.connect_timeout)
            .allow_link_local(true)
            .headers(headers);
        let http =
            outbound::client_for(&base_url, options).map_err(|error| FetchError::ClientSetup {
                reason: error.to_string(),
            })?;
        Ok(Self {
            http,
            base_url,
            scrubber: Scrubber::new([api_key.expose()]),
            // Zero permits would deadlock every request.
            in_flight: Semaphore::new(settings.max_in_flight.max(1)),
            budget: RequestBudget::new(settings.max_requests_per_second),
            requests_per_second: settings.max_requests_per_second,
            requests_sent: AtomicU64::new(0),
            timeout: settings.timeout,
            max_retries: settings.max_retries,
            retry_base: settings.retry_base,
            retry_max: settings.retry_max,
            max_response_bytes: settings.max_response_bytes,
            metrics: crate::metrics::Metrics::default(),
            account: std::sync::Arc::from(crate::event::DEFAULT_ACCOUNT),
        })
    }

    /// Also scrub these from every error excerpt: the rest of the configuration's
    /// secrets, which a hostile or confused server could echo too.
    pub fn with_secrets<S: AsRef<str>>(mut self, secrets: impl IntoIterator<Item = S>) -> Self {
        self.scrubber = self.scrubber.with(secrets);
        self
    }

    /// Record every request in these metrics (the daemon's registry), under
    /// this account's `account` label.
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics, account: &str) -> Self {
        self.metrics = metrics;
        self.account = std::sync::Arc::from(account);
        self
    }

    /// GET {base_url}/v1/campaigns/{id}: Found, NotFound on a real 404, Failed otherwise.
    pub async fn observe(&self, campaign_id: &str) -> Observation {
        if is_dot_segment(campaign_id) {
            // A URL cannot carry "." or ".." as a path segment (even %2E is
            // resolved away), so it would read the campaign list instead.
            return Observation::Failed(FetchFailure {
                reason: format!(
                    "the campaign id {campaign_id:?} cannot be fetched: a URL path cannot hold it"
                ),
                auth_rejected: false,
            });
        }
        let url = self.endpoint(&["v1", "campaigns", campaign_id]);
        match self.get_json(url).await {
            Ok(Answer::Json(campaign)) => match wire::normalise_campaign(&campaign) {
                Ok(snapshot) => Observation::Found(snapshot),
                Err(error) => Observation::Failed(error.to_failure()),
            },
            Ok(Answer::NotFound) => Observation::NotFound,
            Err(error) => Observation::Failed(error.to_failure()),
        }
    }

    /// One request, GET /v1/campaigns?page=0&size=1: does the key open the
    /// account? The campaign count when the API says it. For `check-config --online`.
    pub async fn check_access(&self) -> Result<Option<u64>, FetchError> {
        let mut url = self.endpoint(&["v1", "campaigns"]);
        url.query_pairs_mut()
            .append_pair("page", "0")
            .append_pair("size", "1");
        match self.get_json(url).await? {
            Answer::Json(answer) => Ok(wire::parse_page(answer)?.total_count),
            Answer::NotFound => Err(FetchError::HttpStatus {
                status: 404,
                excerpt: "the campaign list endpoint was not found (is sigmamind.base_url right?)"
                    .into(),
            }),
        }
    }

    /// The request budget per second (0, or anything not positive: unlimited).
    pub fn requests_per_second(&self) -> f64 {
        self.requests_per_second
    }

    /// HTTP requests sent so far, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.requests_sent.load(Ordering::Relaxed)
    }

    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base_url.clone();
        // parse_base_url rejected URLs that cannot take path segments, so this always applies;
        // extending segments (not string formatting) percent-encodes odd campaign ids.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    async fn get_json(&self, url: Url) -> Result<Answer, FetchError> {
        let mut attempt = 0;
        loop {
            let started = Instant::now();
            let result = self.attempt(&url).await;
            self.record_attempt(&url, &result, started.elapsed());
            let failure = match result {
                Ok(answer) => return Ok(answer),
                Err(failure) => failure,
            };
            if !failure.error.is_retryable() || attempt >= self.max_retries {
                return Err(failure.error);
            }
            let retry_after = failure.retry_after.unwrap_or(Duration::ZERO);
            if retry_after > self.retry_max {
                return Err(FetchError::RetryAfterTooLong {
                    retry_after,
                    retry_max: self.retry_max,
                });
            }
            let wait = full_jitter(self.retry_base, self.retry_max, attempt).max(retry_after);
            tracing::debug!(
                attempt = attempt + 1,
                wait_ms = wait.as_millis() as u64,
                error = %failure.error,
                "retrying SigmaMind request"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn record_attempt(&self, url: &Url, result: &Result<Answer, AttemptFailure>, took: Duration) {
        use crate::metrics::ApiEndpoint;
        let endpoint = if url.path().trim_end_matches('/').ends_with("/campaigns") {
            ApiEndpoint::list_campaigns
        } else {
            ApiEndpoint::get_campaign
        };
        let status = match result {
            Ok(Answer::Json(_)) => Some(200),
            Ok(Answer::NotFound) => Some(404),
            Err(failure) => failure.error.http_status(),
        };
        self.metrics
            .record_api_request(&self.account, endpoint, status, took);
    }

    async fn attempt(&self, url: &Url) -> Result<Answer, AttemptFailure> {
        // The permit is held until the body is read: in-flight means "connection busy".
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| FetchError::ClientSetup {
                reason: "the request limiter was closed".into(),
            })?;
        self.budget.wait_turn().await;
        self.requests_sent.fetch_add(1, Ordering::Relaxed);
        let mut response = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|error| self.transport_error(error))?;
        let status = response.status();
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(FetchError::AuthRejected {
                status: status.as_u16(),
            }
            .into());
        }
        let looks_like_html_header = content_type_is_html(&response);
        if status.is_success() {
            let body = self
                .read_capped(&mut response, self.max_response_bytes, true)
                .await?;
            if looks_like_html_header || starts_like_html(&body) {
                return Err(FetchError::HtmlPage {
                    status: status.as_u16(),
                }
                .into());
            }
            // Leniently: one campaign's undecodable name must not fail its answer.
            return serde_json::from_slice(&lenient::repair(&body))
                .map(Answer::Json)
                .map_err(|error| {
                    FetchError::NotJson {
                        status: status.as_u16(),
                        detail: self.excerpt_of_parse_error(&error, &body),
                    }
                    .into()
                });
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let body = self
            .read_capped(&mut response, ERROR_BODY_BYTES, false)
            .await?;
        let is_html = looks_like_html_header || starts_like_html(&body);
        // A 404 HTML page comes from a proxy or a wrong base URL, not from the API saying
        // "no such campaign"; treating it as NotFound would raise false deletion alerts.
        if status == StatusCode::NOT_FOUND && !is_html {
            return Ok(Answer::NotFound);
        }
        let error = if is_html {
            FetchError::HtmlPage {
                status: status.as_u16(),
            }
        } else {
            FetchError::HttpStatus {
                status: status.as_u16(),
                excerpt: self.excerpt(&body),
            }
        };
        Err(AttemptFailure { error, retry_after })
    }

    /// Reads at most `limit` bytes while streaming. With `must_fit`, a longer body is an
    /// error; otherwise (error bodies, read only for an excerpt) the rest is ignored.
    async fn read_capped(
        &self,
        response: &mut reqwest::Response,
        limit: usize,
        must_fit: bool,
    ) -> Result<Vec<u8>, FetchError> {
        let announced = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if must_fit && announced.is_some_and(|length| length > limit as u64) {
            return Err(FetchError::BodyTooLarge { limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.transport_error(error))?
        {
            if body.len() + chunk.len() > limit {
                if must_fit {
                    return Err(FetchError::BodyTooLarge { limit });
                }
                let room = limit.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..room.min(chunk.len())]);
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn transport_error(&self, error: reqwest::Error) -> FetchError {
        if error.is_timeout() {
            return FetchError::Timeout {
                timeout: self.timeout,
            };
        }
        let is_connect = error.is_connect();
        let reason = self.scrub(&outbound::error_chain(&error.without_url()));
        if is_connect {
            FetchError::Connect {
                origin: self.base_url.origin().ascii_serialization(),
                reason,
            }
        } else {
            FetchError::Transport { reason }
        }
    }

    fn excerpt(&self, body: &[u8]) -> String {
        self.excerpt_of(body, EXCERPT_CHARS)
    }

    /// The body on one line, scrubbed, then cut to `max_chars` (in that order:
    /// a cut first could leave the start of a secret that no longer matches it).
    fn excerpt_of(&self, body: &[u8], max_chars: usize) -> String {
        let text = String::from_utf8_lossy(body);
        let cleaned: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let collapsed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
        let (mut excerpt, was_cut) = self.scrubber.scrub_and_cut(&collapsed, max_chars);
        if excerpt.is_empty() {
            return "(empty body)".into();
        }
        if was_cut {
            excerpt.push('…');
        }
        excerpt
    }

    fn excerpt_of_parse_error(&self, error: &serde_json::Error, body: &[u8]) -> String {
        if body.iter().all(u8::is_ascii_whitespace) {
            return "the body is empty".into();
        }
        format!(
            "{error}; body starts with {:?}",
            self.excerpt_of(body, NOT_JSON_EXCERPT_CHARS)
        )
    }

    fn scrub(&self, text: &str) -> String {
        self.scrubber.scrub(text)
    }
}

fn is_dot_segment(campaign_id: &str) -> bool {
    matches!(campaign_id, "." | "..")
}

fn parse_base_url(text: &str) -> Result<Url, FetchError> {
    let invalid = |reason: &str| FetchError::InvalidBaseUrl {
        url: text.to_string(),
        reason: reason.to_string(),
    };
    let url = Url::parse(text.trim()).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.cannot_be_a_base() || url.host_str().is_none() {
        return Err(invalid("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or fragment"));
    }
    Ok(url)
}

fn content_type_is_html(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.to_ascii_lowercase().contains("html"))
}

fn starts_like_html(body: &[u8]) -> bool {
    let start: Vec<u8> = body
        .iter()
        .skip_while(|byte| byte.is_ascii_whitespace())
        .take(15)
        .map(u8::to_ascii_lowercase)
        .collect();
    start.starts_with(b"<!doctype html")
        || start.starts_with(b"<html")
        || start.starts_with(b"<head")
}

mod pages;
pub use pages::{PageRange, PagesListed};

#[cfg(test)]
mod tests;
