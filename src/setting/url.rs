//! The URL check and redaction every section with an HTTP endpoint shares.

pub(crate) const REDACTED: &str = "<redacted>";
/// Query parameters whose name contains one of these carry credentials.
const SECRET_PARAM_HINTS: [&str; 7] = [
    "token", "key", "secret", "password", "passwd", "sig", "auth",
];

/// Scheme and host only; the HTTP client does the full parse when it connects.
pub(crate) fn check_http_url(url: &str) -> Result<(), &'static str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("is not an http:// or https:// URL");
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err("is not an http:// or https:// URL");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err("has no host");
    }
    Ok(())
}

/// A URL that may carry a secret (every channel URL, the heartbeat): a
/// problem names `key` and says what is wrong without showing the URL, and a
/// link-local or cloud-metadata host is refused (naming the host only) unless
/// `allow_link_local`.
pub(crate) fn check_secret_url(
    key: &str,
    url: &str,
    allow_link_local: bool,
    problems: &mut Vec<String>,
) {
    if let Err(why) = check_http_url(url) {
        problems.push(format!("{key}: the URL {why}"));
    } else if !allow_link_local {
        if let Err(blocked) = crate::outbound::check_destination_text(url) {
            problems.push(format!("{key}: {blocked}"));
        }
    }
}

/// For `check-config` and `Debug`: a URL that may carry a secret shows its
/// scheme and host only (`https://hooks.slack.com/<redacted>`).
pub(crate) fn hide_url(url: &mut Option<String>) {
    if let Some(url) = url.as_mut() {
        *url = crate::outbound::shown_url(url);
    }
}

/// The secret parts of `url` (userinfo, path, query), when it is set.
pub(crate) fn url_secrets(url: Option<&str>) -> Vec<String> {
    url.map(crate::outbound::secret_parts_of_url)
        .unwrap_or_default()
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
