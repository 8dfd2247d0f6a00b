//! Builders the unit tests share: one way to make an event, so a test says
//! only what matters to it.

use chrono::{DateTime, TimeZone, Utc};

use crate::event::{event_id, CampaignInfo, Event, EventType, UploadErrors, PAYLOAD_VERSION};
use crate::observe::{CampaignStatus, Snapshot};

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
