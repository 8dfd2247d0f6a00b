//! `kind = "alertmanager"`: alerts posted to every Alertmanager of a cluster.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::AlertmanagerChannel;
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::chat::check_severity;
use crate::deliver::DeliverError;
use crate::setting::secret::SecretFiles;
use crate::setting::url::{check_secret_url, hide_url, url_secrets};

/// Labels every alert already carries; `labels` may not replace them.
const RESERVED_LABELS: [&str; 4] = ["alertname", "campaign_id", "campaign_name", "severity"];
const MIN_RESEND_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct AlertmanagerSettings {
    /// Base URL of one Alertmanager, e.g. `http://alertmanager:9093`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    /// Base URLs of every Alertmanager instance (with or instead of `url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    /// Extra labels on every alert (e.g. `team = "outreach"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Severity per condition → `critical` | `error` | `warning` | `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<crate::alert::SeverityTable>,
    /// Active alerts are re-posted this often (default 1m).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub resend_interval: Option<Duration>,
    /// Let the URLs be link-local or cloud-metadata addresses (refused otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

impl AlertmanagerSettings {
    /// `url` then `urls`.
    pub fn all_urls(&self) -> Vec<&str> {
        self.url
            .iter()
            .chain(self.urls.iter().flatten())
            .map(String::as_str)
            .collect()
    }
}

impl ChannelConfig for AlertmanagerSettings {
    type Channel = Arc<AlertmanagerChannel>;
    const RENDERS_TEXT: bool = true;
    const HOLDS_QUIET_HOURS: bool = false;

    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
        let urls = self.all_urls();
        if urls.is_empty() {
            problems.push(format!(
                "{at}.urls: an alertmanager channel needs the base URL of every Alertmanager (url or urls), e.g. http://alertmanager:9093"
            ));
        }
        for url in urls {
            check_secret_url(&format!("{at}.urls"), url, self.allow_link_local, problems);
        }
        for (name, value) in self.labels.iter().flatten() {
            if RESERVED_LABELS.contains(&name.as_str()) {
                problems.push(format!(
                    "{at}.labels.{name}: is set by campaign-watcher itself; choose another label name"
                ));
            } else if !is_label_name(name) {
                problems.push(format!(
                    "{at}.labels.{name}: a label name is letters, digits and '_', not starting with a digit"
                ));
            }
            if value.is_empty() {
                problems.push(format!(
                    "{at}.labels.{name}: is empty (Alertmanager drops empty labels)"
                ));
            }
        }
        if let Some(interval) = self.resend_interval {
            if interval < MIN_RESEND_INTERVAL {
                problems.push(format!(
                    "{at}.resend_interval: {} is below the 1s minimum",
                    humantime::format_duration(interval)
                ));
            } else {
                crate::setting::bounds::duration_within(
                    problems,
                    &format!("{at}.resend_interval"),
                    interval,
                    MIN_RESEND_INTERVAL..=Duration::from_secs(24 * 3600),
                );
            }
        }
        check_severity(at, self.severity.as_ref(), problems);
        text.check(at, None, problems);
    }

    fn read_secret_files(&mut self, files: &mut SecretFiles<'_>) {
        files.fill("url_file", self.url_file.as_deref(), &mut self.url);
    }

    fn redact(&mut self) {
        hide_url(&mut self.url);
        for url in self.urls.iter_mut().flatten() {
            *url = crate::outbound::shown_url(url);
        }
    }

    fn secrets(&self) -> Vec<String> {
        self.all_urls()
            .into_iter()
            .flat_map(|url| url_secrets(Some(url)))
            .collect()
    }

    fn build(&self, context: &BuildContext<'_>) -> Result<Arc<AlertmanagerChannel>, DeliverError> {
        AlertmanagerChannel::new(self, context).map(Arc::new)
    }
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
