//! `[heartbeat]`: a ping to a dead-man's-switch service after every cycle that
//! read the API, so that a watcher that died, hangs or went blind is noticed by
//! something other than itself.

use std::time::Duration;

use crate::config::HeartbeatSettings;
use crate::outbound::{self, ClientOptions};

/// The ping target; the URL is a secret and never logged (only its host).
pub struct Heartbeat {
    client: reqwest::Client,
    url: reqwest::Url,
    host: String,
}

impl Heartbeat {
    /// `None` when no `url` is configured. The URL was checked by `validate()`.
    pub fn from_settings(settings: &HeartbeatSettings) -> Result<Option<Self>, String> {
        let Some(url) = &settings.url else {
            return Ok(None);
        };
        let url = reqwest::Url::parse(url.trim())
            .map_err(|_| "heartbeat.url: the ping URL is not a valid URL".to_string())?;
        let host = url.host_str().unwrap_or("?").to_string();
        let options = ClientOptions::new(
            settings.timeout,
            settings.timeout.min(Duration::from_secs(5)),
        )
        .allow_link_local(settings.allow_link_local);
        let client = outbound::client_for(&url, options)
            .map_err(|error| format!("heartbeat.url: {error}"))?;
        Ok(Some(Self { client, url, host }))
    }

    /// One GET; a failure is logged and otherwise ignored: the next cycle pings
    /// again, and the service alerting on missed pings is the point.
    pub async fn ping(&self) -> bool {
        let outcome = self.client.get(self.url.clone()).send().await;
        match outcome {
            Ok(response) if response.status().is_success() => {
                tracing::debug!(host = %self.host, "heartbeat sent");
                true
            }
            Ok(response) if response.status().is_redirection() => {
                // Not followed: the URL is the secret, and the Location (not
                // logged either) could be anyone's.
                tracing::warn!(host = %self.host, status = response.status().as_u16(), "the heartbeat service answered with a redirect, which is not followed; set heartbeat.url to the final URL");
                false
            }
            Ok(response) => {
                tracing::warn!(host = %self.host, status = response.status().as_u16(), "the heartbeat service refused the ping; check heartbeat.url");
                false
            }
            Err(error) => {
                // Without the URL: it is the secret.
                tracing::warn!(host = %self.host, error = %error.without_url(), "the heartbeat ping failed; the next cycle tries again");
                false
            }
        }
    }
}
