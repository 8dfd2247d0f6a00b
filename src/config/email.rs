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
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_choose_tls_port_and_credentials() {
        use SmtpSecurity::*;
        type Case<'a> = (
            &'a str,
            SmtpSecurity,
            &'a str,
            u16,
            Option<&'a str>,
            Option<&'a str>,
        );
        let cases: [Case; 8] = [
            (
                "smtps://smtp.example.com",
                ImplicitTls,
                "smtp.example.com",
                465,
                None,
                None,
            ),
            (
                "smtps://u:p@smtp.example.com:2465",
                ImplicitTls,
                "smtp.example.com",
                2465,
                Some("u"),
                Some("p"),
            ),
            (
                "smtp://smtp.example.com?tls=required",
                StartTls,
                "smtp.example.com",
                587,
                None,
                None,
            ),
            (
                "smtp://smtp.example.com:25/?tls=required",
                StartTls,
                "smtp.example.com",
                25,
                None,
                None,
            ),
            (
                "smtp://127.0.0.1:2525",
                Plain,
                "127.0.0.1",
                2525,
                None,
                None,
            ),
            ("smtp://localhost", Plain, "localhost", 25, None, None),
            ("smtp://[::1]:2525", Plain, "::1", 2525, None, None),
            // Percent-encoded user and password are decoded.
            (
                "smtps://ops%40example.com:p%3Ass@smtp.example.com",
                ImplicitTls,
                "smtp.example.com",
                465,
                Some("ops@example.com"),
                Some("p:ss"),
            ),
        ];
        for (url, security, host, port, user, password) in cases {
            let endpoint = parse_smtp_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(endpoint.security, security, "{url}");
            assert_eq!(endpoint.host, host, "{url}");
            assert_eq!(endpoint.port, port, "{url}");
            assert_eq!(endpoint.user.as_deref(), user, "{url}");
            assert_eq!(endpoint.password.as_deref(), password, "{url}");
        }
    }

    #[test]
    fn unsafe_or_malformed_smtp_urls_are_refused_with_a_reason() {
        let cases = [
            ("smtp://smtp.example.com", "only for loopback hosts"),
            ("smtp://10.0.0.5:25", "only for loopback hosts"),
            (
                "smtp://smtp.example.com?tls=opportunistic",
                "use tls=required",
            ),
            (
                "smtp://smtp.example.com?tls=none",
                "the only value is tls=required",
            ),
            (
                "smtps://smtp.example.com?tls=required",
                "smtps:// is always TLS",
            ),
            (
                "smtp://smtp.example.com?tls=required&x=1",
                "unknown parameter \"x\"",
            ),
            ("https://smtp.example.com", "has scheme \"https\""),
            ("smtps://smtp.example.com/inbox", "has a path"),
            ("smtps://:secret@smtp.example.com", "password but no user"),
            ("not a url", "is not a URL"),
        ];
        for (url, expected) in cases {
            let error = parse_smtp_url(url).unwrap_err();
            assert!(error.contains(expected), "{url}: {error}");
            assert!(!error.contains("secret"), "{url}: {error}");
        }
    }

    #[test]
    fn endpoint_debug_and_display_hide_the_password() {
        let endpoint = parse_smtp_url("smtps://user:hunter2@smtp.example.com").unwrap();
        assert_eq!(endpoint.display(), "smtps://smtp.example.com:465");
        assert!(!format!("{endpoint:?}").contains("hunter2"));
    }

    const BASE: &str = r#"
        [sigmamind]
        api_key = "k"
        [watch]
        campaigns = ["camp_1"]
    "#;

    fn load(
        extra: &str,
        env: &[(&str, &str)],
    ) -> Result<super::super::Settings, super::super::ConfigError> {
        super::super::Settings::load_from_str_with_env(
            // Top-level keys (instance) must come before the first table.
            &match extra.split_once("#top-end") {
                Some((top, rest)) => format!("{top}\n{BASE}\n{rest}"),
                None => format!("{BASE}\n{extra}"),
            },
            "test.toml",
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn a_complete_email_channel_validates_and_check_config_hides_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let password = dir.path().join("smtp_password");
        std::fs::write(&password, "hunter2\n").unwrap();
        let settings = load(
            &format!(
                r#"
                instance = "prod-eu"
                #top-end
                [channels.mail]
                kind = "email"
                smtp_url = "smtps://smtp.example.com"
                from = "Campaign Watcher <watcher@example.com>"
                to = ["ops@example.com", "Oncall <oncall@example.com>"]
                username = "watcher"
                password_file = "{}"
                timezone = "Europe/Berlin"
                group = false
                "#,
                password.display()
            ),
            &[],
        )
        .unwrap();
        settings.validate().unwrap();
        assert_eq!(settings.instance_name(), "prod-eu");
        let mail = &settings.channels["mail"];
        assert_eq!(mail.password.as_ref().unwrap().expose(), "hunter2");
        assert_eq!(mail.group, Some(false));
        let shown = settings.to_redacted_toml();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("smtp_url = \"smtps://smtp.example.com\""),
            "{shown}"
        );

        let inline = load(
            r#"
            [channels.mail]
            kind = "email"
            smtp_url = "smtps://watcher:hunter2@smtp.example.com"
            from = "watcher@example.com"
            to = ["ops@example.com"]
            "#,
            &[],
        )
        .unwrap();
        inline.validate().unwrap();
        let shown = inline.to_redacted_toml();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("smtps://watcher:<redacted>@smtp.example.com"),
            "{shown}"
        );
        assert!(!format!("{inline:?}").contains("hunter2"));
    }

    #[test]
    fn recipients_and_instance_can_come_from_the_environment() {
        let settings = load(
            r#"
            [channels.ops-mail]
            kind = "email"
            smtp_url = "smtp://127.0.0.1:2525"
            from = "watcher@example.com"
            "#,
            &[
                (
                    "CAMPAIGN_WATCHER__CHANNELS__OPS_MAIL__TO",
                    "a@example.com, b@example.com",
                ),
                ("CAMPAIGN_WATCHER__INSTANCE", "staging"),
            ],
        )
        .unwrap();
        settings.validate().unwrap();
        assert_eq!(
            settings.channels["ops-mail"].to,
            ["a@example.com", "b@example.com"]
        );
        assert_eq!(settings.instance.as_deref(), Some("staging"));
    }

    #[test]
    fn every_email_problem_is_reported_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "hello").unwrap();
        let broken = dir.path().join("subject.txt");
        std::fs::write(&broken, "{{ headline ").unwrap();
        let settings = load(
            &format!(
                r#"
                [channels.bare]
                kind = "email"
                [channels.mail]
                kind = "email"
                smtp_url = "smtp://smtp.example.com:25"
                from = "not an address"
                to = ["ops@example.com", "nobody"]
                ca_file = "{}"
                timezone = "Mars/Olympus"
                subject_template = "{}"
                [channels.auth]
                kind = "email"
                smtp_url = "smtps://u:hunter2@smtp.example.com"
                username = "u2"
                password = "other"
                from = "w@example.com"
                to = ["o@example.com"]
                [channels.nouser]
                kind = "email"
                smtp_url = "smtps://smtp.example.com"
                password = "hunter2"
                from = "w@example.com"
                to = ["o@example.com"]
                "#,
                not_pem.display(),
                broken.display()
            ),
            &[],
        )
        .unwrap();
        let found = settings.validate().unwrap_err();
        let expected = [
            "channels.auth.username: the user is also in smtp_url",
            "channels.auth.password: the password is also in smtp_url",
            "channels.bare.smtp_url: an email channel needs smtp_url",
            "channels.bare.from: an email channel needs a sender",
            "channels.bare.to: an email channel needs at least one recipient",
            "channels.mail.smtp_url: \"smtp://smtp.example.com:25\" is plain smtp://",
            "channels.mail.from: \"not an address\" is not an address",
            "channels.mail.to[1]: \"nobody\" is not an email address",
            "channels.mail.ca_file:",
            "channels.mail.timezone: \"Mars/Olympus\" is not an IANA time zone",
            "channels.mail: template \"",
            "channels.nouser.username: a password is set but no user name",
        ];
        for prefix in expected {
            assert!(
                found.iter().any(|problem| problem.starts_with(prefix)),
                "missing {prefix:?} in {found:#?}"
            );
        }
        assert_eq!(found.len(), expected.len(), "{found:#?}");
        assert!(!format!("{found:?}").contains("hunter2"));
    }

    #[test]
    fn email_keys_on_other_channels_are_warned_about() {
        let settings = load(
            r#"
            [channels.hook]
            kind = "webhook"
            url = "https://hooks.example.com/x"
            to = ["ops@example.com"]
            "#,
            &[],
        )
        .unwrap();
        settings.validate().unwrap();
        assert_eq!(
            settings.warnings(),
            ["channels.hook.to: only used by kind = \"email\"; it is ignored"]
        );
    }
}
