//! Choosing what to read: by listing (`watch.all`, or explicit ids when listing
//! is cheaper than one GET each) and by id, with the `include`/`exclude` globs and
//! `watch.statuses` deciding which listed campaigns count.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::known::Known;
use super::lane::{self, Listing, Sweep};
use crate::config::WatchSettings;
use crate::observe::{CampaignStatus, Observation};

/// What a cycle reads, from `[watch]`. Remembers the account's size between
/// cycles to decide whether listing beats GETs by id.
#[derive(Debug)]
pub struct ReadPlan {
    all: bool,
    /// `watch.campaigns` in configured order, and as a set.
    campaigns: Vec<String>,
    explicit: HashSet<String>,
    statuses: Vec<CampaignStatus>,
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
    page_size: u32,
    list_threshold: usize,
    /// Campaigns in the last listing; decides whether listing beats GETs by id.
    known_total: AtomicU64,
    /// How long one listing may page before the cycle gives it up.
    listing_deadline: Duration,
    /// `watch.lanes`, and the interval whose budget a cycle may spend.
    lanes: bool,
    interval: Duration,
    /// Set when a `status=live` listing answered a campaign that is not live:
    /// the API ignores the filter, so this account is listed whole.
    lane_refused: AtomicBool,
    /// The sweep's cursor, between cycles.
    sweep: Mutex<Sweep>,
}

/// A listing may run this many intervals before it is given up...
const LISTING_DEADLINE_INTERVALS: u32 = 4;
/// ...but never less than this (a 1 s interval still gets a fair listing), and
/// this long when the cycle runs on a `schedule` rather than an interval.
const LISTING_DEADLINE_FLOOR: Duration = Duration::from_secs(30);
const LISTING_DEADLINE_SCHEDULED: Duration = Duration::from_secs(300);

/// `None` for an empty list; patterns were checked by the config's `validate()`,
/// an invalid one is skipped rather than guessed at.
fn glob_set(patterns: &[String]) -> Option<GlobSet> {
    if patterns.is_empty() {
        return None;
    }
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        if let Ok(glob) = Glob::new(pattern) {
            builder.add(glob);
        }
    }
    builder.build().ok()
}

impl ReadPlan {
    pub fn new(watch: &WatchSettings) -> Self {
        Self {
            all: watch.all,
            campaigns: watch.campaigns.clone(),
            explicit: watch.campaigns.iter().cloned().collect(),
            statuses: watch.statuses.clone(),
            include: glob_set(&watch.include),
            exclude: glob_set(&watch.exclude),
            page_size: watch.page_size,
            list_threshold: watch.list_threshold,
            known_total: AtomicU64::new(0),
            listing_deadline: watch
                .interval
                .map_or(LISTING_DEADLINE_SCHEDULED, |interval| {
                    interval
                        .saturating_mul(LISTING_DEADLINE_INTERVALS)
                        .max(LISTING_DEADLINE_FLOOR)
                }),
            lanes: watch.lanes,
            interval: watch.effective_interval(),
            lane_refused: AtomicBool::new(false),
            sweep: Mutex::new(Sweep::default()),
        }
    }

    /// How this cycle lists `watch.all`: whole, or by the lane and the sweep
    /// when a whole listing does not fit in one interval's budget. The
    /// account's size is the last listing's, or the stored campaigns' count.
    pub fn listing(&self, requests_per_second: f64, stored: usize) -> Listing {
        // Nothing stored: the first listing is whole, so the baseline is
        // complete at once and a change to any campaign is announced after it.
        if stored == 0 {
            return Listing::Whole;
        }
        let size = self.known_total.load(Ordering::Relaxed).max(stored as u64);
        lane::choose_listing(
            self.lanes_on(),
            self.budget(requests_per_second),
            size,
            self.page_size,
        )
    }

    /// The account's size is worth one request to find out before the first
    /// listing: its deadline follows the size ([`Self::listing_bounds`]), so a
    /// large account's first listing is not given up as endless.
    pub fn should_count(&self, requests_per_second: f64, stored: usize) -> bool {
        self.all
            && stored == 0
            && self.known_total.load(Ordering::Relaxed) == 0
            && self.budget(requests_per_second).is_some()
    }

    /// Requests one cycle may spend (`None`: no budget).
    pub fn budget(&self, requests_per_second: f64) -> Option<u64> {
        lane::budget_per_cycle(requests_per_second, self.interval)
    }

    /// The lane is configured on and the API has not shown it ignores the filter.
    pub fn lanes_on(&self) -> bool {
        self.lanes && !self.lane_refused.load(Ordering::Relaxed)
    }

    /// The API answered a `status=live` listing with a campaign that is not
    /// live: list this account whole from now on. True the first time.
    pub fn refuse_lane(&self) -> bool {
        !self.lane_refused.swap(true, Ordering::Relaxed)
    }

    /// The sweep's cursor, taken out for a cycle; [`Self::put_sweep`] returns it.
    pub fn take_sweep(&self) -> Sweep {
        std::mem::take(
            &mut *self
                .sweep
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// A whole listing read everything: the next sweep starts at page 0.
    pub fn restart_sweep(&self) {
        self.sweep
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .restart();
    }

    pub fn put_sweep(&self, sweep: Sweep) {
        *self
            .sweep
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = sweep;
    }

    /// The explicit ids, in configured order.
    pub fn explicit(&self) -> &[String] {
        &self.campaigns
    }

    /// What bounds this cycle's listing: the account's last known size and a
    /// deadline, never shorter than twice what paging the known size takes at
    /// the request budget (100,000 campaigns at 10 requests a second take 100 s).
    pub fn listing_bounds(&self, requests_per_second: f64) -> super::ListingBounds {
        let known_total = self.known_total.load(Ordering::Relaxed);
        let paging = match requests_per_second.is_finite() && requests_per_second > 0.0 {
            true => lane::pages_for(known_total, self.page_size) as f64 / requests_per_second,
            false => 0.0,
        };
        let deadline = Duration::try_from_secs_f64(2.0 * paging)
            .unwrap_or(Duration::MAX)
            .max(self.listing_deadline);
        super::ListingBounds {
            known_total,
            deadline: Some(deadline),
        }
    }

    /// Every campaign the account has is listed (`watch.all`).
    pub fn lists_all(&self) -> bool {
        self.all
    }

    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// Explicit ids are read by listing when there are more than `list_threshold`
    /// of them and the last listing took fewer pages than one GET per campaign
    /// (an unknown account size is found out by listing once).
    pub fn listing_is_cheaper(&self) -> bool {
        let ids = self.campaigns.len() as u64;
        if ids <= self.list_threshold as u64 {
            return false;
        }
        let total = self.known_total.load(Ordering::Relaxed);
        total == 0 || total.div_ceil(u64::from(self.page_size.max(1))) < ids
    }

    /// A listing completed with this many campaigns.
    pub fn listed(&self, total: usize) {
        self.known_total.store(total as u64, Ordering::Relaxed);
    }

    /// Whether a listed campaign is watched: named explicitly, or (with
    /// `watch.all`) wanted by the globs and statuses.
    pub fn wants_listed(&self, id: &str, observation: &Observation, stored: bool) -> bool {
        self.explicit.contains(id)
            || (self.all && self.wanted_from_listing(id, observation, stored))
    }

    /// `include`/`exclude` globs on id or name decide first. Then, with
    /// `watch.statuses`, a listed campaign counts if its status is wanted, or if it
    /// is already watched (`stored`, so its move out of those statuses is announced).
    fn wanted_from_listing(&self, id: &str, observation: &Observation, stored: bool) -> bool {
        let name = match observation {
            Observation::Found(snapshot) => snapshot.name.as_str(),
            _ => "",
        };
        let matches = |globs: &Option<GlobSet>| {
            globs
                .as_ref()
                .map(|set| set.is_match(id) || (!name.is_empty() && set.is_match(name)))
        };
        if matches(&self.exclude) == Some(true) || matches(&self.include) == Some(false) {
            return false;
        }
        if self.statuses.is_empty() || stored {
            return true;
        }
        match observation {
            Observation::Found(snapshot) => self.statuses.contains(&snapshot.status),
            _ => false,
        }
    }

    /// Campaigns read by id: explicit ids not already seen in the listing, plus
    /// (after a good listing of all) stored campaigns that vanished from it:
    /// absence from a list is never "not found" until a direct GET says 404.
    /// Sorted, without repeats.
    pub fn direct_reads<'a>(
        &self,
        listed: &BTreeSet<String>,
        listing_failed: bool,
        stored: impl Iterator<Item = (&'a String, Known)>,
    ) -> Vec<String> {
        let mut direct: Vec<String> = self
            .campaigns
            .iter()
            .filter(|id| !listed.contains(*id))
            .cloned()
            .collect();
        if self.all && !listing_failed {
            direct.extend(
                stored
                    .filter(|(key, known)| {
                        !known.not_found && !listed.contains(*key) && !self.explicit.contains(*key)
                    })
                    .map(|(key, _)| key.clone()),
            );
        }
        direct.sort();
        direct.dedup();
        direct
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(id: &str, name: &str, status: CampaignStatus) -> Observation {
        Observation::Found(crate::fixtures::snapshot(id, name, status))
    }

    fn watch_all(include: &[&str], exclude: &[&str], statuses: &[&str]) -> ReadPlan {
        ReadPlan::new(&WatchSettings {
            all: true,
            include: include.iter().map(|glob| glob.to_string()).collect(),
            exclude: exclude.iter().map(|glob| glob.to_string()).collect(),
            statuses: statuses
                .iter()
                .map(|status| status.parse().unwrap())
                .collect(),
            ..WatchSettings::default()
        })
    }

    #[test]
    fn globs_decide_first_then_statuses_unless_already_watched() {
        let plan = watch_all(&["camp_eu_*"], &["*test*"], &["live"]);
        let live = |id: &str, name: &str| found(id, name, CampaignStatus::Live);
        assert!(plan.wants_listed("camp_eu_1", &live("camp_eu_1", "Q4"), false));
        assert!(!plan.wants_listed("camp_us_1", &live("camp_us_1", "Q4"), false));
        assert!(!plan.wants_listed("camp_eu_2", &live("camp_eu_2", "a test"), true));
        let paused = found("camp_eu_3", "Q4", CampaignStatus::Paused);
        assert!(!plan.wants_listed("camp_eu_3", &paused, false));
        // Already watched: its move out of `live` is announced.
        assert!(plan.wants_listed("camp_eu_3", &paused, true));
    }

    #[test]
    fn explicit_ids_are_listed_only_when_a_listing_takes_fewer_requests() {
        let ids: Vec<String> = (0..30).map(|n| format!("camp_{n}")).collect();
        let plan = ReadPlan::new(&WatchSettings {
            campaigns: ids,
            list_threshold: 20,
            page_size: 10,
            ..WatchSettings::default()
        });
        assert!(
            plan.listing_is_cheaper(),
            "an unknown account is listed once"
        );
        plan.listed(200);
        assert!(plan.listing_is_cheaper(), "20 pages beat 30 GETs");
        plan.listed(400);
        assert!(!plan.listing_is_cheaper(), "40 pages do not");
    }

    #[test]
    fn a_listing_may_take_twice_what_paging_the_known_size_takes() {
        let plan = ReadPlan::new(&WatchSettings {
            all: true,
            interval: Some(Duration::from_secs(1)),
            ..WatchSettings::default()
        });
        let deadline = |rate| plan.listing_bounds(rate).deadline.unwrap();
        assert_eq!(deadline(10.0), LISTING_DEADLINE_FLOOR, "size unknown");
        plan.listed(100_000);
        assert_eq!(deadline(10.0), Duration::from_secs(200));
        assert_eq!(deadline(0.0), LISTING_DEADLINE_FLOOR, "no budget");
        plan.listed(1_000);
        assert_eq!(deadline(10.0), LISTING_DEADLINE_FLOOR);
    }

    #[test]
    fn only_a_first_cycle_on_a_budget_counts_the_campaigns() {
        let plan = watch_all(&[], &[], &[]);
        assert!(plan.should_count(10.0, 0));
        assert!(!plan.should_count(0.0, 0), "no budget: listed whole");
        assert!(!plan.should_count(10.0, 5), "something is stored");
        plan.listed(40);
        assert!(!plan.should_count(10.0, 0), "the size is known");
        let by_id = ReadPlan::new(&WatchSettings::default());
        assert!(!by_id.should_count(10.0, 0));
    }

    #[test]
    fn campaigns_missing_from_a_good_listing_are_read_by_id() {
        let plan = watch_all(&[], &[], &[]);
        let listed = BTreeSet::from(["a".to_string()]);
        let known = |not_found| Known {
            fingerprint: 1,
            not_found,
            pending: false,
            live: false,
        };
        let stored = [
            ("a".to_string(), known(false)),
            ("b".to_string(), known(false)),
            ("gone".to_string(), known(true)),
        ];
        let direct = |failed| {
            plan.direct_reads(
                &listed,
                failed,
                stored.iter().map(|(key, known)| (key, *known)),
            )
        };
        assert_eq!(direct(false), vec!["b".to_string()]);
        assert!(direct(true).is_empty(), "a failed listing proves nothing");
    }
}
