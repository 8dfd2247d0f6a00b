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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Agent {
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
}

/// One campaign as the watcher understands it, independent of the API's shape drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
