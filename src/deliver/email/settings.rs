//! `kind = "email"`: multipart alerts over SMTP.

use std::path::PathBuf;
use std::str::FromStr;

use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};

use super::smtp_url::parse_smtp_url;
use super::{EmailChannel, OAuth2Settings};
use crate::setting::secret::{Secret, SecretFiles};
use crate::setting::url::redact_url;

/// The password in `smtp://user:password@host`, when there is one.
fn smtp_password(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    url.password().map(str::to_string)
}
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::DeliverError;

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct EmailSettings {
    /// `smtps://host[:465]`, `smtp://host:587?tls=required`, or plain
    /// `smtp://` to a loopback host. May carry `user:password@`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_url: Option<String>,
    /// The sender, `Name <address>` or a bare address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Recipients (from the environment: comma-separated).
    #[serde(default)]
    pub to: Vec<String>,
    /// SMTP user, when not in `smtp_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// PEM certificate(s) trusted in addition to the public roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The events of one cycle as one digest (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<bool>,
    /// minijinja file replacing the built-in HTML body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_template: Option<PathBuf>,
    /// `[channels.NAME.oauth2]`: sign in with SMTP AUTH XOAUTH2 as `username`,
    /// with a token from this client-credentials grant, instead of a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2Settings>,
}

impl ChannelConfig for EmailSettings {
    type Channel = Box<EmailChannel>;
    const RENDERS_TEXT: bool = true;
    const LIST_KEYS: &'static [&'static str] = &["to"];

    fn check(&self, at: &str, text: &TextSettings, problems: &mut Vec<String>) {
        check_email(at, self, problems);
        text.check(at, self.html_template.as_deref(), problems);
    }

    fn read_secret_files(&mut self, files: &mut SecretFiles<'_>) {
        files.fill(
            "password_file",
            self.password_file.as_deref(),
            &mut self.password,
        );
        if let Some(oauth2) = self.oauth2.as_mut() {
            oauth2.read_secret_files(files);
        }
    }

    fn redact(&mut self) {
        if let Some(url) = self.smtp_url.as_mut() {
            *url = redact_url(url);
        }
        if let Some(oauth2) = self.oauth2.as_mut() {
            oauth2.redact();
        }
    }

    fn secrets(&self) -> Vec<String> {
        let password = self.password.iter().map(|key| key.expose().to_string());
        let in_url = self.smtp_url.as_deref().and_then(smtp_password);
        let oauth2 = self.oauth2.iter().flat_map(OAuth2Settings::secrets);
        password.chain(in_url).chain(oauth2).collect()
    }

    fn build(&self, context: &BuildContext<'_>) -> Result<Box<EmailChannel>, DeliverError> {
        EmailChannel::new(self, context).map(Box::new)
    }
}

/// Every problem of one email channel, each starting with its key path.
fn check_email(at: &str, channel: &EmailSettings, problems: &mut Vec<String>) {
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
        if let Some(oauth2) = &channel.oauth2 {
            oauth2.check(&format!("{at}.oauth2"), problems);
            if has_password {
                problems.push(format!(
                    "{at}.oauth2: replaces the password; remove password, password_file or :password@ from smtp_url"
                ));
            }
            if !has_user {
                problems.push(format!(
                    "{at}.username: oauth2 signs in as the mailbox named here (e.g. \"watcher@example.com\"); set username"
                ));
            }
        } else if has_password && !has_user {
            problems.push(format!(
                "{at}.username: a password is set but no user name (username or user@ in smtp_url)"
            ));
        }
        if has_user && !has_password && channel.oauth2.is_none() {
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
