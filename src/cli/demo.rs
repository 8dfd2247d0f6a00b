//! `demo`: a zero-configuration tour: a built-in simulated API whose campaigns
//! change, watched, alerts printed.

use std::net::SocketAddr;
use std::time::Duration;

use super::failure::Failure;
use super::signals::shutdown_signal;
use crate::config::{
    ChannelSettings, Secret, Settings, SigmaMindSettings, StateSettings, WatchSettings,
};
use crate::daemon::{Daemon, ServiceOptions};
use crate::deliver::console::ConsoleSettings;
use crate::sim;

/// A free loopback port for the board, picked by the system (two demos, or a
/// demo beside a running watcher on 9464, never collide).
fn board_address() -> SocketAddr {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    std::net::TcpListener::bind(any)
        .and_then(|listener| listener.local_addr())
        .unwrap_or(any)
}

pub(super) async fn demo(duration: Option<Duration>, step: Duration) -> Result<(), Failure> {
    const DEMO_KEY: &str = "demo-key";
    let server = sim::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        sim::SimOptions {
            campaigns: 0,
            api_key: Some(DEMO_KEY.into()),
        },
    )
    .await
    .map_err(|e| Failure::runtime(format!("cannot start the simulated API: {e}")))?;
    for campaign in sim::demo_campaigns() {
        server.control.insert(campaign);
    }
    let state_dir = tempfile::tempdir()
        .map_err(|e| Failure::runtime(format!("cannot create a temporary state directory: {e}")))?;
    let mut channels = std::collections::BTreeMap::new();
    channels.insert(
        "terminal".to_string(),
        ChannelSettings::new(ConsoleSettings::default()),
    );
    let settings = Settings {
        sigmamind: SigmaMindSettings {
            base_url: server.base_url(),
            api_key: Some(Secret::new(DEMO_KEY)),
            max_requests_per_second: 0.0,
            ..SigmaMindSettings::default()
        },
        watch: WatchSettings {
            campaigns: server.control.ids(),
            interval: Some(Duration::from_secs(1)),
            ..WatchSettings::default()
        },
        state: StateSettings {
            url: format!("sqlite://{}", state_dir.path().join("state.db").display()),
            ..StateSettings::default()
        },
        channels,
        http: crate::config::HttpSettings {
            listen: board_address().to_string(),
            ..crate::config::HttpSettings::default()
        },
        ..Settings::defaults()
    };
    say!(
        "campaign-watcher demo: a simulated SigmaMind API at {} with {} campaigns.",
        server.base_url(),
        settings.watch.campaigns.len()
    );
    say!("Watching them every second; the simulator changes one every {}. Alerts appear below. Ctrl-C to stop.\n", humantime::format_duration(step));
    say!(
        "The board: http://{}/ (the JSON API under /api/v1/).\n",
        settings.http.listen
    );
    let daemon = Daemon::build(&settings).await?;
    // The first check before anything changes: it records the baseline, which
    // a first-time user must hear about (a quiet start is not a broken one).
    let first = daemon
        .tick()
        .await
        .map_err(|e| Failure::runtime(format!("the first check failed: {e}")))?;
    say!(
        "first check done: {} campaigns recorded as they are now (the baseline); from here on, each change is an alert.",
        first.campaigns_read
    );
    let script = tokio::spawn(sim::run_demo_script(server.control.clone(), step));
    let progress = tokio::spawn(report_progress(daemon.store().clone()));
    let stop = async move {
        match duration {
            Some(limit) => {
                tokio::select! {
                    _ = tokio::time::sleep(limit) => {}
                    _ = shutdown_signal() => {}
                }
            }
            None => shutdown_signal().await,
        }
    };
    // No reloads in a demo: the sender is dropped at once.
    let (_, reloads) = tokio::sync::mpsc::channel(1);
    let options = ServiceOptions {
        serve_http: true,
        ..ServiceOptions::default()
    };
    let result = daemon.run_service(options, reloads, stop).await;
    script.abort();
    progress.abort();
    server.stop().await;
    result.map_err(Failure::from)
}

/// How often the demo says it is still checking when nothing changed.
const PROGRESS_EVERY: u64 = 10;

/// Every [`PROGRESS_EVERY`] checks, a line saying that checking goes on (so a
/// quiet stretch is not a hung demo). Read from the store, as `status` reads
/// it; the demo's logs stay at warn.
async fn report_progress(store: crate::commit::Store) {
    let mut last_seen = None;
    // Counts the first check too: it is in the store when this starts.
    let mut checks = 0u64;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Ok(Some(cycle)) = store.last_cycle().await else {
            continue;
        };
        if last_seen == Some(cycle.finished_at) {
            continue;
        }
        last_seen = Some(cycle.finished_at);
        checks += 1;
        if checks % PROGRESS_EVERY == 0 {
            say!(
                "· {checks} checks so far, the last at {} ({}: {})",
                cycle.finished_at.format("%H:%M:%S"),
                crate::text::terminal(&cycle.result),
                crate::text::terminal(&cycle.detail)
            );
        }
    }
}
