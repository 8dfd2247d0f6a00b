//! `kind = "opsgenie"`: Alert API v2 alerts created and closed per condition.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{parse_priority, OpsgenieChannel, Service, EU_API_URL, JSM_API_URL, US_API_URL};
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::chat::condition_map;
use crate::deliver::hook_url::secret_methods;
use crate::deliver::DeliverError;
use crate::setting::secret::Secret;
use crate::setting::url::check_secret_url;

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct OpsgenieSettings {
    /// An API integration's key, sent as `Authorization: GenieKey <key>` (a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_file: Option<PathBuf>,
    /// `opsgenie` (default) or `jsm`: Jira Service Management Operations,
    /// Opsgenie's successor, whose integration API
    /// (`https://api.atlassian.com/jsm/ops/integration`) takes the same
    /// requests under another base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Opsgenie's `us` (default, `https://api.opsgenie.com`) or `eu`
    /// (`https://api.eu.opsgenie.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The API's base URL, instead of the service's (and region's); the
    /// watcher adds `/v2/alerts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// Priority per condition (`paused`, `upload_errors`, ... or the event
    /// type that starts it) → `P1`..`P5`. Defaults: API and store outages
    /// P1, a disappearance P2, the rest P3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<BTreeMap<String, String>>,
    /// More tags on every alert (after `campaign-watcher` and the condition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Let `api_url` be a link-local or cloud-metadata address (refused otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

impl OpsgenieSettings {
    /// `api_url`, else the service's (and Opsgenie's region's) base.
    pub fn base_url(&self) -> &str {
        match (&self.api_url, self.service(), self.region.as_deref()) {
            (Some(url), _, _) => url,
            (None, Service::Jsm, _) => JSM_API_URL,
            (None, Service::Opsgenie, Some("eu")) => EU_API_URL,
            (None, Service::Opsgenie, _) => US_API_URL,
        }
    }

    /// `service` (checked: anything but `jsm` is Opsgenie).
    pub fn service(&self) -> Service {
        match self.service.as_deref() {
            Some("jsm") => Service::Jsm,
            _ => Service::Opsgenie,
        }
    }
}

impl ChannelConfig for OpsgenieSettings {
    type Channel = Box<OpsgenieChannel>;
    const RENDERS_TEXT: bool = true;
    const HOLDS_QUIET_HOURS: bool = false;
    const LIST_KEYS: &'static [&'static str] = &["tags"];

    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
        match &self.api_key {
            None => problems.push(format!(
                "{at}.api_key: an opsgenie channel needs an API integration's key (api_key or api_key_file)"
            )),
            Some(key) if key.expose().trim().is_empty() => {
                problems.push(format!("{at}.api_key: is empty"))
            }
            Some(_) => {}
        }
        if let Some(service) = &self.service {
            if !matches!(service.as_str(), "opsgenie" | "jsm") {
                problems.push(format!(
                    "{at}.service: \"{}\" must be \"opsgenie\" or \"jsm\" (Jira Service Management Operations)",
                    crate::text::terminal(&crate::text::cap(service, 40))
                ));
            }
        }
        if self.service() == Service::Jsm && self.region.is_some() {
            problems.push(format!(
                "{at}.region: is Opsgenie's; service = \"jsm\" uses {JSM_API_URL} (set api_url for another host)"
            ));
        }
        if let Some(region) = &self.region {
            if !matches!(region.as_str(), "us" | "eu") {
                problems.push(format!(
                    "{at}.region: \"{}\" must be \"us\" or \"eu\" (or set api_url)",
                    crate::text::terminal(&crate::text::cap(region, 40))
                ));
            }
        }
        if let Some(url) = &self.api_url {
            check_secret_url(
                &format!("{at}.api_url"),
                url,
                self.allow_link_local,
                problems,
            );
            if let Some(why) = api_url_mistake(url) {
                problems.push(format!("{at}.api_url: {why}"));
            }
        }
        condition_map(
            &format!("{at}.priority"),
            self.priority.as_ref(),
            parse_priority,
            "P1, P2, P3, P4 or P5",
            problems,
        );
        let tags = self.tags.as_deref().unwrap_or_default();
        if tags.len() > 18 {
            problems.push(format!(
                "{at}.tags: at most 18 (Opsgenie takes 20 tags, two are the watcher's)"
            ));
        }
        for tag in tags {
            if tag.trim().is_empty() || tag.chars().count() > 50 {
                problems.push(format!(
                    "{at}.tags: \"{}\" must be 1-50 characters",
                    crate::text::terminal(&crate::text::cap(tag, 60))
                ));
            }
        }
        text.check(at, None, problems);
    }

    secret_methods! { url: api_url; keys: api_key => api_key_file }

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<OpsgenieChannel>, DeliverError> {
        OpsgenieChannel::new(self, context).map(Box::new)
    }
}

/// The two ways an `api_url` copied from a vendor's page goes wrong: the
/// endpoint's own path (the watcher adds it), or Atlassian's API host without
/// the integration API's base (requests would reach another API and fail).
pub fn api_url_mistake(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url.trim()).ok()?;
    let path = parsed.path().trim_end_matches('/');
    if path.ends_with("/v2/alerts") {
        return Some(format!(
            "ends in /v2/alerts, which the watcher adds; use the base, e.g. {}",
            crate::outbound::shown_url(url).replace("/<redacted>", "")
                + path.trim_end_matches("/v2/alerts")
        ));
    }
    let atlassian = parsed
        .host_str()
        .is_some_and(|host| host.eq_ignore_ascii_case("api.atlassian.com"));
    (atlassian && path != "/jsm/ops/integration").then(|| {
        format!(
            "on api.atlassian.com the integration API is {JSM_API_URL} (or leave api_url out and set service = \"jsm\")"
        )
    })
}
