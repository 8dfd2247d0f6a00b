//! `GET /api/v1/events`: the newest events across campaigns, each with every
//! channel's delivery outcome (or the silence that stopped it).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::silences::SilenceRef;
use super::{checked_page, given, ApiError, ApiQuery};
use crate::commit::{DeliveryState, EventQuery, HistoryEntry};
use crate::event::{Event, EventType};
use crate::http::HttpState;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    /// RFC 3339 time: only events at or after it.
    pub since: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub campaign: Option<String>,
    /// Only this account's events.
    pub account: Option<String>,
    pub channel: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

impl EventParams {
    pub fn query(&self) -> Result<EventQuery, ApiError> {
        let kind = match given(&self.kind) {
            None => None,
            Some(text) => Some(
                EventType::parse(text)
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "type must be an event type such as campaign.status_changed, not {text:?}"
                        ))
                    })?
                    .as_str()
                    .to_string(),
            ),
        };
        // An empty `since` is a mistake, not "any": no form sends one.
        let since = match self.since.as_deref() {
            None => None,
            Some(text) => Some(
                DateTime::parse_from_rfc3339(text)
                    .map_err(|_| {
                        ApiError::BadRequest(format!(
                            "since must be an RFC 3339 time such as 2026-11-26T09:00:00Z, not {text:?}"
                        ))
                    })?
                    .with_timezone(&Utc),
            ),
        };
        let (page, per_page) = checked_page(self.page, self.per_page)?;
        Ok(EventQuery {
            account: given(&self.account).map(str::to_string),
            kind,
            campaign: given(&self.campaign).map(str::to_string),
            channel: given(&self.channel).map(str::to_string),
            since,
            page,
            per_page,
        })
    }
}

/// What became of one event on one channel.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    /// The outbox row: `POST /api/v1/outbox/{outbox_id}/replay` sends a dead one again.
    pub outbox_id: i64,
    pub channel: String,
    /// "sent", "pending" (not tried yet), "retrying" (failed, tried again
    /// later), "held" (for quiet hours) or "dead" (given up).
    pub outcome: &'static str,
    pub attempts: u32,
    pub sent_at: Option<DateTime<Utc>>,
    pub held_until: Option<DateTime<Utc>>,
    /// Sent inside this quiet-hours digest.
    pub digest_id: Option<String>,
    /// The last failure (scrubbed of the target's secrets when recorded).
    pub last_error: Option<String>,
}

/// One event: the webhook payload (version 1) and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    #[serde(flatten)]
    pub event: Event,
    pub silenced_by: Option<SilenceRef>,
    pub deliveries: Vec<DeliveryView>,
}

fn outcome(delivery: &DeliveryState, now: DateTime<Utc>) -> &'static str {
    match delivery.status.as_str() {
        "sent" => "sent",
        "dead" => "dead",
        _ if delivery.held_until.is_some_and(|until| until > now) => "held",
        _ if delivery.attempts > 0 => "retrying",
        _ => "pending",
    }
}

pub fn entry_view(entry: HistoryEntry, now: DateTime<Utc>) -> EventView {
    EventView {
        silenced_by: entry.silenced_by.as_ref().map(SilenceRef::of),
        deliveries: entry
            .deliveries
            .iter()
            .map(|delivery| DeliveryView {
                outbox_id: delivery.outbox_id,
                channel: delivery.channel.clone(),
                outcome: outcome(delivery, now),
                attempts: delivery.attempts,
                sent_at: delivery.sent_at,
                held_until: delivery.held_until,
                digest_id: delivery.digest_id.clone(),
                last_error: delivery.last_error.clone(),
            })
            .collect(),
        event: entry.event,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EventList {
    pub page: u32,
    pub per_page: u32,
    /// The next page's number, when there is one.
    pub next_page: Option<u32>,
    pub events: Vec<EventView>,
}

pub async fn event_list(
    state: &HttpState,
    query: &EventQuery,
    now: DateTime<Utc>,
) -> Result<EventList, ApiError> {
    let page = state.store.event_page(query).await?;
    let (per_page, _) = crate::commit::page_bounds(query.page, query.per_page);
    let number = query.page.max(1);
    Ok(EventList {
        page: number,
        per_page,
        next_page: page.more.then(|| number.saturating_add(1)),
        events: page
            .entries
            .into_iter()
            .map(|entry| entry_view(entry, now))
            .collect(),
    })
}

pub async fn list(
    State(state): State<HttpState>,
    ApiQuery(params): ApiQuery<EventParams>,
) -> Result<Json<EventList>, ApiError> {
    let query = params.query()?;
    Ok(Json(event_list(&state, &query, Utc::now()).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(status: &str, attempts: u32, held_until: Option<DateTime<Utc>>) -> DeliveryState {
        DeliveryState {
            outbox_id: 1,
            channel: "hook".into(),
            status: status.into(),
            attempts,
            sent_at: None,
            held_until,
            digest_id: None,
            last_error: None,
        }
    }

    #[test]
    fn each_delivery_state_has_its_outcome() {
        let now = Utc::now();
        let later = Some(now + chrono::TimeDelta::hours(1));
        let earlier = Some(now - chrono::TimeDelta::hours(1));
        for (status, attempts, held, expected) in [
            ("sent", 1, None, "sent"),
            ("sent", 0, later, "sent"),
            ("dead", 5, None, "dead"),
            ("pending", 0, None, "pending"),
            ("pending", 2, None, "retrying"),
            ("pending", 0, later, "held"),
            ("pending", 0, earlier, "pending"),
        ] {
            assert_eq!(
                outcome(&delivery(status, attempts, held), now),
                expected,
                "{status} {attempts} {held:?}"
            );
        }
    }
}
