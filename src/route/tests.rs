use super::*;

use chrono::Utc;

fn event(kind: EventType, id: &str, name: &str, from: &str, to: &str) -> Event {
    crate::fixtures::event(kind)
        .id(&[id, kind.as_str()])
        .at(Utc::now())
        .campaign(id, name)
        .transition(&format!("{from}->{to}"))
        .build()
}

fn watcher_event(kind: EventType) -> Event {
    Event {
        campaign: None,
        ..event(kind, "watcher", "", "live", "live")
    }
}

fn rule(
    events: &[&str],
    transitions: &[&str],
    campaigns: &[&str],
    channels: &[&str],
) -> RuleSettings {
    let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
    RuleSettings {
        name: None,
        events: strings(events),
        transitions: strings(transitions),
        campaigns: strings(campaigns),
        channels: strings(channels),
        ..RuleSettings::default()
    }
}

fn channels() -> Vec<String> {
    vec!["hook".into(), "mail".into(), "pager".into()]
}

#[test]
fn rules_pick_accounts_by_name_or_glob_and_never_hold_back_the_watchers_own() {
    let rules = [
        RuleSettings {
            accounts: vec!["acme".into()],
            ..rule(&[], &[], &[], &["pager"])
        },
        RuleSettings {
            accounts: vec!["globex-*".into()],
            ..rule(&[], &[], &[], &["mail"])
        },
        rule(&[], &[], &[], &["hook"]),
    ];
    let accounts = ["acme".into(), "globex-eu".into()];
    let router = Router::from_settings(&rules, &channels(), &accounts).unwrap();
    let of = |account: Option<&str>, kind: EventType| {
        let mut event = event(kind, "camp_1", "Q4", "live", "paused");
        event.account = account.map(str::to_string);
        event
    };
    for (account, kind, expected) in [
        (
            Some("acme"),
            EventType::StatusChanged,
            vec!["hook", "pager"],
        ),
        (
            Some("globex-eu"),
            EventType::StatusChanged,
            vec!["hook", "mail"],
        ),
        (Some("default"), EventType::StatusChanged, vec!["hook"]),
        (Some("acme"), EventType::ApiUnhealthy, vec!["hook", "pager"]),
        // The store's health belongs to no account: every rule takes it.
        (
            None,
            EventType::StoreUnhealthy,
            vec!["hook", "mail", "pager"],
        ),
    ] {
        assert_eq!(
            router.route(&of(account, kind)),
            expected,
            "{account:?} {kind:?}"
        );
    }
}

#[test]
fn without_rules_everything_but_settings_goes_everywhere() {
    let router = Router::from_settings(&[], &channels(), &[]).unwrap();
    let paused = event(EventType::StatusChanged, "camp_1", "Q4", "live", "paused");
    assert_eq!(router.route(&paused), ["hook", "mail", "pager"]);
    let settings = event(EventType::SettingsChanged, "camp_1", "Q4", "live", "live");
    assert!(router.route(&settings).is_empty());
    assert_eq!(
        router.route(&watcher_event(EventType::ApiUnhealthy)).len(),
        3
    );
}

/// `campaign.found_again` came after rules were written for `not_found`:
/// such a rule takes it too, so the incident it opened is resolved.
#[test]
fn a_rule_for_not_found_also_takes_found_again() {
    let rules = [
        rule(&["campaign.not_found"], &[], &["camp_1"], &["pager"]),
        rule(&["campaign.found_again"], &[], &["*"], &["hook"]),
    ];
    let router = Router::from_settings(&rules, &channels(), &[]).unwrap();
    let gone = event(EventType::NotFound, "camp_1", "Q4", "live", "live");
    let back = event(EventType::FoundAgain, "camp_1", "Q4", "live", "live");
    assert_eq!(router.route(&gone), ["pager"]);
    assert_eq!(router.route(&back), ["hook", "pager"]);
    let other = event(EventType::FoundAgain, "camp_2", "Q5", "live", "live");
    assert_eq!(router.route(&other), ["hook"]);
}

#[test]
fn rules_filter_by_type_transition_and_campaign() {
    let rules = [
        rule(
            &["campaign.status_changed"],
            &["live->paused", "*->completed"],
            &["*"],
            &["pager"],
        ),
        rule(
            &["campaign.upload_errors_added"],
            &[],
            &["camp_eu_*", "Renewals*"],
            &["mail"],
        ),
        rule(&["watcher.api_unhealthy"], &[], &["camp_eu_*"], &[]),
    ];
    let router = Router::from_settings(&rules, &channels(), &[]).unwrap();
    let cases: Vec<(Event, Vec<&str>)> = vec![
        (
            event(EventType::StatusChanged, "camp_1", "Q4", "live", "paused"),
            vec!["pager"],
        ),
        (
            event(EventType::StatusChanged, "camp_1", "Q4", "paused", "live"),
            vec![],
        ),
        (
            event(
                EventType::StatusChanged,
                "camp_1",
                "Q4",
                "scheduled",
                "completed",
            ),
            vec!["pager"],
        ),
        (
            event(EventType::StatusChanged, "camp_1", "Q4", "live", "archived"),
            vec![],
        ),
        (
            event(
                EventType::UploadErrorsAdded,
                "camp_eu_7",
                "Q4",
                "live",
                "live",
            ),
            vec!["mail"],
        ),
        (
            event(
                EventType::UploadErrorsAdded,
                "camp_9",
                "Renewals May",
                "live",
                "live",
            ),
            vec!["mail"],
        ),
        (
            event(EventType::UploadErrorsAdded, "camp_9", "Q4", "live", "live"),
            vec![],
        ),
        (
            watcher_event(EventType::ApiUnhealthy),
            vec!["hook", "mail", "pager"],
        ),
        (watcher_event(EventType::ApiRecovered), vec![]),
    ];
    for (event, expected) in cases {
        assert_eq!(router.route(&event), expected, "{}", event.kind);
    }
}

#[test]
fn matching_rules_union_their_channels_once() {
    let rules = [
        rule(&[], &[], &[], &["hook", "mail"]),
        rule(&["campaign.status_changed"], &[], &[], &["mail", "pager"]),
    ];
    let router = Router::from_settings(&rules, &channels(), &[]).unwrap();
    let paused = event(EventType::StatusChanged, "camp_1", "Q4", "live", "paused");
    assert_eq!(router.route(&paused), ["hook", "mail", "pager"]);
}

#[test]
fn confirm_polls_and_reminders_come_from_the_rules_naming_the_campaign() {
    let mut flaky = rule(&[], &[], &["camp_flaky_*"], &["hook"]);
    flaky.confirm_polls = Some(3);
    flaky.remind_every = Some(std::time::Duration::from_secs(3600));
    let mut eu = rule(&[], &[], &["Renewals*"], &[]);
    eu.confirm_polls = Some(2);
    let mut acme = rule(&[], &[], &[], &[]);
    acme.confirm_polls = Some(5);
    acme.accounts = vec!["acme".into()];
    let router = Router::from_settings(
        &[rule(&[], &[], &[], &[]), flaky, eu, acme],
        &channels(),
        &["default".into(), "acme".into()],
    )
    .unwrap();
    assert_eq!(router.confirm_polls("default", "camp_1", Some("Q4"), 1), 1);
    assert_eq!(
        router.confirm_polls("default", "camp_flaky_2", Some("Q4"), 1),
        3
    );
    assert_eq!(
        router.confirm_polls("default", "camp_1", Some("Renewals May"), 1),
        2
    );
    assert_eq!(
        router.confirm_polls("default", "camp_flaky_2", Some("Renewals May"), 1),
        3
    );
    // A rule of one account confirms only that account's campaigns.
    assert_eq!(router.confirm_polls("acme", "camp_1", Some("Q4"), 1), 5);
    assert_eq!(router.confirm_polls("globex", "camp_1", Some("Q4"), 1), 1);
    let reminding = router.reminding_rules();
    assert_eq!(reminding.len(), 1);
    assert_eq!(reminding[0].0, 1);
    assert_eq!(router.rule_channels(1), ["hook"]);
    assert_eq!(router.rule_channels(0), ["hook", "mail", "pager"]);
}

#[test]
fn explain_names_the_matching_rules_or_the_default() {
    let mut pauses = rule(
        &["campaign.status_changed"],
        &["live->paused"],
        &[],
        &["pager"],
    );
    pauses.name = Some("pauses".into());
    let everything = rule(&[], &[], &["camp_eu_*"], &[]);
    let router = Router::from_settings(&[pauses, everything], &channels(), &[]).unwrap();
    let paused = event(
        EventType::StatusChanged,
        "camp_eu_1",
        "Q4",
        "live",
        "paused",
    );
    let routing = router.explain(&paused);
    assert!(!routing.by_default);
    assert_eq!(
        routing.matched,
        [
            MatchedRule {
                rule: "pauses".into(),
                channels: vec!["pager".into()]
            },
            MatchedRule {
                rule: "rules[1]".into(),
                channels: vec!["hook".into(), "mail".into(), "pager".into()]
            },
        ]
    );
    assert_eq!(routing.channels, router.route(&paused));
    let resumed = event(EventType::StatusChanged, "camp_1", "Q4", "paused", "live");
    assert_eq!(router.explain(&resumed), Routing::default());

    let default = Router::from_settings(&[], &channels(), &[])
        .unwrap()
        .explain(&paused);
    assert!(default.by_default && default.matched.is_empty());
    assert_eq!(default.channels, ["hook", "mail", "pager"]);
}

#[test]
fn bad_rules_are_refused() {
    assert!(
        Router::from_settings(&[rule(&["campaign.nope"], &[], &[], &[])], &channels(), &[])
            .is_err()
    );
    assert!(
        Router::from_settings(&[rule(&[], &["live-paused"], &[], &[])], &channels(), &[]).is_err()
    );
    assert!(Router::from_settings(&[rule(&[], &[], &["[bad"], &[])], &channels(), &[]).is_err());
    assert!(Router::from_settings(&[rule(&[], &[], &[], &["nowhere"])], &channels(), &[]).is_err());
}
