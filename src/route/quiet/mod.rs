//! Quiet hours, pure: whether an event is held at a given instant, until when,
//! and the one digest the held events become when the window ends.
//!
//! Time zones come from chrono-tz (IANA names, compiled in; chrono is already a
//! dependency, so it is the lighter choice than a second date-time library).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;

use serde::{Deserialize, Serialize};

use crate::event::{event_id, Event, EventType, UploadErrors, PAYLOAD_VERSION};
use crate::observe::CampaignStatus;

/// `quiet_hours = { start = "22:00", end = "07:00", timezone = "Europe/Berlin", except = [...] }`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHoursSettings {
    /// Local `HH:MM` the quiet window starts at.
    pub start: String,
    /// Local `HH:MM` it ends at; before `start` means it spans midnight.
    pub end: String,
    /// IANA zone name, e.g. "Europe/Berlin".
    pub timezone: String,
    /// Event types that are sent at once even during quiet hours.
    #[serde(default)]
    pub except: Vec<String>,
}

/// A channel's `quiet_hours` as written, parsed once when it is read: the
/// validation reports the problem, the routing and the channel keep the
/// window. Reading never fails, so the file's other problems are reported
/// with it in the same run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "QuietHoursSettings", into = "QuietHoursSettings")]
pub struct QuietHoursTable {
    written: QuietHoursSettings,
    parsed: Result<QuietHours, QuietHoursProblems>,
}

impl QuietHoursTable {
    pub fn written(&self) -> &QuietHoursSettings {
        &self.written
    }

    /// The window, or every reason it cannot be used.
    pub fn parsed(&self) -> Result<&QuietHours, &QuietHoursProblems> {
        self.parsed.as_ref()
    }
}

impl From<QuietHoursSettings> for QuietHoursTable {
    fn from(written: QuietHoursSettings) -> Self {
        let parsed = QuietHours::from_settings(&written);
        Self { written, parsed }
    }
}

impl From<QuietHoursTable> for QuietHoursSettings {
    fn from(table: QuietHoursTable) -> Self {
        table.written
    }
}

/// Why quiet hours cannot be used; `Display` is a sentence fragment for
/// `channels.NAME.quiet_hours: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuietHoursError {
    #[error("{key} \"{text}\" is not a time of day like \"22:00\"")]
    NotATime { key: &'static str, text: String },
    #[error("start and end are equal; leave quiet_hours out instead")]
    Empty,
    #[error("timezone \"{0}\" is not an IANA time zone name like \"Europe/Berlin\"")]
    UnknownZone(String),
    #[error("except: \"{text}\" is not an event type{suggestion}")]
    UnknownEventType { text: String, suggestion: String },
}

/// Every problem of one `quiet_hours` table (never empty); `Display` joins
/// them with "; " for a single line, [`QuietHoursProblems::each`] gives one
/// sentence fragment per problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.each().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct QuietHoursProblems(Vec<QuietHoursError>);

impl QuietHoursProblems {
    pub fn each(&self) -> impl Iterator<Item = &QuietHoursError> {
        self.0.iter()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct QuietHours {
    start: NaiveTime,
    end: NaiveTime,
    zone: Tz,
    except: Vec<EventType>,
}

impl QuietHours {
    /// Checks every part and reports every problem, so that one run of
    /// `check-config` shows them all.
    pub fn from_settings(settings: &QuietHoursSettings) -> Result<Self, QuietHoursProblems> {
        let mut problems = Vec::new();
        let mut time = |key: &'static str, text: &str| {
            NaiveTime::parse_from_str(text.trim(), "%H:%M")
                .map_err(|_| {
                    problems.push(QuietHoursError::NotATime {
                        key,
                        text: text.to_string(),
                    })
                })
                .ok()
        };
        let start = time("start", &settings.start);
        let end = time("end", &settings.end);
        if start.is_some() && start == end {
            problems.push(QuietHoursError::Empty);
        }
        let zone: Option<Tz> = settings
            .timezone
            .trim()
            .parse()
            .map_err(|_| problems.push(QuietHoursError::UnknownZone(settings.timezone.clone())))
            .ok();
        let known: Vec<&str> = EventType::ALL.iter().map(|kind| kind.as_str()).collect();
        let mut except = Vec::new();
        for text in &settings.except {
            match EventType::parse(text) {
                Some(kind) => except.push(kind),
                None => problems.push(QuietHoursError::UnknownEventType {
                    text: text.clone(),
                    suggestion: crate::setting::suggest::did_you_mean(text, &known),
                }),
            }
        }
        match (start, end, zone) {
            (Some(start), Some(end), Some(zone)) if problems.is_empty() => Ok(Self {
                start,
                end,
                zone,
                except,
            }),
            _ => Err(QuietHoursProblems(problems)),
        }
    }

    /// When `now` is inside the window and `kind` is not excepted: the instant the
    /// window ends, when the held event goes out.
    pub fn hold_until(&self, kind: EventType, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.except.contains(&kind) || kind == EventType::Test {
            return None;
        }
        let local = now.with_timezone(&self.zone).naive_local();
        let (date, time) = (local.date(), local.time());
        let end_date = if self.start < self.end {
            (self.start <= time && time < self.end).then_some(date)?
        } else if time >= self.start {
            date.succ_opt()?
        } else if time < self.end {
            date
        } else {
            return None;
        };
        Some(self.to_utc(end_date.and_time(self.end)))
    }

    /// A local wall-clock time as an instant; in a DST gap, the first instant after it.
    fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        crate::window::local_instant(self.zone, local)
    }

    pub fn describe(&self) -> String {
        format!(
            "{}-{} {}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M"),
            self.zone.name()
        )
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }
}

/// One digest event for the events a channel held through quiet hours. Events
/// of one campaign collapse into one line ("paused 23:10, resumed 23:40"). The
/// id is derived from the channel and the held event ids, so a crash before the
/// rows are marked resends the digest under the same id.
pub fn digest(channel: &str, held: &[Event], zone: Tz, now: DateTime<Utc>) -> Event {
    let mut ids: Vec<&str> = held.iter().map(|event| event.id.as_str()).collect();
    ids.sort_unstable();
    let mut id_parts = vec!["quiet_hours_digest", channel];
    id_parts.extend(ids);

    // Campaign lines in the order their first event happened; watcher events each on their own.
    let mut order: Vec<String> = Vec::new();
    let mut lines: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    let mut sorted: Vec<&Event> = held.iter().collect();
    sorted.sort_by_key(|event| event.occurred_at);
    for event in sorted {
        let at = event.occurred_at.with_timezone(&zone).format("%H:%M");
        let (key, label) = match &event.campaign {
            Some(campaign) => (
                campaign.id.clone(),
                format!("{} ({})", campaign.name, campaign.id),
            ),
            None => (event.id.clone(), "watcher".to_string()),
        };
        if !lines.contains_key(&key) {
            order.push(key.clone());
        }
        let entry = lines.entry(key).or_insert_with(|| (label, Vec::new()));
        entry.1.push(format!("{} {at}", what_happened(event)));
    }
    let mut summary = format!(
        "{} event{} held during quiet hours:",
        held.len(),
        if held.len() == 1 { "" } else { "s" }
    );
    for key in &order {
        if let Some((label, happenings)) = lines.get(key) {
            summary.push_str(&format!("\n{label}: {}", happenings.join(", ")));
        }
    }
    Event {
        version: PAYLOAD_VERSION.into(),
        id: event_id(&id_parts),
        kind: EventType::QuietHoursDigest,
        occurred_at: now,
        campaign: None,
        upload_errors: UploadErrors::default(),
        changes: vec![],
        hints: vec![],
        summary,
        account: None,
        incident: None,
        links: None,
    }
}

/// What an event says happened, in a few words ("paused", "resumed", "2 new
/// upload errors"): the digest's lines and the board's timelines.
pub fn what_happened(event: &Event) -> String {
    match event.kind {
        EventType::StatusChanged => match event.transition() {
            Some((CampaignStatus::Paused, CampaignStatus::Live)) => "resumed".into(),
            Some((_, CampaignStatus::Live)) => "went live".into(),
            Some((_, CampaignStatus::Paused)) => "paused".into(),
            Some((_, CampaignStatus::Completed)) => "completed".into(),
            Some((_, CampaignStatus::Scheduled)) => "scheduled".into(),
            Some((_, other)) => format!("became {other}"),
            None => "status changed".into(),
        },
        EventType::UploadErrorsAdded => {
            let n = event.upload_errors.added.len();
            format!("{n} new upload error{}", if n == 1 { "" } else { "s" })
        }
        EventType::UploadErrorsCleared => "upload errors cleared".into(),
        EventType::SettingsChanged => "settings changed".into(),
        EventType::NotFound => "disappeared (404)".into(),
        EventType::FoundAgain => "found again".into(),
        EventType::Reminder => "reminder: still unresolved".into(),
        EventType::ApiUnhealthy => "API unhealthy".into(),
        EventType::ApiRecovered => "API recovered".into(),
        EventType::StoreUnhealthy => "state store unhealthy".into(),
        EventType::StoreRecovered => "state store recovered".into(),
        EventType::CampaignUnreadable => "unreadable".into(),
        EventType::CampaignReadable => "readable again".into(),
        EventType::ChannelUnhealthy => "channel unhealthy".into(),
        EventType::ChannelRecovered => "channel recovered".into(),
        EventType::Test | EventType::QuietHoursDigest => event.kind.as_str().into(),
    }
}

#[cfg(test)]
mod tests;
