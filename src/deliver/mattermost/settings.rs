//! `kind = "mattermost"`: an incoming webhook, one post per event.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::MattermostChannel;
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::chat::{check_hook_url, check_severity, secret_hook_url_methods};
use crate::deliver::DeliverError;

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct MattermostSettings {
    /// The incoming webhook URL (`https://mm.example.com/hooks/<key>`); the
    /// key is the credential, so it is a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
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
    pub severity: Option<BTreeMap<String, String>>,
    /// Let `url` be a link-local or cloud-metadata address (refused otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

impl ChannelConfig for MattermostSettings {
    type Channel = Box<MattermostChannel>;
    const RENDERS_TEXT: bool = true;

    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
        check_hook_url(
            at,
            "mattermost",
            self.url.as_deref(),
            self.allow_link_local,
            problems,
        );
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

    secret_hook_url_methods!();

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<MattermostChannel>, DeliverError> {
        MattermostChannel::new(self, context).map(Box::new)
    }
}
