//! The generic webhook channel: payload v1, one event per POST, signed with
//! Standard Webhooks v1 when the channel has a secret.

use crate::deliver::PayloadError;
use std::time::SystemTime;

use chrono::Utc;
use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;

use super::channel::{BuildContext, Deliver};
use super::signing::{self, signature_header};
use super::target::{describe, Target};
use super::{DeliverError, SendOutcome};
use crate::backoff::parse_retry_after;
use crate::event::Event;
use crate::setting::secret::Secret;

mod settings;
pub use settings::WebhookSettings;

/// Enough of an error body to say why, without storing a whole HTML page per retry.
const EXCERPT_CHARS: usize = 200;
const EXCERPT_READ_BYTES: usize = 4096;
/// API text in the payload is cut to these (`maxLength` in
/// schemas/webhook-payload-v1.schema.json): a 1 MiB campaign name is a fault of
/// the API, not something every receiver should have to store.
pub const NAME_CHARS: usize = 1024;
pub const SUMMARY_CHARS: usize = 4096;

/// Payload v1 for `event`, its API text cut ([`NAME_CHARS`], [`SUMMARY_CHARS`]).
pub fn payload(event: &Event) -> String {
    with_api_text_cut(event).to_json()
}

/// [`payload`] pretty-printed, for `render`.
fn pretty_payload(event: &Event) -> String {
    serde_json::to_string_pretty(&with_api_text_cut(event)).unwrap_or_default() + "\n"
}

fn with_api_text_cut(event: &Event) -> Event {
    let cut = |text: &mut String, max: usize| {
        if let std::borrow::Cow::Owned(shorter) = crate::text::cap(text, max) {
            *text = shorter;
        }
    };
    let mut event = event.clone();
    cut(&mut event.summary, SUMMARY_CHARS);
    // Hints quote API text already cut (`diff::hints`); this bounds them all the same.
    for hint in &mut event.hints {
        cut(&mut hint.text, NAME_CHARS);
    }
    if let Some(campaign) = event.campaign.as_mut() {
        cut(&mut campaign.name, NAME_CHARS);
        if let Some(agent) = campaign.agent.as_mut() {
            for text in [&mut agent.id, &mut agent.name, &mut agent.status]
                .into_iter()
                .flatten()
            {
                cut(text, NAME_CHARS);
            }
        }
        if let Some(number) = campaign.caller_number.as_mut() {
            cut(number, NAME_CHARS);
        }
    }
    event
}

pub struct WebhookChannel {
    /// Logs and errors show only `scheme://host[:port]` of it.
    target: Target,
    /// Current secret first, then the previous one during a rotation.
    secrets: Vec<Secret>,
}

impl std::fmt::Debug for WebhookChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookChannel")
            .field("url", &self.target.display())
            .field("signed", &!self.secrets.is_empty())
            .finish_non_exhaustive()
    }
}

impl WebhookChannel {
    pub fn new(
        settings: &WebhookSettings,
        context: &BuildContext<'_>,
    ) -> Result<Self, DeliverError> {
        let target = Target::required(
            context.name,
            settings.url.as_deref(),
            context.shared.timeout,
            settings.allow_link_local,
        )?;
        let mut secrets = Vec::new();
        for (key, secret) in [
            ("secret", &settings.secret),
            ("previous_secret", &settings.previous_secret),
        ] {
            if let Some(secret) = secret {
                signing::decode_secret(secret.expose()).map_err(|source| {
                    DeliverError::InvalidSecret {
                        channel: context.name.to_string(),
                        key,
                        source,
                    }
                })?;
                secrets.push(secret.clone());
            }
        }
        // A receiver that echoes the request back must not put its URL token or
        // a signing key into logs and `last_error`.
        let exposed: Vec<&str> = secrets.iter().map(|secret| secret.expose()).collect();
        let target = target.scrubbing(&exposed);
        Ok(Self { target, secrets })
    }

    pub fn display_url(&self) -> &str {
        self.target.display()
    }
}

impl Deliver for WebhookChannel {
    /// The payload exactly as POSTed (the signature headers are not shown).
    fn preview(&self, events: &[Event], _raw: bool) -> Result<String, PayloadError> {
        Ok(events.iter().map(pretty_payload).collect())
    }

    async fn send(&self, event: &Event) -> SendOutcome {
        let body = payload(event);
        let timestamp = Utc::now().timestamp();
        let mut request = self
            .target
            .client
            .post(self.target.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("webhook-id", event.id.as_str())
            .header("webhook-timestamp", timestamp.to_string());
        if !self.secrets.is_empty() {
            let secrets: Vec<&Secret> = self.secrets.iter().collect();
            match signature_header(&secrets, &event.id, timestamp, &body) {
                Ok(signature) => request = request.header("webhook-signature", signature),
                // Validated when the channel was built, so this is a broken invariant.
                Err(e) => {
                    return SendOutcome::Permanent {
                        reason: format!("cannot sign: {e}"),
                    }
                }
            }
        }
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(e) => {
                return SendOutcome::Retry {
                    reason: format!("POST to {} failed: {}", self.target.display(), describe(&e)),
                    retry_after: None,
                }
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        if status.is_success() {
            return SendOutcome::Delivered {
                detail: format!("{} answered {status}", self.target.display()),
            };
        }
        let excerpt = cut(self.target.scrub(&body_start(response).await));
        let mut reason = format!("{} answered {status}", self.target.display());
        if status.is_redirection() {
            reason.push_str(" (redirects are not followed; configure the final url)");
        }
        if !excerpt.is_empty() {
            reason.push_str(": ");
            reason.push_str(&excerpt);
        }
        if status == StatusCode::GONE {
            return SendOutcome::Permanent {
                reason: format!("endpoint gone: {reason}"),
            };
        }
        SendOutcome::Retry {
            reason,
            retry_after,
        }
    }
}

/// The start of the body, on one line, read without downloading a large answer.
async fn body_start(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_READ_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cut after scrubbing, never before: a cut secret is harder to recognise.
fn cut(mut excerpt: String) -> String {
    if excerpt.chars().count() > EXCERPT_CHARS {
        excerpt = excerpt.chars().take(EXCERPT_CHARS).collect();
        excerpt.push('…');
    }
    excerpt
}

#[cfg(test)]
mod tests {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::event::EventType;

    /// A receiver that answers an error echoing its own URL token and the
    /// signing key: neither reaches the reason that is logged and stored.
    #[tokio::test]
    async fn an_error_answer_echoing_the_url_token_or_the_key_is_scrubbed() {
        let server = MockServer::start().await;
        let secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500).set_body_string(format!(
                "bad request to /hooks/TOKENSECRET9 signed with {secret}"
            )))
            .mount(&server)
            .await;
        let settings = WebhookSettings {
            url: Some(format!("{}/hooks/TOKENSECRET9", server.uri())),
            secret: Some(Secret::new(secret)),
            ..WebhookSettings::default()
        };
        let channel = WebhookChannel::new(&settings, &BuildContext::for_tests("hook")).unwrap();
        let event = crate::render::sample_event(EventType::StatusChanged, chrono::Utc::now());
        let SendOutcome::Retry { reason, .. } = channel.send(&event).await else {
            panic!("a 500 is retried");
        };
        assert!(reason.contains("answered 500"), "{reason}");
        for secret_piece in ["TOKENS", "ENSECRET9", "C2FVsBQ", "MV+b5sSYspob7oD"] {
            assert!(!reason.contains(secret_piece), "{secret_piece} in {reason}");
        }
    }
}
