//! `kind = "discord"`: a Discord webhook, one embed per event.

use super::DiscordChannel;
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::chat::check_severity;
use crate::deliver::hook_url::{hook_url_secret_methods, hook_url_settings};
use crate::deliver::DeliverError;

hook_url_settings! {
    /// The webhook URL; it carries its token, so it is a secret.
    url;
    pub struct DiscordSettings {
        /// Severity per condition (`paused`, `upload_errors`, `not_found`,
        /// `api_unhealthy`, or the event type that starts it) → `critical` |
        /// `error` | `warning` | `info`: the embed's colour.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub severity: Option<crate::alert::SeverityTable>,
    }
}

impl ChannelConfig for DiscordSettings {
    type Channel = Box<DiscordChannel>;
    const RENDERS_TEXT: bool = true;

    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
        self.hook_url().check(at, "discord", problems);
        check_severity(at, self.severity.as_ref(), problems);
        text.check(at, None, problems);
    }

    hook_url_secret_methods!();

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<DiscordChannel>, DeliverError> {
        DiscordChannel::new(self, context).map(Box::new)
    }
}
