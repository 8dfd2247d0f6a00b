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
    /// Base URL of the daemon's endpoints [default: from `[http] listen`, 0.0.0.0 and :: read as loopback].
    #[arg(long)]
    url: Option<String>,
    /// How long to wait for the answer.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

impl HealthcheckArgs {
    pub(super) async fn run(self, config: &Path) -> Result<(), Failure> {
        let Self {
            ready,
            url,
            timeout,
        } = self;
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
}
