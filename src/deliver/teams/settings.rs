//! `kind = "teams"`: a Workflows webhook, one Adaptive Card per event.

use super::TeamsChannel;
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::hook_url::{hook_url_secret_methods, hook_url_settings};
use crate::deliver::DeliverError;

hook_url_settings! {
    /// The Workflows "When a Teams webhook request is received" URL; its
    /// `sig` makes it a secret.
    url;
    pub struct TeamsSettings {
    }
}

impl ChannelConfig for TeamsSettings {
    type Channel = Box<TeamsChannel>;
    const RENDERS_TEXT: bool = true;

    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
        self.hook_url().check(at, "teams", problems);
        text.check(at, None, problems);
    }

    hook_url_secret_methods!();

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<TeamsChannel>, DeliverError> {
        TeamsChannel::new(self, context).map(Box::new)
    }
}
