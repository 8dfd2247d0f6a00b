use chrono::TimeZone;

use super::*;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, minute, 0).unwrap()
}

#[test]
fn only_a_complete_read_that_misses_a_campaign_starts_its_retention_clock() {
    let key = "camp_1".to_string();
    let last_read = Some(at(1));
    // (recorded before, failed now, complete cycle) -> (unseen row, clock started)
    let table = [
        (None, false, true, true, true),
        (None, false, false, true, false),
        (None, true, true, true, false),
        (None, true, false, true, false),
        (Some(false), false, true, false, true),
        (Some(false), true, true, false, false),
        (Some(false), false, false, false, false),
        (Some(true), true, true, false, false),
        (Some(true), false, true, false, false),
    ];
    for (recorded, failed_now, complete, new_row, clock) in table {
        let unseen: HashMap<String, bool> = recorded
            .map(|missing| (key.clone(), missing))
            .into_iter()
            .collect();
        let failed: HashSet<&str> = failed_now.then_some(key.as_str()).into_iter().collect();
        let changes = sightings(
            &unseen,
            &HashSet::new(),
            &failed,
            complete,
            [(&key, at(0))].into_iter(),
            last_read,
            at(2),
        );
        let case = format!("{recorded:?} failed={failed_now} complete={complete}");
        assert_eq!(
            changes.unseen,
            if new_row {
                vec![(key.clone(), at(1))]
            } else {
                vec![]
            },
            "{case}"
        );
        assert_eq!(
            changes.missing,
            if clock {
                vec![(key.clone(), at(2))]
            } else {
                vec![]
            },
            "{case}"
        );
        assert!(changes.seen_again.is_empty(), "{case}");
    }
}

#[test]
fn a_campaign_found_again_loses_its_row_whatever_its_clock() {
    let key = "camp_1".to_string();
    for clock in [false, true] {
        let unseen = HashMap::from([(key.clone(), clock)]);
        let found = HashSet::from([key.as_str()]);
        let changes = sightings(
            &unseen,
            &found,
            &HashSet::new(),
            true,
            [(&key, at(0))].into_iter(),
            None,
            at(2),
        );
        assert_eq!(
            changes,
            SeenChanges {
                seen_again: vec![key.clone()],
                ..SeenChanges::default()
            }
        );
    }
}
