//! `kind = "http"`: a request of the operator's own design (Gotify, Pushover,
//! a Jira issue, a Power Automate flow), its `method`, `url`, `headers` and
//! `body` minijinja templates escaped by place. See docs/http-channel.md.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::template::RequestSources;
use super::HttpChannel;
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::chat::check_severity;
use crate::deliver::DeliverError;
use crate::setting::secret::{Secret, SecretFiles};
use crate::setting::url::{hide_url, url_secrets};

pub const DEFAULT_CONTENT_TYPE: &str = "application/json";
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct HttpChannelSettings {
    /// Template of the method: `POST` (default), `PUT`, `PATCH`, `GET` or `DELETE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Template of the URL, http or https; every printed value is
    /// percent-encoded. Its scheme, host and port may not depend on the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A file holding the `url` template (then `render` shows its host only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    /// Header name → value template; CR, LF and other control characters in
    /// printed values become spaces. `Content-Type` is `content_type`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// `application/json` (default: values printed into the body are escaped
    /// for inside a JSON string), `application/x-www-form-urlencoded`
    /// (form-encoded), or any other type (printed as they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Template of the body; none: the request has no body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// For events that start a condition (a pause, upload errors): any of
    /// `method`, `url`, `headers` (merged over the top-level ones), `body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Box<RequestOverride>>,
    /// For events that end a condition (live again, errors cleared): as `start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Box<RequestOverride>>,
    /// Secret name → value, for templates as `secrets.NAME` (names: lower-case
    /// letters, digits, `_`). Best from the environment
    /// (`CAMPAIGN_WATCHER__CHANNELS__NAME__SECRETS__TOKEN`) or `secret_files`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, Secret>,
    /// Secret name → file holding it (systemd credentials, Kubernetes secrets).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_files: BTreeMap<String, PathBuf>,
    /// Severity per condition, as for `pagerduty` (the template's `severity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<crate::alert::SeverityTable>,
    /// Largest body sent, in bytes (default 65536). A longer one is rendered
    /// again with the event's texts and lists cut shorter until it fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    /// Let `url` be a link-local or cloud-metadata address (refused otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

/// `[channels.NAME.start]` / `[channels.NAME.end]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl RequestOverride {
    pub(super) fn sources(&self) -> RequestSources {
        RequestSources {
            method: self.method.clone(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }
}

impl HttpChannelSettings {
    pub(super) fn sources(&self) -> RequestSources {
        RequestSources {
            method: self.method.clone(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }

    pub fn content_type(&self) -> &str {
        self.content_type.as_deref().unwrap_or(DEFAULT_CONTENT_TYPE)
    }

    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES)
    }

    /// Every header name, top level and overrides.
    fn header_names(&self) -> impl Iterator<Item = (String, &str)> {
        let top = self
            .headers
            .keys()
            .map(|name| (format!("headers.{name}"), name.as_str()));
        let overrides = [("start", &self.start), ("end", &self.end)]
            .into_iter()
            .filter_map(|(at, table)| Some((at, table.as_ref()?)))
            .flat_map(|(at, table)| {
                table
                    .headers
                    .keys()
                    .map(move |name| (format!("{at}.headers.{name}"), name.as_str()))
            });
        top.chain(overrides)
    }
}

impl ChannelConfig for HttpChannelSettings {
    type Channel = Box<HttpChannel>;
    const RENDERS_TEXT: bool = false;

    fn check(&self, at: &str, _text: &TextSettings, problems: &mut Vec<String>) {
        if self
            .url
            .as_deref()
            .map_or(true, |url| url.trim().is_empty())
        {
            problems.push(format!(
                "{at}.url: an http channel needs the url template (url or url_file)"
            ));
        }
        for (key, name) in self.header_names() {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                problems.push(format!("{at}.{key}: \"{name}\" is not a valid header name"));
            } else if name.eq_ignore_ascii_case("content-type") {
                problems.push(format!(
                    "{at}.{key}: set the body's type with content_type, not as a header"
                ));
            } else if name.eq_ignore_ascii_case("host")
                || name.eq_ignore_ascii_case("content-length")
            {
                problems.push(format!(
                    "{at}.{key}: is set by the HTTP client itself; remove it"
                ));
            }
        }
        if self
            .content_type()
            .parse::<reqwest::header::HeaderValue>()
            .is_err()
            || !self.content_type().contains('/')
        {
            problems.push(format!(
                "{at}.content_type: \"{}\" is not a media type such as application/json",
                crate::text::header(self.content_type(), 100)
            ));
        }
        match self.max_body_bytes {
            Some(bytes) if !(256..=16 * 1024 * 1024).contains(&bytes) => problems.push(format!(
                "{at}.max_body_bytes: {bytes} is outside 256..=16777216"
            )),
            _ => {}
        }
        for (name, value) in &self.secrets {
            check_secret(at, name, Some(value.expose()), problems);
        }
        for name in self.secret_files.keys() {
            check_secret(at, name, None, problems);
        }
        check_severity(at, self.severity.as_ref(), problems);
        // The templates, rendered against a sample of every event type.
        if self.url.is_some() {
            if let Err(template_problems) = super::check_templates(self) {
                problems.extend(
                    template_problems
                        .into_iter()
                        .map(|problem| format!("{at}.{problem}")),
                );
            }
        }
    }

    fn warnings(&self, at: &str) -> Vec<String> {
        let mut warnings = Vec::new();
        for (key, name) in self.header_names() {
            if super::is_sensitive_header(name) {
                let source = header_source(self, &key);
                if !source.contains("secrets.") {
                    warnings.push(format!(
                        "{at}.{key}: looks like a credential written into the configuration; put it in secret_files and write {{{{ secrets.NAME }}}}"
                    ));
                }
            }
        }
        warnings
    }

    fn read_secret_files(&mut self, files: &mut SecretFiles<'_>) {
        files.fill("url_file", self.url_file.as_deref(), &mut self.url);
        for (name, path) in &self.secret_files {
            let mut value = self.secrets.get(name).cloned();
            files.fill(&format!("secret_files.{name}"), Some(path), &mut value);
            if let Some(value) = value {
                self.secrets.insert(name.clone(), value);
            }
        }
    }

    fn redact(&mut self) {
        // As every channel URL: a literal token in its path or query stays hidden.
        hide_url(&mut self.url);
        let hide = |headers: &mut BTreeMap<String, String>| {
            for (name, value) in headers.iter_mut() {
                if super::is_sensitive_header(name) && !value.contains("secrets.") {
                    *value = "<redacted>".into();
                }
            }
        };
        hide(&mut self.headers);
        for table in [&mut self.start, &mut self.end].into_iter().flatten() {
            hide(&mut table.headers);
        }
    }

    fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self
            .secrets
            .values()
            .map(|value| value.expose().to_string())
            .collect();
        // A url template is mostly template text (`{{ event.campaign.id }}`):
        // scrubbing its pieces would cut words like "campaign" out of every
        // answer. Its credentials are `secrets`; a url from url_file is one whole.
        if self.url_file.is_some() {
            secrets.extend(url_secrets(self.url.as_deref()));
        }
        secrets
    }

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<HttpChannel>, DeliverError> {
        HttpChannel::new(self, context).map(Box::new)
    }
}

/// The template text of `key` (`headers.x`, `start.headers.x`).
fn header_source<'a>(settings: &'a HttpChannelSettings, key: &str) -> &'a str {
    let (table, name) = match key.split_once(".headers.") {
        Some((at, name)) => (
            match at {
                "start" => settings.start.as_ref().map(|t| &t.headers),
                _ => settings.end.as_ref().map(|t| &t.headers),
            },
            name,
        ),
        None => (Some(&settings.headers), key.trim_start_matches("headers.")),
    };
    table
        .and_then(|headers| headers.get(name))
        .map_or("", String::as_str)
}

/// A secret's name must be usable as `secrets.NAME`, and its value long
/// enough to be scrubbed from what servers answer.
fn check_secret(at: &str, name: &str, value: Option<&str>, problems: &mut Vec<String>) {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        problems.push(format!(
            "{at}.secrets.{name}: a secret's name is lower-case letters, digits and _ (it is used as secrets.NAME)"
        ));
    }
    if let Some(value) = value {
        if value.chars().count() < crate::outbound::MIN_FRAGMENT_CHARS {
            problems.push(format!(
                "{at}.secrets.{name}: is shorter than {} characters, too short to keep out of logs and answers",
                crate::outbound::MIN_FRAGMENT_CHARS
            ));
        }
    }
}
