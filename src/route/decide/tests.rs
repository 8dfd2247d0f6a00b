use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::*;
use crate::event::EventType;
use crate::route::quiet::QuietHoursSettings;
use crate::route::RuleSettings;

/// 2026-11-26 at `hour`:`minute` UTC.
fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, hour, minute, 0).unwrap()
}

pub(crate) fn event(kind: EventType, campaign: Option<&str>, transition: &str) -> Event {
    let event = crate::fixtures::event(kind)
        .id(&[kind.as_str(), campaign.unwrap_or("-"), transition])
        .at(at(0, 0));
    match campaign {
        Some(id) => event
            .campaign(id, &format!("Campaign {id}"))
            .transition(transition)
            .build(),
        None => event.build(),
    }
}

fn rule(
    name: &str,
    events: &[&str],
    transitions: &[&str],
    campaigns: &[&str],
    channels: &[&str],
) -> RuleSettings {
    let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
    RuleSettings {
        name: Some(name.into()),
        events: strings(events),
        transitions: strings(transitions),
        campaigns: strings(campaigns),
        channels: strings(channels),
        ..RuleSettings::default()
    }
}

fn router() -> Router {
    let rules = [
        rule(
            "pauses",
            &["campaign.status_changed"],
            &["live->paused", "paused->live"],
            &[],
            &["pager"],
        ),
        rule(
            "errors-eu",
            &["campaign.upload_errors_added"],
            &[],
            &["camp_eu_*"],
            &["mail"],
        ),
        rule("vip", &[], &[], &["camp_vip"], &["hook"]),
    ];
    let channels = ["hook", "mail", "pager"].map(String::from);
    Router::from_settings(&rules, &channels, &[]).unwrap()
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
        ("hook".to_string(), Shaping::default()),
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
                max_per_minute: Some(2),
                ..Shaping::default()
            },
        ),
    ])
}

fn silences() -> Vec<Silence> {
    vec![
        Silence {
            id: 1,
            campaign: "camp_eu_1".into(),
            event: None,
            reason: "maintenance".into(),
            author: "ops".into(),
            created_at: at(9, 0),
            expires_at: at(11, 0),
            account: None,
        },
        Silence {
            id: 2,
            campaign: "*".into(),
            event: Some(EventType::ApiUnhealthy),
            reason: "API migration".into(),
            author: "ops".into(),
            created_at: at(9, 0),
            // ended early with `silence expire`
            expires_at: at(10, 0),
            account: None,
        },
    ]
}

#[test]
fn rules_silences_quiet_hours_and_rate_limits_at_an_injected_time() {
    let paused = |campaign| event(EventType::StatusChanged, Some(campaign), "live->paused");
    let resumed = |campaign| event(EventType::StatusChanged, Some(campaign), "paused->live");
    let errors = event(EventType::UploadErrorsAdded, Some("camp_eu_2"), "");
    let outage = event(EventType::ApiUnhealthy, None, "");
    let pager_busy = BTreeMap::from([(
        "pager".to_string(),
        vec![
            at(11, 59) + TimeDelta::seconds(30),
            at(11, 59) + TimeDelta::seconds(40),
        ],
    )]);
    let announced_pause = vec![(paused("camp_eu_1"), false)];
    let silenced_pause = vec![(paused("camp_eu_1"), true)];
    let tomorrow_7 = at(7, 0) + TimeDelta::days(1);

    struct Case<'a> {
        name: &'a str,
        event: Event,
        at: DateTime<Utc>,
        history: &'a [(Event, bool)],
        sent: Option<&'a BTreeMap<String, Vec<DateTime<Utc>>>>,
        rules: &'a [&'a str],
        silence: Option<i64>,
        despite: bool,
        fates: Vec<(&'a str, Fate)>,
    }
    let cases = [
        Case {
            name: "a pause pages",
            event: paused("camp_1"),
            at: at(12, 0),
            history: &[],
            sent: None,
            rules: &["pauses"],
            silence: None,
            despite: false,
            fates: vec![("pager", Fate::Sent)],
        },
        Case {
            name: "no rule takes scheduled -> live",
            event: event(EventType::StatusChanged, Some("camp_1"), "scheduled->live"),
            at: at(12, 0),
            history: &[],
            sent: None,
            rules: &[],
            silence: None,
            despite: false,
            fates: vec![],
        },
        Case {
            name: "two rules, one channel each",
            event: paused("camp_vip"),
            at: at(12, 0),
            history: &[],
            sent: None,
            rules: &["pauses", "vip"],
            silence: None,
            despite: false,
            fates: vec![("hook", Fate::Sent), ("pager", Fate::Sent)],
        },
        Case {
            name: "by day errors mail at once",
            event: errors.clone(),
            at: at(12, 0),
            history: &[],
            sent: None,
            rules: &["errors-eu"],
            silence: None,
            despite: false,
            fates: vec![("mail", Fate::Sent)],
        },
        Case {
            name: "at night mail holds them until 07:00",
            event: errors.clone(),
            at: at(23, 0),
            history: &[],
            sent: None,
            rules: &["errors-eu"],
            silence: None,
            despite: false,
            fates: vec![("mail", Fate::Held { until: tomorrow_7 })],
        },
        Case {
            name: "inside the silence: kept back",
            event: paused("camp_eu_1"),
            at: at(10, 0),
            history: &[],
            sent: None,
            rules: &["pauses"],
            silence: Some(1),
            despite: false,
            fates: vec![],
        },
        Case {
            name: "the silence ended at 11:00",
            event: paused("camp_eu_1"),
            at: at(11, 0),
            history: &[],
            sent: None,
            rules: &["pauses"],
            silence: None,
            despite: false,
            fates: vec![("pager", Fate::Sent)],
        },
        Case {
            name: "a resume ending an announced pause is sent despite the silence",
            event: resumed("camp_eu_1"),
            at: at(10, 0),
            history: &announced_pause,
            sent: None,
            rules: &["pauses"],
            silence: Some(1),
            despite: true,
            fates: vec![("pager", Fate::Sent)],
        },
        Case {
            name: "a resume of a pause that was itself silenced stays silent",
            event: resumed("camp_eu_1"),
            at: at(10, 0),
            history: &silenced_pause,
            sent: None,
            rules: &["pauses"],
            silence: Some(1),
            despite: false,
            fates: vec![],
        },
        Case {
            name: "two pages in the last minute: the third waits",
            event: paused("camp_1"),
            at: at(12, 0),
            history: &[],
            sent: Some(&pager_busy),
            rules: &["pauses"],
            silence: None,
            despite: false,
            fates: vec![(
                "pager",
                Fate::Delayed {
                    until: at(12, 0) + TimeDelta::seconds(30),
                    per_minute: 2,
                },
            )],
        },
        Case {
            name: "a minute later the budget is free again",
            event: paused("camp_1"),
            at: at(12, 1),
            history: &[],
            sent: Some(&pager_busy),
            rules: &["pauses"],
            silence: None,
            despite: false,
            fates: vec![("pager", Fate::Sent)],
        },
        Case {
            name: "watcher events pass campaign filters; the * silence holds them",
            event: outage.clone(),
            at: at(9, 30),
            history: &[],
            sent: None,
            rules: &["vip"],
            silence: Some(2),
            despite: false,
            fates: vec![],
        },
        Case {
            name: "after the early end of that silence",
            event: outage.clone(),
            at: at(10, 30),
            history: &[],
            sent: None,
            rules: &["vip"],
            silence: None,
            despite: false,
            fates: vec![("hook", Fate::Sent)],
        },
    ];
    let (router, shaping, silences) = (router(), shaping(), silences());
    for case in cases {
        let known = Circumstances {
            silences: &silences,
            history: case.history,
            sent: case.sent,
            told: &[],
        };
        let decision = decide(&router, &shaping, known, &case.event, case.at);
        let rules: Vec<&str> = decision
            .routing
            .matched
            .iter()
            .map(|matched| matched.rule.as_str())
            .collect();
        assert_eq!(rules, case.rules, "{}: rules", case.name);
        assert_eq!(
            decision.silenced_by.as_ref().map(|s| s.id),
            case.silence,
            "{}: silence",
            case.name
        );
        assert_eq!(decision.sent_despite_silence, case.despite, "{}", case.name);
        let fates: Vec<(&str, Fate)> = decision
            .channels
            .iter()
            .map(|(name, fate)| (name.as_str(), fate.clone()))
            .collect();
        assert_eq!(fates, case.fates, "{}: channels", case.name);
    }
}
