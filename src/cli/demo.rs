//! `demo`: a zero-configuration tour: a built-in simulated API whose campaigns
//! change, watched, alerts printed.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use super::failure::Failure;
use super::signals::shutdown_signal;
use crate::config::{
    AccountSettings, ChannelSettings, Settings, SigmaMindSettings, StateSettings, WatchSettings,
};
use crate::daemon::{Daemon, ServiceOptions, StartupError};
use crate::deliver::console::ConsoleSettings;
use crate::setting::secret::Secret;
use crate::sim;

/// A free loopback port for the board, picked by the system (two demos, or a
/// demo beside a running watcher on 9464, never collide). The port is printed
/// before the daemon binds it, so another process may take it meanwhile: the
/// demo then picks another ([`BIND_ATTEMPTS`]).
fn board_address() -> SocketAddr {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    std::net::TcpListener::bind(any)
        .and_then(|listener| listener.local_addr())
        .unwrap_or(any)
}

/// How many ports the demo tries for its board before it gives up.
const BIND_ATTEMPTS: usize = 5;

/// The demo's two SigmaMind accounts, each its own simulated workspace with
/// its own key and the same five campaigns (the same ids: two accounts' one
/// id is two campaigns).
const DEMO_ACCOUNTS: [(&str, &str); 2] = [("acme", "demo-key-acme"), ("globex", "demo-key-globex")];

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Stop after this long instead of waiting for Ctrl-C.
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Seconds between the simulated campaign changes.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    step: Duration,
}

impl DemoArgs {
    pub(super) async fn run(self) -> Result<(), Failure> {
        let Self { duration, step } = self;
        let mut servers = Vec::new();
        for (_, key) in DEMO_ACCOUNTS {
            let server = sim::start(
                SocketAddr::from(([127, 0, 0, 1], 0)),
                sim::SimOptions {
                    campaigns: 0,
                    api_key: Some(key.into()),
                },
            )
            .await
            .map_err(|e| Failure::runtime(format!("cannot start the simulated API: {e}")))?;
            for campaign in sim::demo_campaigns() {
                server.control.insert(campaign);
            }
            servers.push(server);
        }
        let state_dir = tempfile::tempdir().map_err(|e| {
            Failure::runtime(format!("cannot create a temporary state directory: {e}"))
        })?;
        let mut channels = std::collections::BTreeMap::new();
        channels.insert(
            "terminal".to_string(),
            ChannelSettings::new(ConsoleSettings::default()),
        );
        let accounts = DEMO_ACCOUNTS
            .iter()
            .zip(&servers)
            .map(|((name, key), server)| {
                let account = AccountSettings {
                    api_key: Some(Secret::new(*key)),
                    base_url: Some(server.base_url()),
                    campaigns: server.control.ids(),
                    ..AccountSettings::default()
                };
                (name.to_string(), account)
            })
            .collect();
        let mut settings = Settings {
            sigmamind: SigmaMindSettings {
                max_requests_per_second: 0.0,
                accounts,
                ..SigmaMindSettings::default()
            },
            watch: WatchSettings {
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
            ..Settings::default()
        };
        for ((name, _), server) in DEMO_ACCOUNTS.iter().zip(&servers) {
            say!(
                "campaign-watcher demo: account {name}, a simulated SigmaMind API at {} with {} campaigns.",
                server.base_url(),
                server.control.ids().len()
            );
        }
        say!("Watching both every second; each simulator changes one campaign every {}. Alerts appear below, each named by its account. Ctrl-C to stop.\n", humantime::format_duration(step));
        say!(
            "The board: http://{}/ (the JSON API under /api/v1/).\n",
            settings.http.listen
        );
        let mut daemon = Daemon::build(&settings).await?;
        // The first check before anything changes: it records the baseline, which
        // a first-time user must hear about (a quiet start is not a broken one).
        let first = daemon
            .tick()
            .await
            .map_err(|e| Failure::runtime(format!("the first check failed: {e}")))?;
        say!(
            "first check done: {} campaigns recorded as they are now (the baseline, in {} accounts); from here on, each change is an alert.",
            first.campaigns_read(),
            DEMO_ACCOUNTS.len()
        );
        let scripts: Vec<_> = servers
            .iter()
            .map(|server| tokio::spawn(sim::run_demo_script(server.control.clone(), step)))
            .collect();
        let progress = tokio::spawn(report_progress(daemon.store().clone()));
        let stop = || async move {
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
        let mut attempt = 1;
        let result = loop {
            // No reloads in a demo: the sender is dropped at once.
            let (_, reloads) = tokio::sync::mpsc::channel(1);
            let options = ServiceOptions {
                serve_http: true,
                ..ServiceOptions::default()
            };
            let result = daemon.run_service(options, reloads, stop()).await;
            let taken = matches!(
                result,
                Err(StartupError::Http(crate::http::HttpError::Bind { .. }))
            );
            if !taken || attempt == BIND_ATTEMPTS {
                break result;
            }
            attempt += 1;
            settings.http.listen = board_address().to_string();
            say!(
                "The board's port was taken meanwhile; the board: http://{}/ instead.\n",
                settings.http.listen
            );
            daemon = Daemon::build(&settings).await?;
        };
        for script in scripts {
            script.abort();
        }
        progress.abort();
        for server in servers {
            server.stop().await;
        }
        result.map_err(Failure::from)
    }
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
