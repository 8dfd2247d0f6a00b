//! What a channel's send came to, the one answer every kind gives the
//! dispatcher.

use std::time::Duration;

/// What one attempt to send one event came to.
#[derive(Debug, Clone)]
pub enum SendOutcome {
    Delivered {
        detail: String,
    },
    /// Worth trying again later; `retry_after` is the receiver's own request.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Trying again cannot help.
    Permanent {
        reason: String,
    },
}

/// One send of one message (one event, or a digest of several).
#[derive(Debug)]
pub struct BatchOutcome {
    pub outcome: SendOutcome,
    /// The relay rejected the credentials (535): a configuration problem, logged
    /// once per drain by the dispatcher rather than once per message.
    pub auth_failure: bool,
}
