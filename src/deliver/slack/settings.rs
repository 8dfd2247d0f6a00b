//! `kind = "slack"`: an incoming webhook; a cycle's events as one digest.

use super::SlackChannel;
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::hook_url::{hook_url_secret_methods, hook_url_settings};
use crate::deliver::DeliverError;

hook_url_settings! {
    /// The incoming webhook URL; it carries its token, so it is a secret.
    url;
    pub struct SlackSettings {
        /// The events of one cycle as one digest message (default true).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub group: Option<bool>,
    }
}

impl ChannelConfig for SlackSettings {
    type Channel = Box<SlackChannel>;
    const RENDERS_TEXT: bool = true;

    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
        self.hook_url().check(at, "slack", problems);
        text.check(at, None, problems);
    }

    hook_url_secret_methods!();

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<SlackChannel>, DeliverError> {
        SlackChannel::new(self, context).map(Box::new)
    }
}
