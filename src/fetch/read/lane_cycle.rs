//! One cycle by the live lane and the sweep: `status=live` in full, the sweep's
//! next pages with what the budget leaves, then the reads by id the plan asks
//! for ([`lane::direct_reads`]). A campaign listed by both counts once.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use super::{read_by_id, Fetched, Reading};
use crate::fetch::client::PageRange;
use crate::fetch::known::Known;
use crate::fetch::lane::{self, Sweep};
use crate::fetch::plan::ReadPlan;
use crate::fetch::SigmaMindClient;
use crate::observe::{CampaignStatus, Observation};

/// What the listings of one cycle gathered.
#[derive(Default)]
struct Gathered {
    /// Every campaign read (watched), whatever came of it.
    read: HashSet<String>,
    changed: Vec<(String, Observation)>,
    unchanged: Vec<String>,
}

impl Gathered {
    /// Keep a watched listed campaign: as its key when it reads exactly as
    /// stored, whole otherwise.
    fn keep(&mut self, id: String, observation: Observation, before: Option<Known>) {
        self.read.insert(id.clone());
        if before.is_some_and(|known| known.unchanged_by(&observation)) {
            self.unchanged.push(id);
        } else {
            self.changed.push((id, observation));
        }
    }

    fn absorb(&mut self, other: Gathered) {
        self.read.extend(other.read);
        self.changed.extend(other.changed);
        self.unchanged.extend(other.unchanged);
    }
}

/// `None` when the API answered the lane with a campaign that is not live: it
/// ignores the filter, the lane is turned off for this account (one log line)
/// and the caller lists whole instead. `spent`: requests the cycle already
/// made (counting the campaigns), which the sweep's share leaves out.
pub(super) async fn read<B>(
    client: &SigmaMindClient,
    plan: &ReadPlan,
    spent: u64,
    sweep: &mut Sweep,
    concurrency: usize,
    stored: &HashMap<String, B>,
    known: &impl Fn(&B) -> Known,
) -> Option<Fetched> {
    let budget = plan
        .budget(client.requests_per_second())
        .unwrap_or(u64::MAX);
    let bounds = plan.listing_bounds(client.requests_per_second());
    let page_size = plan.page_size();
    let before = |id: &str| stored.get(id).map(known);
    let mut reading = Reading {
        partial: true,
        ..Reading::default()
    };

    // The lane: every live campaign.
    let mut lane = Gathered::default();
    let mut not_live = None;
    let requests_before = client.requests_sent();
    let whole = PageRange {
        first: 0,
        most: None,
    };
    let listing = client
        .list_pages(page_size, Some("live"), whole, bounds, |id, observation| {
            if let Observation::Found(snapshot) = &observation {
                if snapshot.status != CampaignStatus::Live {
                    not_live = Some(snapshot.status.clone());
                    return ControlFlow::Break(());
                }
            }
            let was = before(&id);
            let watched = plan.wants_listed(&id, &observation, was.is_some());
            sweep.note(&id, watched);
            if watched {
                lane.keep(id, observation, was);
            }
            ControlFlow::Continue(())
        })
        .await;
    let lane_requests = client.requests_sent() - requests_before;
    reading.lane_requests = Some(lane_requests);
    if let Some(status) = not_live {
        if plan.refuse_lane() {
            tracing::warn!(
                status = %status.as_str(),
                "the API answered a status=live listing with a campaign that is {}: it ignores the status filter, so the live lane is off for this account and every campaign is listed each cycle",
                status.as_str()
            );
        }
        return None;
    }
    if let Err(error) = listing {
        // As when a whole listing fails: the cycle is unreadable, and only the
        // explicit ids are read.
        let explicit = plan.explicit().to_vec();
        reading.direct_reads = explicit.len() as u64;
        let mut observations = read_by_id(client, explicit, concurrency).await;
        observations.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        return Some(Fetched {
            observations,
            unchanged: Vec::new(),
            listing_failure: Some(error),
            reading,
        });
    }

    // The sweep: its next pages, with what the lane and the reads by id leave.
    let due = lane::direct_reads(
        stored.iter().map(|(key, brief)| (key, known(brief))),
        plan.explicit(),
        &lane.read,
        true,
        None,
    );
    let pages = lane::sweep_pages(budget, spent + lane_requests, due.len() as u64);
    let range = PageRange {
        first: sweep.next_page(),
        most: Some(pages),
    };
    // Kept apart until the pages are all read: pages that fail halfway count
    // for nothing, and the sweep reads them again next cycle.
    let mut swept = Gathered::default();
    let listing = client
        .list_pages(page_size, None, range, bounds, |id, observation| {
            let was = before(&id);
            let watched = plan.wants_listed(&id, &observation, was.is_some());
            sweep.note(&id, watched);
            // Read by the lane in this same cycle: counted once.
            if watched && !lane.read.contains(&id) && !swept.read.contains(&id) {
                swept.keep(id, observation, was);
            }
            ControlFlow::Continue(())
        })
        .await;
    let mut listing_failure = None;
    let mut ended = false;
    match listing {
        Ok(listed) => {
            lane.absorb(swept);
            reading.sweep_pages = Some(listed.pages);
            ended = listed.ended;
        }
        Err(error) => listing_failure = Some(error),
    }

    // The reads by id: the lane's and the debounce's, the explicit ids, and, at
    // the end of a sweep, stored campaigns it never listed.
    let listed_by_sweep = |key: &str| sweep.has_listed(key);
    let direct = lane::direct_reads(
        stored.iter().map(|(key, brief)| (key, known(brief))),
        plan.explicit(),
        &lane.read,
        true,
        ended.then_some(&listed_by_sweep as &dyn Fn(&str) -> bool),
    );
    if ended {
        reading.swept = stored
            .keys()
            .filter(|key| sweep.has_listed_watched(key))
            .cloned()
            .collect();
        reading.sweep_ended = sweep.advance(reading.sweep_pages.unwrap_or(0), true);
        if let Some(period) = reading.sweep_ended {
            plan.listed(period.campaigns as usize);
        }
        reading.partial = false;
    } else if let Some(pages) = reading.sweep_pages {
        sweep.advance(pages, false);
    }
    reading.sweep_next_page = sweep.next_page();
    reading.last_sweep = sweep.last();
    reading.direct_reads = direct.len() as u64;

    let Gathered {
        mut changed,
        unchanged,
        ..
    } = lane;
    changed.extend(read_by_id(client, direct, concurrency).await);
    changed.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
    Some(Fetched {
        observations: changed,
        unchanged,
        listing_failure,
        reading,
    })
}
