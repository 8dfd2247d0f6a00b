//! The `smtp_url` grammar, shared by the email channel's checks (all problems
//! at once) and its builder (which needs the parsed endpoint).

use std::net::IpAddr;
use std::str::FromStr;

use reqwest::Url;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtps://`: TLS from the first byte (port 465).
    ImplicitTls,
    /// `smtp://…?tls=required`: STARTTLS, and the send fails if the server
    /// does not offer it (port 587). Never opportunistic: that can be stripped.
    StartTls,
    /// `smtp://` without TLS: only to a loopback host (a local relay).
    Plain,
}

/// A parsed `smtp_url`. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpEndpoint {
    pub security: SmtpSecurity,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for SmtpEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpEndpoint")
            .field("security", &self.security)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl SmtpEndpoint {
    /// `smtps://host:465`: what logs and errors may show.
    pub fn display(&self) -> String {
        let scheme = match self.security {
            SmtpSecurity::ImplicitTls => "smtps",
            SmtpSecurity::StartTls | SmtpSecurity::Plain => "smtp",
        };
        format!("{scheme}://{}:{}", self.host, self.port)
    }
}

/// `localhost` or a loopback address (bracketed IPv6 too): where plain
/// text may go, because it never leaves the host.
pub(in crate::deliver::email) fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || IpAddr::from_str(bare).is_ok_and(|ip| ip.is_loopback())
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// Why `smtp_url` is not usable: a phrase to follow the key and the redacted
/// url, never naming the password.
#[derive(Debug, thiserror::Error)]
pub enum SmtpUrlError {
    // url::ParseError names the problem, never the input.
    #[error("is not a URL ({reason}); use smtps://host or smtp://host:587?tls=required")]
    NotAUrl { reason: String },
    #[error("has scheme \"{scheme}\"; use smtps://host or smtp://host:587?tls=required")]
    Scheme { scheme: String },
    #[error("has no host")]
    NoHost,
    #[error(
        "has a path; an SMTP URL is only scheme://[user[:password]@]host[:port][?tls=required]"
    )]
    Path,
    #[error("needs no tls parameter: smtps:// is always TLS")]
    TlsOnImplicit,
    #[error(
        "uses tls=opportunistic, which lets anyone on the path switch TLS off; use tls=required"
    )]
    Opportunistic,
    #[error("has tls={value}; the only value is tls=required")]
    TlsValue { value: String },
    #[error("has an unknown parameter \"{name}\"")]
    UnknownParameter { name: String },
    #[error("is plain smtp:// to \"{host}\", which would send mail and password unencrypted; use smtps://{host} or smtp://{host}:587?tls=required (plain smtp:// is only for loopback hosts)")]
    Plain { host: String },
    #[error("has a password but no user name")]
    PasswordWithoutUser,
}

/// Parses `smtp_url`.
pub fn parse_smtp_url(text: &str) -> Result<SmtpEndpoint, SmtpUrlError> {
    let url = Url::parse(text.trim()).map_err(|e| SmtpUrlError::NotAUrl {
        reason: e.to_string(),
    })?;
    let implicit = match url.scheme() {
        "smtps" => true,
        "smtp" => false,
        other => {
            return Err(SmtpUrlError::Scheme {
                scheme: other.to_string(),
            })
        }
    };
    let host = url
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or(SmtpUrlError::NoHost)?
        .to_string();
    if !matches!(url.path(), "" | "/") {
        return Err(SmtpUrlError::Path);
    }
    let mut tls_required = false;
    for (name, value) in url.query_pairs() {
        match (name.as_ref(), value.as_ref(), implicit) {
            ("tls", "required", false) => tls_required = true,
            ("tls", _, true) => return Err(SmtpUrlError::TlsOnImplicit),
            ("tls", "opportunistic", false) => return Err(SmtpUrlError::Opportunistic),
            ("tls", other, false) => {
                return Err(SmtpUrlError::TlsValue {
                    value: other.to_string(),
                })
            }
            (other, _, _) => {
                return Err(SmtpUrlError::UnknownParameter {
                    name: other.to_string(),
                })
            }
        }
    }
    let security = match (implicit, tls_required) {
        (true, _) => SmtpSecurity::ImplicitTls,
        (false, true) => SmtpSecurity::StartTls,
        (false, false) if is_loopback(&host) => SmtpSecurity::Plain,
        (false, false) => return Err(SmtpUrlError::Plain { host }),
    };
    let port = url.port().unwrap_or(match security {
        SmtpSecurity::ImplicitTls => 465,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Plain => 25,
    });
    let user = Some(decode(url.username())).filter(|user| !user.is_empty());
    let password = url.password().map(decode).filter(|p| !p.is_empty());
    if password.is_some() && user.is_none() {
        return Err(SmtpUrlError::PasswordWithoutUser);
    }
    Ok(SmtpEndpoint {
        security,
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
        user,
        password,
    })
}

#[cfg(test)]
mod tests;
