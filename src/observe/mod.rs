//! Step 2 of the pipeline: every answer from the API becomes an [`Observation`].
//!
//! A [`Snapshot`] is the normalised campaign: tolerant of every shape variation
//! in the API notes, and holding only what the diff compares and the alerts show.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `campaignStatus`, with a catch-all so a new status in the API never fails a fetch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CampaignStatus {
    Live,
    Scheduled,
    Paused,
    Completed,
    /// A status the API documents nowhere; kept verbatim so it can be alerted on.
    Unknown(String),
}

impl CampaignStatus {
    /// The statuses SigmaMind documents, in the order people read them.
    pub const ALL: [CampaignStatus; 4] =
        [Self::Live, Self::Scheduled, Self::Paused, Self::Completed];

    /// How [`CampaignStatus::ALL`] are spelled, in that order.
    pub const SPELLINGS: [&'static str; 4] = {
        let mut spellings = [""; 4];
        let mut index = 0;
        while index < spellings.len() {
            spellings[index] = match Self::ALL[index].documented() {
                Some(spelling) => spelling,
                None => panic!("ALL holds documented statuses only"),
            };
            index += 1;
        }
        spellings
    };

    /// Case-insensitive parse; anything unrecognised is kept as `Unknown`.
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        Self::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(text))
            .unwrap_or_else(|| Self::Unknown(text.to_string()))
    }

    /// The documented spelling; `None` for a status the API invented.
    pub const fn documented(&self) -> Option<&'static str> {
        match self {
            Self::Live => Some("live"),
            Self::Scheduled => Some("scheduled"),
            Self::Paused => Some("paused"),
            Self::Completed => Some("completed"),
            Self::Unknown(_) => None,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Unknown(text) => text,
            documented => documented.documented().unwrap_or_default(),
        }
    }
}

/// A status written in the configuration that SigmaMind does not document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{}\" is not one of {}", .0, CampaignStatus::SPELLINGS.join(", "))]
pub struct UndocumentedStatus(pub String);

/// Exactly a documented spelling, as the configuration writes it (the API's
/// own text goes through the lenient [`CampaignStatus::parse`]).
impl FromStr for CampaignStatus {
    type Err = UndocumentedStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| UndocumentedStatus(text.to_string()))
    }
}

impl fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CampaignStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CampaignStatus {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Self::parse(&text))
    }
}

/// The embedded agent: `{name, agentId, status}`; `status` is free-form text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Agent {
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
}

/// One campaign as the watcher understands it, independent of the API's shape drift.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: String,
    pub name: String,
    pub status: CampaignStatus,
    /// CSV upload errors as a set: order and duplicates in the API answer don't matter.
    pub upload_errors: BTreeSet<String>,
    pub agent: Option<Agent>,
    /// Normalised caller number (`+` and digits when the API gave a bare number).
    pub caller_number: Option<String>,
    /// `phoneNumber.active`; none when the API sent no phone-number object or
    /// no flag. Left out of the stored JSON when none, so states written
    /// before it existed read back unchanged (see [`Snapshot::learn_unrecorded`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_active: Option<bool>,
    pub concurrent_calls: Option<i64>,
    /// `scheduledDate` as sent (its format varies between API versions).
    pub scheduled_date: Option<String>,
}

impl Snapshot {
    /// A 64-bit digest of everything the diff compares, stable for the life of
    /// the process: equal snapshots always agree, and different ones collide with
    /// odds of about 1 in 2^64, so a large account can be remembered by digest.
    /// Never stored: it is keyed afresh in every process.
    pub fn fingerprint(&self) -> u64 {
        use std::hash::BuildHasher;
        // SipHash with a random key per process: names and upload errors come
        // from outside, and a known key would let someone craft a collision
        // that hides a change.
        static KEY: std::sync::OnceLock<std::collections::hash_map::RandomState> =
            std::sync::OnceLock::new();
        KEY.get_or_init(Default::default).hash_one(self)
    }

    /// Takes from `seen` the facts this snapshot never recorded: a state
    /// written by a release before they existed lacks them, and its first
    /// reading by this one is a baseline for them, not a change (no event,
    /// no sequence bump, so event ids stay those the old release would give).
    /// Returns whether anything was learnt.
    pub fn learn_unrecorded(&mut self, seen: &Snapshot) -> bool {
        if self.caller_active.is_none() && seen.caller_active.is_some() {
            self.caller_active = seen.caller_active;
            return true;
        }
        false
    }
}

/// Why a campaign could not be read this cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchFailure {
    /// One sentence, safe to log (never contains the API key).
    pub reason: String,
    /// The API rejected the key (401/403): raise `watcher.api_unhealthy` at once.
    pub auth_rejected: bool,
}

/// What one fetch of one campaign told us. A failure never reads as "all clear".
// `Found` is nearly every observation: boxing it would allocate once per
// campaign per cycle to shrink the rare other variants.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    Found(Snapshot),
    /// A direct GET answered 404 (never inferred from a missing list entry).
    NotFound,
    Failed(FetchFailure),
}

#[cfg(test)]
mod tests;
