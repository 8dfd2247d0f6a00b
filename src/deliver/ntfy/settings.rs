//! `kind = "ntfy"`: one push message per event to an ntfy topic.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{parse_priority, split_topic, NtfyChannel};
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::chat::condition_map;
use crate::deliver::hook_url::secret_methods;
use crate::deliver::DeliverError;
use crate::setting::secret::Secret;
use crate::setting::url::{check_http_url, check_secret_url};

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct NtfySettings {
    /// The topic URL, `https://ntfy.sh/<topic>` or a self-hosted server's. On a
    /// public server the topic name is the only thing between it and a
    /// subscriber, so the URL is treated as a secret (`check-config` shows
    /// its host only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    /// An access token (`tk_...`), sent as `Authorization: Bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Basic authentication instead of a token: both or neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// Priority per condition (`paused`, `upload_errors`, ... or the event
    /// type that starts it) → `min` | `low` | `default` | `high` | `urgent`
    /// (or 1-5). Defaults: outages and pauses `urgent`, the rest `high`; the
    /// end of a condition and news are `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<BTreeMap<String, String>>,
    /// More tags on every message (after the emoji, `campaign-watcher` and
    /// the condition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// The link opened when the notification is tapped; `{campaign_id}` is
    /// replaced by the campaign's id (watcher events get no link then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click: Option<String>,
    /// Let `url` be a link-local or cloud-metadata address (refused otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

impl ChannelConfig for NtfySettings {
    type Channel = Box<NtfyChannel>;
    const RENDERS_TEXT: bool = true;
    const LIST_KEYS: &'static [&'static str] = &["tags"];

    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
        match self.url.as_deref() {
            None => problems.push(format!(
                "{at}.url: an ntfy channel needs the topic URL, e.g. https://ntfy.sh/<topic> (url or url_file)"
            )),
            Some(url) => {
                let before = problems.len();
                check_secret_url(&format!("{at}.url"), url, self.allow_link_local, problems);
                if problems.len() == before && split_topic(url).is_none() {
                    problems.push(format!(
                        "{at}.url: must end in the topic (1-64 letters, digits, - or _), e.g. https://ntfy.sh/<topic>"
                    ));
                }
            }
        }
        if self.token.is_some() && self.username.is_some() {
            problems.push(format!(
                "{at}.token: set a token or username and password, not both"
            ));
        }
        if self.username.is_some() != self.password.is_some() {
            problems.push(format!(
                "{at}.username: set username and password (or password_file) together, or neither"
            ));
        }
        if let Some(user) = &self.username {
            if user.contains(':') {
                problems.push(format!("{at}.username: may not contain ':'"));
            }
        }
        condition_map(
            &format!("{at}.priority"),
            self.priority.as_ref(),
            parse_priority,
            "min, low, default, high, urgent or 1-5",
            problems,
        );
        for tag in self.tags.iter().flatten() {
            if tag.trim().is_empty() || tag.chars().count() > 100 || tag.contains(',') {
                problems.push(format!(
                    "{at}.tags: \"{}\" must be 1-100 characters without commas",
                    crate::text::terminal(&crate::text::cap(tag, 40))
                ));
            }
        }
        if let Some(click) = &self.click {
            if let Err(why) = check_http_url(&click.replace("{campaign_id}", "id")) {
                problems.push(format!("{at}.click: the URL {why}"));
            }
        }
        text.check(at, None, problems);
    }

    secret_methods! { url: url => url_file; keys: token => token_file, password => password_file }

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<NtfyChannel>, DeliverError> {
        NtfyChannel::new(self, context).map(Box::new)
    }
}
