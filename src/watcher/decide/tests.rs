use chrono::TimeZone;

use super::*;
use crate::observe::CampaignStatus;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, minute, 0).unwrap()
}

fn fetched(status: CampaignStatus) -> Fetched {
    let snapshot = crate::fixtures::snapshot("camp_a", "A", status);
    Fetched {
        observations: vec![("camp_a".into(), Observation::Found(snapshot))],
        unchanged: vec![],
        listing_failure: None,
        reading: Default::default(),
    }
}

fn loaded(stored: Vec<(String, CampaignState)>, silences: Vec<Silence>) -> Loaded {
    Loaded {
        stored: stored.into_iter().collect(),
        health: ApiHealth::default(),
        silences,
        reminders: HashMap::new(),
    }
}

/// The same values decide the same way, with nothing read or written: a
/// first sight is a quiet state, a change against it an event routed
/// with its state, and a silence in force holds it back.
#[test]
fn a_first_sight_is_quiet_and_a_change_is_routed_through_the_silences() {
    let router = Router::new(vec![], &[], &[]).unwrap();
    let watch = WatchSettings {
        confirm_polls: 1,
        ..WatchSettings::default()
    };
    let rules = Rules {
        account: "default",
        router: &router,
        watch: &watch,
    };
    let first = decide(
        &rules,
        fetched(CampaignStatus::Live),
        &loaded(vec![], vec![]),
        true,
        at(0),
    );
    assert_eq!(first.first_seen, 1);
    assert!(first.events.is_empty());
    assert!(first.commit.states.is_empty());
    assert_eq!(
        first.quiet_states.len(),
        1,
        "a state with no event may go ahead in slices"
    );
    assert_eq!(first.verdict, CycleVerdict::Readable);

    let stored = first.quiet_states;
    let paused = decide(
        &rules,
        fetched(CampaignStatus::Paused),
        &loaded(stored.clone(), vec![]),
        true,
        at(1),
    );
    assert_eq!(paused.events.len(), 1, "{:?}", paused.events);
    assert_eq!(
        paused.commit.states.len(),
        1,
        "the state goes with its event"
    );
    assert!(paused.quiet_states.is_empty());
    assert_eq!(paused.commit.events[0].silence, None);

    let silence = Silence {
        id: 7,
        campaign: crate::route::silence::Pattern::new("*"),
        account: None,
        event: None,
        reason: "maintenance".into(),
        author: String::new(),
        created_at: at(0),
        expires_at: at(30),
    };
    let silenced = decide(
        &rules,
        fetched(CampaignStatus::Paused),
        &loaded(stored, vec![silence]),
        true,
        at(1),
    );
    assert_eq!(silenced.commit.events[0].silence, Some(7));
    assert_eq!(silenced.events.len(), 1, "kept in history");
}

/// A cycle that read part of the account still counts every stored campaign
/// (those it wrote as they are now), but not one already known to be gone.
#[test]
fn a_partial_cycle_counts_every_stored_campaign_by_status() {
    let router = Router::new(vec![], &[], &[]).unwrap();
    let watch = WatchSettings::default();
    let rules = Rules {
        account: "default",
        router: &router,
        watch: &watch,
    };
    let first = decide(
        &rules,
        fetched(CampaignStatus::Live),
        &loaded(vec![], vec![]),
        true,
        at(0),
    );
    let (_, state) = first.quiet_states[0].clone();
    let brief = |status: CampaignStatus, not_found: bool| {
        let mut state = state.clone();
        state.snapshot.status = status;
        state.not_found = not_found;
        super::Brief::of(&state)
    };
    let stored: HashMap<String, super::Brief> = [
        ("a", brief(CampaignStatus::Live, false)),
        ("b", brief(CampaignStatus::Paused, false)),
        ("gone", brief(CampaignStatus::Paused, true)),
    ]
    .into_iter()
    .map(|(key, brief)| (key.to_string(), brief))
    .collect();
    let committed = vec![
        ("b".to_string(), brief(CampaignStatus::Completed, false)),
        ("new".to_string(), brief(CampaignStatus::Scheduled, false)),
    ];
    let counts = super::every_campaign_by_status(&committed, &stored);
    let count = |bucket: &str| counts.get(bucket).copied().unwrap_or(0);
    assert_eq!(
        [
            count("live"),
            count("paused"),
            count("completed"),
            count("scheduled"),
            count("not_found")
        ],
        [1, 0, 1, 1, 0]
    );
}
