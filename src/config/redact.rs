//! The effective configuration for `check-config`, safe to paste into a ticket.

use super::url::{redact_url, url_secrets};
use super::Settings;

impl Settings {
    /// The effective configuration as TOML: secrets shown as `"<redacted>"`,
    /// credentials inside URLs replaced, durations in humantime form ("10s", "1day").
    /// A channel URL read from `url_file` is hidden entirely: it was put in a file
    /// because the whole URL is the credential (Slack-style hooks).
    pub fn to_redacted_toml(&self) -> String {
        // Redacting a copy and serialising the structs (not a `toml::Value`, whose
        // tables are sorted) keeps the sections in the documented order.
        let mut shown = self.clone();
        shown.sigmamind.base_url = redact_url(&shown.sigmamind.base_url);
        shown.state.url = redact_url(&shown.state.url);
        // "Effective": show the 60s fallback the scheduler will actually use.
        if shown.watch.schedule.is_none() {
            shown.watch.interval = Some(shown.watch.effective_interval());
        }
        super::url::hide_url(&mut shown.heartbeat.url);
        for channel in shown.channels.values_mut() {
            *channel = channel.redacted();
        }
        toml::to_string(&shown)
            .unwrap_or_else(|error| format!("# the configuration could not be rendered: {error}\n"))
    }

    /// Every configured secret value: the API key, the database password, the
    /// secret parts of the heartbeat URL, and each channel's keys and URL
    /// secrets. Whatever a server answers is scrubbed of all of them.
    pub fn secret_values(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self
            .sigmamind
            .api_key
            .iter()
            .map(|key| key.expose().to_string())
            .collect();
        secrets.extend(
            reqwest::Url::parse(&self.state.url)
                .ok()
                .and_then(|url| url.password().map(str::to_string)),
        );
        secrets.extend(url_secrets(self.heartbeat.url.as_deref()));
        for channel in self.channels.values() {
            secrets.extend(channel.kind.secrets());
        }
        for user in self.http.users.values() {
            secrets.push(user.password_hash.expose().to_string());
        }
        for token in self.http.tokens.values() {
            if let super::TokenValue::Read(value) = &token.token {
                secrets.push(value.expose().to_string());
            }
        }
        secrets
    }
}
