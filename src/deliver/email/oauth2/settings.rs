//! `[channels.NAME.oauth2]`: the client-credentials grant that gets the
//! email channel its SMTP AUTH XOAUTH2 token.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::deliver::email::smtp_url::is_loopback;
use crate::setting::secret::{Secret, SecretFiles};
use crate::setting::url::{check_secret_url, redact_url};

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct OAuth2Settings {
    /// The identity provider's token endpoint, e.g.
    /// `https://login.microsoftonline.com/<tenant id>/oauth2/v2.0/token`.
    /// https, or http to a loopback host only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// The application (client) id of the app registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The client secret (a secret; prefer `client_secret_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    /// The scope asked for, e.g. `https://outlook.office365.com/.default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Let `token_url` be a link-local or cloud-metadata address (refused otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

impl OAuth2Settings {
    /// Every problem of the table, each starting with `at` (`channels.NAME.oauth2`).
    pub fn check(&self, at: &str, problems: &mut Vec<String>) {
        match self.token_url.as_deref() {
            None => problems.push(format!(
                "{at}.token_url: missing; the identity provider's token endpoint, e.g. https://login.microsoftonline.com/<tenant id>/oauth2/v2.0/token"
            )),
            Some(url) => {
                let before = problems.len();
                check_secret_url(&format!("{at}.token_url"), url, self.allow_link_local, problems);
                if problems.len() == before {
                    if let Err(why) = check_token_url_scheme(url) {
                        problems.push(format!("{at}.token_url: {why}"));
                    }
                }
            }
        }
        if !matches!(self.client_id.as_deref(), Some(id) if !id.trim().is_empty()) {
            problems.push(format!(
                "{at}.client_id: missing; the application (client) id of the app registration"
            ));
        }
        match &self.client_secret {
            None => problems.push(format!(
                "{at}.client_secret_file: missing; the app registration's client secret (client_secret_file, or client_secret)"
            )),
            Some(secret) if secret.expose().trim().is_empty() => {
                problems.push(format!("{at}.client_secret: is empty"))
            }
            Some(_) => {}
        }
        if self
            .scope
            .as_deref()
            .is_some_and(|scope| scope.trim().is_empty())
        {
            problems.push(format!(
                "{at}.scope: is empty; leave it out, or name the scope (Microsoft 365: https://outlook.office365.com/.default)"
            ));
        }
    }

    pub fn read_secret_files(&mut self, files: &mut SecretFiles<'_>) {
        files.fill(
            "oauth2.client_secret_file",
            self.client_secret_file.as_deref(),
            &mut self.client_secret,
        );
    }

    pub fn redact(&mut self) {
        if let Some(url) = self.token_url.as_mut() {
            *url = redact_url(url);
        }
    }

    /// The client secret, and a password in `token_url`'s userinfo.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self
            .client_secret
            .iter()
            .map(|secret| secret.expose().trim().to_string())
            .collect();
        let in_url = self
            .token_url
            .as_deref()
            .and_then(|url| reqwest::Url::parse(url.trim()).ok())
            .and_then(|url| url.password().map(str::to_string));
        secrets.extend(in_url);
        secrets
    }
}

/// The client secret travels in the request body and the token comes back in
/// the answer: both need TLS, unless the endpoint is on this host.
pub(crate) fn check_token_url_scheme(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| format!("is not a URL ({e})"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = parsed.host_str().unwrap_or_default();
            if is_loopback(host) {
                Ok(())
            } else {
                Err(format!(
                    "is plain http:// to \"{host}\", which would send the client secret and the token unencrypted; use https:// (http:// is only for loopback hosts)"
                ))
            }
        }
        other => Err(format!("has scheme \"{other}\"; use https://")),
    }
}
