//! `simulate`: serve the simulated SigmaMind API (for trials, tests and benchmarks).

use std::net::SocketAddr;

use super::failure::Failure;
use super::signals::shutdown_signal;
use crate::sim;

pub(super) async fn simulate(
    listen: SocketAddr,
    campaigns: usize,
    api_key: Option<String>,
) -> Result<(), Failure> {
    let requires_key = api_key.is_some();
    let server = sim::start(listen, sim::SimOptions { campaigns, api_key })
        .await
        .map_err(|e| Failure::usage(format!("cannot listen on {listen}: {e}")))?;
    say!(
        "simulated SigmaMind API on {} with {campaigns} campaigns ({}); admin endpoints under /admin; Ctrl-C to stop",
        server.base_url(),
        if requires_key { "X-API-Key required" } else { "any X-API-Key accepted" }
    );
    shutdown_signal().await;
    server.stop().await;
    Ok(())
}
