//! Pure decisions on request headers: where a request comes from (`Origin`,
//! `Referer`), whether its `Host` is this listener's, cookies, the `next` page
//! after a login, and which mode the guard runs in.

use std::net::{IpAddr, SocketAddr};

use axum::http::{header, HeaderMap, Method};

/// How the guard treats the routes it wraps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// No users or tokens, a loopback listener: open to the local user, as the CLI is.
    Open,
    /// No users or tokens on an exposed listener: every guarded route answers 403.
    Closed,
    /// Users or tokens configured: every guarded route asks who is calling.
    Protected,
}

/// The mode for a listen address and whether credentials are configured.
/// An address that does not parse is treated as exposed.
pub fn mode(listen: &str, has_credentials: bool) -> Mode {
    if has_credentials {
        return Mode::Protected;
    }
    match listen.parse::<SocketAddr>() {
        Ok(address) if address.ip().is_loopback() => Mode::Open,
        _ => Mode::Closed,
    }
}

/// Where a state-changing request says it comes from, against this listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// `Origin` (or, without it, `Referer`) is this listener's own origin.
    Same,
    /// Another site (or `null`, an opaque origin).
    Foreign,
    /// Neither header: not a browser (browsers send `Origin` on every POST).
    Unstated,
}

/// Compares the request's `Origin` (or the origin of its `Referer`) with
/// `external` (the origin of `http.external_url`) or, without one, with
/// `http(s)://` and the request's own `Host`.
///
/// Our pages are served with `Referrer-Policy: no-referrer`, under which a
/// browser sends `Origin: null` on every POST, its own forms' included (Fetch
/// standard, "append a request Origin header"). Such a request counts as
/// this listener's own when the browser also says `Sec-Fetch-Site:
/// same-origin`: a `Sec-` header no page can set, which a cross-site form or
/// script cannot fake. It still needs its CSRF token.
pub fn provenance(headers: &HeaderMap, external: Option<&str>) -> Provenance {
    let same_origin_fetch = header_text(headers, header::HeaderName::from_static("sec-fetch-site"))
        .is_some_and(|site| site.trim().eq_ignore_ascii_case("same-origin"));
    let opaque = header_text(headers, header::ORIGIN).map_or(true, |o| o.trim() == "null");
    if same_origin_fetch && opaque {
        return Provenance::Same;
    }
    let stated = match header_text(headers, header::ORIGIN) {
        Some(origin) => Some(origin.to_string()),
        None => header_text(headers, header::REFERER).map(|referer| {
            reqwest::Url::parse(referer)
                .map(|url| url.origin().ascii_serialization())
                .unwrap_or_else(|_| "null".to_string())
        }),
    };
    let Some(stated) = stated else {
        return Provenance::Unstated;
    };
    let stated = stated.trim().to_ascii_lowercase();
    let same = match external {
        Some(external) => stated == external.to_ascii_lowercase(),
        None => match header_text(headers, header::HOST) {
            Some(host) => {
                let host = host.trim().to_ascii_lowercase();
                stated == format!("http://{host}") || stated == format!("https://{host}")
            }
            None => false,
        },
    };
    if same {
        Provenance::Same
    } else {
        Provenance::Foreign
    }
}

/// Whether a request shows the marks of a browser (which may be carrying a
/// victim's cookies): an `Origin`, `Sec-Fetch-Site`, or a `Cookie` header.
pub fn from_a_browser(headers: &HeaderMap) -> bool {
    headers.contains_key(header::ORIGIN)
        || headers.contains_key("sec-fetch-site")
        || headers.contains_key(header::COOKIE)
}

/// POST, PUT, PATCH and DELETE change state; the other methods must not.
pub fn changes_state(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// Whether `Host` names this machine's loopback (`localhost`, `*.localhost`,
/// 127.0.0.0/8, `[::1]`, any port) or the host of `external` (the origin of
/// `http.external_url`). On an open listener anything else is a DNS-rebinding
/// page reading the board through a name it controls.
pub fn host_is_local(headers: &HeaderMap, external: Option<&str>) -> bool {
    let Some(host) = header_text(headers, header::HOST) else {
        return false;
    };
    let host = host.trim().to_ascii_lowercase();
    if let Some(external) = external {
        let external_host = external
            .split_once("://")
            .map_or(external, |(_, rest)| rest);
        if host == external_host || host_name(&host) == host_name(external_host) {
            return true;
        }
    }
    let name = host_name(&host);
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `host` without its `:port` (`[::1]:9464` → `[::1]`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(name, _)| &host[..=name.len()]);
    }
    host.split_once(':').map_or(host, |(name, _)| name)
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Strict; Path=/`, `Secure` when
/// served over TLS; `max_age` 0 removes the cookie.
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age_secs: u64) -> String {
    let mut text =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}");
    if secure {
        text.push_str("; Secure");
    }
    text
}

/// The page to go to after a login: a path on this site, or `/`. Anything
/// that could leave the site (`//evil.example`, `/\evil`, `https://...`) is `/`.
pub fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if local && !next.starts_with("/login") {
        next
    } else {
        "/"
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

#[cfg(test)]
mod tests;
