//! `kind = "teams"`: a Workflows webhook, one Adaptive Card per event.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::TeamsChannel;
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::chat::{check_hook_url, secret_hook_url_methods};
use crate::deliver::DeliverError;

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct TeamsSettings {
    /// The Workflows "When a Teams webhook request is received" URL; its
    /// `sig` makes it a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    /// Let `url` be a link-local or cloud-metadata address (refused otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

impl ChannelConfig for TeamsSettings {
    type Channel = Box<TeamsChannel>;
    const RENDERS_TEXT: bool = true;

    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
        check_hook_url(
            at,
            "teams",
            self.url.as_deref(),
            self.allow_link_local,
            problems,
        );
        text.check(at, None, problems);
    }

    secret_hook_url_methods!();

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<TeamsChannel>, DeliverError> {
        TeamsChannel::new(self, context).map(Box::new)
    }
}
