//! `run`: the daemon, until SIGTERM or SIGINT; SIGHUP reloads the configuration.

use std::path::Path;

use super::failure::Failure;
use super::signals::{reload_requests, shutdown_signal};
use crate::config::Settings;
use crate::daemon::{Daemon, ServiceOptions};

pub(super) async fn run(config: &Path) -> Result<(), Failure> {
    // Before anything else: SIGHUP's default action would end the process.
    let reloads = reload_requests();
    let settings = Settings::load(config)?;
    let daemon = Daemon::build(&settings).await?;
    let options = ServiceOptions {
        config_path: Some(config.to_path_buf()),
        serve_http: true,
        notify_systemd: true,
    };
    daemon
        .run_service(options, reloads, shutdown_signal())
        .await
        .map_err(Failure::from)
}
