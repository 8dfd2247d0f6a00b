//! How the `http` kind keeps its secrets out of sight: stand-ins for checks
//! and `render`, the real values only in the request, and every spelling of
//! them scrubbed from what comes back.

use std::collections::BTreeMap;

use super::HttpChannelSettings;

/// A stand-in for each secret, for checks and `render`: only lower-case
/// letters, digits and `_`, so it is escaped nowhere, survives a URL host
/// (which is lower-cased) and is found again after rendering.
pub(super) fn stand_ins(names: impl IntoIterator<Item = String>) -> BTreeMap<String, String> {
    names
        .into_iter()
        .map(|name| {
            let stand_in = format!("secretstandin_{}_end", name.to_ascii_lowercase());
            (name, stand_in)
        })
        .collect()
}

/// `text` with every secret value shown as `<secret NAME>`: as written,
/// lower-cased (a URL host) and percent-encoded (a URL).
pub(super) fn name_secrets(text: &str, secrets: &BTreeMap<String, String>) -> String {
    let mut spellings: Vec<(String, &str)> = Vec::new();
    for (name, value) in secrets.iter().filter(|(_, value)| !value.is_empty()) {
        let encoded = crate::text::url_component(value);
        for spelling in [
            value.clone(),
            value.to_lowercase(),
            encoded.to_lowercase(),
            encoded,
        ] {
            spellings.push((spelling, name));
        }
    }
    // The longest first: a secret containing another is named whole.
    spellings.sort_by_key(|(spelling, _)| std::cmp::Reverse(spelling.len()));
    spellings
        .into_iter()
        .fold(text.to_string(), |text, (spelling, name)| {
            text.replace(&spelling, &format!("<secret {name}>"))
        })
}

/// Every spelling of the secrets that may reach an error text, for a [`crate::outbound::Scrubber`].
pub(super) fn scrubbed_spellings(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|value| [value.clone(), value.to_lowercase()])
        .collect()
}

pub(super) fn show_stand_ins(text: &str, stand_ins: &BTreeMap<String, String>) -> String {
    stand_ins
        .iter()
        .fold(text.to_string(), |text, (name, stand_in)| {
            text.replace(stand_in, &format!("<secret {name}>"))
        })
}

/// Stand-ins for every configured secret, read or not.
pub(super) fn settings_stand_ins(settings: &HttpChannelSettings) -> BTreeMap<String, String> {
    stand_ins(
        settings
            .secrets
            .keys()
            .chain(settings.secret_files.keys())
            .cloned(),
    )
}

/// The secrets' real values, when every one configured has been read.
pub(super) fn real_secrets(settings: &HttpChannelSettings) -> Option<BTreeMap<String, String>> {
    let complete = settings
        .secret_files
        .keys()
        .all(|name| settings.secrets.contains_key(name));
    complete.then(|| {
        settings
            .secrets
            .iter()
            .map(|(name, value)| (name.clone(), value.expose().to_string()))
            .collect()
    })
}
