use super::*;

fn berlin(start: &str, end: &str, except: &[&str]) -> QuietHours {
    QuietHours::from_settings(&QuietHoursSettings {
        start: start.into(),
        end: end.into(),
        timezone: "Europe/Berlin".into(),
        except: except.iter().map(|s| s.to_string()).collect(),
    })
    .unwrap()
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn windows_over_midnight_in_a_zone_with_dst() {
    let quiet = berlin("22:00", "07:00", &["watcher.api_unhealthy"]);
    let paused = EventType::StatusChanged;
    // (now in UTC, expected release in UTC); Berlin is UTC+1 in winter, UTC+2 in summer.
    let cases = [
        ("2026-11-26T20:59:59Z", None),
        ("2026-11-26T21:00:00Z", Some("2026-11-27T06:00:00Z")),
        ("2026-11-26T23:30:00Z", Some("2026-11-27T06:00:00Z")),
        ("2026-11-27T05:59:59Z", Some("2026-11-27T06:00:00Z")),
        ("2026-11-27T06:00:00Z", None),
        ("2026-11-27T12:00:00Z", None),
        // summer time: 22:00 Berlin is 20:00 UTC
        ("2026-07-01T20:30:00Z", Some("2026-07-02T05:00:00Z")),
        // the night clocks go back (25 Oct 2026): 07:00 CET is 06:00 UTC
        ("2026-10-24T22:00:00Z", Some("2026-10-25T06:00:00Z")),
    ];
    for (now, expected) in cases {
        assert_eq!(
            quiet.hold_until(paused, utc(now)),
            expected.map(utc),
            "at {now}"
        );
    }
    assert_eq!(
        quiet.hold_until(EventType::ApiUnhealthy, utc("2026-11-26T23:30:00Z")),
        None,
        "excepted types are never held"
    );
}

#[test]
fn a_daytime_window_and_a_release_inside_a_dst_gap() {
    let quiet = berlin("09:00", "17:00", &[]);
    assert!(quiet
        .hold_until(EventType::StatusChanged, utc("2026-11-26T08:00:00Z"))
        .is_some());
    assert!(quiet
        .hold_until(EventType::StatusChanged, utc("2026-11-26T16:00:00Z"))
        .is_none());
    // 29 Mar 2026 02:00-03:00 Berlin does not exist; a window ending at 02:30 ends at 03:00.
    let gap = berlin("01:00", "02:30", &[]);
    assert_eq!(
        gap.hold_until(EventType::StatusChanged, utc("2026-03-29T00:10:00Z")),
        Some(utc("2026-03-29T01:00:00Z"))
    );
}

#[test]
fn bad_settings_are_named() {
    let bad = |start: &str, end: &str, zone: &str, except: &[&str]| {
        QuietHours::from_settings(&QuietHoursSettings {
            start: start.into(),
            end: end.into(),
            timezone: zone.into(),
            except: except.iter().map(|s| s.to_string()).collect(),
        })
        .unwrap_err()
        .to_string()
    };
    assert!(bad("25:00", "07:00", "UTC", &[]).contains("start \"25:00\""));
    assert!(bad("22:00", "7", "UTC", &[]).contains("end \"7\""));
    assert!(bad("22:00", "22:00", "UTC", &[]).contains("equal"));
    assert!(bad("22:00", "07:00", "Mars/Olympus", &[]).contains("Mars/Olympus"));
    assert!(bad("22:00", "07:00", "UTC", &["nope"]).contains("\"nope\""));
}

#[test]
fn every_problem_of_a_table_is_reported() {
    let problems = QuietHours::from_settings(&QuietHoursSettings {
        start: "25:00".into(),
        end: "7".into(),
        timezone: "Mars/Olympus".into(),
        except: vec![
            "watcher.api_unhealty".into(),
            "campaign.status_changed".into(),
        ],
    })
    .unwrap_err();
    let each: Vec<String> = problems.each().map(ToString::to_string).collect();
    assert_eq!(
        each,
        [
            "start \"25:00\" is not a time of day like \"22:00\"",
            "end \"7\" is not a time of day like \"22:00\"",
            "timezone \"Mars/Olympus\" is not an IANA time zone name like \"Europe/Berlin\"",
            "except: \"watcher.api_unhealty\" is not an event type (did you mean \"watcher.api_unhealthy\"?)",
        ]
    );
    assert_eq!(problems.to_string(), each.join("; "));
}

fn status_event(id: &str, from: CampaignStatus, to: CampaignStatus, at: &str) -> Event {
    crate::fixtures::event(EventType::StatusChanged)
        .id(&[id, at])
        .at(utc(at))
        .campaign(id, "Q4")
        .statuses(from, to)
        .build()
}

#[test]
fn a_pause_and_resume_collapse_into_one_line() {
    let held = vec![
        status_event(
            "camp_1",
            CampaignStatus::Paused,
            CampaignStatus::Live,
            "2026-11-26T22:40:00Z",
        ),
        status_event(
            "camp_1",
            CampaignStatus::Live,
            CampaignStatus::Paused,
            "2026-11-26T22:10:00Z",
        ),
        status_event(
            "camp_2",
            CampaignStatus::Live,
            CampaignStatus::Completed,
            "2026-11-26T23:00:00Z",
        ),
    ];
    let now = utc("2026-11-27T06:00:00Z");
    let digest = digest("ops", &held, chrono_tz::Europe::Berlin, now);
    assert_eq!(digest.kind, EventType::QuietHoursDigest);
    assert_eq!(
        digest.summary,
        "3 events held during quiet hours:\nQ4 (camp_1): paused 23:10, resumed 23:40\nQ4 (camp_2): completed 00:00"
    );
    let mut reversed = held.clone();
    reversed.reverse();
    assert_eq!(
        digest.id,
        super::digest("ops", &reversed, chrono_tz::Europe::Berlin, now).id,
        "the same held rows give the same id"
    );
    assert_ne!(
        digest.id,
        super::digest("other", &held, chrono_tz::Europe::Berlin, now).id
    );
}

#[test]
fn quiet_hours_are_parsed_once_when_read_and_shown_as_written() {
    let written = r#"{"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"}"#;
    let table: QuietHoursTable = serde_json::from_str(written).unwrap();
    assert!(table.parsed().is_ok());
    assert_eq!(table.written().timezone, "Europe/Berlin");
    assert_eq!(
        serde_json::to_value(&table).unwrap()["start"],
        serde_json::json!("22:00")
    );
    let bad: QuietHoursTable =
        serde_json::from_str(r#"{"start": "25:00", "end": "07:00", "timezone": "UTC"}"#).unwrap();
    assert!(bad.parsed().unwrap_err().to_string().contains("25:00"));
}
