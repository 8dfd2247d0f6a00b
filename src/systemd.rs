//! systemd `Type=notify` integration: READY=1 once configuration and state are
//! loaded, RELOADING=1 / READY=1 around a reload, STOPPING=1 on shutdown, and
//! WATCHDOG=1 while the cycle loop is alive.
//!
//! Outside systemd (`NOTIFY_SOCKET` unset) every call is a no-op, so the same
//! binary runs under a terminal, a container runtime or the tests.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::http::ServiceStatus;

fn send(states: &[NotifyState<'_>]) {
    // A failed notification is not worth stopping for: systemd's own timeouts
    // (TimeoutStartSec, WatchdogSec) act on what did not arrive.
    if let Err(error) = sd_notify::notify(false, states) {
        tracing::warn!(%error, "could not notify systemd");
    }
}

/// Configuration and state are loaded; the service is up.
pub fn ready(status_line: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status_line)]);
}

/// A reload has begun; `ready` ends it.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// The watchdog period systemd asked for (`WatchdogSec=`), if any.
pub fn watchdog_period() -> Option<Duration> {
    let mut usec = 0;
    sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec))
}

/// Sends WATCHDOG=1 every half period for as long as the cycle loop counts as
/// alive (`/healthz` would answer 200). A loop stuck in a cycle stops the pings,
/// and systemd restarts the service.
pub fn spawn_watchdog(
    period: Duration,
    status: ServiceStatus,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval((period / 2).max(Duration::from_millis(100)));
        let mut warned = false;
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = ticker.tick() => {}
            }
            match status.liveness() {
                crate::http::Verdict::Ok(_) => {
                    warned = false;
                    send(&[NotifyState::Watchdog]);
                }
                crate::http::Verdict::Failing(why) => {
                    if !warned {
                        tracing::error!(reason = %why, "withholding the systemd watchdog ping: {why}");
                        warned = true;
                    }
                }
            }
        }
    })
}
