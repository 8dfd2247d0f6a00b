//! `healthcheck`: ask the running daemon's /healthz (or /readyz), for a container HEALTHCHECK.

use std::path::Path;
use std::time::Duration;

use clap::Args;

use super::failure::Failure;
use crate::config::Settings;
use crate::http::probe::{local_base_url, probe, Probe};

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// Ask /readyz instead: has a cycle read the API, is the store answering?
    #[arg(long)]
    ready: bool,
    /// Base URL of the daemon's endpoints, e.g. http://127.0.0.1:9464 (a URL ending in /healthz or /readyz is taken as that endpoint) [default: from `[http] listen`, 0.0.0.0 and :: read as loopback].
    #[arg(long)]
    url: Option<String>,
    /// How long to wait for the answer.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

const HEALTH: &str = "/healthz";
const READY: &str = "/readyz";

/// The base and the path to ask for `--url`: the daemon's base URL, or one
/// that already names an endpoint (as probes are often written), taken as
/// that endpoint; `--ready` always asks /readyz.
fn endpoint(url: &str, ready: bool) -> (String, &'static str) {
    let url = url.trim().trim_end_matches('/');
    let (base, named) = match (url.strip_suffix(HEALTH), url.strip_suffix(READY)) {
        (Some(base), _) => (base, HEALTH),
        (_, Some(base)) => (base, READY),
        _ => (url, HEALTH),
    };
    (base.to_string(), if ready { READY } else { named })
}

impl HealthcheckArgs {
    pub(super) async fn run(self, config: &Path) -> Result<(), Failure> {
        let Self {
            ready,
            url,
            timeout,
        } = self;
        let (base, path) = match url {
            Some(url) => endpoint(&url, ready),
            None => (
                local_base_url(&Settings::load_without_secrets(config)?.http.listen)
                    .map_err(Failure::usage)?,
                if ready { READY } else { HEALTH },
            ),
        };
        match probe(&base, path, timeout).await.map_err(Failure::usage)? {
            Probe::Healthy(line) => {
                say!("healthy: {}", crate::text::terminal(&line));
                Ok(())
            }
            Probe::Unhealthy(line) => Err(Failure::runtime(format!("unhealthy: {line}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_naming_an_endpoint_is_asked_as_that_endpoint() {
        let base = "http://host:9464";
        let cases = [
            ("http://host:9464", false, "/healthz"),
            ("http://host:9464/", false, "/healthz"),
            ("http://host:9464/healthz", false, "/healthz"),
            ("http://host:9464/healthz/", false, "/healthz"),
            ("http://host:9464/readyz", false, "/readyz"),
            ("http://host:9464", true, "/readyz"),
            ("http://host:9464/healthz", true, "/readyz"),
        ];
        for (url, ready, path) in cases {
            assert_eq!(
                endpoint(url, ready),
                (base.to_string(), path),
                "{url} {ready}"
            );
        }
        // A daemon behind a path prefix keeps it.
        assert_eq!(
            endpoint("https://proxy/watcher/healthz", false),
            ("https://proxy/watcher".to_string(), "/healthz")
        );
    }
}
