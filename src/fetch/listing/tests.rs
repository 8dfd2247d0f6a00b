use super::*;

fn page(
    total_count: Option<u64>,
    total_pages: Option<u64>,
    has_next: Option<bool>,
) -> CampaignPage {
    CampaignPage {
        items: vec![],
        page: None,
        size: Some(10),
        total_count,
        total_pages,
        has_next,
    }
}

/// One listing of 10-campaign pages, each page given as (page, new ids);
/// what the watch says after the last one given.
fn run(bounds: ListingBounds, pages: &[(CampaignPage, u64)], elapsed: Duration) -> NextPage {
    let started = Instant::now();
    let mut watch = ListingWatch::new(10, bounds, started);
    let mut listed = 0;
    let mut next = NextPage::Fetch;
    for (number, (page, new_ids)) in pages.iter().enumerate() {
        listed += new_ids;
        next = watch.after_page(page, number as u64, 10, *new_ids, listed, started + elapsed);
        if next != NextPage::Fetch {
            break;
        }
    }
    next
}

fn gives_up(next: &NextPage, because: &str) -> bool {
    matches!(next, NextPage::GiveUp(reason) if reason.contains(because))
}

#[test]
fn a_listing_stops_where_it_shows_it_will_not_end() {
    let none = ListingBounds::default();
    let endless = |count| page(Some(count), Some(count.div_ceil(10)), Some(true));
    // (what, bounds, pages as (page, new ids), time taken, why it gives up)
    type Case = (
        &'static str,
        ListingBounds,
        Vec<(CampaignPage, u64)>,
        Duration,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "the same page again",
            none,
            vec![(endless(100), 10), (endless(100), 0)],
            Duration::ZERO,
            "repeats",
        ),
        (
            "past totalPages",
            none,
            vec![
                (page(None, Some(2), Some(true)), 10),
                (page(None, Some(2), Some(true)), 10),
            ],
            Duration::ZERO,
            "totalPages 2",
        ),
        (
            "past totalCount",
            none,
            vec![
                (page(Some(15), None, Some(true)), 10),
                (page(Some(15), None, Some(true)), 10),
            ],
            Duration::ZERO,
            "totalCount 15",
        ),
        (
            "more pages than the last known size allows",
            ListingBounds {
                known_total: 20,
                deadline: None,
            },
            (0..15)
                .map(|_| (page(None, None, Some(true)), 10))
                .collect(),
            Duration::ZERO,
            "account's size",
        ),
        (
            "past the deadline",
            ListingBounds {
                known_total: 0,
                deadline: Some(Duration::from_secs(30)),
            },
            vec![(page(None, None, Some(true)), 10)],
            Duration::from_secs(31),
            "still paging after 30s",
        ),
    ];
    for (what, bounds, pages, elapsed, because) in cases {
        let next = run(bounds, &pages, elapsed);
        assert!(gives_up(&next, because), "{what}: {next:?}");
    }
}

#[test]
fn a_well_behaved_listing_is_read_to_its_end() {
    let none = ListingBounds::default();
    let pages: Vec<(CampaignPage, u64)> = (0..5)
        .map(|n| (page(Some(50), Some(5), Some(n < 4)), 10))
        .collect();
    assert_eq!(run(none, &pages, Duration::ZERO), NextPage::Done);
    // An account that grew well past its last known size is still read.
    let bounds = ListingBounds {
        known_total: 10,
        deadline: Some(Duration::from_secs(60)),
    };
    assert_eq!(run(bounds, &pages, Duration::from_secs(5)), NextPage::Done);
    // Without paging fields, a short page ends it.
    let mut short = page(None, None, None);
    short.size = Some(10);
    let mut watch = ListingWatch::new(10, none, Instant::now());
    assert_eq!(
        watch.after_page(&short, 0, 3, 3, 3, Instant::now()),
        NextPage::Done
    );
}
