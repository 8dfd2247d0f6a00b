//! The one error type of every command: a sentence and the exit code it deserves.

use crate::config::ConfigError;
use crate::daemon::StartupError;

/// A failure with the exit code it deserves.
pub(crate) struct Failure {
    pub(super) code: u8,
    pub(super) message: String,
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
