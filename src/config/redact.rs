//! The effective configuration for `check-config`, safe to paste into a ticket.

use super::Settings;

const REDACTED: &str = "<redacted>";
/// Query parameters whose name contains one of these carry credentials.
const SECRET_PARAM_HINTS: [&str; 7] = [
    "token", "key", "secret", "password", "passwd", "sig", "auth",
];

impl Settings {
    /// The effective configuration as TOML: secrets shown as `"<redacted>"`,
    /// credentials inside URLs replaced, durations in humantime form ("10s", "1day").
    /// A channel URL read from `url_file` is hidden entirely: it was put in a file
    /// because the whole URL is the credential (Slack-style hooks).
    pub fn to_redacted_toml(&self) -> String {
        // Redacting a copy and serialising the structs (not a `toml::Value`, whose
        // tables are sorted) keeps the sections in the documented order.
        let mut shown = self.clone();
        shown.sigmamind.base_url = redact_url(&shown.sigmamind.base_url);
        shown.state.url = redact_url(&shown.state.url);
        // "Effective": show the 60s fallback the scheduler will actually use.
        if shown.watch.schedule.is_none() {
            shown.watch.interval = Some(shown.watch.effective_interval());
        }
        if shown.heartbeat.url.is_some() {
            shown.heartbeat.url = Some(REDACTED.to_string());
        }
        for channel in shown.channels.values_mut() {
            if let Some(url) = channel.smtp_url.as_mut() {
                *url = redact_url(url);
            }
            let from_file = channel.url_file.is_some() || channel.kind.url_is_secret();
            if let Some(urls) = channel.urls.as_mut() {
                for url in urls {
                    *url = redact_url(url);
                }
            }
            if let Some(url) = channel.url.as_mut() {
                *url = if from_file {
                    REDACTED.to_string()
                } else {
                    redact_url(url)
                };
            }
        }
        toml::to_string(&shown)
            .unwrap_or_else(|error| format!("# the configuration could not be rendered: {error}\n"))
    }
}

/// Replaces the userinfo password (or a bare userinfo, which is usually a token)
/// and the values of credential-like query parameters with `<redacted>`.
pub(crate) fn redact_url(url: &str) -> String {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((head, fragment)) => (head, Some(fragment)),
        None => (url, None),
    };
    let (base, query) = match before_fragment.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (before_fragment, None),
    };

    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(at) => rest.split_at(at),
                None => (rest, ""),
            };
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{user}:{REDACTED}@{host}"),
                    None => format!("{REDACTED}@{host}"),
                },
                None => authority.to_string(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => base.to_string(),
    };

    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if is_secret_param(name) => format!("{name}={REDACTED}"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAM_HINTS.iter().any(|hint| name.contains(hint))
}
