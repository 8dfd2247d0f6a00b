//! The command line (design §5). `main.rs` only parses and calls [`main`].
//!
//! Exit codes: 0 success, 1 runtime failure, 2 configuration, state or usage error.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use clap::{Parser, Subcommand};

use crate::commit::Store;
use crate::config::{
    ChannelSettings, ConfigError, Secret, Settings, SigmaMindSettings, StateSettings, WatchSettings,
};
use crate::daemon::{Daemon, ServiceOptions, StartupError};
use crate::deliver::console::ConsoleSettings;
use crate::deliver::{ChannelSet, SendOutcome};
use crate::event::{event_id, Event, EventType, UploadErrors, PAYLOAD_VERSION};
use crate::sim;
use crate::telemetry::{self, LogFormat};

#[derive(Debug, Parser)]
#[command(
    name = "campaign-watcher",
    version,
    about = "Watches SigmaMind outbound-call campaigns and alerts when they change"
)]
pub struct Cli {
    /// Configuration file.
    #[arg(
        long,
        global = true,
        env = "CAMPAIGN_WATCHER_CONFIG",
        default_value = "campaign-watcher.toml"
    )]
    pub config: PathBuf,
    /// Log format on stderr [default: `[log] format` in the configuration, else text].
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon: poll on schedule, alert, serve /healthz /readyz /metrics, reload on SIGHUP, stop cleanly on SIGTERM/SIGINT.
    Run,
    /// One full cycle and delivery of what it produced, then exit (1 if the API could not be read).
    Once {
        /// How long to keep retrying this cycle's deliveries before giving up (they stay in the outbox).
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        wait: Duration,
    },
    /// Validate the configuration and print it with secrets redacted.
    CheckConfig,
    /// Send a clearly marked test event to one channel, or to every channel.
    TestNotify { channel: Option<String> },
    /// Print exactly what CHANNEL would send for a sample event, without sending.
    Render {
        channel: String,
        /// Event type of the sample (e.g. campaign.upload_errors_added).
        #[arg(long, default_value = "campaign.status_changed")]
        event: String,
        /// Print a digest of one sample of every event type instead of one event.
        #[arg(long, conflicts_with = "event")]
        digest: bool,
        /// Email: print the MIME message as it goes over SMTP.
        #[arg(long)]
        raw: bool,
    },
    /// The stored state of every watched campaign, the outbox and recent events.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Inspect the outbox, replay dead rows, purge old ones.
    Outbox {
        #[command(subcommand)]
        action: crate::ops::OutboxCommand,
    },
    /// Keep matching events in history without sending them, for a while.
    Silence {
        #[command(subcommand)]
        action: crate::ops::SilenceCommand,
    },
    /// Stored events with each channel's delivery outcome, silences and quiet-hours holds.
    History {
        /// Only this campaign id.
        #[arg(long)]
        campaign: Option<String>,
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        since: Duration,
        #[arg(long)]
        json: bool,
    },
    /// Ask the running daemon's /healthz (or /readyz) and exit 0 on 200, 1 otherwise: for a container HEALTHCHECK.
    Healthcheck {
        /// Ask /readyz instead: has a cycle read the API, is the store answering?
        #[arg(long)]
        ready: bool,
        /// Base URL of the daemon's endpoints [default: from `[http] listen`, 0.0.0.0 and :: read as loopback].
        #[arg(long)]
        url: Option<String>,
        /// How long to wait for the answer.
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
    /// Zero-configuration tour: a built-in simulated API whose campaigns change, watched, alerts printed.
    Demo {
        /// Stop after this long instead of waiting for Ctrl-C.
        #[arg(long, value_parser = humantime::parse_duration)]
        duration: Option<Duration>,
        /// Seconds between the simulated campaign changes.
        #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
        step: Duration,
    },
    /// Serve the simulated SigmaMind API (for trials, tests and benchmarks).
    Simulate {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long, default_value_t = 20)]
        campaigns: usize,
        /// Require this X-API-Key (any key is accepted when unset).
        #[arg(long, env = "SIM_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
    },
}

/// A failure with the exit code it deserves.
pub(crate) struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    pub(crate) fn usage(message: impl ToString) -> Self {
        Self {
            code: 2,
            message: message.to_string(),
        }
    }
    pub(crate) fn runtime(message: impl ToString) -> Self {
        Self {
            code: 1,
            message: message.to_string(),
        }
    }
}

impl From<StartupError> for Failure {
    fn from(error: StartupError) -> Self {
        Self::usage(error)
    }
}

impl From<ConfigError> for Failure {
    fn from(error: ConfigError) -> Self {
        Self::usage(error)
    }
}

pub fn main(cli: Cli) -> ExitCode {
    // The demo's alerts are the show: keep routine logs out of its way.
    let default_filter = match cli.command {
        Command::Demo { .. } => "warn",
        _ => telemetry::DEFAULT_FILTER,
    };
    let log_format = cli
        .log_format
        .unwrap_or_else(|| configured_log_format(&cli));
    telemetry::init(log_format, default_filter);
    if let Err(problem) = crate::crash::arm_from_env() {
        eprintln!("campaign-watcher: {problem}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("campaign-watcher: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(dispatch(cli));
    // Stop background tasks (connection pools, timers) before the final sentence,
    // so that it is the last line on stderr, where an operator looks for it.
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("campaign-watcher: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// `[log] format` from the configuration, for commands that read one. A file
/// that does not load gives the default here; the command itself then reports why.
fn configured_log_format(cli: &Cli) -> LogFormat {
    match cli.command {
        Command::Demo { .. } | Command::Simulate { .. } => LogFormat::default(),
        _ => Settings::load(&cli.config)
            .map(|settings| settings.log.format)
            .unwrap_or_default(),
    }
}

async fn dispatch(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Run => {
            // Before anything else: SIGHUP's default action would end the process.
            let reloads = reload_requests();
            let settings = Settings::load(&cli.config)?;
            let daemon = Daemon::build(&settings).await?;
            let options = ServiceOptions {
                config_path: Some(cli.config.clone()),
                serve_http: true,
                notify_systemd: true,
            };
            daemon
                .run_service(options, reloads, shutdown_signal())
                .await
                .map_err(Failure::from)
        }
        Command::Once { wait } => once(&cli.config, wait).await,
        Command::CheckConfig => check_config(&cli.config),
        Command::TestNotify { channel } => test_notify(&cli.config, channel.as_deref()).await,
        Command::Render {
            channel,
            event,
            digest,
            raw,
        } => render(&cli.config, &channel, &event, digest, raw),
        Command::Status { json } => status(&cli.config, json).await,
        Command::Outbox { action } => crate::ops::outbox(&cli.config, action).await,
        Command::Silence { action } => crate::ops::silence(&cli.config, action).await,
        Command::History {
            campaign,
            since,
            json,
        } => crate::ops::history(&cli.config, campaign.as_deref(), since, json).await,
        Command::Healthcheck {
            ready,
            url,
            timeout,
        } => healthcheck(&cli.config, ready, url, timeout).await,
        Command::Demo { duration, step } => demo(duration, step).await,
        Command::Simulate {
            listen,
            campaigns,
            api_key,
        } => simulate(listen, campaigns, api_key).await,
    }
}

async fn once(config: &Path, wait: Duration) -> Result<(), Failure> {
    let settings = Settings::load(config)?;
    let daemon = Daemon::build(&settings).await?;
    let (report, pending) = daemon.run_once(wait).await.map_err(Failure::runtime)?;
    println!(
        "cycle: {} campaigns read, {} failed, {} events, {} API requests in {} ms",
        report.campaigns_read,
        report.campaigns_failed,
        report.events.len(),
        report.requests,
        report.duration.as_millis()
    );
    if !report.api_readable() {
        return Err(Failure::runtime(
            "the SigmaMind API could not be read this cycle; see the log above for why",
        ));
    }
    if pending > 0 {
        return Err(Failure::runtime(format!(
            "{pending} deliveries of this cycle are still pending after {}; they stay in the outbox and go out on the next run",
            humantime::format_duration(wait)
        )));
    }
    Ok(())
}

async fn healthcheck(
    config: &Path,
    ready: bool,
    url: Option<String>,
    timeout: Duration,
) -> Result<(), Failure> {
    use crate::http::probe::{local_base_url, probe, Probe};
    let base = match url {
        Some(url) => url,
        None => local_base_url(&Settings::load(config)?.http.listen).map_err(Failure::usage)?,
    };
    let path = if ready { "/readyz" } else { "/healthz" };
    match probe(&base, path, timeout).await.map_err(Failure::usage)? {
        Probe::Healthy(line) => {
            println!("healthy: {line}");
            Ok(())
        }
        Probe::Unhealthy(line) => Err(Failure::runtime(format!("unhealthy: {line}"))),
    }
}

fn check_config(config: &Path) -> Result<(), Failure> {
    let settings = Settings::load(config)?;
    if let Err(problems) = settings.validate() {
        return Err(ConfigError::invalid(config.display().to_string(), problems).into());
    }
    for warning in settings.warnings() {
        eprintln!("warning: {warning}");
    }
    print!("{}", settings.to_redacted_toml());
    eprintln!("{}: the configuration is valid", config.display());
    Ok(())
}

async fn test_notify(config: &Path, only: Option<&str>) -> Result<(), Failure> {
    let settings = Settings::load(config)?;
    let channels = ChannelSet::from_settings(&settings).map_err(Failure::usage)?;
    let names: Vec<String> = match only {
        Some(name) if channels.get(name).is_none() => {
            return Err(Failure::usage(format!(
                "there is no channel named {name:?} in {}",
                config.display()
            )))
        }
        Some(name) => vec![name.to_string()],
        None => channels.names(),
    };
    if names.is_empty() {
        return Err(Failure::usage(format!(
            "{} configures no channels",
            config.display()
        )));
    }
    let now = Utc::now();
    let event = Event {
        version: PAYLOAD_VERSION.into(),
        id: event_id(&[
            "test",
            &now.timestamp_nanos_opt().unwrap_or_default().to_string(),
        ]),
        kind: EventType::Test,
        occurred_at: now,
        campaign: None,
        upload_errors: UploadErrors::default(),
        changes: vec![],
        summary: "TEST from campaign-watcher: this is a test message, no campaign changed".into(),
    };
    let mut failed = 0;
    for name in &names {
        let Some(channel) = channels.get(name) else {
            continue;
        };
        match channel.channel.send(&event).await {
            SendOutcome::Delivered { detail } => println!("{name}: delivered ({detail})"),
            SendOutcome::Retry { reason, .. } | SendOutcome::Permanent { reason } => {
                failed += 1;
                println!("{name}: FAILED: {reason}");
            }
        }
    }
    if failed > 0 {
        return Err(Failure::runtime(format!(
            "{failed} of {} channels failed",
            names.len()
        )));
    }
    Ok(())
}

fn render(
    config: &Path,
    channel_name: &str,
    event_type: &str,
    digest: bool,
    raw: bool,
) -> Result<(), Failure> {
    let settings = Settings::load(config)?;
    let Some(channel_settings) = settings.channels.get(channel_name) else {
        return Err(Failure::usage(format!(
            "there is no channel named {channel_name:?} in {}",
            config.display()
        )));
    };
    let kind = EventType::parse(event_type).ok_or_else(|| {
        let known: Vec<&str> = EventType::ALL.iter().map(|kind| kind.as_str()).collect();
        Failure::usage(format!(
            "--event {event_type:?} is not an event type (known: {})",
            known.join(", ")
        ))
    })?;
    let now = Utc::now();
    let events: Vec<Event> = if digest {
        EventType::ALL
            .into_iter()
            .filter(|kind| *kind != EventType::Test)
            .map(|kind| crate::render::sample_event(kind, now))
            .collect()
    } else {
        vec![crate::render::sample_event(kind, now)]
    };
    let only =
        std::collections::BTreeMap::from([(channel_name.to_string(), channel_settings.clone())]);
    let channels =
        ChannelSet::build_for_instance(&only, &settings.instance_name()).map_err(Failure::usage)?;
    let Some(configured) = channels.get(channel_name) else {
        return Err(Failure::usage(format!(
            "channel {channel_name:?} could not be built"
        )));
    };
    let output = configured
        .channel
        .preview(&events, raw)
        .map_err(Failure::runtime)?;
    print!("{output}");
    Ok(())
}

async fn status(config: &Path, json: bool) -> Result<(), Failure> {
    let settings = Settings::load(config)?;
    let store = Store::open(&settings.state.url)
        .await
        .map_err(Failure::usage)?;
    let read = |e: crate::commit::StoreError| Failure::runtime(e);
    let mut states: Vec<_> = store
        .load_states()
        .await
        .map_err(read)?
        .into_iter()
        .collect();
    states.sort_by(|a, b| a.0.cmp(&b.0));
    let health = store.load_health().await.map_err(read)?;
    let outbox = store.outbox_counts().await.map_err(read)?;
    let recent = store.recent_events(10).await.map_err(read)?;
    let activity = store.campaign_activity().await.map_err(read)?;
    let last_cycle = store.last_cycle().await.map_err(read)?;
    let now = Utc::now();
    let silences = store.silences(now, false).await.map_err(read)?;
    let held = store
        .outbox_entries(false)
        .await
        .map_err(read)?
        .iter()
        .filter(|entry| entry.held_until.is_some_and(|until| until > now))
        .count();
    let no_activity = crate::commit::CampaignActivity::default();
    if json {
        let campaigns: Vec<_> = states
            .iter()
            .map(|(key, state)| {
                let seen = activity.get(key).unwrap_or(&no_activity);
                serde_json::json!({
                    "id": key,
                    "name": state.snapshot.name,
                    "status": state.snapshot.status,
                    "upload_errors": state.snapshot.upload_errors.len(),
                    "not_found": state.not_found,
                    "changed_at": state.changed_at,
                    "last_seen_at": seen.last_seen_at,
                    "last_event": seen.last_event_type.as_ref().map(|kind| serde_json::json!({
                        "type": kind,
                        "id": seen.last_event_id,
                        "occurred_at": seen.last_event_at,
                    })),
                })
            })
            .collect();
        let events: Vec<_> = recent
            .iter()
            .map(|stored| serde_json::json!({"event": stored.event, "deliveries": stored.deliveries}))
            .collect();
        let body = serde_json::json!({
            "campaigns": campaigns,
            "api": {"unhealthy": health.unhealthy, "consecutive_failures": health.consecutive_failures},
            "outbox": outbox,
            "held_for_quiet_hours": held,
            "silences": silences,
            "last_cycle": last_cycle,
            "recent_events": events,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&body).unwrap_or_default()
        );
        return Ok(());
    }
    let when = |at: Option<chrono::DateTime<Utc>>| {
        at.map(|at| at.format("%Y-%m-%d %H:%M:%SZ").to_string())
            .unwrap_or_else(|| "-".into())
    };
    println!(
        "{:<28} {:<32} {:<10} {:>6}  {:<20} {:<20} last event",
        "campaign", "name", "status", "errors", "changed", "last seen"
    );
    for (key, state) in &states {
        let status = if state.not_found {
            "not found".to_string()
        } else {
            state.snapshot.status.to_string()
        };
        let seen = activity.get(key).unwrap_or(&no_activity);
        let last_event = match &seen.last_event_type {
            Some(kind) => format!("{kind} at {}", when(seen.last_event_at)),
            None => "-".into(),
        };
        println!(
            "{:<28} {:<32} {:<10} {:>6}  {:<20} {:<20} {}",
            key,
            truncate(&state.snapshot.name, 32),
            status,
            state.snapshot.upload_errors.len(),
            when(Some(state.changed_at)),
            when(seen.last_seen_at),
            last_event
        );
    }
    match &last_cycle {
        Some(cycle) => println!(
            "last cycle: {} at {} ({})",
            cycle.result,
            when(Some(cycle.started_at)),
            cycle.detail
        ),
        None => println!("last cycle: none recorded yet"),
    }
    println!(
        "api: {} ({} consecutive failed cycles)",
        if health.unhealthy {
            "UNHEALTHY"
        } else {
            "healthy"
        },
        health.consecutive_failures
    );
    let held = match held {
        0 => String::new(),
        held => format!(" ({held} held for quiet hours)"),
    };
    println!(
        "outbox: {} pending{held}, {} dead, {} sent",
        outbox.pending, outbox.dead, outbox.sent
    );
    for silence in &silences {
        println!(
            "silence {}: {} {} until {} ({})",
            silence.id,
            silence.campaign,
            silence.event.map_or("every event", |kind| kind.as_str()),
            when(Some(silence.expires_at)),
            silence.reason
        );
    }
    for stored in &recent {
        let deliveries: Vec<String> = stored
            .deliveries
            .iter()
            .map(|(c, s)| format!("{c}={s}"))
            .collect();
        println!(
            "{} {} {} [{}]",
            stored.event.occurred_at.format("%Y-%m-%d %H:%M:%SZ"),
            stored.event.summary,
            stored.event.id,
            deliveries.join(" ")
        );
    }
    Ok(())
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

async fn demo(duration: Option<Duration>, step: Duration) -> Result<(), Failure> {
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

async fn simulate(
    listen: SocketAddr,
    campaigns: usize,
    api_key: Option<String>,
) -> Result<(), Failure> {
    let requires_key = api_key.is_some();
    let server = sim::start(listen, sim::SimOptions { campaigns, api_key })
        .await
        .map_err(|e| Failure::usage(format!("cannot listen on {listen}: {e}")))?;
    println!(
        "simulated SigmaMind API on {} with {campaigns} campaigns ({}); admin endpoints under /admin; Ctrl-C to stop",
        server.base_url(),
        if requires_key { "X-API-Key required" } else { "any X-API-Key accepted" }
    );
    shutdown_signal().await;
    server.stop().await;
    Ok(())
}

/// One message per SIGHUP; several arriving during one reload make one more reload.
fn reload_requests() -> tokio::sync::mpsc::Receiver<()> {
    let (requests, receiver) = tokio::sync::mpsc::channel(1);
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut hangups) => {
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    let _ = requests.try_send(());
                }
            });
        }
        Err(error) => tracing::warn!(%error, "cannot listen for SIGHUP; reload needs a restart"),
    }
    #[cfg(not(unix))]
    drop(requests);
    receiver
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
