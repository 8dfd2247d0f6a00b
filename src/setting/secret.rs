//! Secrets: a value type that never shows itself, and the `*_file` keys that
//! read one from a file (systemd `LoadCredential=`, Kubernetes secrets).

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A secret value: never printed by `Debug`, `Display` or `Serialize`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The only way to read the value; call it where the secret is used, nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// Reads `*_file` keys for one section, gathering each problem under its key path.
pub struct SecretFiles<'a> {
    /// `channels.NAME`, `sigmamind`, ...
    pub at: String,
    pub credentials_dir: Option<&'a Path>,
    pub problems: &'a mut Vec<String>,
}

impl SecretFiles<'_> {
    /// Fills `value` from `file` (key `key`) unless `value` is already set: an
    /// explicit value wins, and the file is then not read at all (it may not
    /// exist on this host).
    pub fn fill<T: From<String>>(&mut self, key: &str, file: Option<&Path>, value: &mut Option<T>) {
        if value.is_some() {
            return;
        }
        if let Some(file) = file {
            match read_secret_file(file, self.credentials_dir) {
                Ok(text) => *value = Some(T::from(text)),
                Err(problem) => self.problems.push(format!("{}.{key}: {problem}", self.at)),
            }
        }
    }
}

/// Why a secret file gave no secret; names the path, never the content.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SecretFileError {
    #[error("cannot read \"{}\": {error}{}", path.display(), where_relative_names_are_read(path, *credentials_dir_set))]
    Unreadable {
        path: std::path::PathBuf,
        error: std::io::Error,
        /// Whether `$CREDENTIALS_DIRECTORY` was set (and so `path` already under it).
        credentials_dir_set: bool,
    },
    #[error("\"{}\" is empty", path.display())]
    Empty { path: std::path::PathBuf },
}

/// For a relative name read from the working directory: where the service
/// reads it instead, so that a shell on the service's host knows why it fails.
fn where_relative_names_are_read(path: &Path, credentials_dir_set: bool) -> &'static str {
    match path.is_relative() && !credentials_dir_set {
        true => " (a relative name is read from $CREDENTIALS_DIRECTORY, which systemd sets for the service only, else from the working directory; in a shell, set CREDENTIALS_DIRECTORY to where the credentials are, e.g. /etc/campaign-watcher)",
        false => "",
    }
}

/// Reads a secret file; a relative path is looked up in `$CREDENTIALS_DIRECTORY`
/// when set (systemd `LoadCredential=`), else relative to the working directory.
/// The returned problem names the path, never the content.
pub(crate) fn read_secret_file(
    file: &Path,
    credentials_dir: Option<&Path>,
) -> Result<String, SecretFileError> {
    let path = match credentials_dir {
        Some(dir) if file.is_relative() => dir.join(file),
        _ => file.to_path_buf(),
    };
    let text = std::fs::read_to_string(&path).map_err(|error| SecretFileError::Unreadable {
        path: path.clone(),
        error,
        credentials_dir_set: credentials_dir.is_some(),
    })?;
    // Editors and `echo` add a trailing newline that is not part of the secret.
    let value = text.trim_end();
    if value.is_empty() {
        return Err(SecretFileError::Empty { path });
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_relative_name_says_where_the_service_reads_it() {
        let missing = "campaign-watcher-no-such-secret";
        let outside = read_secret_file(Path::new(missing), None)
            .unwrap_err()
            .to_string();
        assert!(
            outside.starts_with(&format!("cannot read \"{missing}\": ")),
            "{outside}"
        );
        assert!(outside.contains("$CREDENTIALS_DIRECTORY"), "{outside}");
        let dir = Path::new("/nonexistent/credentials");
        let inside = read_secret_file(Path::new(missing), Some(dir))
            .unwrap_err()
            .to_string();
        assert!(!inside.contains("$CREDENTIALS_DIRECTORY"), "{inside}");
        let absolute = read_secret_file(Path::new("/nonexistent/cw/key"), None)
            .unwrap_err()
            .to_string();
        assert!(!absolute.contains("$CREDENTIALS_DIRECTORY"), "{absolute}");
    }
}
