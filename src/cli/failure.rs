//! The one error type of every command: a sentence and the exit code it deserves.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 configuration, state or usage
//! error, [`NOT_ROUTED`] (3) when `routes test` finds that no channel (or not
//! exactly the `--expect`ed ones) would get the event.

use crate::config::ConfigError;
use crate::daemon::StartupError;

/// A failure with the exit code it deserves.
pub(crate) struct Failure {
    pub(super) code: u8,
    pub(super) message: String,
}

/// `routes test`: the event would reach no channel, or not exactly the expected ones.
pub(crate) const NOT_ROUTED: u8 = 3;

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
    /// The command worked and its answer is "no" ([`NOT_ROUTED`]).
    pub(crate) fn not_routed(message: impl ToString) -> Self {
        Self {
            code: NOT_ROUTED,
            message: message.to_string(),
        }
    }
}

impl From<StartupError> for Failure {
    fn from(error: StartupError) -> Self {
        match error {
            StartupError::Locked(_) => Self::runtime(error),
            _ => Self::usage(error),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(error: ConfigError) -> Self {
        Self::usage(error)
    }
}
