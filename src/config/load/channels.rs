//! `[channels.NAME]`: `kind` is read first, then the kind's own struct, the
//! text struct and the shared struct each get the keys that belong to them,
//! so unknown keys are still found by serde's field lists and environment
//! strings are still typed by the config crate. A key of another kind names
//! the kinds that take it.

use std::collections::{BTreeMap, BTreeSet};

use ::config::{Map, Value, ValueKind};

use super::{env_source, sorted_keys, typed, typed_with, unknown};
use crate::config::{ChannelKind, ChannelSettings, SharedSettings, TextSettings};
use crate::setting::fields::struct_fields;
use crate::setting::suggest::{closest, did_you_mean};

/// `channels.NAME.KEY` where some kind declares KEY a list (email's `to`).
pub(super) fn is_channel_list_key(key: &str) -> bool {
    let mut parts = key.split('.');
    let (Some("channels"), Some(_), Some(leaf), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    ChannelKind::ALL
        .iter()
        .any(|kind| kind.list_keys().contains(&leaf))
}

/// The keys of one channel: `kind`, the kind's own, the shared ones and, when
/// it renders text, the text ones. A key of another kind names the kinds it
/// belongs to; any other unknown key gets "did you mean". Without a usable
/// `kind` every channel key is accepted here and the kind is reported when typed.
pub(super) fn prune_channel(
    channel: &mut Map<String, Value>,
    at: &str,
    env_names: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) {
    let every_key = all_channel_keys();
    let kind = channel_kind(channel).and_then(|name| ChannelKind::parse(&name));
    let known: Vec<&str> = match kind {
        Some(kind) => channel_keys(kind),
        None => every_key.clone(),
    };
    for key in sorted_keys(channel) {
        if known.contains(&key.as_str()) {
            continue;
        }
        let path = format!("{at}.{key}");
        let mut text = match kind {
            Some(kind) if every_key.contains(&key.as_str()) => {
                let owners: Vec<&str> = ChannelKind::ALL
                    .iter()
                    .filter(|other| channel_keys(**other).contains(&key.as_str()))
                    .map(|other| other.as_str())
                    .collect();
                format!(
                    "{path}: is a key of {} channels; this channel is kind \"{kind}\"",
                    list_words(&owners)
                )
            }
            _ => {
                let near = if closest(&key, &known).is_some() {
                    &known
                } else {
                    &every_key
                };
                unknown("key", &path, near, &key, &BTreeMap::new())
            }
        };
        if let Some(name) = env_source(&path, env_names) {
            text.push_str(&format!(" (set by environment variable {name})"));
        }
        problems.push(text);
        channel.remove(&key);
    }
}

/// `kind` as written, when it is a string.
fn channel_kind(channel: &Map<String, Value>) -> Option<String> {
    match &channel.get("kind")?.kind {
        ValueKind::String(name) => Some(name.clone()),
        _ => None,
    }
}

/// Every key a channel of `kind` takes.
fn channel_keys(kind: ChannelKind) -> Vec<&'static str> {
    let mut keys = vec!["kind"];
    keys.extend_from_slice(kind.own_keys());
    if kind.renders_text() {
        keys.extend_from_slice(struct_fields::<TextSettings>());
    }
    keys.extend_from_slice(struct_fields::<SharedSettings>());
    keys
}

/// Every key some channel kind takes.
fn all_channel_keys() -> Vec<&'static str> {
    let keys: BTreeSet<&'static str> = ChannelKind::ALL
        .iter()
        .flat_map(|kind| channel_keys(*kind))
        .collect();
    keys.into_iter().collect()
}

/// `a`, `a and b`, `a, b and c`.
fn list_words(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [only] => only.to_string(),
        [head @ .., last] => format!("{} and {last}", head.join(", ")),
    }
}

/// `[channels]`: each channel typed by its `kind`, problems gathered.
pub(super) fn typed_channels(
    value: Value,
    env_names: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> BTreeMap<String, ChannelSettings> {
    let mut typed_channels = BTreeMap::new();
    match value.kind {
        ValueKind::Table(channels) => {
            let channels: BTreeMap<String, Value> = channels.into_iter().collect();
            for (name, channel) in channels {
                let at = format!("channels.{name}");
                if let Some(channel) = typed_channel(channel, &at, env_names, problems) {
                    typed_channels.insert(name, channel);
                }
            }
        }
        ValueKind::Nil => {}
        _ => problems.push(
            "channels: expected a table of channels ([channels.NAME] with kind = \"...\")"
                .to_string(),
        ),
    }
    typed_channels
}

/// Reads `kind` first, then hands the kind's struct, the text struct and the
/// shared struct each its own keys (already pruned to those by
/// [`prune_channel`]), so the config crate still types environment strings.
fn typed_channel(
    value: Value,
    at: &str,
    env_names: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> Option<ChannelSettings> {
    let origin = value.origin().map(str::to_string);
    let mut table = match value.kind {
        ValueKind::Table(table) => table,
        _ => {
            problems.push(format!(
                "{at}: expected a table ([{at}] with kind = \"...\")"
            ));
            return None;
        }
    };
    prune_channel(&mut table, at, env_names, problems);
    let Some(kind) = table.remove("kind") else {
        problems.push(format!("{at}.kind: missing required key"));
        return None;
    };
    let name: String = typed(kind, &format!("{at}.kind"), env_names, problems)?;
    let Some(kind) = ChannelKind::parse(&name) else {
        let known: Vec<&str> = ChannelKind::ALL.iter().map(|kind| kind.as_str()).collect();
        problems.push(format!(
            "{at}.kind: unknown channel kind \"{name}\"{} (known: {})",
            did_you_mean(&name, &known),
            known.join(", ")
        ));
        return None;
    };
    let mut part = |keys: &[&str]| {
        let part: Map<String, Value> = keys
            .iter()
            .filter_map(|key| Some((key.to_string(), table.remove(*key)?)))
            .collect();
        Value::new(origin.as_ref(), part)
    };
    let own = part(kind.own_keys());
    let text = part(struct_fields::<TextSettings>());
    let shared = part(struct_fields::<SharedSettings>());
    let own = typed_with(own, at, env_names, problems, |own| kind.deserialize(own));
    let text = typed(text, at, env_names, problems);
    let shared = typed(shared, at, env_names, problems);
    Some(ChannelSettings {
        kind: own?,
        text: text?,
        shared: shared?,
    })
}

/// `Settings.channels` when `Settings` is deserialized directly: the same
/// kind-first typing, every problem in one error.
pub(in crate::config) fn channels_from_tables<'de, D>(
    deserializer: D,
) -> Result<BTreeMap<String, ChannelSettings>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = <Value as serde::Deserialize>::deserialize(deserializer)?;
    let mut problems = Vec::new();
    let channels = typed_channels(value, &BTreeMap::new(), &mut problems);
    if problems.is_empty() {
        Ok(channels)
    } else {
        Err(serde::de::Error::custom(problems.join("; ")))
    }
}
