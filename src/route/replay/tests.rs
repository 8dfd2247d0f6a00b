use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::*;
use crate::route::quiet::QuietHours;
use crate::route::quiet::QuietHoursSettings;
use crate::route::RuleSettings;

fn at(hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, hour, minute, second)
        .unwrap()
}

fn event(kind: EventType, campaign: &str, transition: &str, when: DateTime<Utc>) -> Event {
    crate::fixtures::event(kind)
        .id(&[kind.as_str(), campaign, transition, &when.to_rfc3339()])
        .at(when)
        .campaign(campaign, campaign)
        .transition(transition)
        .build()
}

fn router() -> Router {
    let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
    let rules = [
        RuleSettings {
            name: Some("all".into()),
            channels: strings(&["mail"]),
            ..RuleSettings::default()
        },
        RuleSettings {
            name: Some("pauses".into()),
            events: strings(&["campaign.status_changed"]),
            transitions: strings(&["live->paused"]),
            channels: strings(&["pager"]),
            ..RuleSettings::default()
        },
    ];
    Router::from_settings(&rules, &["mail".into(), "pager".into()], &[]).unwrap()
}

fn shaping() -> BTreeMap<String, Shaping> {
    let night = QuietHours::from_settings(&QuietHoursSettings {
        start: "22:00".into(),
        end: "07:00".into(),
        timezone: "UTC".into(),
        except: vec![],
    })
    .unwrap();
    BTreeMap::from([
        (
            "mail".to_string(),
            Shaping {
                quiet: Some(night),
                max_per_minute: None,
                ..Shaping::default()
            },
        ),
        (
            "pager".to_string(),
            Shaping {
                quiet: None,
                max_per_minute: Some(1),
                ..Shaping::default()
            },
        ),
    ])
}

#[test]
fn a_seeded_day_replays_with_silences_quiet_hours_and_the_rate_limit() {
    use EventType::*;
    let events = vec![
        event(StatusChanged, "camp_2", "live->paused", at(9, 30, 0)),
        event(StatusChanged, "camp_1", "live->paused", at(12, 0, 0)),
        event(StatusChanged, "camp_3", "live->paused", at(12, 0, 0)),
        event(StatusChanged, "camp_4", "live->paused", at(12, 0, 30)),
        event(StatusChanged, "camp_1", "paused->live", at(23, 0, 0)),
        event(UploadErrorsAdded, "camp_3", "", at(23, 30, 0)),
        event(Reminder, "camp_4", "paused->paused", at(23, 45, 0)),
    ];
    let silences = [Silence {
        id: 7,
        campaign: "camp_2".into(),
        event: None,
        reason: "test calls".into(),
        author: "ops".into(),
        created_at: at(9, 0, 0),
        expires_at: at(10, 0, 0),
        account: None,
    }];
    let replayed = replay(&router(), &shaping(), &silences, &events);

    let silenced: Vec<Option<i64>> = replayed
        .decisions
        .iter()
        .map(|d| {
            d.as_ref()
                .and_then(|d| d.silenced_by.as_ref().map(|s| s.id))
        })
        .collect();
    assert_eq!(silenced, [Some(7), None, None, None, None, None, None]);
    assert!(
        replayed.decisions[6].is_none(),
        "reminders are not replayed"
    );
    let receivers: Vec<Vec<&str>> = replayed
        .decisions
        .iter()
        .map(|d| d.as_ref().map(Decision::receivers).unwrap_or_default())
        .collect();
    assert_eq!(
        receivers,
        [
            vec![],
            vec!["mail", "pager"],
            vec!["mail", "pager"],
            vec!["mail", "pager"],
            // The resume follows its pause to the pager.
            vec!["mail", "pager"],
            vec!["mail"],
            vec![],
        ]
    );

    // mail: three by day, two held at night and sent as one digest at 07:00.
    assert_eq!(
        replayed.channels["mail"],
        ChannelTally {
            events: 5,
            messages: 4,
            held: 2,
            digests: 1,
            delayed: 0,
            longest_delay: TimeDelta::zero(),
        }
    );
    // pager, one a minute: 12:00 at once, camp_3 at 12:01, camp_4 (due
    // 12:00:30) at 12:02; camp_1's resume at 23:00 at once.
    assert_eq!(
        replayed.channels["pager"],
        ChannelTally {
            events: 4,
            messages: 4,
            held: 0,
            digests: 0,
            delayed: 2,
            longest_delay: TimeDelta::seconds(90),
        }
    );
}

#[test]
fn without_shaping_every_routed_event_is_one_message() {
    let events: Vec<Event> = (0..5)
        .map(|i| {
            event(
                EventType::StatusChanged,
                "camp_1",
                "live->paused",
                at(12, i, 0),
            )
        })
        .collect();
    let replayed = replay(&router(), &BTreeMap::new(), &[], &events);
    assert_eq!(replayed.channels["mail"].messages, 5);
    assert_eq!(replayed.channels["pager"].messages, 5);
    assert_eq!(replayed.channels["pager"].delayed, 0);
}

#[test]
fn a_grouping_channel_sends_one_message_per_cycle() {
    let mut shaping = BTreeMap::new();
    shaping.insert(
        "mail".to_string(),
        Shaping {
            batches: true,
            groups: true,
            ..Shaping::default()
        },
    );
    let cycle = |minute| {
        ["camp_1", "camp_2", "camp_3"]
            .map(|id| event(EventType::UploadErrorsAdded, id, "", at(12, minute, 0)))
    };
    let mut events = cycle(0).to_vec();
    events.push(event(
        EventType::UploadErrorsAdded,
        "camp_4",
        "",
        at(12, 5, 0),
    ));
    let replayed = replay(&router(), &shaping, &[], &events);
    assert_eq!(replayed.channels["mail"].events, 4);
    assert_eq!(replayed.channels["mail"].messages, 2);

    shaping.get_mut("mail").unwrap().groups = false;
    let replayed = replay(&router(), &shaping, &[], &events);
    assert_eq!(replayed.channels["mail"].messages, 4);
}

#[test]
fn a_resume_follows_its_pause_to_the_pager_the_candidate_rules_page() {
    let events = [
        event(
            EventType::StatusChanged,
            "camp_a",
            "live->paused",
            at(9, 0, 0),
        ),
        event(
            EventType::StatusChanged,
            "camp_a",
            "paused->live",
            at(11, 13, 0),
        ),
        event(
            EventType::StatusChanged,
            "camp_a",
            "live->completed",
            at(12, 0, 0),
        ),
    ];
    let replayed = replay(&router(), &BTreeMap::new(), &[], &events);
    let receivers = |index: usize| {
        replayed.decisions[index]
            .as_ref()
            .map(|decision| decision.receivers().join(","))
    };
    assert_eq!(receivers(0).as_deref(), Some("mail,pager"));
    let resume = replayed.decisions[1].as_ref().unwrap();
    assert!(resume.ends_episode);
    assert_eq!(resume.followers, ["pager"], "no rule pages the resume");
    assert_eq!(receivers(1).as_deref(), Some("mail,pager"));
    assert_eq!(receivers(2).as_deref(), Some("mail"), "news, not an end");
}
