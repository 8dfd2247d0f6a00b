//! `once`: one full cycle and the delivery of what it produced, then exit.

use std::path::Path;
use std::time::Duration;

use clap::Args;

use super::failure::Failure;
use crate::config::Settings;
use crate::daemon::Daemon;
use crate::diff::CycleVerdict;

#[derive(Debug, Args)]
pub struct OnceArgs {
    /// How long to keep retrying this cycle's deliveries before giving up (they stay in the outbox).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    wait: Duration,
}

impl OnceArgs {
    pub(super) async fn run(self, config: &Path) -> Result<(), Failure> {
        let Self { wait } = self;
        let settings = Settings::load(config)?;
        let daemon = Daemon::build(&settings).await?;
        let (report, pending) = daemon.run_once(wait).await.map_err(Failure::runtime)?;
        say!(
            "cycle: {} campaigns read, {} failed, {} events, {} API requests in {} ms",
            report.campaigns_read(),
            report.campaigns_failed(),
            report.events.len(),
            report.requests(),
            report.duration.as_millis()
        );
        if let CycleVerdict::Unreadable { reason, .. } = &report.verdict() {
            // The cause itself, not a pointer to the log: with RUST_LOG=error there is none.
            return Err(Failure::runtime(format!(
                "the SigmaMind API could not be read this cycle: {reason}"
            )));
        }
        if pending > 0 {
            return Err(Failure::runtime(format!(
                "{pending} deliveries of this cycle are still pending after {}; they stay in the outbox and go out on the next run",
                humantime::format_duration(wait)
            )));
        }
        Ok(())
    }
}
