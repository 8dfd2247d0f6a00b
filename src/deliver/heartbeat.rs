//! `[heartbeat]`: a ping to a dead-man's-switch service after every cycle that
//! read the API, so that a watcher that died, hangs or went blind is noticed by
//! something other than itself.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::outbound::{self, ClientOptions};

/// `[heartbeat]`: a dead-man's switch. After every cycle that read the API the
/// watcher GETs `url` (Healthchecks.io, Cronitor, Uptime Kuma push, ...); when
/// the pings stop (the watcher died, hangs, or cannot read the API) that
/// service alerts, through a path that does not depend on this watcher.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatSettings {
    /// The ping URL; a secret (anyone holding it can fake a heartbeat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    #[serde(default = "default_heartbeat_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Let `url` be a link-local or cloud-metadata address (refused otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

impl HeartbeatSettings {
    /// No ping URL: no heartbeat is sent.
    pub fn is_unset(&self) -> bool {
        self.url.is_none() && self.url_file.is_none()
    }
}

impl Default for HeartbeatSettings {
    fn default() -> Self {
        Self {
            url: None,
            url_file: None,
            timeout: default_heartbeat_timeout(),
            allow_link_local: false,
        }
    }
}

fn default_heartbeat_timeout() -> Duration {
    Duration::from_secs(10)
}

/// Why the heartbeat could not be set up; never names the URL.
#[derive(Debug, thiserror::Error)]
pub enum HeartbeatError {
    #[error("heartbeat.url: the ping URL is not a valid URL")]
    InvalidUrl,
    #[error("heartbeat.url: {0}")]
    Client(#[from] outbound::OutboundError),
}

/// The ping target; the URL is a secret and never logged (only its host).
pub struct Heartbeat {
    client: reqwest::Client,
    url: reqwest::Url,
    host: String,
}

impl Heartbeat {
    /// `None` when no `url` is configured. The URL was checked by `validate()`.
    pub fn from_settings(settings: &HeartbeatSettings) -> Result<Option<Self>, HeartbeatError> {
        let Some(url) = &settings.url else {
            return Ok(None);
        };
        let url = reqwest::Url::parse(url.trim()).map_err(|_| HeartbeatError::InvalidUrl)?;
        let host = url.host_str().unwrap_or("?").to_string();
        let options = ClientOptions::new(
            settings.timeout,
            settings.timeout.min(Duration::from_secs(5)),
        )
        .allow_link_local(settings.allow_link_local);
        let client = outbound::client_for(&url, options)?;
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
