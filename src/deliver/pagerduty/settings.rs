//! `kind = "pagerduty"`: Events API v2 triggers and resolves per condition.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::PagerDutyChannel;
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::chat::check_severity;
use crate::deliver::hook_url::secret_methods;
use crate::deliver::DeliverError;
use crate::setting::secret::Secret;
use crate::setting::url::check_secret_url;

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct PagerDutySettings {
    /// The Events API v2 integration key (a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key_file: Option<PathBuf>,
    /// The Events API URL (default `https://events.pagerduty.com/v2/enqueue`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    /// Severity per condition (`paused`, `upload_errors`, `not_found`,
    /// `api_unhealthy`, or the event type that starts it) → `critical` |
    /// `error` | `warning` | `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<crate::alert::SeverityTable>,
    /// Let `url` be a link-local or cloud-metadata address (refused otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

impl ChannelConfig for PagerDutySettings {
    type Channel = Box<PagerDutyChannel>;
    const RENDERS_TEXT: bool = true;
    const HOLDS_QUIET_HOURS: bool = false;

    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
        match &self.routing_key {
            None => problems.push(format!(
                "{at}.routing_key: a pagerduty channel needs its Events API v2 integration key (routing_key or routing_key_file)"
            )),
            Some(key) if key.expose().trim().is_empty() => {
                problems.push(format!("{at}.routing_key: is empty"))
            }
            Some(_) => {}
        }
        if let Some(url) = &self.url {
            check_secret_url(&format!("{at}.url"), url, self.allow_link_local, problems);
        }
        check_severity(at, self.severity.as_ref(), problems);
        text.check(at, None, problems);
    }

    secret_methods! { url: url => url_file; keys: routing_key => routing_key_file }

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<PagerDutyChannel>, DeliverError> {
        PagerDutyChannel::new(self, context).map(Box::new)
    }
}
