//! Reading every watched campaign once per cycle, as the [`ReadPlan`] says: a
//! listing where it applies, then GETs by id, a few at a time.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

use futures::stream::{self, StreamExt};

use super::plan::{Known, ReadPlan};
use super::{FetchError, SigmaMindClient};
use crate::observe::{FetchFailure, Observation};

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
                plan.listing_bounds(),
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
    }
}

/// One GET per id, `concurrency` at a time.
async fn read_by_id(
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
