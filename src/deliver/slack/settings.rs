//! `kind = "slack"`: an incoming webhook; a cycle's events as one digest.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::SlackChannel;
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::chat::{check_hook_url, secret_hook_url_methods};
use crate::deliver::DeliverError;

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct SlackSettings {
    /// The incoming webhook URL; it carries its token, so it is a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    /// The events of one cycle as one digest message (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<bool>,
    /// Let `url` be a link-local or cloud-metadata address (refused otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

impl ChannelConfig for SlackSettings {
    type Channel = Box<SlackChannel>;
    const RENDERS_TEXT: bool = true;

    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
        check_hook_url(
            at,
            "slack",
            self.url.as_deref(),
            self.allow_link_local,
            problems,
        );
        text.check(at, None, problems);
    }

    secret_hook_url_methods!();

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<SlackChannel>, DeliverError> {
        SlackChannel::new(self, context).map(Box::new)
    }
}
