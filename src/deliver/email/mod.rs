//! The email channel: multipart text + HTML alerts over SMTP (lettre, rustls,
//! one pooled transport per channel).
//!
//! TLS is implicit (`smtps://`) or STARTTLS-required (`smtp://…?tls=required`);
//! never opportunistic, which an attacker on the path can strip. Plain SMTP is
//! accepted only to a loopback relay. A message's `Message-ID` is derived from
//! its event id(s), so a redelivered alert dedupes in mail clients. The relay
//! is signed in to with a password, with an OAuth2 token (`oauth2/`, SMTP AUTH
//! XOAUTH2), or not at all.

use crate::deliver::PayloadError;
use std::str::FromStr;
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, Mailboxes, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::channel::{BuildContext, Deliver};
use super::{BatchOutcome, DeliverError, SendOutcome};
use crate::event::{event_id, Event};
use crate::render::{RenderContext, Rendered, Templates};

pub mod oauth2;
mod settings;
mod smtp_url;
pub use oauth2::OAuth2Settings;
pub use settings::EmailSettings;
pub use smtp_url::{parse_smtp_url, SmtpEndpoint, SmtpSecurity};

/// Per SMTP command (lettre's default is 60 s; a stuck relay must not hold the drain).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// Backstop for one whole send: connect, TLS, AUTH, and the message.
pub(super) const SEND_TIMEOUT: Duration = Duration::from_secs(120);
const POOL_MAX_SIZE: u32 = 4;
const POOL_IDLE: Duration = Duration::from_secs(60);
/// The header receivers and scripts can deduplicate on.
pub const EVENT_ID_HEADER: &str = "X-Campaign-Watcher-Event-Id";

/// How the channel reaches the relay: one transport with fixed credentials
/// (a password, or none), or a transport per OAuth2 token.
enum Sender {
    Fixed(AsyncSmtpTransport<Tokio1Executor>),
    XOAuth2(Box<oauth2::XOAuth2Sender>),
}

pub struct EmailChannel {
    sender: Sender,
    /// The channel's secrets, scrubbed from the relay's replies.
    scrubber: crate::outbound::Scrubber,
    /// `smtps://host:465`: what logs and errors may show.
    display: String,
    from: Mailbox,
    to: Mailboxes,
    /// Right-hand side of every `Message-ID`.
    id_domain: String,
    templates: Templates,
    context: RenderContext,
    group: bool,
}

impl std::fmt::Debug for EmailChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChannel")
            .field("server", &self.display)
            .field("from", &self.from.to_string())
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

fn invalid(channel: &str, reason: impl Into<String>) -> DeliverError {
    DeliverError::Email {
        channel: channel.to_string(),
        reason: reason.into(),
    }
}

impl EmailChannel {
    /// Builds the transport (no connection is made yet) and loads the templates.
    /// Settings are expected to be validated; anything still wrong is an error
    /// naming the key, never showing the password.
    pub fn new(settings: &EmailSettings, context: &BuildContext<'_>) -> Result<Self, DeliverError> {
        let name = context.name;
        let instance = context.instance;
        let raw_url = settings
            .smtp_url
            .as_deref()
            .ok_or_else(|| invalid(name, "`smtp_url` is missing"))?;
        let endpoint = parse_smtp_url(raw_url).map_err(|why| {
            invalid(
                name,
                format!(
                    "`smtp_url` \"{}\" {why}",
                    crate::setting::url::redact_url(raw_url)
                ),
            )
        })?;
        let from_text = settings
            .from
            .as_deref()
            .ok_or_else(|| invalid(name, "`from` is missing"))?;
        let from = Mailbox::from_str(from_text).map_err(|_| {
            invalid(
                name,
                format!("`from` \"{from_text}\" is not an email address"),
            )
        })?;
        let mut to = Mailboxes::new();
        for recipient in &settings.to {
            let mailbox = Mailbox::from_str(recipient).map_err(|_| {
                invalid(
                    name,
                    format!("`to` \"{recipient}\" is not an email address"),
                )
            })?;
            to.push(mailbox);
        }
        if to.iter().next().is_none() {
            return Err(invalid(name, "`to` lists no recipient"));
        }
        let timezone = match &context.text.timezone {
            Some(zone) => Some(zone.parse::<chrono_tz::Tz>().map_err(|_| {
                invalid(
                    name,
                    format!("`timezone` \"{zone}\" is not an IANA time zone"),
                )
            })?),
            None => None,
        };
        let files = context
            .text
            .template_files(settings.html_template.as_deref());
        let templates = Templates::load(&files).map_err(|e| invalid(name, e.to_string()))?;

        let tls_parameters = || -> Result<TlsParameters, DeliverError> {
            let mut builder = TlsParameters::builder(endpoint.host.clone());
            if let Some(path) = &settings.ca_file {
                let pem = std::fs::read(path).map_err(|e| {
                    invalid(
                        name,
                        format!("`ca_file` \"{}\" cannot be read: {e}", path.display()),
                    )
                })?;
                let certificate = Certificate::from_pem(&pem).map_err(|e| {
                    invalid(
                        name,
                        format!(
                            "`ca_file` \"{}\" is not a PEM certificate: {e}",
                            path.display()
                        ),
                    )
                })?;
                builder = builder.add_root_certificate(certificate);
            }
            builder
                .build_rustls()
                .map_err(|e| invalid(name, format!("cannot set up TLS: {e}")))
        };
        let tls = match endpoint.security {
            SmtpSecurity::ImplicitTls => Tls::Wrapper(tls_parameters()?),
            SmtpSecurity::StartTls => Tls::Required(tls_parameters()?),
            SmtpSecurity::Plain => Tls::None,
        };
        // builder_dangerous only means "no TLS preset": TLS is set explicitly above.
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(endpoint.host.clone())
                .port(endpoint.port)
                .tls(tls)
                .timeout(Some(COMMAND_TIMEOUT))
                .pool_config(
                    PoolConfig::new()
                        .max_size(POOL_MAX_SIZE)
                        .idle_timeout(POOL_IDLE),
                );
        let user = endpoint.user.clone().or_else(|| settings.username.clone());
        let password = endpoint
            .password
            .clone()
            .or_else(|| settings.password.as_ref().map(|p| p.expose().to_string()));
        let scrubber = crate::outbound::Scrubber::new(
            <EmailSettings as super::ChannelConfig>::secrets(settings),
        );
        let sender = match (&settings.oauth2, user, password) {
            (Some(_), _, Some(_)) => {
                return Err(invalid(
                    name,
                    "oauth2 replaces the password: remove the password (password, password_file or :password@ in smtp_url)",
                ))
            }
            (Some(oauth2), Some(user), None) => {
                let tokens = token_source(name, oauth2, context.shared.timeout)?;
                Sender::XOAuth2(Box::new(oauth2::XOAuth2Sender::new(
                    builder,
                    user,
                    tokens,
                    scrubber.clone(),
                )))
            }
            (Some(_), None, None) => {
                return Err(invalid(
                    name,
                    "oauth2 signs in as `username` (the mailbox, e.g. watcher@example.com): set it",
                ))
            }
            (None, Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user, password));
                Sender::Fixed(builder.build())
            }
            (None, None, None) => Sender::Fixed(builder.build()),
            _ => {
                return Err(invalid(
                    name,
                    "set both a user name and a password (username + password_file, or user:password@ in smtp_url), or neither",
                ))
            }
        };
        let id_domain = from.email.domain().to_string();
        Ok(Self {
            sender,
            scrubber,
            display: endpoint.display(),
            from,
            to,
            id_domain,
            templates,
            context: RenderContext {
                instance: instance.to_string(),
                timezone,
            },
            group: settings.group.unwrap_or(true),
        })
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    /// `<evt_…@domain>` for one event; for a digest, one id derived from all of
    /// its event ids, so re-sending the same batch gives the same id.
    pub fn message_id(&self, events: &[Event]) -> String {
        match events {
            [single] => format!("<{}@{}>", single.id, self.id_domain),
            many => {
                let mut ids: Vec<&str> = many.iter().map(|event| event.id.as_str()).collect();
                ids.sort_unstable();
                let digest = event_id(&ids);
                let hex = digest.trim_start_matches("evt_");
                format!("<digest_{hex}@{}>", self.id_domain)
            }
        }
    }

    /// The subject and both bodies (the built-in templates stand in for a
    /// custom one that fails).
    pub fn render(&self, events: &[Event]) -> Result<Rendered, PayloadError> {
        Ok(self.templates.render_or_builtin(events, &self.context)?)
    }

    /// The message exactly as it would be sent.
    pub fn compose(&self, events: &[Event]) -> Result<Message, PayloadError> {
        let rendered = self.render(events)?;
        let ids: Vec<&str> = events.iter().map(|event| event.id.as_str()).collect();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(rendered.subject)
            .message_id(Some(self.message_id(events)))
            .user_agent(concat!("campaign-watcher/", env!("CARGO_PKG_VERSION")).to_string())
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(EVENT_ID_HEADER),
                ids.join(", "),
            ))
            // RFC 3834: no vacation auto-replies to an alert address.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".into(),
            ));
        for recipient in self.to.iter() {
            builder = builder.to(recipient.clone());
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                // API text may carry terminal escapes; a mail read in a
                // terminal client shows them as `\x1b`, never obeys them.
                crate::text::terminal_lines(&rendered.text),
                crate::text::terminal_lines(&rendered.html),
            ))
            .map_err(PayloadError::Message)
    }

    /// What `render` prints: the headers a reader sees, then both parts as text.
    pub fn readable(&self, events: &[Event]) -> Result<String, PayloadError> {
        let rendered = self.render(events)?;
        let to: Vec<String> = self.to.iter().map(ToString::to_string).collect();
        let ids: Vec<&str> = events.iter().map(|event| event.id.as_str()).collect();
        Ok(format!(
            "From: {}\nTo: {}\nSubject: {}\nMessage-ID: {}\n{EVENT_ID_HEADER}: {}\nServer: {}\n\n--- text/plain ---\n{}\n--- text/html ---\n{}",
            self.from,
            to.join(", "),
            rendered.subject,
            self.message_id(events),
            ids.join(", "),
            self.display,
            rendered.text,
            rendered.html
        ))
    }
}

impl Deliver for EmailChannel {
    /// `raw`: the message as it goes on the wire; else [`EmailChannel::readable`].
    fn preview(&self, events: &[Event], raw: bool) -> Result<String, PayloadError> {
        if raw {
            self.compose(events)
                .map(|message| String::from_utf8_lossy(&message.formatted()).into_owned())
        } else {
            self.readable(events)
        }
    }

    fn sends_batches(&self) -> bool {
        true
    }

    /// Whether the events of one cycle go out as one digest.
    fn groups(&self) -> bool {
        self.group
    }

    /// One event as one message (test-notify, and channels that do not group).
    async fn send(&self, event: &Event) -> SendOutcome {
        self.send_batch(std::slice::from_ref(event)).await.outcome
    }

    /// One message for `events` (a digest when there are several).
    async fn send_batch(&self, events: &[Event]) -> BatchOutcome {
        let message = match self.compose(events) {
            Ok(message) => message,
            Err(reason) => {
                return BatchOutcome {
                    outcome: SendOutcome::Permanent {
                        reason: reason.to_string(),
                    },
                    auth_failure: false,
                }
            }
        };
        let transport = match &self.sender {
            Sender::Fixed(transport) => transport,
            Sender::XOAuth2(sender) => return sender.send(&self.display, message).await,
        };
        let result = tokio::time::timeout(SEND_TIMEOUT, transport.send(message)).await;
        match result {
            Ok(Ok(response)) => {
                let reply: Vec<&str> = response.message().collect();
                BatchOutcome {
                    outcome: SendOutcome::Delivered {
                        detail: format!(
                            "{} answered {} {}",
                            self.display,
                            response.code(),
                            reply.join(" ")
                        ),
                    },
                    auth_failure: false,
                }
            }
            Ok(Err(error)) => classify(&self.display, &error, &Refusal::Password, &self.scrubber),
            Err(_) => BatchOutcome {
                outcome: SendOutcome::Retry {
                    reason: format!(
                        "{}: no answer within {}",
                        self.display,
                        humantime::format_duration(SEND_TIMEOUT)
                    ),
                    retry_after: None,
                },
                auth_failure: false,
            },
        }
    }
}

/// Whom the relay refused, for the sentence that says what to check.
pub(super) enum Refusal<'a> {
    Password,
    XOAuth2 { user: &'a str },
}

/// 535 → retry, flagged as a configuration problem; other 5xx → permanent;
/// 4xx, timeouts, connection and TLS errors → retry. With XOAUTH2 an error
/// challenge (Gmail's `334 <base64 JSON>`, which lettre does not answer) is a
/// refusal too. The reply is scrubbed of the channel's secrets first.
pub(super) fn classify(
    display: &str,
    error: &lettre::transport::smtp::Error,
    refusal: &Refusal<'_>,
    scrubber: &crate::outbound::Scrubber,
) -> BatchOutcome {
    let mut reply = scrubber.scrub(&one_line(&error.to_string()));
    let code = error.status().map(|code| code.to_string());
    let xoauth2_challenge = matches!(refusal, Refusal::XOAuth2 { .. })
        && error.is_client()
        && reply.contains("does not expect a challenge");
    if xoauth2_challenge {
        // lettre's words for it are about its own state machine.
        reply = "answered AUTH XOAUTH2 with an error challenge (334)".to_string();
    }
    if code.as_deref() == Some("535") || xoauth2_challenge {
        let reason = match refusal {
            Refusal::Password => format!(
                "{display} rejected the SMTP credentials ({reply}); check the user name and password of this channel"
            ),
            Refusal::XOAuth2 { user } => format!(
                "{display} refused the OAuth2 token for {user} ({reply}); check that username is the mailbox and that the app may send as it (Microsoft 365: SMTP.SendAsApp, the app's service principal added in Exchange, SMTP AUTH on for the mailbox)"
            ),
        };
        return BatchOutcome {
            outcome: SendOutcome::Retry {
                reason,
                retry_after: None,
            },
            auth_failure: true,
        };
    }
    let outcome = if error.is_permanent() {
        SendOutcome::Permanent {
            reason: format!("{display} refused the message: {reply}"),
        }
    } else if error.is_transient() {
        SendOutcome::Retry {
            reason: format!("{display} deferred the message: {reply}"),
            retry_after: None,
        }
    } else if error.is_timeout() {
        SendOutcome::Retry {
            reason: format!("{display} timed out: {reply}"),
            retry_after: None,
        }
    } else {
        SendOutcome::Retry {
            reason: format!("cannot send through {display}: {reply}"),
            retry_after: None,
        }
    };
    BatchOutcome {
        outcome,
        auth_failure: false,
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The token endpoint of a validated `[channels.NAME.oauth2]`.
fn token_source(
    name: &str,
    settings: &OAuth2Settings,
    timeout: Duration,
) -> Result<oauth2::TokenSource, DeliverError> {
    let missing = |key: &str| invalid(name, format!("`oauth2.{key}` is missing"));
    let url = settings
        .token_url
        .as_deref()
        .ok_or_else(|| missing("token_url"))?;
    oauth2::check_token_url_scheme(url)
        .map_err(|why| invalid(name, format!("`oauth2.token_url` {why}")))?;
    let client_id = settings
        .client_id
        .as_deref()
        .ok_or_else(|| missing("client_id"))?;
    let secret = settings
        .client_secret
        .as_ref()
        .ok_or_else(|| missing("client_secret_file"))?;
    oauth2::TokenSource::new(
        name,
        url,
        client_id,
        secret,
        settings.scope.as_deref(),
        timeout,
        settings.allow_link_local,
    )
}
