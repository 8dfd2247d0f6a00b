use super::*;

use crate::observe::CampaignStatus;
use chrono::{TimeDelta, TimeZone};

thread_local! {
    /// Globs compiled on this thread (tests run one per thread).
    pub(super) static COMPILED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn compiled() -> usize {
    COMPILED.with(std::cell::Cell::get)
}

#[test]
fn matching_uses_the_matchers_compiled_when_the_silences_were_made() {
    let before = compiled();
    let silences: Vec<Silence> = (0..100)
        .map(|n| Silence {
            id: n,
            account: Some(format!("[a]cme-{n}").into()),
            ..silence(&format!("camp_{n}_?"), None)
        })
        .chain([silence("camp_exact", None)])
        .collect();
    assert_eq!(
        compiled() - before,
        200,
        "each glob compiled once when made"
    );
    let made = compiled();
    let mut held = 0;
    for n in 0..50 {
        let mut event = event(
            EventType::StatusChanged,
            Some((&format!("camp_{n}_x"), "Q4")),
        );
        event.account = Some(format!("acme-{n}"));
        held += usize::from(silencing(&silences, &event, t(1)).is_some());
        held += silences
            .iter()
            .filter(|silence| silence.covers_campaign(&format!("acme-{n}"), "camp_exact", "Q4"))
            .count();
    }
    assert_eq!(
        held,
        50 + 50,
        "every event held, the exact silence covers its campaign"
    );
    assert_eq!(compiled(), made, "matching compiled nothing");
}

#[test]
fn common_globs_are_string_comparisons_that_agree_with_globset() {
    let patterns = [
        "camp_1",
        "camp_*",
        "*_1",
        "*mp*",
        "*",
        "**",
        "camp_?",
        "c[a]mp_1",
        "*a*1",
        "[invalid",
        "Q4 *",
        "* Campaign",
        "*-/.*",
        "é*",
        "a/*",
        "{camp,x}_1",
        "\\*",
    ];
    let candidates = [
        "camp_1",
        "camp_10",
        "x_1",
        "",
        "Q4 Outreach Campaign",
        "-/.",
        "éa",
        "a/b/c",
        "*",
        "[invalid",
    ];
    for pattern in patterns {
        let ours = Pattern::new(pattern);
        let theirs = globset::Glob::new(pattern).map(|glob| glob.compile_matcher());
        for candidate in candidates {
            let expected = match &theirs {
                Ok(glob) => glob.is_match(candidate),
                Err(_) => pattern == candidate,
            };
            assert_eq!(
                ours.matches(candidate, "\u{0}"),
                expected,
                "{pattern:?} on {candidate:?}"
            );
        }
    }
    let before = compiled();
    for pattern in ["camp_1", "camp_*", "*_1", "*mp*", "*", "[invalid"] {
        Pattern::new(pattern);
    }
    assert_eq!(
        compiled(),
        before,
        "exact, prefix, suffix, contains and * compile nothing"
    );
}

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap() + TimeDelta::minutes(minutes)
}

fn event(kind: EventType, campaign: Option<(&str, &str)>) -> Event {
    let event = crate::fixtures::event(kind).id(&["x"]).at(t(0));
    match campaign {
        Some((id, name)) => event
            .campaign(id, name)
            .statuses(CampaignStatus::Live, CampaignStatus::Paused)
            .build(),
        None => event.build(),
    }
}

fn silence(campaign: &str, kind: Option<EventType>) -> Silence {
    Silence {
        id: 1,
        campaign: campaign.into(),
        event: kind,
        reason: "maintenance".into(),
        author: "ops".into(),
        created_at: t(0),
        expires_at: t(120),
        account: None,
    }
}

#[test]
fn a_silence_of_one_account_holds_only_that_accounts_events() {
    let of = |account: Option<&str>| {
        let mut event = event(EventType::StatusChanged, Some(("camp_1", "Q4")));
        event.account = account.map(str::to_string);
        event
    };
    let acme_only = Silence {
        account: Some("acme".into()),
        ..silence("camp_1", None)
    };
    let acme_like = Silence {
        account: Some("acme*".into()),
        ..silence("*", None)
    };
    let everywhere = silence("camp_1", None);
    for (silence, account, held) in [
        (&acme_only, Some("acme"), true),
        (&acme_only, Some("globex"), false),
        (&acme_only, Some("default"), false),
        // The whole watcher's events belong to no account.
        (&acme_only, None, false),
        (&acme_like, Some("acme-eu"), true),
        (&acme_like, Some("globex"), false),
        (&everywhere, Some("acme"), true),
        (&everywhere, Some("default"), true),
    ] {
        assert_eq!(
            silence.matches(&of(account)),
            held,
            "{:?} {account:?}",
            silence.account
        );
    }
    assert!(acme_only.covers_campaign("acme", "camp_1", "Q4"));
    assert!(!acme_only.covers_campaign("globex", "camp_1", "Q4"));
}

#[test]
fn only_matchers_of_everything_match_every_campaign() {
    for (pattern, expected) in [
        ("*", true),
        (" * ", true),
        ("**", true),
        ("?*", true),
        ("{*,camp_x}", true),
        ("camp_*", false),
        ("*a*", false),
        ("?", false),
        ("camp_XiQEBcj9cc5TFRB4", false),
        ("[", false),
    ] {
        assert_eq!(matches_every_campaign(pattern), expected, "{pattern}");
    }
}

#[test]
fn silences_match_by_campaign_glob_type_and_time() {
    let paused = event(EventType::StatusChanged, Some(("camp_eu_1", "Renewals EU")));
    let errors = event(
        EventType::UploadErrorsAdded,
        Some(("camp_eu_1", "Renewals EU")),
    );
    let other = event(EventType::StatusChanged, Some(("camp_us_1", "Q4")));
    let outage = event(EventType::ApiUnhealthy, None);
    let back = event(EventType::FoundAgain, Some(("camp_eu_1", "Renewals EU")));
    let cases = [
        // A silenced disappearance's return is silenced too; not the reverse.
        (
            silence("camp_eu_1", Some(EventType::NotFound)),
            &back,
            t(10),
            true,
        ),
        (
            silence("camp_eu_1", Some(EventType::StatusChanged)),
            &back,
            t(10),
            false,
        ),
        (silence("camp_eu_1", None), &paused, t(10), true),
        (silence("camp_eu_*", None), &other, t(10), false),
        (silence("Renewals*", None), &paused, t(10), true),
        (
            silence("camp_eu_*", Some(EventType::UploadErrorsAdded)),
            &paused,
            t(10),
            false,
        ),
        (
            silence("camp_eu_*", Some(EventType::UploadErrorsAdded)),
            &errors,
            t(10),
            true,
        ),
        (silence("camp_eu_1", None), &paused, t(120), false),
        (silence("camp_eu_1", None), &paused, t(-1), false),
        (silence("camp_*", None), &outage, t(10), false),
        (silence("*", None), &outage, t(10), true),
    ];
    for (index, (silence, event, now, expected)) in cases.iter().enumerate() {
        let silences = [silence.clone()];
        assert_eq!(
            silencing(&silences, event, *now).is_some(),
            *expected,
            "case {index}"
        );
    }
}
