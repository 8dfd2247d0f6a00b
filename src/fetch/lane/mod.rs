//! The live lane and the sweep: how an account read by listing spends its
//! request budget when one listing of everything does not fit in an interval.
//!
//! A whole listing of 10,000 campaigns is 100 pages, 10 s at 10 requests a
//! second, so a change waits for the page it is on. The changes people act on
//! all involve `live`, so each cycle first lists `status=live` in full (the
//! lane), reads by GET what must be read now (a live campaign missing from the
//! lane, a campaign whose debounce or failed read is not settled, explicit
//! ids), and gives the rest of the interval's budget to the sweep: the next
//! pages of the whole listing, at least one a cycle, so every campaign is
//! read within one sweep. Everything here is pure but [`Sweep`], the
//! cursor the plan keeps between cycles (in memory: a restart starts a fresh
//! sweep).

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::time::Duration;

use super::known::Known;

/// How a cycle lists an account read by listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Every page in one listing, as the budget allows (or the lane is off).
    Whole,
    /// `status=live` in full, then the sweep's next pages.
    LaneAndSweep,
}

/// Requests one cycle may spend: the budget per second over one interval, at
/// least one; `None` when there is no budget (`max_requests_per_second = 0`).
pub fn budget_per_cycle(requests_per_second: f64, interval: Duration) -> Option<u64> {
    if !(requests_per_second.is_finite() && requests_per_second > 0.0) {
        return None;
    }
    let requests = (requests_per_second * interval.as_secs_f64()).floor();
    Some((requests as u64).max(1))
}

/// Pages a whole listing of `campaigns` takes.
pub fn pages_for(campaigns: u64, page_size: u32) -> u64 {
    campaigns.div_ceil(u64::from(page_size.max(1)))
}

/// The lane is taken only when it is on, there is a budget, the account's
/// size is known (the first listing finds it out whole), and a whole listing
/// does not fit in one cycle's budget: otherwise the whole listing already
/// reads every campaign every cycle, and the lane would only add requests.
pub fn choose_listing(
    lanes: bool,
    budget: Option<u64>,
    account_size: u64,
    page_size: u32,
) -> Listing {
    match budget {
        Some(budget)
            if lanes && account_size > 0 && pages_for(account_size, page_size) > budget =>
        {
            Listing::LaneAndSweep
        }
        _ => Listing::Whole,
    }
}

/// Pages the sweep reads this cycle: what the lane and the reads by id leave of
/// the budget, and never fewer than one, so a sweep always ends.
pub fn sweep_pages(budget: u64, lane_requests: u64, direct_reads: u64) -> u64 {
    budget
        .saturating_sub(lane_requests.saturating_add(direct_reads))
        .max(1)
}

/// How the budget is spent, in one phrase: for `check-config --online` and
/// the log line at the end of a sweep.
pub fn describe(
    lanes: bool,
    budget: Option<u64>,
    account_size: u64,
    live: u64,
    page_size: u32,
) -> String {
    let pages = pages_for(account_size, page_size);
    let Some(budget) = budget else {
        return format!("every campaign listed each cycle ({pages} pages, no request budget)");
    };
    match choose_listing(lanes, Some(budget), account_size, page_size) {
        Listing::Whole if !lanes && pages > budget => format!(
            "every campaign listed each cycle ({pages} pages, more than the budget of {budget} requests a cycle: the lane is off)"
        ),
        Listing::Whole => format!(
            "every campaign listed each cycle ({pages} pages within the budget of {budget} requests a cycle)"
        ),
        Listing::LaneAndSweep => {
            let lane = pages_for(live, page_size).max(1);
            let per_cycle = sweep_pages(budget, lane, 0);
            let cycles = pages.div_ceil(per_cycle);
            format!(
                "live lane {lane} request{} a cycle, sweep {pages} pages every {cycles} cycle{}",
                plural(lane),
                plural(cycles)
            )
        }
    }
}

fn plural(count: u64) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// What a lane cycle must read by id: stored campaigns (not already known to be
/// gone) that this cycle's listings did not read and that
/// - were live while the lane was read in full: they changed, read them now;
/// - wait on a debounce candidate or a failed read: read every cycle until settled;
/// - are named explicitly: explicit ids are read every cycle;
/// - were not listed at all by a sweep that ended this cycle (`swept` says
///   which were): absence from a listing is confirmed by a GET, never assumed.
///
/// Explicit ids never stored are read too. Sorted, without repeats.
pub fn direct_reads<'a>(
    stored: impl Iterator<Item = (&'a String, Known)>,
    explicit: &[String],
    read: &HashSet<String>,
    lane_complete: bool,
    swept: Option<&dyn Fn(&str) -> bool>,
) -> Vec<String> {
    let mut direct: Vec<String> = stored
        .filter(|(key, known)| !known.not_found && !read.contains(*key))
        .filter(|(key, known)| {
            (lane_complete && known.live)
                || known.pending
                || swept.is_some_and(|listed| !listed(key))
        })
        .map(|(key, _)| key.clone())
        .collect();
    direct.extend(explicit.iter().filter(|id| !read.contains(*id)).cloned());
    direct.sort();
    direct.dedup();
    direct
}

/// A sweep that ended: how many pages it read over how many cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepPeriod {
    pub pages: u64,
    pub cycles: u64,
    /// Distinct campaigns it (and the lanes during it) listed.
    pub campaigns: u64,
}

/// The sweep's cursor and what it has listed so far, kept between cycles.
///
/// Campaigns are remembered by a 64-bit hash of their id (8 bytes rather than a
/// string each, at 100,000 campaigns) with a hasher keyed at random per sweep,
/// so the rare collision is never the same one twice.
#[derive(Debug, Default)]
pub struct Sweep {
    hasher: RandomState,
    next_page: u64,
    pages: u64,
    cycles: u64,
    /// Every campaign listed during this sweep (by the sweep or by a lane),
    /// with whether it is watched.
    listed: HashMap<u64, bool>,
    last: Option<SweepPeriod>,
}

impl Sweep {
    /// The page the sweep reads next (zero-based).
    pub fn next_page(&self) -> u64 {
        self.next_page
    }

    /// The last sweep that ended, if one has.
    pub fn last(&self) -> Option<SweepPeriod> {
        self.last
    }

    /// Pages and cycles of the sweep in progress so far.
    pub fn progress(&self) -> (u64, u64) {
        (self.pages, self.cycles)
    }

    /// `id` was listed during this sweep, watched or not.
    pub fn note(&mut self, id: &str, watched: bool) {
        let key = self.hasher.hash_one(id);
        let entry = self.listed.entry(key).or_insert(false);
        *entry |= watched;
    }

    /// Whether `id` was listed during this sweep.
    pub fn has_listed(&self, id: &str) -> bool {
        self.listed.contains_key(&self.hasher.hash_one(id))
    }

    /// Whether `id` was listed during this sweep and is watched.
    pub fn has_listed_watched(&self, id: &str) -> bool {
        self.listed.get(&self.hasher.hash_one(id)) == Some(&true)
    }

    /// One cycle of the sweep read `pages` pages; `ended` when the last page was
    /// among them. An ended sweep is returned and the next starts at page 0.
    pub fn advance(&mut self, pages: u64, ended: bool) -> Option<SweepPeriod> {
        self.pages += pages;
        self.cycles += 1;
        self.next_page += pages;
        if !ended {
            return None;
        }
        let period = SweepPeriod {
            pages: self.pages,
            cycles: self.cycles,
            campaigns: self.listed.len() as u64,
        };
        *self = Self {
            last: Some(period),
            ..Self::default()
        };
        Some(period)
    }

    /// Start again from page 0, forgetting what this sweep listed (a whole
    /// listing read everything; the next sweep starts fresh).
    pub fn restart(&mut self) {
        let last = self.last;
        *self = Self {
            last,
            ..Self::default()
        };
    }
}

#[cfg(test)]
mod tests;
