//! SMTP AUTH XOAUTH2 with a token from the client-credentials grant
//! (`[channels.NAME.oauth2]`): what Exchange Online needs once basic SMTP
//! AUTH is off.
//!
//! lettre speaks XOAUTH2 (`Mechanism::Xoauth2`) but fixes a transport's
//! credentials when it is built, so each token gets its own pooled transport;
//! the previous one is dropped with its connections when the token changes.
//! A token the server refuses is replaced once per send, and only when it
//! came from the cache: a token fetched for this very send that is refused
//! will be refused again, and the endpoint is not asked twice for nothing.

mod settings;
mod token;

use std::sync::Mutex;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub(crate) use settings::check_token_url_scheme;
pub use settings::OAuth2Settings;
pub use token::{
    error_detail, parse_answer, reuse_until, Origin, Token, TokenError, TokenSource,
    ASSUMED_LIFETIME,
};

use super::{classify, Refusal, SEND_TIMEOUT};
use crate::deliver::{BatchOutcome, SendOutcome};
use crate::outbound::Scrubber;

type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// The email channel's sender when it signs in with OAuth2.
pub struct XOAuth2Sender {
    /// Everything but the credentials, which change with each token.
    builder: AsyncSmtpTransportBuilder,
    user: String,
    tokens: TokenSource,
    /// The transport signed in with the token it names.
    current: Mutex<Option<(Token, Transport)>>,
    /// The channel's configured secrets, scrubbed from the server's replies.
    scrubber: Scrubber,
}

impl std::fmt::Debug for XOAuth2Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XOAuth2Sender")
            .field("user", &self.user)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

/// What one attempt with one token came to.
enum Attempt {
    Sent(String),
    /// The server refused the token (535, or an XOAUTH2 error challenge).
    Refused(String),
    Failed(BatchOutcome),
}

impl XOAuth2Sender {
    pub fn new(
        builder: AsyncSmtpTransportBuilder,
        user: String,
        tokens: TokenSource,
        scrubber: Scrubber,
    ) -> Self {
        Self {
            builder: builder.authentication(vec![Mechanism::Xoauth2]),
            user,
            tokens,
            current: Mutex::new(None),
            scrubber,
        }
    }

    /// `token from … fetched` / `cached`: each step, for the outcome's text.
    fn token_step(&self, token: &Token, origin: Origin) -> String {
        let endpoint = self.tokens.endpoint();
        match (origin, token.expires_in) {
            (Origin::Cached, _) => format!("token from {endpoint}: cached"),
            (Origin::Fetched, Some(life)) => format!(
                "token from {endpoint}: fetched, expires in {}",
                humantime::format_duration(life)
            ),
            (Origin::Fetched, None) => format!(
                "token from {endpoint}: fetched, no expiry given (used for at most {})",
                humantime::format_duration(ASSUMED_LIFETIME)
            ),
        }
    }

    /// The transport signed in with `token`, built when the token is new.
    fn transport(&self, token: &Token) -> Transport {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((kept, transport)) = current.as_ref() {
            if kept.value == token.value {
                return transport.clone();
            }
        }
        let transport = self
            .builder
            .clone()
            .credentials(Credentials::new(
                self.user.clone(),
                token.value.expose().to_string(),
            ))
            .build();
        *current = Some((token.clone(), transport.clone()));
        transport
    }

    async fn attempt(&self, display: &str, token: &Token, message: &Message) -> Attempt {
        let transport = self.transport(token);
        let scrubber = self.scrubber.clone().with([token.value.expose()]);
        match tokio::time::timeout(SEND_TIMEOUT, transport.send(message.clone())).await {
            Ok(Ok(response)) => {
                let reply: Vec<&str> = response.message().collect();
                Attempt::Sent(scrubber.scrub(&format!(
                    "{display} answered {} {} to AUTH XOAUTH2 as {}",
                    response.code(),
                    reply.join(" "),
                    self.user
                )))
            }
            Ok(Err(error)) => {
                let refusal = Refusal::XOAuth2 { user: &self.user };
                let outcome = classify(display, &error, &refusal, &scrubber);
                if outcome.auth_failure {
                    match outcome.outcome {
                        SendOutcome::Retry { reason, .. } => Attempt::Refused(reason),
                        _ => Attempt::Failed(outcome),
                    }
                } else {
                    Attempt::Failed(outcome)
                }
            }
            Err(_) => Attempt::Failed(BatchOutcome {
                outcome: SendOutcome::Retry {
                    reason: format!(
                        "{display}: no answer within {}",
                        humantime::format_duration(SEND_TIMEOUT)
                    ),
                    retry_after: None,
                },
                auth_failure: false,
            }),
        }
    }

    /// A token (kept or fetched), the message sent with it, and once more
    /// with a new token when the server refused a kept one. The outcome's
    /// text lists each step.
    pub async fn send(&self, display: &str, message: Message) -> BatchOutcome {
        let mut steps = Vec::new();
        let (token, origin) = match self.tokens.token().await {
            Ok(got) => got,
            Err(error) => return token_failure(error, steps),
        };
        steps.push(self.token_step(&token, origin));
        let refused = match self.attempt(display, &token, &message).await {
            Attempt::Sent(detail) => return delivered(steps, detail),
            Attempt::Failed(outcome) => return with_steps(outcome, steps),
            Attempt::Refused(reason) if origin == Origin::Fetched => {
                return refused_outcome(steps, reason)
            }
            Attempt::Refused(reason) => reason,
        };
        steps.push(format!("{refused}; fetching a new token"));
        let (token, origin) = match self.tokens.replace(&token).await {
            Ok(got) => got,
            Err(error) => return token_failure(error, steps),
        };
        steps.push(self.token_step(&token, origin));
        match self.attempt(display, &token, &message).await {
            Attempt::Sent(detail) => delivered(steps, detail),
            Attempt::Failed(outcome) => with_steps(outcome, steps),
            Attempt::Refused(reason) => refused_outcome(steps, reason),
        }
    }
}

fn joined(mut steps: Vec<String>, last: String) -> String {
    steps.push(last);
    steps.join("; ")
}

fn delivered(steps: Vec<String>, detail: String) -> BatchOutcome {
    BatchOutcome {
        outcome: SendOutcome::Delivered {
            detail: joined(steps, detail),
        },
        auth_failure: false,
    }
}

/// The server refused a token just fetched: a configuration problem (the
/// app's permission, the mailbox's SMTP AUTH), retried like a 535.
fn refused_outcome(steps: Vec<String>, reason: String) -> BatchOutcome {
    BatchOutcome {
        outcome: SendOutcome::Retry {
            reason: joined(steps, reason),
            retry_after: None,
        },
        auth_failure: true,
    }
}

/// `outcome` (a failure that is not a refusal) led by the steps before it.
fn with_steps(outcome: BatchOutcome, steps: Vec<String>) -> BatchOutcome {
    let auth_failure = outcome.auth_failure;
    let outcome = match outcome.outcome {
        SendOutcome::Delivered { detail } => SendOutcome::Delivered {
            detail: joined(steps, detail),
        },
        SendOutcome::Retry {
            reason,
            retry_after,
        } => SendOutcome::Retry {
            reason: joined(steps, reason),
            retry_after,
        },
        SendOutcome::Permanent { reason } => SendOutcome::Permanent {
            reason: joined(steps, reason),
        },
    };
    BatchOutcome {
        outcome,
        auth_failure,
    }
}

/// No token, so nothing was sent: always retried (an endpoint that is down
/// or slow comes back; a refusal is a configuration problem the operator
/// fixes while the rows wait, as for a 535).
fn token_failure(error: TokenError, steps: Vec<String>) -> BatchOutcome {
    BatchOutcome {
        outcome: SendOutcome::Retry {
            reason: joined(steps, format!("{error}; nothing was sent")),
            retry_after: None,
        },
        auth_failure: error.is_refusal(),
    }
}

#[cfg(test)]
mod tests;
