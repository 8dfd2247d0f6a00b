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

use std::net::SocketAddr;
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
    Once {
        /// How long to keep retrying this cycle's deliveries before giving up (they stay in the outbox).
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        wait: Duration,
    },
    /// Validate the configuration and print it with secrets redacted.
    CheckConfig {
        /// Also ask the SigmaMind API once whether the key opens the account (no state written, nothing sent).
        #[arg(long)]
        online: bool,
    },
    /// Send a clearly marked test event to one channel, or to every channel.
    TestNotify {
        /// The channel's name (a `[channels.NAME]` section); every channel when omitted.
        channel: Option<String>,
    },
    /// Print exactly what CHANNEL would send for a sample event, without sending.
    Render {
        /// The channel's name (a `[channels.NAME]` section).
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
        /// Print one JSON document instead of tables.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        filter: status::StatusFilter,
    },
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
    History {
        /// Only this campaign: an id or name, or a glob over either (`camp_eu_*`), as `silence add` takes.
        #[arg(long)]
        campaign: Option<String>,
        /// Only this SigmaMind account's events (default: every account's and the watcher's own).
        #[arg(long)]
        account: Option<String>,
        /// How far back to look, e.g. 24h or 7d.
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        since: Duration,
        /// Print one JSON document instead of lines.
        #[arg(long)]
        json: bool,
        /// Only the audit log: who made or ended silences and replayed deliveries (with --json, its records).
        #[arg(long)]
        audit: bool,
    },
    /// Which channels one event would go to and why: `routes test --event TYPE --campaign ID --at TIME`.
    Routes {
        #[command(subcommand)]
        action: RoutesCommand,
    },
    /// Run the stored history through this configuration's routing: per channel then vs. now, and every event that would go elsewhere.
    Replay {
        /// How far back to replay, e.g. 24h or 7d.
        #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
        since: Duration,
        /// The state store holding the history [default: `[state] url` of --config].
        #[arg(long)]
        state: Option<String>,
        /// List at most this many differing events (0: all).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print one JSON document instead of tables.
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
    /// Print a bcrypt hash for `[http.users.NAME] password_hash`; the password is read from a prompt (no echo) or stdin, never from the command line.
    HashPassword {
        /// bcrypt cost, 4-31: each step doubles the time a check takes (aim for 50-250 ms on the watcher's host).
        #[arg(long, default_value_t = 12)]
        cost: u32,
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
        /// Address to serve the simulated API on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// How many campaigns to start with.
        #[arg(long, default_value_t = 20)]
        campaigns: usize,
        /// Require this X-API-Key (any key is accepted when unset).
        #[arg(
            long,
            env = "SIM_API_KEY",
            hide_env_values = true,
            conflicts_with = "account"
        )]
        api_key: Option<String>,
        /// Serve one more SigmaMind account, NAME=KEY (repeatable): each account is its own workspace with its own campaigns and key, on the next port after the previous one (with port 0, on a free port each).
        #[arg(long, value_name = "NAME=KEY")]
        account: Vec<String>,
    },
    /// Print a shell completion script, e.g. `campaign-watcher completions bash > /etc/bash_completion.d/campaign-watcher`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `campaign-watcher manpage > campaign-watcher.1`.
    Manpage,
}

/// Commands that read no configuration: `--config` is not offered in their help.
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
/// here, as clap does.
pub fn parse() -> Cli {
    let matches = command().get_matches();
    <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
}

pub fn main(cli: Cli) -> ExitCode {
    // The demo's alerts are the show: keep routine logs out of its way.
    let default_filter = match cli.command {
        Command::Demo { .. } => "warn,sqlx=error",
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
            output::complain(&format!("campaign-watcher: {}", failure.message));
            ExitCode::from(failure.code)
        }
    }
}

/// `[log] format` from the configuration, for commands that read one. A file
/// that does not load gives the default here; the command itself then reports why.
fn configured_log_format(cli: &Cli) -> LogFormat {
    match cli.command {
        Command::Demo { .. }
        | Command::Simulate { .. }
        | Command::Completions { .. }
        | Command::HashPassword { .. }
        | Command::Manpage => LogFormat::default(),
        _ => Settings::load(&cli.config)
            .map(|settings| settings.log.format)
            .unwrap_or_default(),
    }
}

async fn dispatch(cli: Cli) -> Result<(), Failure> {
    let config = cli.config.as_path();
    match cli.command {
        Command::Run => run::run(config).await,
        Command::Once { wait } => once::once(config, wait).await,
        Command::CheckConfig { online } => check_config::check_config(config, online).await,
        Command::TestNotify { channel } => {
            test_notify::test_notify(config, channel.as_deref()).await
        }
        Command::Render {
            channel,
            event,
            digest,
            raw,
        } => render::render(config, &channel, &event, digest, raw),
        Command::Status { json, filter } => status::status(config, json, filter).await,
        Command::Outbox { action } => outbox::outbox(config, action).await,
        Command::Silence { action } => silence::silence(config, action).await,
        Command::State { action } => state::state(config, action).await,
        Command::History {
            campaign,
            account,
            since,
            json,
            audit,
        } => {
            history::history(
                config,
                campaign.as_deref(),
                account.as_deref(),
                since,
                json,
                audit,
            )
            .await
        }
        Command::Routes { action } => routes::routes(config, action).await,
        Command::Replay {
            since,
            state,
            limit,
            json,
        } => replay::replay(config, since, state.as_deref(), limit, json).await,
        Command::Healthcheck {
            ready,
            url,
            timeout,
        } => healthcheck::healthcheck(config, ready, url, timeout).await,
        Command::HashPassword { cost } => hash_password::hash_password(cost),
        Command::Demo { duration, step } => demo::demo(duration, step).await,
        Command::Simulate {
            listen,
            campaigns,
            api_key,
            account,
        } => simulate::simulate(listen, campaigns, api_key, account).await,
        Command::Completions { shell } => completions::completions(shell),
        Command::Manpage => completions::manpage(),
    }
}
