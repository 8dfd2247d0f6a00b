//! Listing campaigns: GET /v1/campaigns page by page, whole or a range of
//! pages, optionally filtered by status.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::time::Instant;

use super::{wire, Answer, SigmaMindClient, PROGRESS_EVERY};
use crate::fetch::error::FetchError;
use crate::fetch::listing::{ListingBounds, ListingWatch, NextPage};
use crate::observe::Observation;

/// Which pages of a listing to read: from page `first` (zero-based), at most
/// `most` of them (`None`: to the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRange {
    pub first: u64,
    pub most: Option<u64>,
}

/// How far a listing of a [`PageRange`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PagesListed {
    /// Pages read (answers, not attempts).
    pub pages: u64,
    /// The listing's last page was among them.
    pub ended: bool,
    /// The last page's `totalCount`, when the server sent one.
    pub total_count: Option<u64>,
}

impl SigmaMindClient {
    /// Pages through GET /v1/campaigns from page 0; any page failing fails the whole listing,
    /// because a partial list would make the missing campaigns look unwatched rather than unreadable.
    pub async fn list(
        &self,
        page_size: u32,
        status: Option<&str>,
    ) -> Result<Vec<(String, Observation)>, FetchError> {
        let mut campaigns = Vec::new();
        self.list_each(page_size, status, |id, observation| {
            campaigns.push((id, observation))
        })
        .await?;
        Ok(campaigns)
    }

    /// [`list`](Self::list), handing each campaign to `each` as its page arrives,
    /// so a caller can keep only what it needs of a large account. On `Err`, what
    /// `each` was given came from an incomplete listing.
    pub async fn list_each(
        &self,
        page_size: u32,
        status: Option<&str>,
        each: impl FnMut(String, Observation),
    ) -> Result<(), FetchError> {
        self.list_each_within(page_size, status, ListingBounds::default(), each)
            .await
    }

    /// [`list_each`](Self::list_each), giving up (an `Err`) as soon as the listing
    /// shows it will not end: see [`super::listing`].
    pub async fn list_each_within(
        &self,
        page_size: u32,
        status: Option<&str>,
        bounds: ListingBounds,
        mut each: impl FnMut(String, Observation),
    ) -> Result<(), FetchError> {
        let pages = PageRange {
            first: 0,
            most: None,
        };
        self.list_pages(page_size, status, pages, bounds, |id, observation| {
            each(id, observation);
            ControlFlow::Continue(())
        })
        .await
        .map(|_| ())
    }

    /// Lists the pages of `pages` (all of them from `first` when `most` is
    /// `None`), handing each campaign to `each` as its page arrives. `each`
    /// may stop the listing after the page it is in (`ControlFlow::Break`).
    /// What the listing reached is in the answer; any page failing fails it.
    pub async fn list_pages(
        &self,
        page_size: u32,
        status: Option<&str>,
        pages: PageRange,
        bounds: ListingBounds,
        mut each: impl FnMut(String, Observation) -> ControlFlow<()>,
    ) -> Result<PagesListed, FetchError> {
        let page_size = page_size.max(1);
        let mut seen = HashSet::new();
        let started = Instant::now();
        let mut watch = ListingWatch::new(u64::from(page_size), bounds, started);
        let mut last_progress = started;
        let mut page_number = pages.first;
        let mut read = 0;
        loop {
            let mut url = self.endpoint(&["v1", "campaigns"]);
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("page", &page_number.to_string());
                query.append_pair("size", &page_size.to_string());
                if let Some(status) = status {
                    query.append_pair("status", status);
                }
            }
            let answer = match self.get_json(url).await? {
                Answer::Json(answer) => answer,
                Answer::NotFound => {
                    return Err(FetchError::HttpStatus {
                        status: 404,
                        excerpt: "the campaign list endpoint was not found".into(),
                    })
                }
            };
            read += 1;
            let page = wire::parse_page(answer)?;
            let received = page.items.len() as u64;
            let mut new_ids = 0;
            let mut stop = false;
            for item in &page.items {
                let Some(id) = wire::campaign_id_of(item) else {
                    tracing::warn!(
                        page = page_number,
                        "skipping a listed campaign without a readable campaignId"
                    );
                    continue;
                };
                if !seen.insert(id.clone()) {
                    continue;
                }
                new_ids += 1;
                let observation = match wire::normalise_campaign(item) {
                    Ok(snapshot) => Observation::Found(snapshot),
                    Err(error) => Observation::Failed(error.to_failure()),
                };
                stop |= each(id, observation).is_break();
            }
            let listed = seen.len() as u64;
            // A large account takes a while to list: say how far it got, every
            // few seconds, so a long first cycle is not mistaken for a hang.
            if last_progress.elapsed() >= PROGRESS_EVERY {
                last_progress = Instant::now();
                let of = page
                    .total_pages
                    .map_or(String::new(), |total| format!(" of {total}"));
                tracing::info!(
                    pages = page_number + 1,
                    campaigns = listed,
                    "listing campaigns: page {}{of}, {listed} campaigns so far",
                    page_number + 1
                );
            }
            let next = watch.after_page(
                &page,
                page_number,
                received,
                new_ids,
                listed,
                Instant::now(),
            );
            let reached = |ended| PagesListed {
                pages: read,
                ended,
                total_count: page.total_count,
            };
            match next {
                NextPage::Done => return Ok(reached(true)),
                NextPage::GiveUp(reason) => {
                    return Err(FetchError::EndlessListing { reason });
                }
                NextPage::Fetch if stop || pages.most.is_some_and(|most| read >= most) => {
                    return Ok(reached(false))
                }
                NextPage::Fetch => page_number += 1,
            }
        }
    }

    /// One request, GET /v1/campaigns?page=0&size=1 (and `status`): how many
    /// campaigns the listing holds, when the API says. For `check-config --online`.
    pub async fn count(&self, status: Option<&str>) -> Result<Option<u64>, FetchError> {
        let first = PageRange {
            first: 0,
            most: Some(1),
        };
        let listed = self
            .list_pages(1, status, first, ListingBounds::default(), |_, _| {
                ControlFlow::Continue(())
            })
            .await?;
        Ok(listed.total_count)
    }
}
