//! Events (design §2) and their wire form, the generic webhook payload v1 (design §3).
//!
//! An [`Event`] serialises to payload v1 exactly; the same JSON is stored in the
//! event history and the outbox, so a redelivery sends the same bytes' content.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::observe::{Agent, CampaignStatus, Snapshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "campaign.status_changed")]
    StatusChanged,
    #[serde(rename = "campaign.upload_errors_added")]
    UploadErrorsAdded,
    #[serde(rename = "campaign.upload_errors_cleared")]
    UploadErrorsCleared,
    #[serde(rename = "campaign.settings_changed")]
    SettingsChanged,
    #[serde(rename = "campaign.not_found")]
    NotFound,
    /// A campaign announced as not found answers again (added after payload v1's
    /// first list; receivers that switch on `type` should ignore unknown ones).
    #[serde(rename = "campaign.found_again")]
    FoundAgain,
    #[serde(rename = "campaign.reminder")]
    Reminder,
    #[serde(rename = "watcher.api_unhealthy")]
    ApiUnhealthy,
    #[serde(rename = "watcher.api_recovered")]
    ApiRecovered,
    /// Sent only by `test-notify`; never produced by a cycle.
    #[serde(rename = "watcher.test")]
    Test,
    /// What a channel held during its quiet hours, sent as one message when they end.
    #[serde(rename = "watcher.quiet_hours_digest")]
    QuietHoursDigest,
    /// The state store refuses the cycle's commit (a full disk, a lost
    /// database). Sent straight to the channels, without the outbox, since the
    /// outbox is what cannot be written; at most once per episode per process.
    #[serde(rename = "watcher.store_unhealthy")]
    StoreUnhealthy,
    /// The first cycle that committed after `watcher.store_unhealthy` (through
    /// the outbox, as usual).
    #[serde(rename = "watcher.store_recovered")]
    StoreRecovered,
    // Reading and delivery health, additive to payload v1.
    /// A watched campaign could not be read for `unhealthy_after` consecutive cycles.
    #[serde(rename = "campaign.unreadable")]
    CampaignUnreadable,
    /// A campaign announced as unreadable was read again.
    #[serde(rename = "campaign.readable")]
    CampaignReadable,
    /// A channel's deliveries went dead or kept failing; sent on the other channels.
    #[serde(rename = "watcher.channel_unhealthy")]
    ChannelUnhealthy,
    /// A channel announced as unhealthy delivered again.
    #[serde(rename = "watcher.channel_recovered")]
    ChannelRecovered,
}

impl EventType {
    pub const ALL: [EventType; 17] = [
        Self::StatusChanged,
        Self::UploadErrorsAdded,
        Self::UploadErrorsCleared,
        Self::SettingsChanged,
        Self::NotFound,
        Self::FoundAgain,
        Self::Reminder,
        Self::ApiUnhealthy,
        Self::ApiRecovered,
        Self::Test,
        Self::QuietHoursDigest,
        Self::StoreUnhealthy,
        Self::StoreRecovered,
        // Reading and delivery health.
        Self::CampaignUnreadable,
        Self::CampaignReadable,
        Self::ChannelUnhealthy,
        Self::ChannelRecovered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StatusChanged => "campaign.status_changed",
            Self::UploadErrorsAdded => "campaign.upload_errors_added",
            Self::UploadErrorsCleared => "campaign.upload_errors_cleared",
            Self::SettingsChanged => "campaign.settings_changed",
            Self::NotFound => "campaign.not_found",
            Self::FoundAgain => "campaign.found_again",
            Self::Reminder => "campaign.reminder",
            Self::ApiUnhealthy => "watcher.api_unhealthy",
            Self::ApiRecovered => "watcher.api_recovered",
            Self::Test => "watcher.test",
            Self::QuietHoursDigest => "watcher.quiet_hours_digest",
            Self::StoreUnhealthy => "watcher.store_unhealthy",
            Self::StoreRecovered => "watcher.store_recovered",
            // Reading and delivery health.
            Self::CampaignUnreadable => "campaign.unreadable",
            Self::CampaignReadable => "campaign.readable",
            Self::ChannelUnhealthy => "watcher.channel_unhealthy",
            Self::ChannelRecovered => "watcher.channel_recovered",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Whether a rule or silence that names this type takes `event`. One that
    /// names `campaign.not_found` also takes `campaign.found_again`: that type
    /// came later and ends what `not_found` started (a PagerDuty incident). So do
    /// the later pairs: `campaign.unreadable` takes `campaign.readable`, and
    /// `watcher.channel_unhealthy` takes `watcher.channel_recovered`.
    pub fn covers(self, event: EventType) -> bool {
        self == event
            || (self == Self::NotFound && event == Self::FoundAgain)
            || (self == Self::CampaignUnreadable && event == Self::CampaignReadable)
            || (self == Self::ChannelUnhealthy && event == Self::ChannelRecovered)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `campaign` object of payload v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignInfo {
    pub id: String,
    pub name: String,
    pub status: CampaignStatus,
    pub previous_status: Option<CampaignStatus>,
    pub agent: Option<Agent>,
    pub caller_number: Option<String>,
}

impl CampaignInfo {
    pub fn from_snapshot(snapshot: &Snapshot, previous_status: Option<&CampaignStatus>) -> Self {
        Self {
            id: snapshot.id.clone(),
            name: snapshot.name.clone(),
            status: snapshot.status.clone(),
            previous_status: previous_status.cloned(),
            agent: snapshot.agent.clone(),
            caller_number: snapshot.caller_number.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UploadErrors {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub current: Vec<String>,
}

/// One changed setting, for `campaign.settings_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    pub from: serde_json::Value,
    pub to: serde_json::Value,
}

/// A probable cause from the API's facts (`diff::hints`): a stable `code` and
/// one sentence worded as a possible cause, never a diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Hint {
    pub code: String,
    pub text: String,
}

/// One event; serialises to the generic webhook payload, version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub version: String,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    #[serde(with = "utc_seconds")]
    pub occurred_at: DateTime<Utc>,
    pub campaign: Option<CampaignInfo>,
    pub upload_errors: UploadErrors,
    pub changes: Vec<Change>,
    pub summary: String,
    /// Probable causes, additive to payload v1: empty for events
    /// no hint applies to, and missing from events stored before it existed.
    #[serde(default)]
    pub hints: Vec<Hint>,
    /// The SigmaMind account, additive to payload v1: `"default"`
    /// for a single-account watcher, and for events stored before accounts
    /// existed; `null` for events about the whole watcher (its store, its
    /// channels, a test, a quiet-hours digest), which belong to no account.
    #[serde(default = "default_account")]
    pub account: Option<String>,
    /// The episode of a condition this event starts, continues (a reminder)
    /// or ends, additive to payload v1; left out of news (settings, a
    /// channel's health, a test) and of events stored before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentInfo>,
    /// Where people see it, additive to payload v1: set by the dispatcher as
    /// it sends, from `[http] external_url`, never stored with the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Links>,
}

/// The `links` object of payload v1: the board's page for the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    /// The campaign's page on the board, or the board for the watcher's events.
    pub board: String,
}

impl Links {
    /// The links of `event` on the board served at `external_url`. The
    /// account and campaign id are API text: each is one percent-encoded
    /// path segment, so no id can point the link elsewhere.
    pub fn on_board(external_url: &str, event: &Event) -> Self {
        use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
        // Unreserved characters stay; `.` is encoded too, so that no id is a
        // `..` segment a browser would resolve.
        const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');
        let base = external_url.trim_end_matches('/');
        let board = match (&event.campaign, event.account()) {
            (Some(campaign), Some(account)) => format!(
                "{base}/accounts/{}/campaigns/{}",
                utf8_percent_encode(account, SEGMENT),
                utf8_percent_encode(&campaign.id, SEGMENT)
            ),
            _ => format!("{base}/"),
        };
        Self { board }
    }
}

/// The `incident` object of payload v1: which episode of a condition an event
/// belongs to, and on its end how long it lasted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentInfo {
    /// `inc_` and 12 hex digits, derived from the start event's id
    /// ([`incident_id`]), so the same after a crash, a failover or a replay.
    pub id: String,
    #[serde(with = "utc_seconds")]
    pub started_at: DateTime<Utc>,
    /// From the start to this event, on the event that ends the episode only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    /// Who acknowledged the incident; null until acknowledgements exist.
    #[serde(default)]
    pub acknowledged: Option<Acknowledgement>,
    /// The escalation step this message is; null for the start itself.
    #[serde(default)]
    pub escalation: Option<Escalation>,
    /// The storm incident this episode is part of (`inc_...`); null when none.
    #[serde(default)]
    pub storm: Option<String>,
}

impl IncidentInfo {
    /// The episode that `start_event_id` started at `started_at`, as its start
    /// and reminders carry it.
    pub fn started(start_event_id: &str, started_at: DateTime<Utc>) -> Self {
        Self {
            id: incident_id(start_event_id),
            started_at,
            duration_seconds: None,
            acknowledged: None,
            escalation: None,
            storm: None,
        }
    }

    /// The same episode as its end carries it: with its duration up to `ended_at`.
    pub fn ended(mut self, ended_at: DateTime<Utc>) -> Self {
        self.duration_seconds = Some((ended_at - self.started_at).num_seconds().max(0));
        self
    }
}

/// `incident.acknowledged`: who, when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: String,
    #[serde(with = "utc_seconds")]
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

/// `incident.escalation`: the step and how long after the start it falls due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    pub step: u32,
    pub after_seconds: u64,
}

/// An incident's id: `inc_` and 12 hex digits derived from its start event's
/// id, deterministic as event ids are.
pub fn incident_id(start_event_id: &str) -> String {
    let digest = Sha256::digest(format!("incident:{start_event_id}").as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("inc_{hex}")
}

/// The account of events stored before accounts existed, and of a
/// single-account watcher's.
pub fn default_account() -> Option<String> {
    Some(DEFAULT_ACCOUNT.to_string())
}

pub const PAYLOAD_VERSION: &str = "1";

impl Event {
    /// A watcher event (`"campaign": null`): the API's, the store's or a
    /// channel's health. `id` is the caller's deterministic id.
    pub fn about_the_watcher(
        kind: EventType,
        id: String,
        occurred_at: DateTime<Utc>,
        summary: String,
    ) -> Self {
        Self {
            version: PAYLOAD_VERSION.into(),
            id,
            kind,
            occurred_at,
            campaign: None,
            upload_errors: UploadErrors::default(),
            changes: vec![],
            summary,
            hints: vec![],
            account: None,
            incident: None,
            links: None,
        }
    }

    /// The account this event is about: `None` for the whole watcher.
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// Whether this event belongs to an account other than `default`: those
    /// name their account in messages and incident keys, while `default`'s
    /// stay exactly as single-account releases made them.
    pub fn named_account(&self) -> Option<&str> {
        self.account().filter(|account| *account != DEFAULT_ACCOUNT)
    }

    /// Make this event `account`'s: the account joins the payload, and the id
    /// of every account but `default` is derived from it ([`account_event_id`]).
    /// The cycle does it exactly once, before routing, to every event it
    /// produces (twice would derive the id twice).
    pub fn assign_account(&mut self, account: &str) {
        self.id = account_event_id(account, &self.id);
        self.account = Some(account.to_string());
        // An account's API events name it where they name the API, so that a
        // text line says whose key was rejected.
        if self.campaign.is_none() && account != DEFAULT_ACCOUNT {
            self.summary = self.summary.replacen(
                "SigmaMind API",
                &format!("SigmaMind API of account {account}"),
                1,
            );
        }
    }

    /// The status transition of a `campaign.status_changed` event, as `(from, to)`.
    pub fn transition(&self) -> Option<(&CampaignStatus, &CampaignStatus)> {
        let campaign = self.campaign.as_ref()?;
        Some((campaign.previous_status.as_ref()?, &campaign.status))
    }

    /// An event about a campaign as it stands, not a transition: `previous_status`
    /// is its current status and `upload_errors.current` its current errors
    /// (`campaign.not_found`, `campaign.reminder`).
    pub fn about_standing_campaign(
        kind: EventType,
        id: String,
        snapshot: &Snapshot,
        occurred_at: DateTime<Utc>,
        summary: String,
    ) -> Self {
        Self {
            version: PAYLOAD_VERSION.into(),
            id,
            kind,
            occurred_at,
            campaign: Some(CampaignInfo::from_snapshot(
                snapshot,
                Some(&snapshot.status),
            )),
            upload_errors: UploadErrors {
                current: snapshot.upload_errors.iter().cloned().collect(),
                ..UploadErrors::default()
            },
            changes: vec![],
            summary,
            hints: vec![],
            account: default_account(),
            incident: None,
            links: None,
        }
    }

    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A deterministic event id: the same transition of the same stored state always
/// gets the same id, so a crash between sending and recording resends it unchanged.
///
/// `parts` are e.g. the campaign id, the event type, the from/to states and the
/// state's sequence number.
pub fn event_id(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("evt_{hex}")
}

/// The account of a single-account configuration; its events keep the ids,
/// incident keys and stored rows of the releases before accounts.
pub const DEFAULT_ACCOUNT: &str = "default";

/// The id of an event of `account` whose single-account id is `id`: unchanged
/// for [`DEFAULT_ACCOUNT`] (an upgrade re-keys and re-sends nothing), otherwise
/// derived from both, so one campaign id in two accounts never shares an id.
/// Still deterministic: the same transition gets the same id on a retry.
pub fn account_event_id(account: &str, id: &str) -> String {
    if account == DEFAULT_ACCOUNT {
        id.to_string()
    } else {
        event_id(&[account, id])
    }
}

/// `occurred_at` is whole seconds in UTC with a `Z`, as in the design's example.
mod utc_seconds {
    use super::*;

    pub fn serialize<S: serde::Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
