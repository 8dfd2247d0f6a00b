//! Step 2 of the pipeline: every answer from the API becomes an [`Observation`].
//!
//! A [`Snapshot`] is the normalised campaign: tolerant of every shape variation
//! in the API notes, and holding only what the diff compares and the alerts show.

use std::collections::BTreeSet;
use std::fmt;

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
    /// Case-insensitive parse; anything unrecognised is kept as `Unknown`.
    pub fn parse(text: &str) -> Self {
        match text.trim().to_ascii_lowercase().as_str() {
            "live" => Self::Live,
            "scheduled" => Self::Scheduled,
            "paused" => Self::Paused,
            "completed" => Self::Completed,
            _ => Self::Unknown(text.trim().to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Live => "live",
            Self::Scheduled => "scheduled",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Unknown(text) => text,
        }
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    Found(Snapshot),
    /// A direct GET answered 404 (never inferred from a missing list entry).
    NotFound,
    Failed(FetchFailure),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            id: "camp_1".into(),
            name: "Q4 Outreach".into(),
            status: CampaignStatus::Live,
            upload_errors: BTreeSet::from(["Row 7: invalid phone number".to_string()]),
            agent: Some(Agent {
                id: Some("ag_1".into()),
                name: Some("Caller Bot".into()),
                status: Some("Live".into()),
            }),
            caller_number: Some("+15550000001".into()),
            concurrent_calls: Some(2),
            scheduled_date: None,
        }
    }

    /// The watcher remembers campaigns by fingerprint: every field the diff
    /// compares must move it, and an equal snapshot must reproduce it.
    #[test]
    fn the_fingerprint_follows_every_compared_field() {
        let base = snapshot();
        assert_eq!(base.fingerprint(), snapshot().fingerprint());
        type Change = fn(&mut Snapshot);
        let changes: [(&str, Change); 9] = [
            ("status", |s| s.status = CampaignStatus::Paused),
            ("unknown status", |s| {
                s.status = CampaignStatus::Unknown("archived".into())
            }),
            ("name", |s| s.name.push('!')),
            ("an upload error added", |s| {
                s.upload_errors.insert("Row 9: duplicate".into());
            }),
            ("upload errors cleared", |s| s.upload_errors.clear()),
            ("agent status", |s| {
                s.agent.as_mut().unwrap().status = Some("Testing".into())
            }),
            ("caller number", |s| s.caller_number = None),
            ("concurrent calls", |s| s.concurrent_calls = Some(3)),
            ("scheduled date", |s| {
                s.scheduled_date = Some("2027-03-02T09:30:00.000Z".into())
            }),
        ];
        for (what, change) in changes {
            let mut changed = snapshot();
            change(&mut changed);
            assert_ne!(changed.fingerprint(), base.fingerprint(), "{what}");
        }
        // Neighbouring fields cannot trade content and keep the digest.
        let mut swapped = snapshot();
        swapped.name = "camp_1".into();
        swapped.id = "Q4 Outreach".into();
        assert_ne!(swapped.fingerprint(), base.fingerprint());
    }
}
