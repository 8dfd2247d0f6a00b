use chrono::TimeZone;

use super::*;
use crate::event::{CampaignInfo, UploadErrors};
use crate::observe::CampaignStatus;

fn status_change(from: CampaignStatus, to: CampaignStatus) -> Event {
    Event {
        version: "1".into(),
        id: format!("{from:?}-{to:?}"),
        kind: EventType::StatusChanged,
        occurred_at: Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap(),
        campaign: Some(CampaignInfo {
            id: "camp_a".into(),
            name: "A".into(),
            status: to,
            previous_status: Some(from),
            agent: None,
            caller_number: None,
        }),
        upload_errors: UploadErrors::default(),
        changes: vec![],
        summary: String::new(),
        hints: vec![],
        account: crate::event::default_account(),
        incident: None,
        links: None,
    }
}

fn of_kind(kind: EventType) -> Event {
    Event {
        kind,
        campaign: None,
        ..status_change(CampaignStatus::Live, CampaignStatus::Live)
    }
}

#[test]
fn a_start_stays_until_a_newer_event_settles_its_condition() {
    use CampaignStatus::{Completed, Live, Paused};
    let pause = status_change(Live, Paused);
    let resume = status_change(Paused, Live);
    let finish = status_change(Live, Completed);
    let mut reminder = status_change(Paused, Paused);
    reminder.kind = EventType::Reminder;
    let unhealthy = of_kind(EventType::ApiUnhealthy);
    let recovered = of_kind(EventType::ApiRecovered);
    let news = of_kind(EventType::SettingsChanged);
    type Case<'a> = (
        &'a str,
        &'a Event,
        bool,
        Vec<(Event, bool)>,
        Option<Condition>,
    );
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("a pause with nothing after it", &pause, false, vec![], Some(Condition::Paused)),
        ("a pause with only news after it", &pause, false, vec![(news.clone(), false), (finish.clone(), false)], Some(Condition::Paused)),
        ("a pause ended by a resume", &pause, false, vec![(resume.clone(), false)], None),
        ("a pause ended by a resume sent through a silence", &pause, false, vec![(resume.clone(), true)], None),
        ("a pause re-started by a reminder", &pause, false, vec![(reminder.clone(), false)], None),
        ("a pause followed by a silenced reminder", &pause, false, vec![(reminder.clone(), true)], Some(Condition::Paused)),
        ("a pause followed by a silenced pause", &pause, false, vec![(pause.clone(), true)], Some(Condition::Paused)),
        ("a silenced pause", &pause, true, vec![], None),
        ("an end", &resume, false, vec![], None),
        ("news", &news, false, vec![], None),
        ("the API unhealthy, then recovered", &unhealthy, false, vec![(recovered.clone(), false)], None),
        ("the API unhealthy, then a pause elsewhere", &unhealthy, false, vec![(pause.clone(), false)], Some(Condition::ApiUnhealthy)),
    ];
    for (name, event, silenced, newer, expected) in cases {
        assert_eq!(
            opens_a_condition(event, silenced, &newer),
            expected,
            "{name}"
        );
    }
}

#[test]
fn every_event_type_that_starts_or_ends_a_condition_may_decide() {
    use CampaignStatus::{Live, Paused};
    for kind in EventType::ALL {
        for (from, to) in [(Live, Paused), (Paused, Live), (Paused, Paused)] {
            let mut event = status_change(from.clone(), to.clone());
            event.kind = kind;
            if !transitions(&event).is_empty() {
                assert!(may_decide(kind), "{kind:?} starts or ends a condition");
            }
        }
    }
}
