//! `kind = "google_chat"`: an incoming webhook; a campaign's messages in one thread.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::GoogleChatChannel;
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::chat::{check_hook_url, secret_hook_url_methods};
use crate::deliver::DeliverError;

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct GoogleChatSettings {
    /// The space's incoming webhook URL
    /// (`https://chat.googleapis.com/v1/spaces/.../messages?key=...&token=...`);
    /// its key and token are the credential, so it is a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    /// A `cardsV2` card (default true); false: plain `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<bool>,
    /// One thread per campaign (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<bool>,
    /// Let `url` be a link-local or cloud-metadata address (refused otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

impl ChannelConfig for GoogleChatSettings {
    type Channel = Box<GoogleChatChannel>;
    const RENDERS_TEXT: bool = true;

    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
        check_hook_url(
            at,
            "google_chat",
            self.url.as_deref(),
            self.allow_link_local,
            problems,
        );
        text.check(at, None, problems);
    }

    secret_hook_url_methods!();

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<GoogleChatChannel>, DeliverError> {
        GoogleChatChannel::new(self, context).map(Box::new)
    }
}
