//! `healthcheck`: ask the running daemon's /healthz (or /readyz), for a container HEALTHCHECK.

use std::path::Path;
use std::time::Duration;

use super::failure::Failure;
use crate::config::Settings;
use crate::http::probe::{local_base_url, probe, Probe};

pub(super) async fn healthcheck(
    config: &Path,
    ready: bool,
    url: Option<String>,
    timeout: Duration,
) -> Result<(), Failure> {
    let base = match url {
        Some(url) => url,
        None => local_base_url(&Settings::load(config)?.http.listen).map_err(Failure::usage)?,
    };
    let path = if ready { "/readyz" } else { "/healthz" };
    match probe(&base, path, timeout).await.map_err(Failure::usage)? {
        Probe::Healthy(line) => {
            say!("healthy: {}", crate::text::terminal(&line));
            Ok(())
        }
        Probe::Unhealthy(line) => Err(Failure::runtime(format!("unhealthy: {line}"))),
    }
}
