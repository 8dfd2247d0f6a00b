//! The audited actions: each action and its record, on both databases.

use chrono::{DateTime, TimeDelta, Utc};

use super::super::*;
use super::{cycle, fresh, t0, Kind};
use crate::event::EventType;

pub(super) async fn each_action_is_recorded_with_who_and_what(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    let hour = TimeDelta::hours(1);
    let ops = Actor {
        name: "alice".into(),
        via: "board",
    };
    let silence = store
        .create_silence(
            &ops,
            "camp_eu_*",
            None,
            Some(EventType::StatusChanged),
            "maintenance",
            t0(),
            t0() + hour * 2,
        )
        .await
        .unwrap();
    assert_eq!(silence.author, "alice");
    assert_eq!(
        store.silences(t0(), false).await.unwrap(),
        std::slice::from_ref(&silence)
    );

    let ended = store
        .end_silence(&ops, silence.id, t0() + hour)
        .await
        .unwrap();
    assert!(matches!(ended, Some(SilenceExpiry::EndedNow(ref s)) if s.expires_at == t0() + hour));
    // Ending it again, or a silence that does not exist, changes and records nothing.
    assert!(matches!(
        store
            .end_silence(&ops, silence.id, t0() + hour * 2)
            .await
            .unwrap(),
        Some(SilenceExpiry::AlreadyEnded(_))
    ));
    assert_eq!(store.end_silence(&ops, 999, t0()).await.unwrap(), None);

    store
        .commit_cycle(&cycle(&[("evt_a", &["hook"])]))
        .await
        .unwrap();
    let row = store.due_deliveries(t0(), 10).await.unwrap()[0].id;
    let script = Actor {
        name: "token:deploy".into(),
        via: "api",
    };
    assert_eq!(
        store.replay_by(&script, row, t0()).await.unwrap(),
        ReplayOutcome::NotDead("pending".into())
    );
    store.mark_dead(row, t0(), "HTTP 410").await.unwrap();
    assert_eq!(
        store
            .replay_by(&script, row, t0() + hour * 3)
            .await
            .unwrap(),
        ReplayOutcome::Replayed
    );
    assert_eq!(
        store.replay_by(&script, 999_999, t0()).await.unwrap(),
        ReplayOutcome::Unknown
    );
    assert_eq!(store.replay_dead_by(&script, t0()).await.unwrap(), 0);

    let log = store.audit_log(t0() - hour, 10).await.unwrap();
    type Seen<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<i64>);
    let seen: Vec<Seen> = log
        .iter()
        .map(|r| {
            (
                r.action.as_str(),
                r.actor.as_str(),
                r.via.as_str(),
                r.campaign.as_deref(),
                r.target_id,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (OUTBOX_REPLAY, "token:deploy", "api", None, Some(row)),
            (
                SILENCE_END,
                "alice",
                "board",
                Some("camp_eu_*"),
                Some(silence.id)
            ),
            (
                SILENCE_CREATE,
                "alice",
                "board",
                Some("camp_eu_*"),
                Some(silence.id)
            ),
        ]
    );
    assert!(log[2].detail.contains("maintenance"), "{}", log[2].detail);
    assert!(log[0].detail.contains("evt_a"), "{}", log[0].detail);
    assert_eq!(log[0].at, t0() + hour * 3);
    // The window is by time.
    assert_eq!(store.audit_log(t0() + hour * 2, 10).await.unwrap().len(), 1);
}

/// One account's silences and replays are not another's: the board shows a
/// campaign the records of its own account (and those of every account).
pub(super) async fn audit_records_carry_their_account(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    let hour = TimeDelta::hours(1);
    let ops = Actor {
        name: "alice".into(),
        via: "api",
    };
    for account in [Some("acme"), Some("em*"), None] {
        let silence = store
            .create_silence(&ops, "camp_1", account, None, "r", t0(), t0() + hour)
            .await
            .unwrap();
        store.end_silence(&ops, silence.id, t0()).await.unwrap();
    }
    store
        .commit_cycle(&cycle(&[("evt_a", &["hook"])]))
        .await
        .unwrap();
    let row = store.due_deliveries(t0(), 10).await.unwrap()[0].id;
    store.mark_dead(row, t0(), "HTTP 410").await.unwrap();
    store.replay_by(&ops, row, t0()).await.unwrap();

    let log = store.audit_log(t0() - hour, 20).await.unwrap();
    let accounts: Vec<Option<&str>> = log.iter().map(|r| r.account.as_deref()).collect();
    assert_eq!(
        accounts,
        [
            Some("default"),
            None,
            None,
            Some("em*"),
            Some("em*"),
            Some("acme"),
            Some("acme")
        ]
    );
    let concerning = |account: &str, id: &str| {
        log.iter()
            .filter(|record| record.concerns(account, id, "Name"))
            .map(|record| record.account.as_deref())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        concerning("acme", "camp_1"),
        [None, None, Some("acme"), Some("acme")]
    );
    assert_eq!(
        concerning("emea", "camp_1"),
        [None, None, Some("em*"), Some("em*")]
    );
    // A watcher event's replay concerns no campaign.
    assert_eq!(log[0].campaign, None);
    assert!(concerning("default", "camp_1").iter().all(Option::is_none));
}

/// The retention keeps the record of a silence as long as the silence: one
/// still in force keeps who made it, however long ago that was.
pub(super) async fn the_record_of_a_silence_in_force_outlives_the_retention(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    let day = TimeDelta::days(1);
    let ops = Actor {
        name: "alice".into(),
        via: "cli",
    };
    let long = store
        .create_silence(
            &ops,
            "camp_long",
            None,
            None,
            "r",
            t0() - day * 10,
            t0() + day,
        )
        .await
        .unwrap();
    store
        .create_silence(
            &ops,
            "camp_over",
            None,
            None,
            "r",
            t0() - day * 10,
            t0() - day * 9,
        )
        .await
        .unwrap();
    store
        .prune(t0() - day, 100, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let kept: Vec<Option<String>> = store
        .audit_log(DateTime::<Utc>::MIN_UTC, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.campaign)
        .collect();
    assert_eq!(kept, [Some("camp_long".to_string())]);
    assert_eq!(store.silences(t0(), false).await.unwrap(), [long]);
}

/// The release at schema version 5 wrote these stores (tests/fixtures/v5):
/// opened by this one they gain the audit table, keep their silence, and its
/// end is recorded.
pub(super) async fn a_version_5_store_gains_the_audit_log(kind: Kind) {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v5");
    let dir = tempfile::tempdir().unwrap();
    let scratch;
    let url = match kind {
        Kind::Sqlite => {
            let path = dir.path().join("state.sqlite");
            std::fs::copy(fixtures.join("state.sqlite"), &path).unwrap();
            format!("sqlite://{}", path.display())
        }
        Kind::Postgres => {
            scratch = crate::commit::scratch::ScratchDatabase::create().await;
            let pool = sqlx::postgres::PgPool::connect(scratch.url())
                .await
                .unwrap();
            let dump = std::fs::read_to_string(fixtures.join("postgres.sql")).unwrap();
            sqlx::raw_sql(&dump).execute(&pool).await.unwrap();
            pool.close().await;
            scratch.url().to_string()
        }
    };
    let store = Store::open(&url).await.unwrap();
    let now = chrono::Utc::now();
    let silences = store.silences(now, false).await.unwrap();
    assert_eq!(silences.len(), 1, "{silences:?}");
    assert_eq!(silences[0].author, "fixture");
    assert!(store
        .audit_log(DateTime::<Utc>::MIN_UTC, 10)
        .await
        .unwrap()
        .is_empty());
    let ops = Actor {
        name: "upgrader".into(),
        via: "cli",
    };
    assert!(matches!(
        store.end_silence(&ops, silences[0].id, now).await.unwrap(),
        Some(SilenceExpiry::EndedNow(_))
    ));
    let log = store.audit_log(DateTime::<Utc>::MIN_UTC, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].action, SILENCE_END);
    assert!(
        log[0].detail.contains("fixture") || log[0].campaign.is_some(),
        "{:?}",
        log[0]
    );
}
