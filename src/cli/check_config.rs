//! `check-config`: validate the configuration and print it with secrets redacted;
//! with `--online`, also ask the SigmaMind API once whether the key opens the account.

use std::path::Path;

use super::failure::Failure;
use crate::config::{ConfigError, Settings};
use crate::fetch::SigmaMindClient;

pub(super) async fn check_config(config: &Path, online: bool) -> Result<(), Failure> {
    let settings = Settings::load(config)?;
    if let Err(problems) = settings.validate() {
        return Err(ConfigError::invalid(config.display().to_string(), problems).into());
    }
    for warning in settings.warnings() {
        super::output::complain(&format!("warning: {warning}"));
    }
    let written = std::fs::read_to_string(config).unwrap_or_default();
    super::output::verbatim(&settings.to_redacted_toml_as_written(&written));
    super::output::complain(&format!("{}: the configuration is valid", config.display()));
    if online {
        check_online(&settings).await?;
    }
    Ok(())
}

/// One request per account; no state is opened or written and nothing is sent.
async fn check_online(settings: &Settings) -> Result<(), Failure> {
    let Some(api_key) = settings.sigmamind.api_key.clone() else {
        return Err(Failure::usage(
            "sigmamind.api_key: no API key to check: set api_key, api_key_file or SIGMAMIND_API_KEY",
        ));
    };
    let client = SigmaMindClient::new(&settings.sigmamind, api_key)
        .map_err(|error| Failure::usage(error.to_string()))?
        .with_secrets(settings.secret_values());
    match client.check_access().await {
        Ok(count) => {
            let campaigns = count.map_or(String::new(), |count| format!(" ({count} campaigns)"));
            super::output::complain(&format!(
                "the SigmaMind API at {} accepts the key{campaigns}",
                origin(&settings.sigmamind.base_url)
            ));
            Ok(())
        }
        Err(error) => Err(Failure::runtime(format!(
            "the configuration is valid, but {error}"
        ))),
    }
}

/// Scheme, host and port of the base URL: never a path or credentials.
fn origin(base_url: &str) -> String {
    reqwest::Url::parse(base_url)
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_else(|_| "the configured base_url".into())
}
