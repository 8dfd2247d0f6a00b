//! Episodes of conditions across a cycle's events, pure: a start opens an
//! incident (or joins the one open), a reminder tells it more channels, an
//! end closes it and follows it to every channel told, besides the rules'.
//! The watcher loads the open incidents before and commits the rows after.

use std::collections::HashMap;

use crate::alert::{self, Condition, Transition};
use crate::commit::RoutedEvent;
use crate::event::{Event, EventType};
use crate::route::Router;
use crate::state::Incident;

/// An episode's key within one account: its subject and condition.
pub(super) type EpisodeKey = (String, &'static str);

/// The open incidents of one account, by key.
pub(super) type Open = HashMap<EpisodeKey, Incident>;

/// The open incidents as read from the store.
pub(super) fn by_key(incidents: Vec<Incident>) -> Open {
    incidents
        .into_iter()
        .filter_map(|incident| {
            let condition = Condition::parse(&incident.condition)?;
            Some(((incident.subject.clone(), condition.key()), incident))
        })
        .collect()
}

/// What an episode of `condition` is about in `event`: its campaign, or its
/// account for the API's health; none for the watcher's own store, whose
/// start is sent without the store and so is not an incident.
pub(super) fn key_of(event: &Event, condition: Condition) -> Option<EpisodeKey> {
    let subject = match condition {
        Condition::StoreUnhealthy => return None,
        Condition::ApiUnhealthy => event.account.clone()?,
        _ => event.campaign.as_ref()?.id.clone(),
    };
    Some((subject, condition.key()))
}

/// The episodes the cycle continues (a reminder) or ends with no open row and
/// no start earlier in the cycle: open since before incidents were stored,
/// so the watcher rebuilds them from history. Each once, in event order.
pub(super) fn unknown(routed: &[RoutedEvent], open: &Open) -> Vec<(EpisodeKey, Condition)> {
    let mut started = std::collections::HashSet::new();
    let mut unknown = Vec::new();
    for routed in routed {
        for transition in alert::transitions(&routed.event) {
            let (condition, continues) = match transition {
                Transition::Starts(condition) => {
                    (condition, routed.event.kind == EventType::Reminder)
                }
                Transition::Ends(condition) => (condition, true),
            };
            let Some(key) = key_of(&routed.event, condition) else {
                continue;
            };
            if continues
                && !open.contains_key(&key)
                && !started.contains(&key)
                && !unknown.iter().any(|(known, _)| known == &key)
            {
                unknown.push((key.clone(), condition));
            }
            started.insert(key);
        }
    }
    unknown
}

/// The episode of `condition` still open in one subject's `history` (newest
/// first, `(event, silenced)`): its start (the earliest start since the last
/// end) and the ids of every start and reminder since, whose outbox rows say
/// which channels were told. None when the history holds no open start.
pub(super) fn open_in_history(
    condition: Condition,
    history: &[(Event, bool)],
) -> Option<(&Event, Vec<&str>)> {
    let mut start = None;
    let mut earliest = None;
    let mut told = Vec::new();
    for (event, _) in history {
        let transitions = alert::transitions(event);
        if transitions.contains(&Transition::Ends(condition)) {
            break;
        }
        if transitions.contains(&Transition::Starts(condition)) {
            told.push(event.id.as_str());
            earliest = Some(event);
            if event.kind != EventType::Reminder {
                start = Some(event);
            }
        }
    }
    // A reminder alone (its start pruned) still stands for the episode.
    let start = start.or(earliest)?;
    Some((start, told))
}

/// Follow every event of the cycle through its episode, in order: a start
/// opens one (or joins the one open) and tells it the channels it was given,
/// a reminder tells it more, an end closes it, gets the channels told as
/// followers (as the router allows) and says how long it lasted. Each event
/// carries its episode in the payload and in the row the commit writes.
pub(super) fn follow(router: &Router, open: &mut Open, routed: &mut [RoutedEvent]) {
    for routed in routed.iter_mut() {
        for transition in alert::transitions(&routed.event) {
            match transition {
                Transition::Starts(condition) => {
                    let Some(key) = key_of(&routed.event, condition) else {
                        continue;
                    };
                    let event = &routed.event;
                    let incident = open.entry(key.clone()).or_insert_with(|| {
                        Incident::open(
                            event.account.clone(),
                            key.0.clone(),
                            condition.key(),
                            &event.id,
                            event.occurred_at,
                        )
                    });
                    if routed.silence.is_none() {
                        incident
                            .channels_told
                            .extend(routed.channels.iter().cloned());
                    }
                    routed.event.incident = Some(incident.info());
                    routed.incident = Some(incident.clone());
                }
                Transition::Ends(condition) => {
                    let Some(key) = key_of(&routed.event, condition) else {
                        continue;
                    };
                    let Some(mut incident) = open.remove(&key) else {
                        continue;
                    };
                    incident.ended_at = Some(routed.event.occurred_at);
                    // A silence keeps the rules' rows back, never these.
                    let routed_channels = match routed.silence {
                        Some(_) => &[][..],
                        None => &routed.channels[..],
                    };
                    routed.followers = router.followers(&incident.channels_told, routed_channels);
                    routed.event.incident = Some(incident.info());
                    if let Some(ended) = crate::render::ended_after(&routed.event) {
                        routed.event.summary = format!("{} ({ended})", routed.event.summary);
                    }
                    routed.incident = Some(incident);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
