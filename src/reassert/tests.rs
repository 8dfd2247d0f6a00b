use chrono::TimeZone;

use super::*;
use crate::observe::Snapshot;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, minute, 0).unwrap()
}

fn state(id: &str, status: CampaignStatus, errors: &[&str], not_found: bool) -> CampaignState {
    let snapshot = Snapshot {
        upload_errors: errors.iter().map(|e| e.to_string()).collect(),
        ..crate::fixtures::snapshot(id, &format!("Campaign {id}"), status)
    };
    CampaignState {
        not_found,
        ..crate::fixtures::stored(snapshot, at(1))
    }
}

#[test]
fn active_conditions_come_from_stored_states_and_health() {
    use CampaignStatus::*;
    let states = HashMap::from([
        ("a".to_string(), state("a", Paused, &[], false)),
        ("b".to_string(), state("b", Live, &["Row 2: bad"], false)),
        ("c".to_string(), state("c", Paused, &["Row 3: bad"], false)),
        ("d".to_string(), state("d", Paused, &["Row 4: bad"], true)),
        ("e".to_string(), state("e", Live, &[], false)),
    ]);
    let healthy = ApiHealth::default();
    let found: Vec<(Condition, String)> =
        active_conditions(DEFAULT_ACCOUNT, &states, &healthy, None, at(5))
            .into_iter()
            .map(|a| (a.condition, a.campaign.unwrap().0))
            .collect();
    assert_eq!(
        found,
        vec![
            (Condition::Paused, "a".to_string()),
            (Condition::UploadErrors, "b".to_string()),
            (Condition::Paused, "c".to_string()),
            (Condition::UploadErrors, "c".to_string()),
            (Condition::NotFound, "d".to_string()),
        ]
    );
    // A pause's stored hints come with its condition, and only with it.
    let mut hinted = state("f", Paused, &["Row 5: bad"], false);
    hinted.hints = vec![crate::event::Hint {
        code: "caller_number_inactive".into(),
        text: "The caller number is marked inactive by the API".into(),
    }];
    let only_f = BTreeSet::from(["f".to_string()]);
    let states_f = HashMap::from([("f".to_string(), hinted.clone())]);
    let conditions = active_conditions(DEFAULT_ACCOUNT, &states_f, &healthy, Some(&only_f), at(5));
    assert_eq!(conditions[0].condition, Condition::Paused);
    assert_eq!(conditions[0].hints, hinted.hints);
    assert_eq!(conditions[1].condition, Condition::UploadErrors);
    assert!(conditions[1].hints.is_empty());

    let unhealthy = ApiHealth {
        unhealthy: true,
        ..ApiHealth::default()
    };
    let watched = BTreeSet::from(["a".to_string()]);
    let only_a = active_conditions(DEFAULT_ACCOUNT, &states, &unhealthy, Some(&watched), at(5));
    assert_eq!(only_a.len(), 2);
    assert_eq!(only_a[1].condition, Condition::ApiUnhealthy);
    assert_eq!(only_a[1].campaign, None);
}

#[test]
fn every_account_but_default_labels_its_conditions() {
    let states = HashMap::from([(
        "a".to_string(),
        state("a", CampaignStatus::Paused, &[], false),
    )]);
    let unhealthy = ApiHealth {
        unhealthy: true,
        ..ApiHealth::default()
    };
    let accounts = |name| -> Vec<Option<String>> {
        active_conditions(name, &states, &unhealthy, None, at(5))
            .into_iter()
            .map(|active| active.account)
            .collect()
    };
    assert_eq!(accounts(DEFAULT_ACCOUNT), [None, None]);
    assert_eq!(
        accounts("acme"),
        [Some("acme".to_string()), Some("acme".to_string())]
    );
}

#[test]
fn silenced_conditions_are_not_re_posted_while_the_silence_lasts() {
    let states = HashMap::from([
        (
            "a".to_string(),
            state("a", CampaignStatus::Paused, &["Row 2: bad"], false),
        ),
        (
            "b".to_string(),
            state("b", CampaignStatus::Paused, &[], false),
        ),
    ]);
    let standing = active_conditions("acme", &states, &ApiHealth::default(), None, at(5));
    let silence = |campaign: &str, event, account: Option<&str>| Silence {
        id: 1,
        campaign: campaign.into(),
        account: account.map(Into::into),
        event,
        reason: "maintenance".into(),
        author: "ops".into(),
        created_at: at(0),
        expires_at: at(10),
    };
    let kept = |silences: &[Silence], now| -> Vec<(Condition, String)> {
        unsilenced(standing.clone(), "acme", silences, now)
            .into_iter()
            .map(|active| (active.condition, active.campaign.unwrap().0))
            .collect()
    };
    use Condition::*;
    let pauses_of_a = [silence(
        "a",
        Some(crate::event::EventType::StatusChanged),
        None,
    )];
    assert_eq!(
        kept(&pauses_of_a, at(5)),
        [(UploadErrors, "a".to_string()), (Paused, "b".to_string())]
    );
    // Ended: posted again.
    assert_eq!(kept(&pauses_of_a, at(11)).len(), 3);
    // Another account's silence holds nothing here.
    assert_eq!(kept(&[silence("*", None, Some("globex"))], at(5)).len(), 3);
    assert!(kept(&[silence("*", None, Some("acme"))], at(5)).is_empty());
    // A pause posted before the silence began stays posted.
    let later = Silence {
        created_at: at(2),
        ..silence("*", None, Some("acme"))
    };
    assert_eq!(kept(&[later], at(5)).len(), 3);
}

#[test]
fn a_store_that_cannot_be_read_keeps_what_it_last_showed() {
    let paused = ActiveCondition {
        condition: Condition::Paused,
        account: None,
        campaign: Some(("a".into(), "Campaign a".into())),
        since: at(1),
        hints: Vec::new(),
    };
    let mut last_known = Vec::new();
    let (active, unread) =
        to_assert::<&str>(Ok(vec![paused.clone()]), &mut last_known, false, at(2));
    assert_eq!((active, unread), (vec![paused.clone()], None));
    // The store goes away: the pause is still posted, nothing is resolved.
    let (active, unread) = to_assert(Err("gone"), &mut last_known, false, at(3));
    assert_eq!(active, vec![paused.clone()]);
    assert_eq!(unread, Some("gone"));
    // And while it refuses commits, that is alerted too.
    let (active, _) = to_assert(Err("gone"), &mut last_known, true, at(4));
    let conditions: Vec<Condition> = active.iter().map(|a| a.condition).collect();
    assert_eq!(conditions, [Condition::Paused, Condition::StoreUnhealthy]);
    // It answers again, and the pause is over: now it may resolve.
    let (active, unread) = to_assert::<&str>(Ok(vec![]), &mut last_known, false, at(5));
    assert!(active.is_empty() && unread.is_none());
    assert!(last_known.is_empty());
}
