//! Reading the watched campaigns once per cycle, as the [`ReadPlan`] says: a
//! listing where it applies (whole, or the live lane and the sweep's next
//! pages: [`super::lane`]), then GETs by id, a few at a time.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

use futures::stream::{self, StreamExt};

use super::known::Known;
use super::lane::{Listing, SweepPeriod};
use super::plan::ReadPlan;
use super::{FetchError, SigmaMindClient};
use crate::observe::{FetchFailure, Observation};

mod lane_cycle;

/// What one cycle read.
#[derive(Debug)]
pub struct Fetched {
    /// Campaigns that are new, changed or failed, by key.
    /// A flat, sorted list rather than a map: a first cycle over a large account
    /// holds every campaign here, and a map's nodes cost a third more.
    pub observations: Vec<(String, Observation)>,
    /// Listed campaigns identical to their stored state: nothing can come of
    /// diffing them, so only their keys are kept.
    pub unchanged: Vec<String>,
    /// Why `watch.all` could not list, when it could not.
    pub listing_failure: Option<FetchError>,
    /// How the cycle read: whole, or by the lane and the sweep.
    pub reading: Reading,
}

/// How one cycle read its account: what it spent on the lane, the sweep and
/// reads by id, and where the sweep is. All `None`/zero/false for a cycle
/// that listed whole or read by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    /// Requests spent finding out the account's size (a first cycle: 1).
    pub count_requests: u64,
    /// Requests the `status=live` listing took, when the lane was read.
    pub lane_requests: Option<u64>,
    /// Pages the sweep read this cycle, when it read any.
    pub sweep_pages: Option<u64>,
    /// The page the sweep reads next (0 after it ended).
    pub sweep_next_page: u64,
    /// Campaigns read by id.
    pub direct_reads: u64,
    /// The sweep that ended this cycle.
    pub sweep_ended: Option<SweepPeriod>,
    /// The last sweep that ended, this cycle or before.
    pub last_sweep: Option<SweepPeriod>,
    /// Only part of the account was due this cycle: a stored campaign that was
    /// not read is not missing, only not due until the sweep reaches it.
    pub partial: bool,
    /// With `sweep_ended`: the stored campaigns the sweep (or a lane during
    /// it) listed and that are watched, which a partial cycle did not read.
    pub swept: Vec<String>,
}

impl Fetched {
    /// Whether the API answered this cycle, as the cycle's verdict judges it: the
    /// listing (if any) completed, the key was not rejected, and some campaign
    /// was read (or none failed). Only then does one campaign's failure say
    /// something about that campaign rather than about the API.
    pub fn api_answered(&self) -> bool {
        if self.listing_failure.is_some() {
            return false;
        }
        let mut failed = 0;
        for (_, observation) in &self.observations {
            if let Observation::Failed(failure) = observation {
                if failure.auth_rejected {
                    return false;
                }
                failed += 1;
            }
        }
        failed == 0 || failed < self.observations.len() || !self.unchanged.is_empty()
    }
}

/// Read every watched campaign. `stored` are the campaigns with a state, each
/// told through `known`: generic so the caller keeps its own compact record.
pub async fn read_watched<B>(
    client: &SigmaMindClient,
    plan: &ReadPlan,
    concurrency: usize,
    stored: &HashMap<String, B>,
    known: impl Fn(&B) -> Known,
) -> Fetched {
    let rate = client.requests_per_second();
    let mut counted = 0;
    if plan.should_count(rate, stored.len()) {
        // A first cycle: one page of one campaign says how many there are.
        counted = 1;
        match client.count(None).await {
            Ok(Some(total)) => plan.listed(total as usize),
            Ok(None) => {}
            Err(error) => {
                tracing::debug!(%error, "counting the campaigns failed; listing them whole")
            }
        }
    }
    let lane_and_sweep =
        plan.lists_all() && plan.listing(rate, stored.len()) == Listing::LaneAndSweep;
    if lane_and_sweep {
        let mut sweep = plan.take_sweep();
        let fetched = lane_cycle::read(
            client,
            plan,
            counted,
            &mut sweep,
            concurrency,
            stored,
            &known,
        )
        .await
        .map(|mut fetched| {
            fetched.reading.count_requests = counted;
            fetched
        });
        plan.put_sweep(sweep);
        // `None`: the API ignored the lane's filter, and this cycle lists whole.
        if let Some(fetched) = fetched {
            return fetched;
        }
    }
    let mut observations = Vec::new();
    let mut unchanged = Vec::new();
    let mut listing_failure = None;
    let mut listed = BTreeSet::new();
    let explicit_by_listing = !plan.lists_all() && plan.listing_is_cheaper();
    if plan.lists_all() || explicit_by_listing {
        // Kept apart until the listing completes: a listing that fails halfway
        // counts for nothing. An unchanged campaign is kept as its key only, so a
        // large account is never held twice (stored states + listing).
        let mut listed_changed = Vec::new();
        let mut listed_unchanged = Vec::new();
        let listing = client
            .list_each_within(
                plan.page_size(),
                None,
                plan.listing_bounds(client.requests_per_second()),
                |id, observation| {
                    listed.insert(id.clone());
                    let before = stored.get(&id).map(&known);
                    if !plan.wants_listed(&id, &observation, before.is_some()) {
                        return;
                    }
                    if before.is_some_and(|known| known.unchanged_by(&observation)) {
                        listed_unchanged.push(id);
                    } else {
                        listed_changed.push((id, observation));
                    }
                },
            )
            .await;
        match listing {
            Ok(()) => {
                plan.listed(listed.len());
                // Everything was read: a sweep, if one was under way, starts over.
                plan.restart_sweep();
                observations = listed_changed;
                unchanged = listed_unchanged;
            }
            // Listing only to save requests: fall back to one GET per campaign.
            Err(error) if explicit_by_listing => {
                listed.clear();
                tracing::warn!(%error, "listing failed; reading the watched campaigns one by one");
            }
            Err(error) => {
                listed.clear();
                listing_failure = Some(error);
            }
        }
    }

    let direct = plan.direct_reads(
        &listed,
        listing_failure.is_some(),
        stored.iter().map(|(key, brief)| (key, known(brief))),
    );
    observations.extend(read_by_id(client, direct, concurrency).await);
    // Listing and direct reads never overlap; sorted for a stable event order.
    // In place: a large first cycle is not copied to be sorted.
    observations.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
    Fetched {
        observations,
        unchanged,
        listing_failure,
        reading: Reading {
            count_requests: counted,
            ..Reading::default()
        },
    }
}

/// One GET per id, `concurrency` at a time.
pub(super) async fn read_by_id(
    client: &SigmaMindClient,
    ids: Vec<String>,
    concurrency: usize,
) -> Vec<(String, Observation)> {
    let auth_rejected = AtomicBool::new(false);
    stream::iter(ids)
        .map(|id| {
            let auth_rejected = &auth_rejected;
            async move {
                // One rejected key rejects them all: don't hammer the API with it.
                if auth_rejected.load(Ordering::Relaxed) {
                    let failure = FetchFailure {
                        reason: "skipped: the API rejected the key earlier in this cycle".into(),
                        auth_rejected: true,
                    };
                    return (id, Observation::Failed(failure));
                }
                let observation = client.observe(&id).await;
                if let Observation::Failed(failure) = &observation {
                    if failure.auth_rejected {
                        auth_rejected.store(true, Ordering::Relaxed);
                    }
                }
                (id, observation)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}
