//! Every outgoing HTTP request of the watcher starts from [`client_for`]: the
//! SigmaMind API client, webhooks, chat and incident channels, Alertmanager and
//! the heartbeat. A new channel kind gets every guard below by calling it; it
//! cannot get a client any other way without bypassing them on purpose.
//!
//! What every client gets, whatever its caller asks:
//! - rustls, a connect timeout and a total timeout;
//! - no redirect is followed: URLs and headers carry secrets (webhook paths,
//!   ping URLs, the API key), and a redirect would hand them to the `Location`;
//!   a 3xx answer reaches the caller as a failed request;
//! - no `Referer` header, so a URL is never repeated to anyone;
//! - unless the destination says `allow_link_local = true`: the destination is
//!   refused when its host is (or is spelled as) a link-local or cloud-metadata
//!   address, and every name is resolved through a resolver that drops such
//!   addresses at connect time, because DNS can change after the check at load.
//!
//! [`Scrubber`] removes configured secrets from text that came back (error
//! bodies) before that text is cut to an excerpt.

mod guard;
mod scrub;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::Url;

pub use guard::{check_destination, check_destination_text, is_blocked_ip, BlockedDestination};
pub use scrub::{Scrubber, MIN_FRAGMENT_CHARS};

/// Sent by every client, so receivers can tell the watcher's requests apart.
pub const USER_AGENT: &str = concat!("campaign-watcher/", env!("CARGO_PKG_VERSION"));

/// What a caller may choose about its client; everything else is fixed above.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Total time for one request, connect included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// The operator's `allow_link_local = true`: no address guard.
    pub allow_link_local: bool,
    /// Sent with every request (e.g. the API key, marked sensitive).
    pub headers: HeaderMap,
}

impl ClientOptions {
    pub fn new(timeout: Duration, connect_timeout: Duration) -> Self {
        Self {
            timeout,
            connect_timeout,
            allow_link_local: false,
            headers: HeaderMap::new(),
        }
    }

    pub fn allow_link_local(mut self, allow: bool) -> Self {
        self.allow_link_local = allow;
        self
    }

    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers = headers;
        self
    }
}

/// Why no client was built. Names the host at most, never a path or query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error(transparent)]
    Blocked(#[from] BlockedDestination),
    #[error("the HTTP client could not be built: {reason}")]
    Build { reason: String },
}

/// How a URL that may carry a secret is shown anywhere (errors, logs,
/// `check-config`): `scheme://host[:port]`, then `/<redacted>` when the URL had
/// a path, query or userinfo. Text that is not an http(s) URL shows nothing.
pub fn shown_url(text: &str) -> String {
    let Ok(url) = Url::parse(text.trim()) else {
        return "<redacted>".to_string();
    };
    let Some(host) = url
        .host_str()
        .filter(|_| matches!(url.scheme(), "http" | "https"))
    else {
        return "<redacted>".to_string();
    };
    let mut shown = format!("{}://{host}", url.scheme());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    let more = url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some();
    if more {
        shown.push_str("/<redacted>");
    }
    shown
}

/// The parts of a URL that may be its secret (userinfo, path, query), for the
/// [`Scrubber`]: the scheme and host are shown anyway.
pub fn secret_parts_of_url(text: &str) -> Vec<String> {
    let Ok(url) = Url::parse(text.trim()) else {
        // Not a URL: all of it is the secret.
        return vec![text.trim().to_string()];
    };
    let mut parts = vec![url.username().to_string()];
    parts.extend(url.password().map(str::to_string));
    if url.path() != "/" {
        parts.push(url.path().to_string());
    }
    parts.extend(url.query().map(str::to_string));
    parts.retain(|part| !part.is_empty());
    parts
}

/// The one HTTP client builder. The client is meant for `destination` only:
/// since it never follows a redirect, the IP-literal check made here holds for
/// every connection it opens (literals never reach the resolver; names do, and
/// the resolver checks each answer).
pub fn client_for(
    destination: &Url,
    options: ClientOptions,
) -> Result<reqwest::Client, OutboundError> {
    let resolver = (!options.allow_link_local).then(guard::GuardedResolver::system);
    build(destination, options, resolver)
}

fn build(
    destination: &Url,
    options: ClientOptions,
    resolver: Option<guard::GuardedResolver>,
) -> Result<reqwest::Client, OutboundError> {
    if !options.allow_link_local {
        check_destination(destination)?;
    }
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(USER_AGENT)
        .default_headers(options.headers)
        .connect_timeout(options.connect_timeout.min(options.timeout))
        .timeout(options.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .referer(false);
    if let Some(resolver) = resolver {
        builder = builder.dns_resolver(Arc::new(resolver));
    }
    builder.build().map_err(|error| OutboundError::Build {
        reason: error.without_url().to_string(),
    })
}

/// An error and its causes on one line: reqwest's top-level message is vague
/// ("error sending request"); the causes say why.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;
