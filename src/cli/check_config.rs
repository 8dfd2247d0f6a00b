//! `check-config`: validate the configuration and print it with secrets redacted.

use std::path::Path;

use super::failure::Failure;
use crate::config::{ConfigError, Settings};

pub(super) fn check_config(config: &Path) -> Result<(), Failure> {
    let settings = Settings::load(config)?;
    if let Err(problems) = settings.validate() {
        return Err(ConfigError::invalid(config.display().to_string(), problems).into());
    }
    for warning in settings.warnings() {
        super::output::complain(&format!("warning: {warning}"));
    }
    super::output::verbatim(&settings.to_redacted_toml());
    super::output::complain(&format!("{}: the configuration is valid", config.display()));
    Ok(())
}
