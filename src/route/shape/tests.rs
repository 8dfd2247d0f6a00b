use super::*;
use crate::route::quiet::QuietHoursSettings;
use chrono::{TimeDelta, TimeZone};

/// 2026-11-26 at `hour`:`minute` UTC.
fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, hour, minute, 0).unwrap()
}

fn night() -> QuietHours {
    QuietHours::from_settings(&QuietHoursSettings {
        start: "22:00".into(),
        end: "07:00".into(),
        timezone: "UTC".into(),
        except: vec!["watcher.api_unhealthy".into()],
    })
    .unwrap()
}

const PAUSED: DueRow = DueRow {
    kind: EventType::StatusChanged,
    released: false,
};
const OUTAGE: DueRow = DueRow {
    kind: EventType::ApiUnhealthy,
    released: false,
};
const RELEASED: DueRow = DueRow {
    kind: EventType::StatusChanged,
    released: true,
};

#[test]
fn quiet_hours_hold_the_rate_limit_defers_and_a_released_digest_takes_one_slot() {
    let morning = at(7, 0) + TimeDelta::days(1);
    struct Case {
        name: &'static str,
        quiet: Option<QuietHours>,
        limit: Option<u32>,
        sent: Vec<DateTime<Utc>>,
        rows: Vec<DueRow>,
        batches: bool,
        now: DateTime<Utc>,
        expected: Plan,
    }
    let cases = [
        Case {
            name: "no shaping: everything now",
            quiet: None,
            limit: None,
            sent: vec![],
            rows: vec![PAUSED, PAUSED],
            batches: false,
            now: at(23, 0),
            expected: Plan {
                send: vec![0, 1],
                ..Plan::default()
            },
        },
        Case {
            name: "quiet hours hold all but the excepted type",
            quiet: Some(night()),
            limit: None,
            sent: vec![],
            rows: vec![PAUSED, OUTAGE],
            batches: false,
            now: at(23, 0),
            expected: Plan {
                hold: vec![(0, morning)],
                send: vec![1],
                ..Plan::default()
            },
        },
        Case {
            name: "after the window: released rows are one digest, new rows are sent",
            quiet: Some(night()),
            limit: None,
            sent: vec![],
            rows: vec![RELEASED, RELEASED, PAUSED],
            batches: false,
            now: morning,
            expected: Plan {
                digest: vec![0, 1],
                send: vec![2],
                ..Plan::default()
            },
        },
        Case {
            name: "limit 2 with one sent 30 s ago: one now, the rest at +30 s",
            quiet: None,
            limit: Some(2),
            sent: vec![at(12, 0) - TimeDelta::seconds(30)],
            rows: vec![PAUSED, PAUSED, PAUSED],
            batches: false,
            now: at(12, 0),
            expected: Plan {
                send: vec![0],
                wait: vec![1, 2],
                wait_until: Some(at(12, 0) + TimeDelta::seconds(30)),
                ..Plan::default()
            },
        },
        Case {
            name: "the digest takes the last slot, the new row waits",
            quiet: Some(night()),
            limit: Some(1),
            sent: vec![],
            rows: vec![RELEASED, PAUSED],
            batches: false,
            now: morning,
            expected: Plan {
                digest: vec![0],
                wait: vec![1],
                wait_until: Some(morning + TimeDelta::minutes(1)),
                ..Plan::default()
            },
        },
        Case {
            name: "a batching channel's ready rows take one slot together",
            quiet: None,
            limit: Some(1),
            sent: vec![],
            rows: vec![PAUSED, PAUSED, PAUSED],
            batches: true,
            now: at(12, 0),
            expected: Plan {
                send: vec![0, 1, 2],
                ..Plan::default()
            },
        },
        Case {
            name: "a batching channel over its limit waits whole",
            quiet: None,
            limit: Some(1),
            sent: vec![at(11, 59) + TimeDelta::seconds(30)],
            rows: vec![PAUSED, PAUSED],
            batches: true,
            now: at(12, 0),
            expected: Plan {
                wait: vec![0, 1],
                wait_until: Some(at(12, 0) + TimeDelta::seconds(30)),
                ..Plan::default()
            },
        },
    ];
    for case in cases {
        let mut budget = RateBudget::new(case.limit, case.sent, case.now);
        let got = plan(
            case.quiet.as_ref(),
            &mut budget,
            &case.rows,
            case.batches,
            case.now,
        );
        assert_eq!(got, case.expected, "{}", case.name);
    }
}
