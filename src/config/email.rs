//! The `email` channel's settings: the `smtp_url` grammar and every check on
//! an email channel, shared by `validate` (all problems at once) and the
//! channel builder (which needs the parsed endpoint).

use std::net::IpAddr;
use std::str::FromStr;

use lettre::message::Mailbox;
use reqwest::Url;

use super::redact::redact_url;
use super::ChannelSettings;

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

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || IpAddr::from_str(bare).is_ok_and(|ip| ip.is_loopback())
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// Parses `smtp_url`; the error is a phrase to follow the key and the redacted url.
pub fn parse_smtp_url(text: &str) -> Result<SmtpEndpoint, String> {
    let url = Url::parse(text.trim()).map_err(|e| {
        format!("is not a URL ({e}); use smtps://host or smtp://host:587?tls=required")
    })?;
    let implicit = match url.scheme() {
        "smtps" => true,
        "smtp" => false,
        other => {
            return Err(format!(
                "has scheme \"{other}\"; use smtps://host or smtp://host:587?tls=required"
            ))
        }
    };
    let host = url
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or("has no host")?
        .to_string();
    if !matches!(url.path(), "" | "/") {
        return Err(
            "has a path; an SMTP URL is only scheme://[user[:password]@]host[:port][?tls=required]"
                .into(),
        );
    }
    let mut tls_required = false;
    for (name, value) in url.query_pairs() {
        match (name.as_ref(), value.as_ref(), implicit) {
            ("tls", "required", false) => tls_required = true,
            ("tls", _, true) => {
                return Err("needs no tls parameter: smtps:// is always TLS".into())
            }
            ("tls", "opportunistic", false) => {
                return Err("uses tls=opportunistic, which lets anyone on the path switch TLS off; use tls=required".into())
            }
            ("tls", other, false) => {
                return Err(format!("has tls={other}; the only value is tls=required"))
            }
            (other, _, _) => return Err(format!("has an unknown parameter \"{other}\"")),
        }
    }
    let security = match (implicit, tls_required) {
        (true, _) => SmtpSecurity::ImplicitTls,
        (false, true) => SmtpSecurity::StartTls,
        (false, false) if is_loopback(&host) => SmtpSecurity::Plain,
        (false, false) => {
            return Err(format!(
                "is plain smtp:// to \"{host}\", which would send mail and password unencrypted; use smtps://{host} or smtp://{host}:587?tls=required (plain smtp:// is only for loopback hosts)"
            ))
        }
    };
    let port = url.port().unwrap_or(match security {
        SmtpSecurity::ImplicitTls => 465,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Plain => 25,
    });
    let user = Some(decode(url.username())).filter(|user| !user.is_empty());
    let password = url.password().map(decode).filter(|p| !p.is_empty());
    if password.is_some() && user.is_none() {
        return Err("has a password but no user name".into());
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

/// Every problem of one email channel, each starting with its key path.
pub(super) fn check_email_channel(at: &str, channel: &ChannelSettings, problems: &mut Vec<String>) {
    let endpoint = match channel.smtp_url.as_deref() {
        None => {
            problems.push(format!(
                "{at}.smtp_url: an email channel needs smtp_url (smtps://host or smtp://host:587?tls=required)"
            ));
            None
        }
        Some(url) => match parse_smtp_url(url) {
            Ok(endpoint) => Some(endpoint),
            Err(why) => {
                problems.push(format!("{at}.smtp_url: \"{}\" {why}", redact_url(url)));
                None
            }
        },
    };
    match channel.from.as_deref() {
        None => problems.push(format!(
            "{at}.from: an email channel needs a sender, e.g. \"Campaign Watcher <watcher@example.com>\""
        )),
        Some(from) => {
            if Mailbox::from_str(from).is_err() {
                problems.push(format!(
                    "{at}.from: \"{from}\" is not an address such as \"Campaign Watcher <watcher@example.com>\""
                ));
            }
        }
    }
    if channel.to.is_empty() {
        problems.push(format!(
            "{at}.to: an email channel needs at least one recipient"
        ));
    }
    for (index, to) in channel.to.iter().enumerate() {
        if Mailbox::from_str(to).is_err() {
            problems.push(format!(
                "{at}.to[{index}]: \"{to}\" is not an email address"
            ));
        }
    }
    if let Some(endpoint) = &endpoint {
        if endpoint.user.is_some() && channel.username.is_some() {
            problems.push(format!(
                "{at}.username: the user is also in smtp_url; set it in one place"
            ));
        }
        if endpoint.password.is_some() && channel.password.is_some() {
            problems.push(format!(
                "{at}.password: the password is also in smtp_url; set it in one place (password_file keeps it out of the config)"
            ));
        }
        let has_user = endpoint.user.is_some() || channel.username.is_some();
        let has_password = endpoint.password.is_some() || channel.password.is_some();
        if has_password && !has_user {
            problems.push(format!(
                "{at}.username: a password is set but no user name (username or user@ in smtp_url)"
            ));
        }
        if has_user && !has_password {
            problems.push(format!(
                "{at}.password_file: a user name is set but no password (password_file, password, or user:password@ in smtp_url)"
            ));
        }
    }
    if let Some(ca_file) = &channel.ca_file {
        match std::fs::read_to_string(ca_file) {
            Err(error) => problems.push(format!(
                "{at}.ca_file: cannot read \"{}\": {error}",
                ca_file.display()
            )),
            Ok(pem) if !pem.contains("-----BEGIN CERTIFICATE-----") => problems.push(format!(
                "{at}.ca_file: \"{}\" holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                ca_file.display()
            )),
            Ok(_) => {}
        }
    }
}

/// Keys every text channel shares: `timezone` and the template files.
pub(super) fn check_rendering(at: &str, channel: &ChannelSettings, problems: &mut Vec<String>) {
    if let Some(zone) = &channel.timezone {
        if zone.parse::<chrono_tz::Tz>().is_err() {
            problems.push(format!(
                "{at}.timezone: \"{zone}\" is not an IANA time zone such as \"Europe/Berlin\" or \"America/New_York\""
            ));
        }
    }
    let files = channel.template_files();
    if !files.is_empty() {
        if let Err(error) = crate::render::Templates::load(&files) {
            problems.push(format!("{at}: {error}"));
        }
    }
}

/// Names of email-only keys set on a channel of another kind.
pub(super) fn email_keys_set(channel: &ChannelSettings) -> Vec<&'static str> {
    let mut keys = Vec::new();
    let set = [
        ("smtp_url", channel.smtp_url.is_some()),
        ("from", channel.from.is_some()),
        ("to", !channel.to.is_empty()),
        ("username", channel.username.is_some()),
        (
            "password",
            channel.password.is_some() && channel.password_file.is_none(),
        ),
        ("password_file", channel.password_file.is_some()),
        ("ca_file", channel.ca_file.is_some()),
        ("group", channel.group.is_some()),
        ("timezone", channel.timezone.is_some()),
        ("subject_template", channel.subject_template.is_some()),
        ("text_template", channel.text_template.is_some()),
        ("html_template", channel.html_template.is_some()),
    ];
    for (key, is_set) in set {
        if is_set {
            keys.push(key);
        }
    }
    keys
}

#[cfg(test)]
#[path = "email_tests.rs"]
mod tests;
