//! The effective configuration for `check-config`, safe to paste into a ticket.

use super::Settings;
use crate::setting::url::{redact_url, url_secrets};

impl Settings {
    /// The effective configuration as TOML: secrets shown as `"<redacted>"`,
    /// credentials inside URLs replaced, durations in humantime form ("10s", "1day").
    /// A channel URL read from `url_file` is hidden entirely: it was put in a file
    /// because the whole URL is the credential (Slack-style hooks).
    pub fn to_redacted_toml(&self) -> String {
        // Redacting a copy and serialising the structs (not a `toml::Value`, whose
        // tables are sorted) keeps the sections in the documented order.
        let mut shown = self.clone();
        shown.sigmamind.base_url = redact_url(&shown.sigmamind.base_url);
        for account in shown.sigmamind.accounts.values_mut() {
            if let Some(base_url) = &mut account.base_url {
                *base_url = redact_url(base_url);
            }
        }
        shown.state.url = redact_url(&shown.state.url);
        // "Effective": show the 60s fallback the scheduler will actually use.
        if shown.watch.schedule.is_none() {
            shown.watch.interval = Some(shown.watch.effective_interval());
        }
        crate::setting::url::hide_url(&mut shown.heartbeat.url);
        for channel in shown.channels.values_mut() {
            *channel = channel.redacted();
        }
        toml::to_string(&shown)
            .unwrap_or_else(|error| format!("# the configuration could not be rendered: {error}\n"))
    }

    /// [`Settings::to_redacted_toml`], each duration spelled as `written` (the
    /// configuration file's text) spells it: an operator who wrote `24h` reads
    /// `24h` back, not `1day`. Defaults and environment values get the
    /// plainest exact spelling (`90d`, not `2months 29days 2h 52m 48s`), and a
    /// whole rate reads as a whole number (`10`, not `10.0`).
    pub fn to_redacted_toml_as_written(&self, written: &str) -> String {
        let rendered = self.to_redacted_toml();
        let original = written.parse::<toml::Table>().unwrap_or_default();
        durations_as_written(&rendered, &original)
    }

    /// Every configured secret value: the API key, the database password, the
    /// secret parts of the heartbeat URL, and each channel's keys and URL
    /// secrets. Whatever a server answers is scrubbed of all of them.
    pub fn secret_values(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self
            .sigmamind
            .api_key
            .iter()
            .map(|key| key.expose().to_string())
            .collect();
        for account in self.sigmamind.accounts.values() {
            secrets.extend(account.api_key.iter().map(|key| key.expose().to_string()));
        }
        secrets.extend(
            reqwest::Url::parse(&self.state.url)
                .ok()
                .and_then(|url| url.password().map(str::to_string)),
        );
        secrets.extend(url_secrets(self.heartbeat.url.as_deref()));
        for channel in self.channels.values() {
            secrets.extend(channel.kind.secrets());
        }
        for user in self.http.users.values() {
            secrets.push(user.password_hash.expose().to_string());
        }
        for token in self.http.tokens.values() {
            if let super::TokenValue::Read(value) = &token.token {
                secrets.push(value.expose().to_string());
            }
        }
        secrets
    }
}

/// `key = "1day"` lines of `rendered` replaced by the spelling `original` has
/// at the same section and key, when both parse to the same duration. Only
/// durations: no other value (and so no secret) is ever taken from the file.
fn durations_as_written(rendered: &str, original: &toml::Table) -> String {
    let mut section: Vec<String> = Vec::new();
    let mut out = String::with_capacity(rendered.len());
    for line in rendered.lines() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            section = header
                .trim_matches(|c| c == '[' || c == ']')
                .split('.')
                .map(|part| part.trim().trim_matches('"').to_string())
                .collect();
        } else if let Some(shown) = written_duration(trimmed, &section, original)
            .or_else(|| plain_duration_of(trimmed))
            .map(toml::Value::String)
            .or_else(|| whole_number_of(trimmed))
        {
            let key = trimmed.split('=').next().unwrap_or_default().trim_end();
            out.push_str(&format!("{key} = {shown}\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A duration as humantime writes it (`2months 29days 2h 52m 48s`, which is
/// `90d`) in its plainest exact spelling: the largest of d, h, m, s and ms
/// that divides it. Only a value humantime would write that way is taken, so
/// a text that merely parses as a duration is left as it is.
fn plain_duration_of(line: &str) -> Option<String> {
    let (_, value) = line.split_once('=')?;
    let shown = value.trim().strip_prefix('"')?.strip_suffix('"')?;
    let parsed = humantime::parse_duration(shown).ok()?;
    (humantime::format_duration(parsed).to_string() == shown).then(|| plain_duration(parsed))
}

/// `90d`, `24h`, `90m`, `60s`, `250ms`, `0s`: one number and one unit.
pub(crate) fn plain_duration(duration: std::time::Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_string();
    }
    const UNITS: [(&str, u128); 5] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let exact = (duration.subsec_nanos() % 1_000_000 == 0)
        .then(|| UNITS.iter().find(|(_, size)| millis % size == 0))
        .flatten();
    match exact {
        Some((unit, size)) => format!("{}{unit}", millis / size),
        // Below a millisecond: humantime's own spelling is exact.
        None => humantime::format_duration(duration).to_string(),
    }
}

/// `10.0` as `10`: a float with no fraction written as the whole number it
/// is (the file may give a rate either way).
fn whole_number_of(line: &str) -> Option<toml::Value> {
    let (_, value) = line.split_once('=')?;
    let value = value.trim();
    if !value.contains('.') {
        return None;
    }
    let number: f64 = value.parse().ok()?;
    let whole = number.is_finite() && number.fract() == 0.0 && number.abs() < 1e15;
    whole.then_some(toml::Value::Integer(number as i64))
}

fn written_duration(line: &str, section: &[String], original: &toml::Table) -> Option<String> {
    let (key, value) = line.split_once('=')?;
    let shown = value.trim().strip_prefix('"')?.strip_suffix('"')?;
    let shown = humantime::parse_duration(shown).ok()?;
    let mut table = original;
    for part in section {
        table = table.get(part)?.as_table()?;
    }
    let written = table.get(key.trim().trim_matches('"'))?.as_str()?;
    (humantime::parse_duration(written.trim()).ok()? == shown).then(|| written.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only what applies: no `[heartbeat]` section when no heartbeat is set.
    #[test]
    fn an_unset_heartbeat_is_left_out() {
        let base = "[sigmamind]\napi_key = \"k\"\n[watch]\ncampaigns = [\"c\"]\n";
        let without = Settings::load_from_str(base, "test").unwrap();
        assert!(!without.to_redacted_toml().contains("[heartbeat]"));
        let with = Settings::load_from_str(
            &format!("{base}[heartbeat]\nurl = \"https://hc.example/ping/abc\"\n"),
            "test",
        )
        .unwrap();
        assert!(with.to_redacted_toml().contains("[heartbeat]"));
    }

    #[test]
    fn durations_keep_the_spelling_of_the_file() {
        let original: toml::Table = r#"
            [watch]
            interval = "24h"
            [channels.pager]
            max_age = "90m"
            timeout = "bogus"
            subject = "1h 30m"
            [sigmamind]
            api_key = "1s"
        "#
        .parse()
        .unwrap();
        let cases = [
            // The file's spelling of the same duration wins.
            (
                "[watch]\ninterval = \"1day\"\n",
                "[watch]\ninterval = \"24h\"\n",
            ),
            (
                "[channels.pager]\nmax_age = \"1h 30m\"\n",
                "[channels.pager]\nmax_age = \"90m\"\n",
            ),
            // A default the file does not set, or a different value (an env
            // override): the plainest exact spelling.
            (
                "[channels.pager]\nretry_max_backoff = \"10m\"\n",
                "[channels.pager]\nretry_max_backoff = \"10m\"\n",
            ),
            (
                "[watch]\ninterval = \"2days\"\n",
                "[watch]\ninterval = \"2d\"\n",
            ),
            (
                "[state]\nretention = \"2months 29days 2h 52m 48s\"\n",
                "[state]\nretention = \"90d\"\n",
            ),
            (
                "[sigmamind]\nretry_base = \"250ms\"\n",
                "[sigmamind]\nretry_base = \"250ms\"\n",
            ),
            (
                "[channels.pager]\nmax_age = \"1h 30m 5s\"\n",
                "[channels.pager]\nmax_age = \"5405s\"\n",
            ),
            // A whole rate as a whole number; a fraction, a text and an
            // array stay as they are.
            (
                "[sigmamind]\nmax_requests_per_second = 5.0\n",
                "[sigmamind]\nmax_requests_per_second = 5\n",
            ),
            (
                "[sigmamind]\nmax_requests_per_second = 2.5\n",
                "[sigmamind]\nmax_requests_per_second = 2.5\n",
            ),
            (
                "[channels.pager]\nsubject = \"1.0\"\n",
                "[channels.pager]\nsubject = \"1.0\"\n",
            ),
            // A text of the file that parses as a duration stays as written.
            (
                "[channels.pager]\nsubject = \"1h 30m\"\n",
                "[channels.pager]\nsubject = \"1h 30m\"\n",
            ),
            // Not a duration in the output: never taken from the file.
            (
                "[sigmamind]\napi_key = \"<redacted>\"\n",
                "[sigmamind]\napi_key = \"<redacted>\"\n",
            ),
            (
                "[channels.pager]\ntimeout = \"15s\"\n",
                "[channels.pager]\ntimeout = \"15s\"\n",
            ),
            // Same key in another section.
            (
                "[http]\ninterval = \"1day\"\n",
                "[http]\ninterval = \"1d\"\n",
            ),
        ];
        for (rendered, expected) in cases {
            assert_eq!(
                durations_as_written(rendered, &original),
                expected,
                "{rendered}"
            );
        }
    }
}
