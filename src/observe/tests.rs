use super::*;

fn snapshot() -> Snapshot {
    Snapshot {
        id: "camp_1".into(),
        name: "Q4 Outreach".into(),
        status: CampaignStatus::Live,
        upload_errors: BTreeSet::from(["Row 7: invalid phone number".to_string()]),
        agent: Some(Agent {
            id: Some("ag_1".into()),
            name: Some("Caller Bot".into()),
            status: Some("Live".into()),
        }),
        caller_number: Some("+15550000001".into()),
        caller_active: Some(true),
        concurrent_calls: Some(2),
        scheduled_date: None,
    }
}

/// The watcher remembers campaigns by fingerprint: every field the diff
/// compares must move it, and an equal snapshot must reproduce it.
#[test]
fn the_fingerprint_follows_every_compared_field() {
    let base = snapshot();
    assert_eq!(base.fingerprint(), snapshot().fingerprint());
    type Change = fn(&mut Snapshot);
    let changes: [(&str, Change); 10] = [
        ("status", |s| s.status = CampaignStatus::Paused),
        ("unknown status", |s| {
            s.status = CampaignStatus::Unknown("archived".into())
        }),
        ("name", |s| s.name.push('!')),
        ("an upload error added", |s| {
            s.upload_errors.insert("Row 9: duplicate".into());
        }),
        ("upload errors cleared", |s| s.upload_errors.clear()),
        ("agent status", |s| {
            s.agent.as_mut().unwrap().status = Some("Testing".into())
        }),
        ("caller number", |s| s.caller_number = None),
        ("caller number inactive", |s| s.caller_active = Some(false)),
        ("concurrent calls", |s| s.concurrent_calls = Some(3)),
        ("scheduled date", |s| {
            s.scheduled_date = Some("2027-03-02T09:30:00.000Z".into())
        }),
    ];
    for (what, change) in changes {
        let mut changed = snapshot();
        change(&mut changed);
        assert_ne!(changed.fingerprint(), base.fingerprint(), "{what}");
    }
    // Neighbouring fields cannot trade content and keep the digest.
    let mut swapped = snapshot();
    swapped.name = "camp_1".into();
    swapped.id = "Q4 Outreach".into();
    assert_ne!(swapped.fingerprint(), base.fingerprint());
}

#[test]
fn only_unrecorded_facts_are_learnt() {
    let seen = snapshot();
    let mut old = snapshot();
    old.caller_active = None;
    assert!(old.learn_unrecorded(&seen));
    assert_eq!(old, seen);
    // A recorded flag is a fact of its own: a change, never overwritten here.
    let mut recorded = snapshot();
    recorded.caller_active = Some(false);
    assert!(!recorded.learn_unrecorded(&seen));
    assert_eq!(recorded.caller_active, Some(false));
    // Nothing to learn from a reading that lacks it too.
    let mut none = snapshot();
    none.caller_active = None;
    assert!(!none.learn_unrecorded(&old_without_flag()));
}

fn old_without_flag() -> Snapshot {
    Snapshot {
        caller_active: None,
        ..snapshot()
    }
}

/// A snapshot stored by the release before `caller_active` existed.
#[test]
fn a_stored_snapshot_without_the_new_fields_reads_back() {
    let stored = r#"{"id":"camp_1","name":"Q4","status":"paused","upload_errors":[],
        "agent":null,"caller_number":"+15550000001","concurrent_calls":2,"scheduled_date":null}"#;
    let snapshot: Snapshot = serde_json::from_str(stored).unwrap();
    assert_eq!(snapshot.caller_active, None);
    let written = serde_json::to_value(&snapshot).unwrap();
    assert!(written.get("caller_active").is_none(), "{written}");
}
