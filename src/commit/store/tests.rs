use std::collections::BTreeSet;

use chrono::{TimeDelta, TimeZone};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use super::*;
use crate::event::{EventType, UploadErrors};
use crate::observe::{CampaignStatus, Snapshot};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap()
}

fn state(id: &str, status: CampaignStatus, seq: u64) -> CampaignState {
    CampaignState {
        snapshot: Snapshot {
            id: id.into(),
            name: format!("Campaign {id}"),
            status,
            upload_errors: BTreeSet::from(["row 3: bad number".to_string()]),
            agent: None,
            caller_number: Some("+14155552671".into()),
            concurrent_calls: Some(4),
            scheduled_date: None,
        },
        seq,
        not_found: false,
        changed_at: t0(),
        pending: None,
    }
}

fn event(id: &str) -> Event {
    Event {
        version: "1".into(),
        id: id.into(),
        kind: EventType::ApiUnhealthy,
        occurred_at: t0(),
        campaign: None,
        upload_errors: UploadErrors::default(),
        changes: vec![],
        summary: format!("summary of {id}"),
    }
}

fn cycle(events: &[(&str, &[&str])]) -> CycleCommit {
    CycleCommit {
        now: t0(),
        states: vec![
            ("camp_a".into(), state("camp_a", CampaignStatus::Paused, 1)),
            ("camp_b".into(), state("camp_b", CampaignStatus::Live, 0)),
        ],
        health: Some(ApiHealth {
            consecutive_failures: 2,
            unhealthy: true,
            seq: 7,
        }),
        events: events
            .iter()
            .map(|(id, channels)| {
                RoutedEvent::new(event(id), channels.iter().map(|c| c.to_string()).collect())
            })
            .collect(),
        reminders: vec![],
    }
}

fn file_url(dir: &tempfile::TempDir) -> (String, PathBuf) {
    let path = dir.path().join("state.db");
    (format!("sqlite://{}", path.display()), path)
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(&store.pool)
        .await
        .unwrap()
        .get::<i64, _>(0)
}

async fn raw_version(path: &Path) -> i64 {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .unwrap();
    let version: i64 = sqlx::query("SELECT MAX(version) FROM schema_version")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    conn.close().await.unwrap();
    version
}

use std::path::Path;

#[tokio::test]
async fn open_creates_the_file_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let (url, path) = file_url(&dir);
    let store = Store::open(&url).await.unwrap();
    assert!(path.exists());
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&store.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, "wal");
    let sync: i64 = sqlx::query("PRAGMA synchronous")
        .fetch_one(&store.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(sync, 2, "synchronous=FULL");
    let fk: i64 = sqlx::query("PRAGMA foreign_keys")
        .fetch_one(&store.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(fk, 1);
    assert_eq!(
        count(&store, "SELECT MAX(version) FROM schema_version").await,
        schema::LATEST
    );
    assert_eq!(store.load_health().await.unwrap(), ApiHealth::default());
    assert!(store.load_states().await.unwrap().is_empty());
}

#[tokio::test]
async fn relative_paths_are_created_too() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("x");
    std::fs::create_dir(&nested).unwrap();
    // A relative path resolves against the working directory; use one under the tempdir.
    let relative = pathdiff(&nested.join("rel.db"));
    let store = Store::open(&format!("sqlite://{relative}")).await.unwrap();
    store.pool.close().await;
    assert!(nested.join("rel.db").exists());
}

/// The tempdir as a path relative to the current directory (via enough `..`).
fn pathdiff(target: &Path) -> String {
    let cwd = std::env::current_dir().unwrap();
    let depth = cwd.components().count() - 1;
    let up = "../".repeat(depth);
    let tail = target.strip_prefix("/").unwrap();
    format!("{up}{}", tail.display())
}

#[tokio::test]
async fn reopening_is_idempotent_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = file_url(&dir);
    let store = Store::open(&url).await.unwrap();
    store
        .commit_cycle(&cycle(&[("evt_1", &["hook"])]))
        .await
        .unwrap();
    store.pool.close().await;
    for _ in 0..2 {
        let store = Store::open(&url).await.unwrap();
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM schema_version").await,
            schema::LATEST
        );
        assert_eq!(store.load_states().await.unwrap().len(), 2);
        assert_eq!(store.outbox_counts().await.unwrap().pending, 1);
        store.pool.close().await;
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (url, path) = file_url(&dir);
    let store = Store::open(&url).await.unwrap();
    sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES (?, 0)")
        .bind(schema::LATEST + 5)
        .execute(&store.pool)
        .await
        .unwrap();
    store.pool.close().await;

    let err = Store::open(&url).await.unwrap_err();
    match &err {
        StoreError::NewerSchema {
            found, supported, ..
        } => {
            assert_eq!(*found, schema::LATEST + 5);
            assert_eq!(*supported, schema::LATEST);
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("upgrade campaign-watcher"), "{message}");
    assert_eq!(raw_version(&path).await, schema::LATEST + 5);
}

#[tokio::test]
async fn a_file_that_is_not_sqlite_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (url, path) = file_url(&dir);
    let junk: String = (0..400)
        .map(|i| format!("not a database line {i}\n"))
        .collect();
    std::fs::write(&path, &junk).unwrap();
    let err = Store::open(&url).await.unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("not a SQLite database"), "{message}");
    // Untouched: still the same junk.
    assert_eq!(std::fs::read_to_string(&path).unwrap(), junk);
}

#[tokio::test]
async fn a_missing_directory_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("state.db");
    let err = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[tokio::test]
async fn other_schemes_are_refused_without_echoing_credentials() {
    let err = Store::open("postgres://watcher:hunter2@db/state")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("only sqlite://"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn memory_store_is_shared_between_calls() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    store
        .commit_cycle(&cycle(&[("evt_1", &["a", "b"])]))
        .await
        .unwrap();
    let clone = store.clone();
    assert_eq!(clone.outbox_counts().await.unwrap().pending, 2);
    assert_eq!(clone.load_states().await.unwrap().len(), 2);
}

#[tokio::test]
async fn commit_cycle_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = file_url(&dir);
    let store = Store::open(&url).await.unwrap();
    let commit = cycle(&[("evt_1", &["hook", "console"]), ("evt_2", &[])]);
    store.commit_cycle(&commit).await.unwrap();

    let states = store.load_states().await.unwrap();
    assert_eq!(states.get("camp_a"), Some(&commit.states[0].1));
    assert_eq!(states.get("camp_b"), Some(&commit.states[1].1));
    assert_eq!(
        store.load_health().await.unwrap(),
        commit.health.clone().unwrap()
    );

    let due = store.due_deliveries(t0(), 10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert!(due.iter().all(|d| d.event == commit.events[0].event));
    assert!(due.iter().all(|d| d.attempts == 0 && d.created_at == t0()));
    let mut channels: Vec<&str> = due.iter().map(|d| d.channel.as_str()).collect();
    channels.sort();
    assert_eq!(channels, ["console", "hook"]);

    // An event routed nowhere is still in history.
    let recent = store.recent_events(10).await.unwrap();
    assert_eq!(recent.len(), 2);
    let first = recent.iter().find(|e| e.event.id == "evt_1").unwrap();
    assert_eq!(
        first.deliveries,
        vec![
            ("console".to_string(), "pending".to_string()),
            ("hook".to_string(), "pending".to_string())
        ]
    );
    let second = recent.iter().find(|e| e.event.id == "evt_2").unwrap();
    assert!(second.deliveries.is_empty());

    // A later commit without health keeps the stored one; states are upserted.
    let mut later = cycle(&[]);
    later.health = None;
    later.states = vec![(
        "camp_a".into(),
        state("camp_a", CampaignStatus::Completed, 2),
    )];
    store.commit_cycle(&later).await.unwrap();
    let states = store.load_states().await.unwrap();
    assert_eq!(states["camp_a"].snapshot.status, CampaignStatus::Completed);
    assert_eq!(states["camp_a"].seq, 2);
    assert_eq!(store.load_health().await.unwrap().seq, 7);
    assert_eq!(
        count(
            &store,
            "SELECT seq FROM campaign_state WHERE key = 'camp_a'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn the_same_event_committed_twice_is_stored_once() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let commit = cycle(&[("evt_1", &["hook", "mail"])]);
    store.commit_cycle(&commit).await.unwrap();
    // Deliver one of them, then replay the commit (crash before the state was known saved).
    let due = store.due_deliveries(t0(), 10).await.unwrap();
    store.mark_sent(due[0].id, t0()).await.unwrap();
    store.commit_cycle(&commit).await.unwrap();
    assert_eq!(count(&store, "SELECT COUNT(*) FROM events").await, 1);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox").await, 2);
    assert_eq!(
        store.outbox_counts().await.unwrap(),
        OutboxCounts {
            pending: 1,
            dead: 0,
            sent: 1
        }
    );
}

#[tokio::test]
async fn outbox_transitions_and_counts() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    store
        .commit_cycle(&cycle(&[("evt_1", &["a", "b", "c"]), ("evt_2", &["a"])]))
        .await
        .unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(t0()));
    assert!(store
        .due_deliveries(t0() - TimeDelta::seconds(1), 10)
        .await
        .unwrap()
        .is_empty());
    let due = store.due_deliveries(t0(), 10).await.unwrap();
    assert_eq!(due.len(), 4);
    // Oldest first: evt_1's rows were inserted before evt_2's.
    assert_eq!(due.last().unwrap().event.id, "evt_2");
    assert_eq!(store.due_deliveries(t0(), 2).await.unwrap().len(), 2);

    let later = t0() + TimeDelta::minutes(5);
    store
        .reschedule(due[0].id, later, "HTTP 500")
        .await
        .unwrap();
    store.mark_sent(due[1].id, t0()).await.unwrap();
    store
        .mark_dead(due[2].id, t0(), "HTTP 410 gone")
        .await
        .unwrap();

    let ids = vec!["evt_1".to_string(), "evt_2".to_string()];
    assert_eq!(store.pending_for(&ids).await.unwrap(), 2);
    assert_eq!(store.pending_for(&ids[..1]).await.unwrap(), 1);
    assert_eq!(store.pending_for(&[]).await.unwrap(), 0);
    assert_eq!(
        store.outbox_counts().await.unwrap(),
        OutboxCounts {
            pending: 2,
            dead: 1,
            sent: 1
        }
    );
    // Only evt_2's row is due now; the rescheduled one comes back at `later`.
    let now_due = store.due_deliveries(t0(), 10).await.unwrap();
    assert_eq!(now_due.len(), 1);
    assert_eq!(now_due[0].event.id, "evt_2");
    store.mark_sent(now_due[0].id, t0()).await.unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), Some(later));
    let again = store.due_deliveries(later, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, due[0].id);
    assert_eq!(again[0].attempts, 1);
    let last_error: String = sqlx::query("SELECT last_error FROM outbox WHERE id = ?")
        .bind(due[0].id)
        .fetch_one(&store.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(last_error, "HTTP 500");

    // A finished row is not changed by a late mark.
    store.reschedule(due[1].id, later, "late").await.unwrap();
    assert_eq!(store.outbox_counts().await.unwrap().sent, 2);

    store
        .mark_dead(again[0].id, later, "max age")
        .await
        .unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), None);
    assert_eq!(
        store.outbox_counts().await.unwrap(),
        OutboxCounts {
            pending: 0,
            dead: 2,
            sent: 2
        }
    );
    let attempts = count(
        &store,
        "SELECT attempts FROM outbox WHERE status = 'dead' AND last_error = 'max age'",
    )
    .await;
    assert_eq!(attempts, 2);
}

#[tokio::test]
async fn a_failed_commit_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = file_url(&dir);
    let store = Store::open(&url).await.unwrap();
    // A statement late in the transaction fails: everything before it must roll back.
    sqlx::raw_sql(
        "CREATE TRIGGER fail_boom BEFORE INSERT ON outbox WHEN NEW.channel = 'boom'
         BEGIN SELECT RAISE(ABORT, 'boom channel refused'); END;",
    )
    .execute(&store.pool)
    .await
    .unwrap();
    let err = store
        .commit_cycle(&cycle(&[("evt_1", &["ok"]), ("evt_2", &["ok", "boom"])]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Query(_)), "{err:?}");
    assert!(store.load_states().await.unwrap().is_empty());
    assert_eq!(store.load_health().await.unwrap(), ApiHealth::default());
    assert_eq!(count(&store, "SELECT COUNT(*) FROM events").await, 0);
    assert_eq!(
        store.outbox_counts().await.unwrap(),
        OutboxCounts::default()
    );
    // The store is still usable afterwards.
    store
        .commit_cycle(&cycle(&[("evt_1", &["ok"])]))
        .await
        .unwrap();
    assert_eq!(store.load_states().await.unwrap().len(), 2);
}

#[tokio::test]
async fn corrupt_rows_are_errors_naming_the_row() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    store
        .commit_cycle(&cycle(&[("evt_1", &["hook"])]))
        .await
        .unwrap();
    sqlx::query("UPDATE campaign_state SET state_json = '{not json' WHERE key = 'camp_b'")
        .execute(&store.pool)
        .await
        .unwrap();
    let err = store.load_states().await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("camp_b"), "{err}");

    sqlx::query("UPDATE events SET payload_json = '[]'")
        .execute(&store.pool)
        .await
        .unwrap();
    let err = store.due_deliveries(t0(), 10).await.unwrap_err();
    assert!(err.to_string().contains("outbox row"), "{err}");
    let err = store.recent_events(10).await.unwrap_err();
    assert!(err.to_string().contains("evt_1"), "{err}");

    sqlx::query("UPDATE watcher_state SET health_json = 'x'")
        .execute(&store.pool)
        .await
        .unwrap();
    assert!(matches!(
        store.load_health().await,
        Err(StoreError::Corrupt { .. })
    ));
}

#[tokio::test]
async fn a_version_1_file_is_upgraded_in_place_and_keeps_its_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let (url, path) = file_url(&dir);
    {
        let mut conn = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::raw_sql(schema::MIGRATIONS[0])
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::raw_sql(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (1, 0);
             INSERT INTO events VALUES ('evt_1', 'watcher.api_unhealthy', NULL, 0, '{}');
             INSERT INTO outbox (event_id, channel, status, created_at, next_attempt_at)
                 VALUES ('evt_1', 'hook', 'dead', 0, 0);",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        // A real event payload, so the queries below can parse it.
        sqlx::query("UPDATE events SET payload_json = ? WHERE id = 'evt_1'")
            .bind(event("evt_1").to_json())
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let store = Store::open(&url).await.unwrap();
    assert_eq!(raw_version(&path).await, schema::LATEST);
    let dead = store.outbox_entries(true).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].held_until, None);
    assert_eq!(
        store.replay(dead[0].id, t0()).await.unwrap(),
        ReplayOutcome::Replayed
    );
    let history = store
        .history(None, t0() - TimeDelta::days(365 * 60), 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert!(history[0].silenced_by.is_none());
    let silence = store
        .add_silence("camp_*", None, "upgrade", t0(), t0() + TimeDelta::hours(1))
        .await
        .unwrap();
    assert_eq!(store.silences(t0(), false).await.unwrap(), [silence]);
}
