use chrono::{TimeDelta, TimeZone, Utc};

use super::*;
use crate::commit::RoutedEvent;
use crate::fixtures;
use crate::route::{Router, RuleSettings};

fn at(minutes: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap() + TimeDelta::minutes(minutes)
}

fn status(id: &str, transition: &str, minutes: i64) -> Event {
    fixtures::event(EventType::StatusChanged)
        .campaign("camp_a", "Winback South")
        .transition(transition)
        .id(&[id])
        .at(at(minutes))
        .build()
}

fn routed(event: Event, channels: &[&str]) -> RoutedEvent {
    RoutedEvent::new(event, channels.iter().map(|c| c.to_string()).collect())
}

/// The rule: pauses page PagerDuty, nothing routes the resume there.
fn pauses_page() -> Router {
    let rule = RuleSettings {
        events: vec!["campaign.status_changed".into()],
        transitions: vec!["*->paused".into()],
        channels: vec!["pagerduty".into()],
        ..RuleSettings::default()
    };
    let channels = ["pagerduty".to_string(), "hook".into(), "quiet".into()];
    Router::from_settings(&[rule], &channels, &["default".into()])
        .unwrap()
        .with_unresolved(["quiet".to_string()])
}

#[test]
fn the_end_follows_the_start_to_every_channel_told_and_says_how_long() {
    let router = pauses_page();
    let mut open = Open::new();
    let mut cycle = vec![routed(status("pause", "live->paused", 0), &["pagerduty"])];
    follow(&router, &mut open, &mut cycle);
    let started = cycle[0].incident.clone().unwrap();
    assert_eq!(started.id, crate::event::incident_id(&cycle[0].event.id));
    assert_eq!(started.channels_told, ["pagerduty".to_string()].into());
    assert_eq!(started.ended_at, None);
    let info = cycle[0].event.incident.clone().unwrap();
    assert_eq!((info.started_at, info.duration_seconds), (at(0), None));

    // The resume, 2 h 13 m later: no rule routes it, the start's channel gets it.
    let mut cycle = vec![routed(status("resume", "paused->live", 133), &[])];
    follow(&router, &mut open, &mut cycle);
    assert_eq!(cycle[0].followers, ["pagerduty"]);
    let ended = cycle[0].incident.clone().unwrap();
    assert_eq!((ended.id, ended.ended_at), (started.id, Some(at(133))));
    assert_eq!(
        cycle[0].event.incident.as_ref().unwrap().duration_seconds,
        Some(133 * 60)
    );
    assert!(
        cycle[0]
            .event
            .summary
            .ends_with("(live again after 2 h 13 m paused)"),
        "{}",
        cycle[0].event.summary
    );
    assert!(open.is_empty(), "the episode is closed");
}

#[test]
fn a_silence_never_removes_the_followers_and_send_resolved_false_does() {
    let router = pauses_page();
    let mut open = Open::new();
    let mut cycle = vec![routed(
        status("pause", "live->paused", 0),
        &["pagerduty", "hook", "quiet"],
    )];
    follow(&router, &mut open, &mut cycle);
    let mut end = routed(status("resume", "paused->live", 5), &["hook"]);
    end.silence = Some(7);
    let mut cycle = vec![end];
    follow(&router, &mut open, &mut cycle);
    // Silenced: the rules' "hook" would get nothing, but it got the start.
    assert_eq!(cycle[0].followers, ["hook", "pagerduty"]);
    assert_eq!(
        cycle[0].outbox_channels().collect::<Vec<_>>(),
        ["hook", "pagerduty"]
    );
}

#[test]
fn a_silenced_start_tells_no_channel_and_later_starts_join_the_open_episode() {
    let router = pauses_page();
    let mut open = Open::new();
    let mut start = routed(status("pause", "live->paused", 0), &["pagerduty"]);
    start.silence = Some(1);
    let reminder = fixtures::event(EventType::Reminder)
        .campaign("camp_a", "Winback South")
        .transition("paused->paused")
        .id(&["reminder"])
        .at(at(60))
        .build();
    let mut cycle = vec![start, routed(reminder, &["hook"])];
    follow(&router, &mut open, &mut cycle);
    let first = cycle[0].incident.clone().unwrap();
    let second = cycle[1].incident.clone().unwrap();
    assert!(first.channels_told.is_empty());
    assert_eq!(second.id, first.id, "the reminder joins the episode");
    assert_eq!(second.channels_told, ["hook".to_string()].into());
    assert_eq!(second.started_at, at(0));
}

#[test]
fn news_and_the_stores_own_health_are_no_episode() {
    let router = pauses_page();
    let mut open = Open::new();
    let settings = fixtures::event(EventType::SettingsChanged)
        .campaign("camp_a", "Winback South")
        .build();
    let store = fixtures::event(EventType::StoreRecovered).build();
    let mut cycle = vec![routed(settings, &["hook"]), routed(store, &["hook"])];
    follow(&router, &mut open, &mut cycle);
    assert!(cycle.iter().all(|routed| routed.incident.is_none()
        && routed.event.incident.is_none()
        && routed.followers.is_empty()));
}

#[test]
fn an_end_or_reminder_of_an_episode_not_stored_is_looked_up_once() {
    let open = Open::new();
    let reminder = fixtures::event(EventType::Reminder)
        .campaign("camp_a", "Winback South")
        .transition("paused->paused")
        .build();
    let cycle = vec![
        routed(reminder, &[]),
        routed(status("resume", "paused->live", 5), &[]),
        routed(status("pause-b", "live->paused", 5), &[]),
    ];
    assert_eq!(
        unknown(&cycle, &open),
        [(("camp_a".to_string(), "paused"), Condition::Paused)]
    );
    // A start earlier in the same cycle is not unknown.
    let cycle = vec![
        routed(status("pause", "live->paused", 0), &[]),
        routed(status("resume", "paused->live", 5), &[]),
    ];
    assert!(unknown(&cycle, &open).is_empty());
}

#[test]
fn history_gives_the_open_episodes_start_and_every_message_of_it() {
    let old_pause = status("old", "live->paused", 0);
    let old_resume = status("old-resume", "paused->live", 10);
    let pause = status("pause", "live->paused", 20);
    let reminder = fixtures::event(EventType::Reminder)
        .campaign("camp_a", "Winback South")
        .transition("paused->paused")
        .id(&["reminder"])
        .at(at(80))
        .build();
    let newest_first = vec![
        (reminder.clone(), false),
        (pause.clone(), false),
        (old_resume, false),
        (old_pause, false),
    ];
    let (start, told) = open_in_history(Condition::Paused, &newest_first).unwrap();
    assert_eq!(start.id, pause.id);
    assert_eq!(told, [reminder.id.as_str(), pause.id.as_str()]);
    assert!(open_in_history(Condition::Paused, &newest_first[2..]).is_none());
    assert!(open_in_history(Condition::UploadErrors, &newest_first).is_none());
}
