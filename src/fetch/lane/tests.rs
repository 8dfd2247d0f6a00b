use std::collections::HashSet;
use std::time::Duration;

use super::*;

#[test]
fn the_budget_of_a_cycle_is_the_rate_over_one_interval() {
    let table = [
        (10.0, 1, Some(10)),
        (10.0, 60, Some(600)),
        (0.5, 1, Some(1)),
        (2.5, 3, Some(7)),
        (0.0, 60, None),
        (-1.0, 60, None),
        (f64::NAN, 60, None),
        (f64::INFINITY, 60, None),
    ];
    for (rate, seconds, expected) in table {
        assert_eq!(
            budget_per_cycle(rate, Duration::from_secs(seconds)),
            expected,
            "{rate}/s over {seconds}s"
        );
    }
}

#[test]
fn the_lane_is_taken_only_when_a_whole_listing_does_not_fit_the_budget() {
    use Listing::*;
    // (lanes, budget, account size, page size, listing)
    let table = [
        (true, Some(10), 10_000, 100, LaneAndSweep),
        (true, Some(100), 10_000, 100, Whole),
        (true, Some(99), 10_000, 100, LaneAndSweep),
        (true, Some(600), 10_000, 100, Whole),
        (true, None, 100_000, 100, Whole),
        (false, Some(10), 10_000, 100, Whole),
        // Size unknown: the first listing is whole and finds it out.
        (true, Some(10), 0, 100, Whole),
        (true, Some(1), 2, 1, LaneAndSweep),
    ];
    for (lanes, budget, size, page, expected) in table {
        assert_eq!(
            choose_listing(lanes, budget, size, page),
            expected,
            "lanes {lanes}, budget {budget:?}, {size} campaigns by {page}"
        );
    }
}

#[test]
fn the_sweep_reads_what_the_lane_and_the_reads_by_id_leave_and_never_less_than_a_page() {
    // (budget, lane requests, reads by id, sweep pages)
    let table = [
        (10, 10, 0, 1),
        (20, 10, 0, 10),
        (20, 10, 3, 7),
        (20, 10, 30, 1),
        (600, 10, 2, 588),
        (u64::MAX, 10, 2, u64::MAX - 12),
    ];
    for (budget, lane, direct, expected) in table {
        assert_eq!(
            sweep_pages(budget, lane, direct),
            expected,
            "{budget} - {lane} - {direct}"
        );
    }
}

#[test]
fn how_the_budget_is_spent_in_one_phrase() {
    // (lanes, budget, size, live, page, phrase)
    let table = [
        (
            true,
            Some(10),
            10_000,
            1_000,
            100,
            "live lane 10 requests a cycle, sweep 100 pages every 100 cycles",
        ),
        (
            true,
            Some(20),
            10_000,
            1_000,
            100,
            "live lane 10 requests a cycle, sweep 100 pages every 10 cycles",
        ),
        (
            true,
            Some(10),
            10_000,
            50,
            100,
            "live lane 1 request a cycle, sweep 100 pages every 12 cycles",
        ),
        (
            true,
            Some(600),
            10_000,
            1_000,
            100,
            "every campaign listed each cycle (100 pages within the budget of 600 requests a cycle)",
        ),
        (
            false,
            Some(10),
            10_000,
            1_000,
            100,
            "every campaign listed each cycle (100 pages, more than the budget of 10 requests a cycle: the lane is off)",
        ),
        (
            true,
            None,
            10_000,
            1_000,
            100,
            "every campaign listed each cycle (100 pages, no request budget)",
        ),
    ];
    for (lanes, budget, size, live, page, phrase) in table {
        assert_eq!(describe(lanes, budget, size, live, page), phrase);
    }
}

fn known(live: bool, pending: bool, not_found: bool) -> Known {
    Known {
        fingerprint: 1,
        not_found,
        pending,
        live,
    }
}

#[test]
fn what_a_lane_cycle_reads_by_id() {
    let stored = [
        ("live_listed", known(true, false, false)),
        ("live_missing", known(true, false, false)),
        ("paused_quiet", known(false, false, false)),
        ("paused_pending", known(false, true, false)),
        ("pending_listed", known(false, true, false)),
        ("gone", known(true, true, true)),
        ("unswept", known(false, false, false)),
    ];
    let stored: Vec<(String, Known)> = stored
        .iter()
        .map(|(key, known)| (key.to_string(), *known))
        .collect();
    let read: HashSet<String> = ["live_listed", "pending_listed", "explicit_listed"]
        .iter()
        .map(|id| id.to_string())
        .collect();
    let explicit = vec!["explicit_listed".to_string(), "explicit_new".to_string()];
    let swept = |key: &str| key != "unswept";
    let reads = |lane_complete: bool, swept: Option<&dyn Fn(&str) -> bool>| {
        direct_reads(
            stored.iter().map(|(key, known)| (key, *known)),
            &explicit,
            &read,
            lane_complete,
            swept,
        )
    };
    // (lane read in full, the sweep ended, reads by id)
    let table: [(bool, bool, &[&str]); 4] = [
        (
            true,
            false,
            &["explicit_new", "live_missing", "paused_pending"],
        ),
        (
            true,
            true,
            &["explicit_new", "live_missing", "paused_pending", "unswept"],
        ),
        (false, false, &["explicit_new", "paused_pending"]),
        (false, true, &["explicit_new", "paused_pending", "unswept"]),
    ];
    for (lane_complete, ended, expected) in table {
        let got = reads(
            lane_complete,
            ended.then_some(&swept as &dyn Fn(&str) -> bool),
        );
        assert_eq!(got, expected, "lane {lane_complete}, ended {ended}");
    }
}

#[test]
fn a_sweep_advances_over_cycles_and_ends_with_its_period() {
    let mut sweep = Sweep::default();
    assert_eq!(sweep.next_page(), 0);
    sweep.note("a", true);
    sweep.note("b", false);
    assert_eq!(sweep.advance(3, false), None);
    assert_eq!(sweep.next_page(), 3);
    sweep.note("a", false);
    assert!(sweep.has_listed("a") && sweep.has_listed_watched("a"));
    assert!(sweep.has_listed("b") && !sweep.has_listed_watched("b"));
    assert!(!sweep.has_listed("c"));
    let period = sweep.advance(2, true);
    assert_eq!(
        period,
        Some(SweepPeriod {
            pages: 5,
            cycles: 2,
            campaigns: 2
        })
    );
    assert_eq!(sweep.next_page(), 0, "the next sweep starts at page 0");
    assert!(!sweep.has_listed("a"), "and lists afresh");
    assert_eq!(sweep.last(), period);
    sweep.advance(1, false);
    sweep.restart();
    assert_eq!((sweep.next_page(), sweep.progress()), (0, (0, 0)));
    assert_eq!(sweep.last(), period, "a restart keeps the last period");
}

/// Pages of `page_size` over `campaigns` as the server holds them now.
fn page_of(campaigns: &[&str], page: usize, page_size: usize) -> Vec<String> {
    campaigns
        .iter()
        .skip(page * page_size)
        .take(page_size)
        .map(|id| id.to_string())
        .collect()
}

#[test]
fn page_drift_neither_hides_nor_doubles_a_stored_campaign() {
    // Two campaigns a page, one page a cycle. After the first cycle "x" is
    // created first, so "b" is listed again on page 1; after the second "c"
    // is deleted, so "d" moves onto page 1 (already read) and this sweep never
    // lists it.
    let first = ["a", "b", "c", "d", "e", "f"];
    let created = ["x", "a", "b", "c", "d", "e", "f"];
    let deleted = ["x", "a", "b", "d", "e", "f"];
    let stored: Vec<(String, Known)> = first
        .iter()
        .map(|id| (id.to_string(), known(false, false, false)))
        .collect();
    let mut sweep = Sweep::default();
    let mut reads_per_cycle = Vec::new();
    for server in [&first[..], &created[..], &deleted[..]] {
        let page = page_of(server, sweep.next_page() as usize, 2);
        let ended = (sweep.next_page() as usize + 1) * 2 >= server.len();
        let mut read = HashSet::new();
        for id in &page {
            sweep.note(id, true);
            read.insert(id.clone());
        }
        let listed = |key: &str| sweep.has_listed(key);
        let direct = direct_reads(
            stored.iter().map(|(key, known)| (key, *known)),
            &[],
            &read,
            true,
            ended.then_some(&listed as &dyn Fn(&str) -> bool),
        );
        reads_per_cycle.push((page, direct));
        sweep.advance(1, ended);
    }
    let strings = |ids: &[&str]| ids.iter().map(|id| id.to_string()).collect::<Vec<_>>();
    assert_eq!(
        reads_per_cycle,
        [
            (strings(&["a", "b"]), vec![]),
            // "b" again, in another cycle: read once in each.
            (strings(&["b", "c"]), vec![]),
            // The last page. "d" was never listed by this sweep: read by id at
            // its end. "c", listed before it was deleted, is not listed by the
            // next sweep, whose GET's 404 is its not-found; "x", new, is
            // listed by the next sweep.
            (strings(&["e", "f"]), strings(&["d"])),
        ]
    );
    assert_eq!(sweep.last().map(|period| period.pages), Some(3));
}
