//! When a listing stops: at its last page, or as soon as it shows it will never
//! end. A server whose `hasNext` never turns false would otherwise be paged up
//! to the 100,000-page guard while the cycle (and `/healthz`) waits.
//!
//! A listing that is stopped early is a failed listing, so the cycle is
//! unreadable and `watcher.api_unhealthy` follows after `unhealthy_after`.

use std::time::{Duration, Instant};

use super::wire::CampaignPage;

/// Stops a server that always answers `hasNext: true` from paging forever, when
/// nothing tighter is known.
pub(super) const PAGE_GUARD: u64 = 100_000;
/// Pages allowed past what the account's size says, for campaigns created while paging.
const PAGE_SLACK: u64 = 10;

/// What bounds one listing besides the server's own paging fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListingBounds {
    /// Campaigns in the last complete listing (0: not known yet).
    pub known_total: u64,
    /// Give up when the listing is still running this long after it started.
    pub deadline: Option<Duration>,
}

/// What to do after one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum NextPage {
    Fetch,
    Done,
    /// The listing will not end by itself; one sentence saying why.
    GiveUp(String),
}

/// Follows one listing page by page.
pub(super) struct ListingWatch {
    page_size: u64,
    bounds: ListingBounds,
    started: Instant,
    /// The page bound taken from the first page's totals (or `known_total`).
    max_pages: u64,
}

impl ListingWatch {
    pub(super) fn new(page_size: u64, bounds: ListingBounds, started: Instant) -> Self {
        let page_size = page_size.max(1);
        Self {
            page_size,
            bounds,
            started,
            max_pages: bound_from_size(bounds.known_total, page_size)
                .unwrap_or(PAGE_GUARD)
                .min(PAGE_GUARD),
        }
    }

    /// After page `page_number` (from 0): `received` entries, of which `new_ids`
    /// had not been listed before, `listed` distinct campaigns so far.
    pub(super) fn after_page(
        &mut self,
        page: &CampaignPage,
        page_number: u64,
        received: u64,
        new_ids: u64,
        listed: u64,
        now: Instant,
    ) -> NextPage {
        if is_last_page(page, page_number, received, self.page_size) {
            return NextPage::Done;
        }
        if page_number == 0 {
            // The account's size as the server tells it, or as the last listing
            // found it: twice its pages plus slack, so a growing account is
            // still listed whole.
            let told = page.total_count.or(page
                .total_pages
                .map(|pages| pages.saturating_mul(self.page_size)));
            let from_told = told.and_then(|total| bound_from_size(total, self.page_size));
            let from_known = bound_from_size(self.bounds.known_total, self.page_size);
            self.max_pages = from_told
                .max(from_known)
                .unwrap_or(PAGE_GUARD)
                .min(PAGE_GUARD);
        }
        if new_ids == 0 {
            return NextPage::GiveUp(format!(
                "page {page_number} repeats campaigns already listed, yet hasNext is still true"
            ));
        }
        if let Some(total_pages) = page.total_pages {
            if page_number + 1 >= total_pages {
                return NextPage::GiveUp(format!(
                    "page {page_number} is the last of totalPages {total_pages}, yet hasNext is still true"
                ));
            }
        }
        if let Some(total_count) = page.total_count {
            if listed >= total_count {
                return NextPage::GiveUp(format!(
                    "{listed} campaigns listed, all of totalCount {total_count}, yet hasNext is still true"
                ));
            }
        }
        if page_number + 1 >= self.max_pages {
            return NextPage::GiveUp(format!(
                "{} pages read, more than the account's size allows",
                page_number + 1
            ));
        }
        if let Some(deadline) = self.bounds.deadline {
            if now.saturating_duration_since(self.started) >= deadline {
                return NextPage::GiveUp(format!(
                    "still paging after {} (page {page_number})",
                    humantime::format_duration(deadline)
                ));
            }
        }
        NextPage::Fetch
    }
}

/// Twice the pages `total` campaigns take, plus slack; `None` when `total` is 0.
fn bound_from_size(total: u64, page_size: u64) -> Option<u64> {
    (total > 0).then(|| total.div_ceil(page_size).saturating_mul(2) + PAGE_SLACK)
}

/// Whether the listing has reached its end. `hasNext` is trusted when present, so a
/// server that caps `size` below what was asked still gets fully paged; otherwise
/// `totalPages`, then a short page, end it.
fn is_last_page(page: &CampaignPage, page_number: u64, received: u64, requested_size: u64) -> bool {
    if received == 0 {
        return true;
    }
    if let Some(has_next) = page.has_next {
        return !has_next;
    }
    if let Some(total_pages) = page.total_pages {
        return page_number + 1 >= total_pages;
    }
    received < page.size.filter(|size| *size > 0).unwrap_or(requested_size)
}

#[cfg(test)]
mod tests;
