//! Logs: readable lines on a terminal or JSON for journald and containers, on
//! stderr (stdout belongs to the console channel and command output). `RUST_LOG`
//! filters; the default is `info` for this crate and `warn` for the rest.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The filter when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "warn,campaign_watcher=info";

pub fn init(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests calling in-process) is harmless: the first one wins.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
