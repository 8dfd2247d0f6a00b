//! Retention on both databases: what a prune removes and what it must keep
//! (pending rows, open-condition starts, the last event per campaign, active
//! silences, watched campaigns' state), and that the resolve logic decides the
//! same after a prune as before it.

use std::time::Duration;

use super::*;
use crate::alert::{self, Condition};
use crate::state::Reminder;

fn minutes(n: i64) -> TimeDelta {
    TimeDelta::minutes(n)
}

/// A campaign event of `kind` at `at`, from `previous` to `status`.
fn news(
    id: &str,
    campaign: &str,
    kind: EventType,
    previous: CampaignStatus,
    status: CampaignStatus,
    at: DateTime<Utc>,
) -> Event {
    let mut event = campaign_event(id, campaign, at);
    event.kind = kind;
    let info = event.campaign.as_mut().unwrap();
    info.previous_status = Some(previous);
    info.status = status;
    event
}

fn paused(id: &str, campaign: &str, at: DateTime<Utc>) -> Event {
    news(
        id,
        campaign,
        EventType::StatusChanged,
        CampaignStatus::Live,
        CampaignStatus::Paused,
        at,
    )
}

fn resumed(id: &str, campaign: &str, at: DateTime<Utc>) -> Event {
    news(
        id,
        campaign,
        EventType::StatusChanged,
        CampaignStatus::Paused,
        CampaignStatus::Live,
        at,
    )
}

fn settings(id: &str, campaign: &str, at: DateTime<Utc>) -> Event {
    news(
        id,
        campaign,
        EventType::SettingsChanged,
        CampaignStatus::Live,
        CampaignStatus::Live,
        at,
    )
}

fn watcher_event(id: &str, kind: EventType, at: DateTime<Utc>) -> Event {
    Event {
        kind,
        occurred_at: at,
        ..event(id)
    }
}

/// Commit one event (one cycle each, in order), to `ops` unless silenced.
async fn put(store: &Store, event: Event, silence: Option<i64>) {
    let now = event.occurred_at;
    store
        .commit_cycle(&CycleCommit {
            now,
            states: vec![],
            health: None,
            events: vec![RoutedEvent {
                event,
                channels: vec!["ops".into()],
                silence,
                followers: vec![],
                incident: None,
            }],
            reminders: vec![],
        })
        .await
        .unwrap();
}

/// Mark every pending outbox row sent, except those of `keep_pending`.
async fn send_all_but(store: &Store, keep_pending: &[&str]) {
    for delivery in store
        .due_deliveries(t0() + minutes(600), 1000)
        .await
        .unwrap()
    {
        if !keep_pending.contains(&delivery.event.id.as_str()) {
            store.mark_sent(delivery.id, t0()).await.unwrap();
        }
    }
}

async fn event_ids(store: &Store) -> BTreeSet<String> {
    on_pool!(store, pool => sqlx::query("SELECT id FROM events")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>("id"))
        .collect())
}

/// Whether each condition counts as announced and open, per campaign, as the
/// resolve logic reads the history.
async fn announced(
    store: &Store,
    campaigns: &[Option<&str>],
) -> Vec<(Option<String>, Condition, bool)> {
    let mut found = Vec::new();
    for campaign in campaigns {
        let history = store.latest_events_of(*campaign, 200).await.unwrap();
        for condition in Condition::ALL {
            let open = alert::announced(
                condition,
                history.iter().map(|(event, silenced)| (event, *silenced)),
            );
            found.push((campaign.map(str::to_string), condition, open));
        }
    }
    found
}

/// The table of cases: (event, age in minutes, silenced, pending, kept?).
async fn pruning_keeps_what_the_watcher_needs(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    let silence = store
        .create_silence(
            &ops(),
            "camp_d",
            None,
            None,
            "planned",
            t0() - minutes(300),
            t0() - minutes(200),
        )
        .await
        .unwrap();
    let at = |age: i64| t0() - minutes(age);
    #[rustfmt::skip]
    let cases: Vec<(Event, Option<i64>, bool, bool, &str)> = vec![
        // camp_a: paused, resumed, paused again (still open), then news.
        (paused("a1", "camp_a", at(300)), None, false, false, "a start its campaign's later end settled"),
        (resumed("a2", "camp_a", at(290)), None, false, false, "an old end"),
        (paused("a3", "camp_a", at(280)), None, false, true, "the start of a condition still open"),
        (settings("a4", "camp_a", at(270)), None, false, true, "the campaign's last event"),
        // camp_b: an old event whose delivery is still pending.
        (settings("b1", "camp_b", at(300)), None, true, true, "an event with a pending row"),
        (settings("b2", "camp_b", at(290)), None, false, true, "the campaign's last event"),
        // camp_c: one old event only.
        (resumed("c1", "camp_c", at(300)), None, false, true, "a campaign's only event"),
        // camp_d: a silenced start was never announced.
        (paused("d1", "camp_d", at(250)), Some(silence.id), false, false, "a silenced start"),
        (settings("d2", "camp_d", at(240)), None, false, true, "the campaign's last event"),
        // camp_e: a start kept open by reminders: the newest reminder is the start.
        (paused("e1", "camp_e", at(300)), None, false, false, "a start a later reminder re-started"),
        (news("e2", "camp_e", EventType::Reminder, CampaignStatus::Paused, CampaignStatus::Paused, at(250)), None, false, true, "the reminder of a condition still open"),
        (settings("e3", "camp_e", at(200)), None, false, true, "the campaign's last event"),
        // The watcher's own events.
        (watcher_event("w1", EventType::ApiUnhealthy, at(300)), None, false, false, "a watcher start a later start superseded"),
        (watcher_event("w2", EventType::ApiUnhealthy, at(290)), None, false, true, "the watcher's open condition"),
        (watcher_event("w3", EventType::ChannelUnhealthy, at(280)), None, false, true, "the watcher's last event"),
        // Newer than the retention: always kept.
        (paused("n1", "camp_n", at(10)), None, false, true, "a recent start"),
        (resumed("n2", "camp_n", at(5)), None, false, true, "a recent end"),
    ];
    for (event, silence, _, _, _) in &cases {
        put(&store, event.clone(), *silence).await;
    }
    let pending: Vec<&str> = cases
        .iter()
        .filter(|(_, _, pending, _, _)| *pending)
        .map(|(event, ..)| event.id.as_str())
        .collect();
    send_all_but(&store, &pending).await;
    let campaigns = [
        Some("camp_a"),
        Some("camp_b"),
        Some("camp_c"),
        Some("camp_d"),
        Some("camp_e"),
        Some("camp_n"),
        None,
    ];
    let before = announced(&store, &campaigns).await;

    // Batches of 2 rows: the cursor and the batch loop are exercised too.
    let report = store
        .prune(t0() - minutes(60), 2, Duration::from_secs(60))
        .await
        .unwrap();

    let kept = event_ids(&store).await;
    for (event, _, _, expected, why) in &cases {
        assert_eq!(kept.contains(&event.id), *expected, "{} ({why})", event.id);
    }
    let removed = cases.iter().filter(|case| !case.3).count() as u64;
    assert_eq!(report.removed.0.get("events"), Some(&removed), "{report:?}");
    assert!(!report.unfinished);
    assert_eq!(
        announced(&store, &campaigns).await,
        before,
        "the resolve logic decides the same"
    );
    // The pending row (and its event) stayed; finished rows of removed events went.
    assert_eq!(store.outbox_counts().await.unwrap().pending, 1);
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = o.event_id)").await,
        0
    );
    // A second prune finds nothing more to remove.
    let again = store
        .prune(t0() - minutes(60), 2, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(again.removed.total(), 0, "{again:?}");
}

/// Silences that ended before the cutoff go; active ones and recently ended ones stay.
async fn ended_silences_and_unwatched_campaigns_go(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    let old = store
        .create_silence(
            &ops(),
            "camp_x",
            None,
            None,
            "old",
            t0() - minutes(300),
            t0() - minutes(200),
        )
        .await
        .unwrap();
    let recent = store
        .create_silence(
            &ops(),
            "camp_x",
            None,
            None,
            "recent",
            t0() - minutes(100),
            t0() - minutes(30),
        )
        .await
        .unwrap();
    let active = store
        .create_silence(
            &ops(),
            "camp_x",
            None,
            None,
            "active",
            t0() - minutes(300),
            t0() + minutes(60),
        )
        .await
        .unwrap();
    // camp_a is watched (no last-seen row); camp_gone was last read 5 hours ago,
    // camp_away 10 minutes ago, both then missed by complete reads;
    // camp_unreadable was last read 5 hours ago and has only failed since.
    let reminder = Reminder {
        condition: crate::state::ReminderCondition::Status(CampaignStatus::Paused),
        since: t0() - minutes(400),
        last_at: t0() - minutes(400),
        sent: 0,
    };
    store
        .commit_cycle(&CycleCommit {
            now: t0(),
            states: ["camp_a", "camp_gone", "camp_away", "camp_unreadable"]
                .iter()
                .map(|key| (key.to_string(), state(key, CampaignStatus::Paused, 1)))
                .collect(),
            health: None,
            events: vec![],
            reminders: ["camp_a", "camp_gone"]
                .iter()
                .map(|key| ReminderWrite {
                    campaign_id: key.to_string(),
                    rule: "0".into(),
                    reminder: Some(reminder.clone()),
                })
                .collect(),
        })
        .await
        .unwrap();
    let outcome = CycleOutcome {
        started_at: t0(),
        finished_at: t0(),
        result: "success".into(),
        detail: String::new(),
        campaigns_read: 0,
    };
    store
        .record_cycle(
            &[
                ("camp_gone".into(), t0() - minutes(300)),
                ("camp_away".into(), t0() - minutes(10)),
                ("camp_unreadable".into(), t0() - minutes(300)),
            ],
            &[
                ("camp_gone".into(), t0() - minutes(300)),
                ("camp_away".into(), t0() - minutes(10)),
            ],
            &[],
            &outcome,
        )
        .await
        .unwrap();

    // Incidents: one ended long ago goes, one open as long stays.
    let episode = |id: &str, campaign: &str, ended: Option<DateTime<Utc>>| {
        let start = paused(id, campaign, t0() - minutes(600));
        let mut incident = crate::state::Incident::open(
            Some("default".into()),
            campaign.into(),
            "paused",
            &start.id,
            start.occurred_at,
        );
        incident.ended_at = ended;
        let mut routed = RoutedEvent::new(start, vec!["ops".into()]);
        routed.incident = Some(incident);
        routed
    };
    store
        .commit_cycle(&CycleCommit {
            now: t0(),
            states: vec![],
            health: None,
            events: vec![
                episode("evt_inc_ended", "camp_i1", Some(t0() - minutes(500))),
                episode("evt_inc_open", "camp_i2", None),
            ],
            reminders: vec![],
        })
        .await
        .unwrap();

    let report = store
        .prune(t0() - minutes(60), 500, Duration::from_secs(60))
        .await
        .unwrap();
    let incidents: Vec<String> = store
        .incidents(false, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|incident| incident.subject)
        .collect();
    assert_eq!(incidents, ["camp_i2"], "{report:?}");
    assert_eq!(report.removed.0.get("incidents"), Some(&1));

    let left: Vec<i64> = store
        .silences(t0(), true)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, [recent.id, active.id], "{report:?}");
    assert!(!left.contains(&old.id));
    let states = store.load_states().await.unwrap();
    assert!(states.contains_key("camp_a") && states.contains_key("camp_away"));
    assert!(!states.contains_key("camp_gone"), "{report:?}");
    assert!(states.contains_key("camp_unreadable"), "{report:?}");
    let reminders = store.load_reminders().await.unwrap();
    assert_eq!(reminders.len(), 1);
    assert!(reminders.contains_key(&("camp_a".to_string(), "0".to_string())));
    assert_eq!(
        store.unseen_campaigns().await.unwrap(),
        std::collections::HashSet::from(["camp_away".to_string(), "camp_unreadable".to_string()]),
        "a campaign only unreadable is never forgotten, however long"
    );
    assert_eq!(report.removed.0.get("silences"), Some(&1));
    assert_eq!(report.removed.0.get("campaign_state"), Some(&1));
}

/// The case the issue names: a silence is in force when a campaign whose pause
/// was announced long before the retention resumes; the resume must still go
/// out, which the resolve logic decides from the pause kept in history.
async fn a_resume_through_a_silence_still_finds_a_start_older_than_the_retention(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    put(&store, paused("p1", "camp_a", t0() - minutes(600)), None).await;
    for n in 0..5 {
        let mut reminder = news(
            &format!("r{n}"),
            "camp_b",
            EventType::SettingsChanged,
            CampaignStatus::Live,
            CampaignStatus::Live,
            t0() - minutes(500 - n),
        );
        reminder.summary = "other campaigns keep the history busy".into();
        put(&store, reminder, None).await;
    }
    put(&store, settings("s1", "camp_a", t0() - minutes(400)), None).await;
    put(&store, settings("s2", "camp_a", t0() - minutes(300)), None).await;
    send_all_but(&store, &[]).await;
    store
        .prune(t0() - minutes(60), 500, Duration::from_secs(60))
        .await
        .unwrap();
    let kept = event_ids(&store).await;
    assert!(kept.contains("p1") && !kept.contains("s1"), "{kept:?}");
    let resume = resumed("x1", "camp_a", t0());
    let history = store.latest_events_of(Some("camp_a"), 200).await.unwrap();
    assert!(alert::ends_an_announced_condition(&resume, &history));
}

/// A SQLite file made by this version gives pruned pages back (incremental
/// auto-vacuum); its size after a prune is well under its size before.
#[tokio::test]
async fn a_new_sqlite_file_gives_pruned_pages_back() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = file_url(&dir);
    let store = Store::open(&url).await.unwrap();
    let mode: i64 = sqlx::query("PRAGMA auto_vacuum")
        .fetch_one(sqlite_pool(&store))
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, 2, "incremental");
    for n in 0..300 {
        let mut event = settings(
            &format!("e{n}"),
            &format!("camp_{}", n % 3),
            t0() - minutes(600 - n),
        );
        event.summary = "x".repeat(4_000);
        put(&store, event, None).await;
    }
    send_all_but(&store, &[]).await;
    let before = store.size_bytes().await.unwrap();
    let report = store
        .prune(t0(), 500, Duration::from_secs(60))
        .await
        .unwrap();
    let after = store.size_bytes().await.unwrap();
    assert!(report.pages_released > 0, "{report:?}");
    assert!(after < before / 2, "{before} -> {after}");
}

#[tokio::test]
async fn an_exhausted_budget_leaves_the_rest_for_the_next_round() {
    let (store, _scratch) = fresh(Kind::Sqlite).await;
    for n in 0..10 {
        put(
            &store,
            settings(&format!("e{n}"), "camp_a", t0() - minutes(600 - n)),
            None,
        )
        .await;
    }
    send_all_but(&store, &[]).await;
    let report = store.prune(t0(), 2, Duration::ZERO).await.unwrap();
    assert!(
        report.unfinished && report.removed.total() == 0,
        "{report:?}"
    );
    let report = store.prune(t0(), 2, Duration::from_secs(60)).await.unwrap();
    assert_eq!(report.removed.0.get("events"), Some(&9), "{report:?}");
}

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name(super::Kind::Sqlite).await
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name(super::Kind::Postgres).await
                }
            }
        )*
    };
}

/// The same campaign id in two accounts is two campaigns: a newer event in one
/// does not make the other's last event prunable.
async fn each_account_keeps_its_own_last_event(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    let acme = store.for_account("acme");
    put(
        &acme,
        settings("evt_a_old", "camp_a", t0() - minutes(300)),
        None,
    )
    .await;
    put(
        &store,
        settings("evt_d_old", "camp_a", t0() - minutes(300)),
        None,
    )
    .await;
    put(
        &store,
        settings("evt_d_new", "camp_a", t0() - minutes(10)),
        None,
    )
    .await;
    exec(&store, "UPDATE outbox SET status = 'sent', sent_at = 0").await;
    store
        .prune(t0() - minutes(60), 500, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        event_ids(&store).await,
        BTreeSet::from(["evt_d_new".to_string(), "evt_a_old".to_string()])
    );
}

on_both_databases!(
    each_account_keeps_its_own_last_event,
    pruning_keeps_what_the_watcher_needs,
    ended_silences_and_unwatched_campaigns_go,
    a_resume_through_a_silence_still_finds_a_start_older_than_the_retention,
);

/// On a shared store only the leader prunes: each batch checks the lease
/// inside its transaction, so a replica that is not (or no longer) the leader
/// removes nothing.
#[tokio::test]
async fn a_replica_without_the_leader_lease_prunes_nothing() {
    let (store, _scratch) = fresh(Kind::Postgres).await;
    for n in 0..5 {
        put(
            &store,
            settings(&format!("e{n}"), "camp_a", t0() - minutes(600 - n)),
            None,
        )
        .await;
    }
    send_all_but(&store, &[]).await;
    let standby = store
        .clone()
        .with_lease(crate::commit::LeaseState::new(Duration::from_secs(15)));
    let refused = standby.prune(t0(), 500, Duration::from_secs(60)).await;
    assert!(matches!(refused, Err(StoreError::NotLeader)), "{refused:?}");
    assert_eq!(event_ids(&store).await.len(), 5);
}
