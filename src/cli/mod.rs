//! The command line (design §5). `main.rs` only parses and calls [`main`].
//!
//! Exit codes: 0 success, 1 runtime failure, 2 configuration, state or usage error,
//! 3 `routes test`: no channel (or not exactly the `--expect`ed ones) would get it.
//!
//! This file holds the arguments and the one `match` that dispatches; each command's
//! body is its own file. They share `Failure`, the signals and the
//! store helpers, and never call one another.

#[macro_use]
mod output;

mod check_config;
mod completions;
mod demo;
mod failure;
mod hash_password;
mod healthcheck;
mod history;
mod incidents;
mod once;
mod outbox;
mod render;
mod replay;
mod routes;
mod routing;
mod run;
mod signals;
mod silence;
mod simulate;
mod state;
mod status;
mod store_access;
mod test_notify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::telemetry::{self, LogFormat};
use failure::Failure;

pub use outbox::OutboxCommand;
pub use routes::RoutesCommand;
pub use signals::shutdown_signal;
pub use silence::SilenceCommand;
pub use state::StateCommand;

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
    Once(once::OnceArgs),
    /// Validate the configuration and print it with secrets redacted.
    CheckConfig(check_config::CheckConfigArgs),
    /// Send a clearly marked test event to one channel, or to every channel.
    TestNotify(test_notify::TestNotifyArgs),
    /// Print exactly what CHANNEL would send for a sample event, without sending.
    Render(render::RenderArgs),
    /// The stored state of every watched campaign, the outbox and recent events.
    Status(status::StatusArgs),
    /// Inspect the outbox, replay dead rows, purge old ones.
    Outbox {
        #[command(subcommand)]
        action: OutboxCommand,
    },
    /// Administer the state store: `state backup PATH` copies a running SQLite store.
    State {
        #[command(subcommand)]
        action: StateCommand,
    },
    /// Keep matching events in history without sending them, for a while.
    Silence {
        #[command(subcommand)]
        action: SilenceCommand,
    },
    /// Stored events with each channel's delivery outcome, silences and quiet-hours holds.
    History(history::HistoryArgs),
    /// The open incidents (one episode of a condition each): since when, and the channels told, which their end will reach.
    Incidents(incidents::IncidentsArgs),
    /// Which channels one event would go to and why: `routes test --event TYPE --campaign ID --at TIME`.
    Routes {
        #[command(subcommand)]
        action: RoutesCommand,
    },
    /// Run the stored history through this configuration's routing: per channel then vs. now, and every event that would go elsewhere.
    Replay(replay::ReplayArgs),
    /// Ask the running daemon's /healthz (or /readyz) and exit 0 on 200, 1 otherwise: for a container HEALTHCHECK.
    Healthcheck(healthcheck::HealthcheckArgs),
    /// Print a bcrypt hash for `[http.users.NAME] password_hash`; the password is read from a prompt (no echo) or stdin, never from the command line.
    HashPassword(hash_password::HashPasswordArgs),
    /// Zero-configuration tour: a built-in simulated API whose campaigns change, watched, alerts printed.
    Demo(demo::DemoArgs),
    /// Serve the simulated SigmaMind API (for trials, tests and benchmarks).
    Simulate(simulate::SimulateArgs),
    /// Print a shell completion script, e.g. `campaign-watcher completions bash > /etc/bash_completion.d/campaign-watcher`.
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff), e.g. `campaign-watcher manpage > campaign-watcher.1`.
    Manpage,
}

/// Commands that read no configuration: `--config` is not offered in their
/// help, and their log format is not looked up in one.
const WITHOUT_CONFIG: [&str; 5] = [
    "demo",
    "simulate",
    "completions",
    "manpage",
    "hash-password",
];

/// The command line as the binary parses it (and as completions and the man
/// page describe it).
pub fn command() -> clap::Command {
    let mut command = <Cli as clap::CommandFactory>::command();
    // Global arguments reach the subcommands when the command is built.
    command.build();
    for name in WITHOUT_CONFIG {
        command = command.mut_subcommand(name, |sub| {
            sub.mut_args(|arg| match arg.get_id() == "config" {
                true => arg.hide(true),
                false => arg,
            })
        });
    }
    command
}

/// Parse the process's arguments; `--help`, `--version` and usage errors exit
/// here, as clap does. Without `--log-format`, a command that reads the
/// configuration logs in its `[log] format`.
pub fn parse() -> Cli {
    let matches = command().get_matches();
    let mut cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches)
        .unwrap_or_else(|error| error.exit());
    let reads_configuration = matches
        .subcommand_name()
        .is_some_and(|name| !WITHOUT_CONFIG.contains(&name));
    if cli.log_format.is_none() && reads_configuration {
        cli.log_format = Some(configured_log_format(&cli.config));
    }
    cli
}

pub fn main(cli: Cli) -> ExitCode {
    // The demo's alerts are the show: keep routine logs out of its way.
    let default_filter = match cli.command {
        Command::Demo(_) => "warn,sqlx=error",
        _ => telemetry::DEFAULT_FILTER,
    };
    telemetry::init(cli.log_format.unwrap_or_default(), default_filter);
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
            output::complain(&format!("campaign-watcher: {}", failure.message));
            ExitCode::from(failure.code)
        }
    }
}

/// `[log] format` from the configuration (no secret is read for it). A file
/// that does not load gives the default here; the command itself then reports why.
fn configured_log_format(config: &std::path::Path) -> LogFormat {
    Settings::load_without_secrets(config)
        .map(|settings| settings.log.format)
        .unwrap_or_default()
}

async fn dispatch(cli: Cli) -> Result<(), Failure> {
    let config = cli.config.as_path();
    match cli.command {
        Command::Run => run::run(config).await,
        Command::Once(args) => args.run(config).await,
        Command::CheckConfig(args) => args.run(config).await,
        Command::TestNotify(args) => args.run(config).await,
        Command::Render(args) => args.run(config),
        Command::Status(args) => args.run(config).await,
        Command::Outbox { action } => action.run(config).await,
        Command::Silence { action } => action.run(config).await,
        Command::State { action } => action.run(config).await,
        Command::History(args) => args.run(config).await,
        Command::Incidents(args) => args.run(config).await,
        Command::Routes { action } => action.run(config).await,
        Command::Replay(args) => args.run(config).await,
        Command::Healthcheck(args) => args.run(config).await,
        Command::HashPassword(args) => args.run(),
        Command::Demo(args) => args.run().await,
        Command::Simulate(args) => args.run().await,
        Command::Completions(args) => args.run(),
        Command::Manpage => completions::manpage(),
    }
}
