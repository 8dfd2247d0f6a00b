//! The effective configuration for `check-config`, safe to paste into a ticket.

use super::url::{redact_url, REDACTED};
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
        if shown.heartbeat.url.is_some() {
            shown.heartbeat.url = Some(REDACTED.to_string());
        }
        for channel in shown.channels.values_mut() {
            *channel = channel.redacted();
        }
        toml::to_string(&shown)
            .unwrap_or_else(|error| format!("# the configuration could not be rendered: {error}\n"))
    }
}
