//! What can go wrong reading the SigmaMind API, shared by the client (transport)
//! and the wire model (shapes): its own file so neither imports the other.

use std::time::Duration;

use crate::observe::FetchFailure;

/// Everything that can go wrong talking to the SigmaMind API. Messages never contain the API key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the SigmaMind base URL {url:?} is invalid: {reason}")]
    InvalidBaseUrl { url: String, reason: String },
    #[error("the SigmaMind API key cannot be sent in an HTTP header (it contains characters such as newlines)")]
    InvalidApiKey,
    #[error("the HTTP client for the SigmaMind API could not be built: {reason}")]
    ClientSetup { reason: String },
    #[error("the SigmaMind API rejected the API key (HTTP {status})")]
    AuthRejected { status: u16 },
    #[error("the SigmaMind API answered HTTP {status}: {excerpt}")]
    HttpStatus { status: u16, excerpt: String },
    #[error("the SigmaMind API did not answer within {}", humantime::format_duration(*timeout))]
    Timeout { timeout: Duration },
    /// `origin` is the base URL's scheme, host and port: never a path or credentials.
    #[error("nothing answers at {origin} (could not connect to the SigmaMind API: {reason})")]
    Connect { origin: String, reason: String },
    #[error("the connection to the SigmaMind API failed mid-request: {reason}")]
    Transport { reason: String },
    #[error("the SigmaMind API answer (HTTP {status}) is not JSON: {detail}")]
    NotJson { status: u16, detail: String },
    #[error("the SigmaMind API answered HTTP {status} with an HTML page instead of JSON (a proxy or gateway error?)")]
    HtmlPage { status: u16 },
    #[error("the SigmaMind API answer has the wrong shape: {detail}")]
    WrongShape { detail: String },
    #[error("the SigmaMind API answer is larger than the {limit}-byte limit (sigmamind.max_response_bytes)")]
    BodyTooLarge { limit: usize },
    #[error("the SigmaMind campaign listing does not end: {reason}")]
    EndlessListing { reason: String },
    #[error("the SigmaMind API asked to retry after {}, longer than retry_max {}; giving up this cycle",
        humantime::format_duration(*retry_after), humantime::format_duration(*retry_max))]
    RetryAfterTooLong {
        retry_after: Duration,
        retry_max: Duration,
    },
}

impl FetchError {
    /// The key itself was refused (401/403): no retry can help.
    pub fn is_auth_rejected(&self) -> bool {
        matches!(self, Self::AuthRejected { .. })
    }

    pub fn to_failure(&self) -> FetchFailure {
        FetchFailure {
            reason: self.to_string(),
            auth_rejected: self.is_auth_rejected(),
        }
    }

    /// The HTTP status the API answered with, when it answered at all.
    pub(super) fn http_status(&self) -> Option<u16> {
        match self {
            Self::AuthRejected { status }
            | Self::HttpStatus { status, .. }
            | Self::NotJson { status, .. }
            | Self::HtmlPage { status } => Some(*status),
            // These had a 2xx head; the body was what failed.
            Self::WrongShape { .. } | Self::BodyTooLarge { .. } => Some(200),
            _ => None,
        }
    }

    /// Transient failures worth another attempt; every other 4xx and bad answer will not improve.
    pub(super) fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Connect { .. } | Self::Transport { .. } => true,
            Self::HttpStatus { status, .. } | Self::HtmlPage { status } => {
                is_retryable_status(*status)
            }
            _ => false,
        }
    }
}

fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}
