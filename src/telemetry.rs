//! Logs: readable lines on a terminal or JSON for journald and containers, on
//! stderr (stdout belongs to the console channel and command output). `RUST_LOG`
//! filters; the default is `info` for this crate and `warn` for the rest.
//!
//! Text lines carry API text (campaign names, ids, error bodies): every field
//! value has its control characters escaped, so a CRLF in a campaign id cannot
//! forge a log line and an escape sequence cannot reach the terminal. JSON lines
//! are escaped by the JSON encoder. Colour is used only when stderr is a
//! terminal and `NO_COLOR` is unset or empty (<https://no-color.org>).

use std::fmt::Write as _;
use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{debug_fn, Writer};
use tracing_subscriber::EnvFilter;

use crate::text;

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
        LogFormat::Text => builder
            .with_ansi(colour_wanted(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
            ))
            .fmt_fields(debug_fn(write_escaped_field).delimited(" "))
            .try_init(),
        LogFormat::Json => builder
            .with_ansi(false)
            .json()
            .flatten_event(true)
            .try_init(),
    };
}

/// Colour is for people at a terminal; a file, a pipe or journald would store
/// the escape bytes. `NO_COLOR` set to anything but empty turns it off.
fn colour_wanted(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.map_or(true, |value| value.is_empty())
}

/// `name=value` with the value's control characters escaped; the message
/// without its name, as the default formatter writes it.
fn write_escaped_field(
    writer: &mut Writer<'_>,
    field: &tracing::field::Field,
    value: &dyn std::fmt::Debug,
) -> std::fmt::Result {
    let mut shown = String::new();
    write!(shown, "{value:?}")?;
    let shown = text::terminal(&shown);
    if field.name() == "message" {
        writer.write_str(&shown)
    } else {
        write!(writer, "{}={shown}", field.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some(OsStr::new(""))));
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
        assert!(!colour_wanted(false, None));
    }
}
