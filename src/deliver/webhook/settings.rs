//! `kind = "webhook"`: payload v1 to one URL, optionally signed.

use std::path::PathBuf;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::WebhookChannel;
use crate::deliver::channel::{BuildContext, ChannelConfig, TextSettings};
use crate::deliver::DeliverError;
use crate::setting::secret::{Secret, SecretFiles};
use crate::setting::url::{check_secret_url, hide_url, url_secrets};

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct WebhookSettings {
    /// The receiver, http or https.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A file holding `url` (then the whole URL is treated as a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    /// `whsec_<base64>`: Standard Webhooks signing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<PathBuf>,
    /// During a rotation, the old key also signs every message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<Secret>,
    /// Let `url` be a link-local or cloud-metadata address (refused otherwise).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

impl ChannelConfig for WebhookSettings {
    type Channel = WebhookChannel;
    const RENDERS_TEXT: bool = false;

    fn check(&self, at: &str, _text: &TextSettings, problems: &mut Vec<String>) {
        match &self.url {
            None => problems.push(format!("{at}.url: a webhook channel needs url or url_file")),
            Some(url) => {
                check_secret_url(&format!("{at}.url"), url, self.allow_link_local, problems)
            }
        }
        for (key, secret) in [
            ("secret", &self.secret),
            ("previous_secret", &self.previous_secret),
        ] {
            if let Some(secret) = secret {
                if let Err(why) = check_signing_secret(secret.expose()) {
                    problems.push(format!("{at}.{key}: {why}"));
                }
            }
        }
    }

    fn warnings(&self, at: &str) -> Vec<String> {
        if self.previous_secret.is_some() && self.secret.is_none() {
            vec![format!(
                "{at}.previous_secret: set without secret; it is ignored"
            )]
        } else {
            Vec::new()
        }
    }

    fn read_secret_files(&mut self, files: &mut SecretFiles<'_>) {
        files.fill("url_file", self.url_file.as_deref(), &mut self.url);
        files.fill("secret_file", self.secret_file.as_deref(), &mut self.secret);
    }

    fn redact(&mut self) {
        hide_url(&mut self.url);
    }

    fn secrets(&self) -> Vec<String> {
        let keys = [&self.secret, &self.previous_secret];
        let keys = keys
            .into_iter()
            .flatten()
            .map(|key| key.expose().to_string());
        url_secrets(self.url.as_deref())
            .into_iter()
            .chain(keys)
            .collect()
    }

    fn build(&self, context: &BuildContext<'_>) -> Result<WebhookChannel, DeliverError> {
        WebhookChannel::new(self, context)
    }
}

/// Standard Webhooks keys: `whsec_` then the base64 of the raw key.
fn check_signing_secret(secret: &str) -> Result<(), &'static str> {
    let Some(encoded) = secret.strip_prefix("whsec_") else {
        return Err("must start with whsec_");
    };
    match base64::engine::general_purpose::STANDARD.decode(encoded) {
        Ok(key) if !key.is_empty() => Ok(()),
        Ok(_) => Err("is empty after whsec_"),
        Err(_) => Err("is not valid base64 after whsec_"),
    }
}
