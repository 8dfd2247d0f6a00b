//! Builders the unit tests share: one way to make an event, so a test says
//! only what matters to it.

use chrono::{DateTime, TimeZone, Utc};

use crate::event::{event_id, CampaignInfo, Event, EventType, UploadErrors, PAYLOAD_VERSION};
use crate::observe::{CampaignStatus, Snapshot};
use crate::state::CampaignState;

/// An event of `kind` about no campaign, at 2026-11-26 00:00 UTC, with an id
/// derived from its kind; the methods fill in the rest.
pub(crate) fn event(kind: EventType) -> EventBuilder {
    EventBuilder(Event {
        version: PAYLOAD_VERSION.into(),
        id: event_id(&[kind.as_str()]),
        kind,
        occurred_at: Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap(),
        campaign: None,
        upload_errors: UploadErrors::default(),
        changes: vec![],
        hints: vec![],
        summary: String::new(),
        account: crate::event::default_account(),
        incident: None,
        links: None,
    })
}

pub(crate) struct EventBuilder(Event);

impl EventBuilder {
    /// About campaign `id` named `name`, live and before that live.
    pub(crate) fn campaign(mut self, id: &str, name: &str) -> Self {
        self.0.campaign = Some(CampaignInfo {
            id: id.into(),
            name: name.into(),
            status: CampaignStatus::Live,
            previous_status: Some(CampaignStatus::Live),
            agent: None,
            caller_number: None,
        });
        self
    }

    /// The campaign went from `from` to `to`.
    pub(crate) fn statuses(mut self, from: CampaignStatus, to: CampaignStatus) -> Self {
        if let Some(campaign) = &mut self.0.campaign {
            campaign.previous_status = Some(from);
            campaign.status = to;
        }
        self
    }

    /// `from->to` as the API spells the statuses (`live->paused`).
    pub(crate) fn transition(self, transition: &str) -> Self {
        let (from, to) = transition.split_once("->").unwrap_or(("live", "live"));
        self.statuses(CampaignStatus::parse(from), CampaignStatus::parse(to))
    }

    pub(crate) fn at(mut self, at: DateTime<Utc>) -> Self {
        self.0.occurred_at = at;
        self
    }

    /// An id derived from `parts`, for tests that need distinct events.
    pub(crate) fn id(mut self, parts: &[&str]) -> Self {
        self.0.id = event_id(parts);
        self
    }

    pub(crate) fn build(self) -> Event {
        self.0
    }
}

/// Campaign `id` named `name` in `status`, with no upload errors, agent or
/// caller: what a read of the API gives at its plainest.
pub(crate) fn snapshot(id: &str, name: &str, status: CampaignStatus) -> Snapshot {
    Snapshot {
        id: id.into(),
        name: name.into(),
        status,
        upload_errors: Default::default(),
        agent: None,
        caller_number: None,
        caller_active: None,
        concurrent_calls: None,
        scheduled_date: None,
    }
}

/// The sample event of `kind` (as `render CHANNEL --sample` shows it), at
/// 2026-11-26 09:00 UTC.
pub(crate) fn sample(kind: EventType) -> Event {
    crate::render::sample_event(kind, Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap())
}

/// The sample upload-errors event with `huge` as its campaign's name and as
/// each of 20 upload errors: the worst case for a kind's size limits.
pub(crate) fn huge_event(huge: &str) -> Event {
    let mut event = sample(EventType::UploadErrorsAdded);
    event.campaign.as_mut().unwrap().name = huge.to_string();
    event.upload_errors.added = vec![huge.to_string(); 20];
    event
}

/// `snapshot` as the store keeps it after its first change at `changed_at`:
/// sequence 1, found, nothing pending, no hints, read without failure.
pub(crate) fn stored(snapshot: Snapshot, changed_at: DateTime<Utc>) -> CampaignState {
    CampaignState {
        snapshot,
        seq: 1,
        not_found: false,
        changed_at,
        pending: None,
        hints: Vec::new(),
        reads: Default::default(),
    }
}
