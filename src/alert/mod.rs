//! Alerting conditions: what incident-style targets (PagerDuty, Alertmanager)
//! open and close, derived purely from events and from stored state.
//!
//! An event either starts a condition (a campaign is paused), ends one (it goes
//! live again, or completes), or is only news (settings changed). Severity is a
//! property of the condition, not of the event, so the resolve of a condition
//! carries the same severity (and so the same Alertmanager label set) as its
//! trigger.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::event::{Event, EventType};
use crate::observe::CampaignStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Condition {
    Paused,
    UploadErrors,
    NotFound,
    ApiUnhealthy,
    StoreUnhealthy,
    /// A campaign cannot be read.
    Unreadable,
}

impl Condition {
    pub const ALL: [Condition; 6] = [
        Self::Paused,
        Self::UploadErrors,
        Self::NotFound,
        Self::ApiUnhealthy,
        Self::StoreUnhealthy,
        Self::Unreadable,
    ];

    /// The name used in `severity` keys and in PagerDuty dedup keys.
    pub fn key(self) -> &'static str {
        match self {
            Self::Paused => "paused",
            Self::UploadErrors => "upload_errors",
            Self::NotFound => "not_found",
            Self::ApiUnhealthy => "api_unhealthy",
            Self::StoreUnhealthy => "store_unhealthy",
            Self::Unreadable => "unreadable",
        }
    }

    /// The event type that starts it (accepted as a `severity` key too).
    pub fn starting_event(self) -> EventType {
        match self {
            Self::Paused => EventType::StatusChanged,
            Self::UploadErrors => EventType::UploadErrorsAdded,
            Self::NotFound => EventType::NotFound,
            Self::ApiUnhealthy => EventType::ApiUnhealthy,
            Self::StoreUnhealthy => EventType::StoreUnhealthy,
            Self::Unreadable => EventType::CampaignUnreadable,
        }
    }

    pub fn alertname(self) -> &'static str {
        match self {
            Self::Paused => "CampaignPaused",
            Self::UploadErrors => "CampaignUploadErrors",
            Self::NotFound => "CampaignNotFound",
            Self::ApiUnhealthy => "SigmaMindApiUnhealthy",
            Self::StoreUnhealthy => "CampaignWatcherStoreUnhealthy",
            Self::Unreadable => "CampaignUnreadable",
        }
    }

    pub fn default_severity(self) -> Severity {
        match self {
            Self::Paused | Self::UploadErrors | Self::Unreadable => Severity::Warning,
            Self::NotFound => Severity::Error,
            Self::ApiUnhealthy | Self::StoreUnhealthy => Severity::Critical,
        }
    }

    /// `paused`, or the event type that starts the condition.
    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|condition| condition.key() == key || condition.starting_event().as_str() == key)
    }

    /// Deterministic per account, campaign and condition, so a retry or a
    /// reminder collapses into the open incident and a later resolve finds
    /// it. `account` is the event's account unless it is `default`
    /// ([`crate::event::Event::named_account`]): `default`'s keys are those of
    /// single-account releases, so an upgrade re-keys no open incident, and
    /// every other account's start `campaign-watcher@NAME/`, so two accounts
    /// never resolve each other's incidents.
    pub fn dedup_key(self, account: Option<&str>, campaign_id: Option<&str>) -> String {
        let source = match account {
            Some(account) => format!("campaign-watcher@{account}"),
            None => "campaign-watcher".to_string(),
        };
        match campaign_id {
            Some(id) => format!("{source}/{id}/{}", self.key()),
            None => format!("{source}/watcher/{}", self.key()),
        }
    }

    /// One line for people, the same whoever posts it (event or re-post).
    pub fn summary(self, campaign: Option<(&str, &str)>) -> String {
        let label = match campaign {
            Some((id, name)) if !name.trim().is_empty() => format!("{name} ({id})"),
            Some((id, _)) => id.to_string(),
            None => String::new(),
        };
        match self {
            Self::Paused => format!("Campaign {label} is paused"),
            Self::UploadErrors => format!("Campaign {label} has upload errors"),
            Self::NotFound => format!("Campaign {label} no longer exists (the API answers 404)"),
            Self::ApiUnhealthy => {
                "The SigmaMind API cannot be read: campaigns are not being watched".into()
            }
            Self::StoreUnhealthy => {
                "The watcher's state store refuses writes: changes are not being announced".into()
            }
            Self::Unreadable => {
                format!("Campaign {label} cannot be read: its changes are not being seen")
            }
        }
    }
}

/// PagerDuty's severities; Alertmanager gets the same word as its `severity` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Critical,
    Error,
    Warning,
    Info,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Self::Critical, Self::Error, Self::Warning, Self::Info];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Discord embed colour.
    pub fn colour(self) -> u32 {
        match self {
            Self::Critical => 0xD3_2F_2F,
            Self::Error => 0xE6_4A_19,
            Self::Warning => 0xFF_A0_00,
            Self::Info => 0x19_76_D2,
        }
    }
}

/// Colour of a message that ends a condition.
pub const RESOLVED_COLOUR: u32 = 0x38_8E_3C;

/// Colour of a message that neither starts nor ends a condition: plain news.
pub const NEWS_COLOUR: u32 = 0x60_7D_8B;

/// The colour a chat message about `event` wears: its condition's severity
/// when it starts one, green when it ends one, grey for news.
pub fn colour(severities: &SeverityMap, event: &Event) -> u32 {
    match transitions(event).first() {
        Some(Transition::Starts(condition)) => severities.get(*condition).colour(),
        Some(Transition::Ends(_)) => RESOLVED_COLOUR,
        None => NEWS_COLOUR,
    }
}

/// A channel's `severity` table as written, parsed once when it is read: the
/// channel's check reports the problems, its build keeps the map. Reading
/// never fails, so the rest of the file's problems are still reported with
/// these in the same run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeverityTable {
    written: BTreeMap<String, String>,
    parsed: Result<SeverityMap, Vec<String>>,
}

impl SeverityTable {
    /// Every problem as `key: why`; empty when the table is usable.
    pub fn problems(&self) -> &[String] {
        match &self.parsed {
            Ok(_) => &[],
            Err(problems) => problems,
        }
    }

    /// The table as written.
    pub fn written(&self) -> &BTreeMap<String, String> {
        &self.written
    }

    /// The parsed map, or its problems.
    pub fn map(&self) -> Result<&SeverityMap, &[String]> {
        self.parsed.as_ref().map_err(Vec::as_slice)
    }
}

impl From<BTreeMap<String, String>> for SeverityTable {
    fn from(written: BTreeMap<String, String>) -> Self {
        let parsed = SeverityMap::parse(Some(&written));
        Self { written, parsed }
    }
}

impl<'de> serde::Deserialize<'de> for SeverityTable {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::<String, String>::deserialize(deserializer).map(Self::from)
    }
}

impl serde::Serialize for SeverityTable {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.written.serialize(serializer)
    }
}

/// The configured severity of each condition, defaults for the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeverityMap(BTreeMap<Condition, Severity>);

impl SeverityMap {
    /// Every problem as `key: why`, for the config validator.
    pub fn parse(configured: Option<&BTreeMap<String, String>>) -> Result<Self, Vec<String>> {
        let mut map = BTreeMap::new();
        let mut problems = Vec::new();
        for (key, value) in configured.into_iter().flatten() {
            let condition = Condition::parse(key);
            let severity = Severity::parse(value);
            if condition.is_none() {
                let known: Vec<&str> = Condition::ALL.iter().map(|c| c.key()).collect();
                problems.push(format!(
                    "\"{key}\" is not a condition (known: {}, or the event type that starts one)",
                    known.join(", ")
                ));
            }
            if severity.is_none() {
                problems.push(format!(
                    "\"{key}\" = \"{value}\": the severity must be critical, error, warning or info"
                ));
            }
            if let (Some(condition), Some(severity)) = (condition, severity) {
                map.insert(condition, severity);
            }
        }
        if problems.is_empty() {
            Ok(Self(map))
        } else {
            Err(problems)
        }
    }

    pub fn get(&self, condition: Condition) -> Severity {
        self.0
            .get(&condition)
            .copied()
            .unwrap_or_else(|| condition.default_severity())
    }
}

/// What one event does to the conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Starts(Condition),
    Ends(Condition),
}

/// Pure: the conditions `event` starts or ends. Reminders re-start theirs (the
/// target dedups them). Test events and plain news (settings, scheduled→live)
/// give none.
pub fn transitions(event: &Event) -> Vec<Transition> {
    let status = event.campaign.as_ref().map(|c| &c.status);
    let previous = event
        .campaign
        .as_ref()
        .and_then(|c| c.previous_status.as_ref());
    match event.kind {
        EventType::StatusChanged => {
            let now_paused = status == Some(&CampaignStatus::Paused);
            let was_paused = previous == Some(&CampaignStatus::Paused);
            match (was_paused, now_paused) {
                (false, true) => vec![Transition::Starts(Condition::Paused)],
                // Paused → live, scheduled or completed: the pause is over.
                (true, false) => vec![Transition::Ends(Condition::Paused)],
                _ => vec![],
            }
        }
        EventType::Reminder if status == Some(&CampaignStatus::Paused) => {
            vec![Transition::Starts(Condition::Paused)]
        }
        EventType::UploadErrorsAdded => vec![Transition::Starts(Condition::UploadErrors)],
        EventType::UploadErrorsCleared => vec![Transition::Ends(Condition::UploadErrors)],
        EventType::NotFound => vec![Transition::Starts(Condition::NotFound)],
        EventType::FoundAgain => vec![Transition::Ends(Condition::NotFound)],
        EventType::ApiUnhealthy => vec![Transition::Starts(Condition::ApiUnhealthy)],
        EventType::ApiRecovered => vec![Transition::Ends(Condition::ApiUnhealthy)],
        EventType::StoreUnhealthy => vec![Transition::Starts(Condition::StoreUnhealthy)],
        EventType::StoreRecovered => vec![Transition::Ends(Condition::StoreUnhealthy)],
        EventType::CampaignUnreadable => vec![Transition::Starts(Condition::Unreadable)],
        EventType::CampaignReadable => vec![Transition::Ends(Condition::Unreadable)],
        // A channel's health is news for the other channels, not an incident: a
        // second failing channel would share the watcher-wide dedup key.
        EventType::ChannelUnhealthy | EventType::ChannelRecovered => vec![],
        // Quiet hours are refused on condition channels (see config validation), so
        // a digest of held events never reaches one.
        EventType::Reminder
        | EventType::SettingsChanged
        | EventType::Test
        | EventType::QuietHoursDigest => vec![],
    }
}

/// The conditions `event` ends.
pub fn ended_by(event: &Event) -> Vec<Condition> {
    transitions(event)
        .into_iter()
        .filter_map(|transition| match transition {
            Transition::Ends(condition) => Some(condition),
            Transition::Starts(_) => None,
        })
        .collect()
}

/// Pure: was `condition` announced and is it still open, judging by one
/// campaign's history, newest first, as `(event, silenced)`? A silenced start
/// was never sent, so it does not count; an end closes the episode.
pub fn announced<'a>(
    condition: Condition,
    history: impl IntoIterator<Item = (&'a Event, bool)>,
) -> bool {
    for (event, silenced) in history {
        let transitions = transitions(event);
        if transitions.contains(&Transition::Ends(condition)) {
            return false;
        }
        if !silenced && transitions.contains(&Transition::Starts(condition)) {
            return true;
        }
    }
    false
}

/// A silence keeps news from being sent, but never the end of a condition
/// whose start was sent: a resolve swallowed by a silence leaves an incident
/// open for good. Pure over the campaign's `history`, newest first, as
/// `(event, silenced)`; only an event that [`ended_by`] names needs one.
pub fn ends_an_announced_condition(event: &Event, history: &[(Event, bool)]) -> bool {
    ended_by(event).into_iter().any(|condition| {
        announced(
            condition,
            history.iter().map(|(event, silenced)| (event, *silenced)),
        )
    })
}

/// A condition that holds now, per the stored state (the re-asserter works them out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveCondition {
    pub condition: Condition,
    /// The account, unless it is `default` (whose alerts keep the label sets
    /// of single-account releases); none for the whole watcher's conditions.
    pub account: Option<String>,
    /// `(id, name)`; none for the API's health.
    pub campaign: Option<(String, String)>,
    pub since: DateTime<Utc>,
    /// The probable causes the alert shows (a pause's, from its stored state).
    pub hints: Vec<crate::event::Hint>,
}

#[cfg(test)]
mod tests;
