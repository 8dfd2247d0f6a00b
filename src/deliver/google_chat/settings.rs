//! `kind = "google_chat"`: an incoming webhook; a campaign's messages in one thread.

use super::GoogleChatChannel;
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::hook_url::{hook_url_secret_methods, hook_url_settings};
use crate::deliver::DeliverError;

hook_url_settings! {
    /// The space's incoming webhook URL
    /// (`https://chat.googleapis.com/v1/spaces/.../messages?key=...&token=...`);
    /// its key and token are the credential, so it is a secret.
    url;
    pub struct GoogleChatSettings {
        /// A `cardsV2` card (default true); false: plain `text`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub card: Option<bool>,
        /// One thread per campaign (default true).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub thread: Option<bool>,
    }
}

impl ChannelConfig for GoogleChatSettings {
    type Channel = Box<GoogleChatChannel>;
    const RENDERS_TEXT: bool = true;

    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
        self.hook_url().check(at, "google_chat", problems);
        text.check(at, None, problems);
    }

    hook_url_secret_methods!();

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<GoogleChatChannel>, DeliverError> {
        GoogleChatChannel::new(self, context).map(Box::new)
    }
}
