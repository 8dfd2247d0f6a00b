//! `demo`: a zero-configuration tour: a built-in simulated API whose campaigns
//! change, watched, alerts printed.

use std::net::SocketAddr;
use std::time::Duration;

use super::failure::Failure;
use super::signals::shutdown_signal;
use crate::config::{
    ChannelSettings, Secret, Settings, SigmaMindSettings, StateSettings, WatchSettings,
};
use crate::daemon::Daemon;
use crate::deliver::console::ConsoleSettings;
use crate::sim;

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
        ..Settings::defaults()
    };
    println!(
        "campaign-watcher demo: a simulated SigmaMind API at {} with {} campaigns.",
        server.base_url(),
        settings.watch.campaigns.len()
    );
    println!("Watching them every second; the simulator changes one every {}. Alerts appear below. Ctrl-C to stop.\n", humantime::format_duration(step));
    let daemon = Daemon::build(&settings).await?;
    let script = tokio::spawn(sim::run_demo_script(server.control.clone(), step));
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
    let result = daemon.run_until_stopped(stop).await;
    script.abort();
    server.stop().await;
    result.map_err(Failure::from)
}
