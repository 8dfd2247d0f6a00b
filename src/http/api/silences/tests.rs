use super::*;
use crate::event::DEFAULT_ACCOUNT;

fn silence(campaign: &str, duration: &str, reason: &str) -> NewSilence {
    NewSilence {
        campaign: campaign.into(),
        duration: duration.into(),
        reason: reason.into(),
        ..NewSilence::default()
    }
}

#[test]
fn a_new_silence_is_checked_with_one_sentence_per_problem() {
    let good = silence("camp_eu_*", "2h", " maintenance ")
        .check(false, &[DEFAULT_ACCOUNT.to_string()])
        .unwrap();
    assert_eq!(good.reason, "maintenance");
    assert_eq!(good.duration, std::time::Duration::from_secs(7200));
    assert!(!good.everything);

    let cases: [(NewSilence, &[&str]); 7] = [
        (silence("", "2h", "r"), &["campaign is empty"]),
        (
            silence("camp_[", "0s", ""),
            &["not a valid glob", "longer than 0s", "reason is empty"],
        ),
        (
            silence("x", "soon", "r"),
            &["duration \"soon\" is not a duration"],
        ),
        (silence("x", "200years", "r"), &["longer than 100 years"]),
        (
            NewSilence {
                event_type: Some("campaign.statuschanged".into()),
                ..silence("x", "1h", "r")
            },
            &["not an event type (did you mean \"campaign.status_changed\"?)"],
        ),
        (
            NewSilence {
                account: Some("emea".into()),
                ..silence("x", "1h", "r")
            },
            &["account \"emea\" is not a configured account"],
        ),
        (
            silence("*", "1h", "r"),
            &["matches every campaign of every account"],
        ),
    ];
    for (new, expected) in cases {
        let problems = new
            .check(false, &[DEFAULT_ACCOUNT.to_string()])
            .unwrap_err();
        assert_eq!(problems.len(), expected.len(), "{problems:?}");
        for (problem, part) in problems.iter().zip(expected) {
            assert!(problem.contains(part), "{problem:?} lacks {part:?}");
        }
    }
    // Confirmed, or narrowed to an account, a silence of everything is taken.
    let confirmed = NewSilence {
        confirm_all: Some(true),
        ..silence("*", "1h", "r")
    };
    assert!(
        confirmed
            .check(false, &[DEFAULT_ACCOUNT.to_string()])
            .unwrap()
            .everything
    );
    let one_account = NewSilence {
        account: Some("default".into()),
        ..silence("*", "1h", "r")
    };
    let two = [DEFAULT_ACCOUNT.to_string(), "acme".to_string()];
    assert!(!one_account.check(false, &two).unwrap().everything);
    // An account glob taking every account narrows nothing: it needs the
    // confirmation, and the preview says it matches everything.
    for glob in ["*", "**", "{default,acme}", "?*"] {
        let every_account = NewSilence {
            account: Some(glob.into()),
            ..silence("*", "1h", "r")
        };
        let problems = every_account.check(false, &two).unwrap_err();
        assert!(
            problems[0].contains("matches every campaign of every account"),
            "{glob}: {problems:?}"
        );
        assert!(
            every_account.check(true, &two).unwrap().everything,
            "{glob}"
        );
    }
    let some_accounts = NewSilence {
        account: Some("a*".into()),
        ..silence("*", "1h", "r")
    };
    assert!(!some_accounts.check(false, &two).unwrap().everything);
    // With a single account, naming it narrows nothing: stored as none.
    let single = one_account
        .check(false, &[DEFAULT_ACCOUNT.to_string()])
        .unwrap();
    assert!(!single.everything);
    assert_eq!(single.account, None);
    // A preview asks only for what it needs.
    assert!(silence("*", "", "")
        .check(true, &[DEFAULT_ACCOUNT.to_string()])
        .is_ok());
    // An empty event type (the form's "every type") is none.
    let every = NewSilence {
        event_type: Some(String::new()),
        ..silence("x", "1h", "r")
    };
    assert_eq!(
        every
            .check(false, &[DEFAULT_ACCOUNT.to_string()])
            .unwrap()
            .event,
        None
    );
}
