//! `kind = "discord"`: a Discord webhook, one embed per event.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::DiscordChannel;
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::chat::{check_hook_url, check_severity, secret_hook_url_methods};
use crate::deliver::DeliverError;

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct DiscordSettings {
    /// The webhook URL; it carries its token, so it is a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    /// Severity per condition (`paused`, `upload_errors`, `not_found`,
    /// `api_unhealthy`, or the event type that starts it) → `critical` |
    /// `error` | `warning` | `info`: the embed's colour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<BTreeMap<String, String>>,
    /// Let `url` be a link-local or cloud-metadata address (refused otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

impl ChannelConfig for DiscordSettings {
    type Channel = Box<DiscordChannel>;
    const RENDERS_TEXT: bool = true;

    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
        check_hook_url(
            at,
            "discord",
            self.url.as_deref(),
            self.allow_link_local,
            problems,
        );
        check_severity(at, self.severity.as_ref(), problems);
        text.check(at, None, problems);
    }

    secret_hook_url_methods!();

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<DiscordChannel>, DeliverError> {
        DiscordChannel::new(self, context).map(Box::new)
    }
}
