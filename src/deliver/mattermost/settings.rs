//! `kind = "mattermost"`: an incoming webhook, one post per event.

use super::MattermostChannel;
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::chat::check_severity;
use crate::deliver::hook_url::{hook_url_secret_methods, hook_url_settings};
use crate::deliver::DeliverError;

hook_url_settings! {
    /// The incoming webhook URL (`https://mm.example.com/hooks/<key>`); the
    /// key is the credential, so it is a secret.
    url;
    pub struct MattermostSettings {
        /// Post to this channel (its name, e.g. `town-square`) instead of the hook's own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub channel: Option<String>,
        /// Shown as the sender (the server must allow username overrides).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub username: Option<String>,
        /// The sender's picture (the server must allow icon overrides).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub icon_url: Option<String>,
        /// An emoji as the sender's picture, e.g. `rotating_light`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub icon_emoji: Option<String>,
        /// Severity per condition → `critical` | `error` | `warning` | `info`:
        /// the attachment's colour (green when a condition ends).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub severity: Option<crate::alert::SeverityTable>,
    }
}

impl ChannelConfig for MattermostSettings {
    type Channel = Box<MattermostChannel>;
    const RENDERS_TEXT: bool = true;

    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
        self.hook_url().check(at, "mattermost", problems);
        for (key, value) in [
            ("channel", &self.channel),
            ("username", &self.username),
            ("icon_emoji", &self.icon_emoji),
        ] {
            if let Some(value) = value {
                if value.trim().is_empty()
                    || value.chars().count() > 64
                    || value.chars().any(char::is_control)
                {
                    problems.push(format!(
                        "{at}.{key}: must be 1-64 characters without control characters"
                    ));
                }
            }
        }
        if let Some(icon) = &self.icon_url {
            if let Err(why) = crate::setting::url::check_http_url(icon) {
                problems.push(format!("{at}.icon_url: the URL {why}"));
            }
        }
        check_severity(at, self.severity.as_ref(), problems);
        text.check(at, None, problems);
    }

    hook_url_secret_methods!();

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<MattermostChannel>, DeliverError> {
        MattermostChannel::new(self, context).map(Box::new)
    }
}
