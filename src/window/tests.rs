use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::*;

const BERLIN: &str = "Europe/Berlin";

/// A Berlin wall-clock time as an instant (never in a DST edge here).
fn berlin(date: (i32, u32, u32), time: (u32, u32)) -> DateTime<Utc> {
    let zone: Tz = BERLIN.parse().unwrap();
    zone.with_ymd_and_hms(date.0, date.1, date.2, time.0, time.1, 0)
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn window(text: &str) -> WeeklyWindow {
    WeeklyWindow::parse(text, BERLIN).unwrap()
}

#[test]
fn what_is_not_a_window_is_named() {
    let cases = [
        ("", WindowError::Empty),
        (" , ", WindowError::Empty),
        ("Mon", WindowError::NotATimeSpan("Mon".into())),
        ("Mon-Fri 9-17", WindowError::NotATimeSpan("9-17".into())),
        ("Mon 09:00", WindowError::NotATimeSpan("09:00".into())),
        (
            "Mon 25:00-26:00",
            WindowError::NotATimeSpan("25:00-26:00".into()),
        ),
        (
            "Mon 24:00-02:00",
            WindowError::NotATimeSpan("24:00-02:00".into()),
        ),
        (
            "Mon 09:60-10:00",
            WindowError::NotATimeSpan("09:60-10:00".into()),
        ),
        ("Funday 09:00-10:00", WindowError::NotADay("Funday".into())),
        ("Mon-Fry 09:00-10:00", WindowError::NotADay("Fry".into())),
        (
            "Mon 10:00-10:00",
            WindowError::EmptySpan("10:00-10:00".into()),
        ),
        (
            "Mon 09:00-10:00 extra",
            WindowError::NotARange("Mon 09:00-10:00 extra".into()),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(WeeklyWindow::parse(text, BERLIN), Err(expected), "{text:?}");
    }
    assert_eq!(
        WeeklyWindow::parse("Mon 09:00-10:00", "Mars/Base"),
        Err(WindowError::UnknownZone("Mars/Base".into()))
    );
}

#[test]
fn open_and_closed_instants() {
    // 2026-12-07 is a Monday; 2026-12-11 a Friday.
    type Case = (&'static str, (i32, u32, u32), (u32, u32), bool);
    let cases: &[Case] = &[
        ("Mon-Fri 09:00-18:00", (2026, 12, 7), (8, 59), false),
        ("Mon-Fri 09:00-18:00", (2026, 12, 7), (9, 0), true),
        ("Mon-Fri 09:00-18:00", (2026, 12, 7), (17, 59), true),
        ("Mon-Fri 09:00-18:00", (2026, 12, 7), (18, 0), false),
        ("Mon-Fri 09:00-18:00", (2026, 12, 12), (10, 0), false),
        // Past midnight belongs to its start day.
        ("Fri 22:00-02:00", (2026, 12, 12), (1, 0), true),
        ("Fri 22:00-02:00", (2026, 12, 11), (1, 0), false),
        ("Fri 22:00-02:00", (2026, 12, 11), (23, 0), true),
        ("Fri 22:00-02:00", (2026, 12, 12), (22, 30), false),
        // Several ranges.
        (
            "Mon-Fri 09:00-12:00, Mon-Fri 13:00-17:00",
            (2026, 12, 8),
            (12, 30),
            false,
        ),
        (
            "Mon-Fri 09:00-12:00, Mon-Fri 13:00-17:00",
            (2026, 12, 8),
            (13, 30),
            true,
        ),
        (
            "Mon-Fri 09:00-12:00, Sat 10:00-14:00",
            (2026, 12, 12),
            (11, 0),
            true,
        ),
        // A span of days that wraps the week.
        ("Fri-Mon 08:00-20:00", (2026, 12, 13), (12, 0), true),
        ("Fri-Mon 08:00-20:00", (2026, 12, 9), (12, 0), false),
        // No days: every day; 24:00 ends a day.
        ("09:00-24:00", (2026, 12, 13), (23, 59), true),
        ("00:00-24:00", (2026, 12, 9), (0, 0), true),
    ];
    for (text, date, time, open) in cases {
        let at = berlin(*date, *time);
        assert_eq!(
            window(text).contains(at),
            *open,
            "{text} at {date:?} {time:?}"
        );
    }
}

#[test]
fn an_occurrence_has_its_real_edges_and_touching_ranges_join() {
    let at = berlin((2026, 12, 7), (10, 0));
    let occurrence = window("Mon 00:00-24:00, Tue 00:00-12:00")
        .occurrence_at(at)
        .unwrap();
    assert_eq!(occurrence.start, berlin((2026, 12, 7), (0, 0)));
    assert_eq!(occurrence.end, berlin((2026, 12, 8), (12, 0)));

    let night = window("Fri 22:00-02:00")
        .occurrence_at(berlin((2026, 12, 12), (1, 0)))
        .unwrap();
    assert_eq!(night.start, berlin((2026, 12, 11), (22, 0)));
    assert_eq!(night.end, berlin((2026, 12, 12), (2, 0)));
}

#[test]
fn all_day_every_day_never_closes() {
    let always = window("00:00-24:00");
    let at = berlin((2026, 12, 9), (3, 0));
    let occurrence = always.occurrence_at(at).unwrap();
    assert!(
        occurrence.end - at > chrono::TimeDelta::days(7),
        "{occurrence:?}"
    );
    let around_the_change = Utc.with_ymd_and_hms(2027, 3, 28, 1, 15, 0).unwrap();
    assert!(
        always.contains(around_the_change),
        "even when the clock jumps"
    );
}

#[test]
fn dst_edges_fall_as_quiet_hours_do() {
    // Berlin springs forward on 2027-03-28 at 02:00 (to 03:00) and falls back
    // on 2027-10-31 at 03:00 (to 02:00).
    let zone: Tz = BERLIN.parse().unwrap();
    let spring = window("Sun 02:30-04:00")
        .occurrence_at(Utc.with_ymd_and_hms(2027, 3, 28, 1, 30, 0).unwrap())
        .unwrap();
    // 02:30 does not exist that day: the window opens when the clock resumes, 03:00 CEST.
    assert_eq!(
        spring.start,
        Utc.with_ymd_and_hms(2027, 3, 28, 1, 0, 0).unwrap()
    );
    assert_eq!(
        spring.end,
        Utc.with_ymd_and_hms(2027, 3, 28, 2, 0, 0).unwrap()
    );

    let autumn = window("Sun 02:30-03:30")
        .occurrence_at(Utc.with_ymd_and_hms(2027, 10, 31, 1, 0, 0).unwrap())
        .unwrap();
    // 02:30 happens twice: the first (CEST, 00:30 UTC) opens it; 03:30 CET closes it.
    assert_eq!(
        autumn.start,
        Utc.with_ymd_and_hms(2027, 10, 31, 0, 30, 0).unwrap()
    );
    assert_eq!(
        autumn.end,
        Utc.with_ymd_and_hms(2027, 10, 31, 2, 30, 0).unwrap()
    );

    let local = NaiveDate::from_ymd_opt(2027, 3, 28)
        .unwrap()
        .and_hms_opt(2, 15, 0)
        .unwrap();
    assert_eq!(
        local_instant(zone, local),
        Utc.with_ymd_and_hms(2027, 3, 28, 1, 0, 0).unwrap() + chrono::TimeDelta::minutes(15),
        "a time in the gap moves by the probe's step until the clock exists"
    );
}

#[test]
fn next_occurrences_start_with_the_open_one() {
    let weekdays = window("Mon-Fri 09:00-18:00");
    let friday_afternoon = berlin((2026, 12, 11), (17, 0));
    let next = weekdays.next_occurrences(friday_afternoon, 3);
    let starts: Vec<DateTime<Utc>> = next.iter().map(|o| o.start).collect();
    assert_eq!(
        starts,
        [
            berlin((2026, 12, 11), (9, 0)),
            berlin((2026, 12, 14), (9, 0)),
            berlin((2026, 12, 15), (9, 0)),
        ]
    );
    assert_eq!(next[0].end, berlin((2026, 12, 11), (18, 0)));
    assert!(weekdays.next_occurrences(friday_afternoon, 0).is_empty());
}

#[test]
fn a_window_prints_in_its_own_grammar() {
    let cases = [
        ("mon-fri 09:00-18:00", "Mon-Fri 09:00-18:00 Europe/Berlin"),
        (
            "Fri-Mon 08:00-20:00, Sat 10:00-14:00",
            "Fri-Mon 08:00-20:00, Sat 10:00-14:00 Europe/Berlin",
        ),
        ("Mon-Sun 00:00-24:00", "00:00-24:00 Europe/Berlin"),
        ("22:00-02:00", "22:00-02:00 Europe/Berlin"),
    ];
    for (text, shown) in cases {
        let parsed = window(text);
        assert_eq!(parsed.to_string(), shown);
        let again = shown.rsplit_once(' ').unwrap().0;
        assert_eq!(window(again), parsed, "{shown} reads back as itself");
    }
}
