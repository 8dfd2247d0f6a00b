use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use sqlx::postgres::PgPool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::{ConnectOptions, Connection, Row};

use super::*;
use crate::commit::schema;
use crate::commit::scratch::ScratchDatabase;
use crate::event::Event;
use crate::event::{EventType, UploadErrors};
use crate::observe::{CampaignStatus, Snapshot};
use crate::state::{ApiHealth, CampaignState};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap()
}

fn state(id: &str, status: CampaignStatus, seq: u64) -> CampaignState {
    let snapshot = Snapshot {
        upload_errors: BTreeSet::from(["row 3: bad number".to_string()]),
        caller_number: Some("+14155552671".into()),
        concurrent_calls: Some(4),
        ..crate::fixtures::snapshot(id, &format!("Campaign {id}"), status)
    };
    CampaignState {
        seq,
        ..crate::fixtures::stored(snapshot, t0())
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
        hints: vec![],
        summary: format!("summary of {id}"),
        account: crate::event::default_account(),
        incident: None,
        links: None,
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

/// The operator the tests act as, through the CLI.
fn ops() -> Actor {
    Actor {
        name: "ops".to_string(),
        via: "cli",
    }
}

async fn count(store: &Store, sql: &str) -> i64 {
    on_pool!(store, pool => sqlx::query(sql)
        .fetch_one(pool)
        .await
        .unwrap()
        .get::<i64, _>(0))
}

/// Run raw SQL (setup and sabotage) on whichever database the store uses.
async fn exec(store: &Store, sql: &str) {
    on_pool!(store, pool => {
        sqlx::raw_sql(sql).execute(pool).await.unwrap();
    });
}

/// The two databases every portable store test runs against.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Sqlite,
    Postgres,
}

/// What keeps a test's database alive (and removes it afterwards).
#[allow(dead_code)]
enum Scratch {
    Dir(tempfile::TempDir),
    Database(Box<ScratchDatabase>),
}

/// A fresh store of `kind`: a file in a temporary directory, or a throwaway
/// PostgreSQL database.
async fn fresh(kind: Kind) -> (Store, Scratch) {
    match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let (url, _) = file_url(&dir);
            (Store::open(&url).await.unwrap(), Scratch::Dir(dir))
        }
        Kind::Postgres => {
            let db = ScratchDatabase::create().await;
            (
                Store::open(db.url()).await.unwrap(),
                Scratch::Database(Box::new(db)),
            )
        }
    }
}

/// One `sqlite` and one `postgres` test per named `async fn(Kind)`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod both {
            $(
                mod $name {
                    #[tokio::test]
                    async fn sqlite() {
                        super::super::$name(super::super::Kind::Sqlite).await
                    }
                    #[tokio::test]
                    async fn postgres() {
                        super::super::$name(super::super::Kind::Postgres).await
                    }
                }
            )*
        }
    };
}

on_both!(
    a_clone_shares_the_store,
    only_a_postgres_store_is_shared_between_replicas,
    commit_cycle_round_trips,
    states_span_several_statements_and_a_repeated_key_keeps_the_last,
    the_same_event_committed_twice_is_stored_once,
    outbox_transitions_and_counts,
    a_failed_commit_writes_nothing,
    corrupt_rows_are_errors_naming_the_row,
    a_newer_schema_is_refused,
    alerting_and_status_queries_round_trip,
    states_are_read_for_chosen_campaigns_or_one_at_a_time,
    latest_events_of_one_campaign_newest_first,
    the_board_pages_filters_and_counts_campaigns,
    events_page_by_type_campaign_channel_and_since,
    the_commit_marker_moves_with_commits_deliveries_and_silences,
    each_action_is_recorded_with_who_and_what,
    audit_records_carry_their_account,
    the_record_of_a_silence_in_force_outlives_the_retention,
    a_version_5_store_gains_the_audit_log,
    one_campaign_id_in_two_accounts_is_two_campaigns,
    an_account_is_renamed_with_every_row_or_not_at_all,
    the_autovacuum_setting_is_read_from_postgres_only,
);

/// What the daemon's autovacuum warning reads: PostgreSQL's setting, nothing
/// for SQLite (which reuses freed pages itself).
async fn the_autovacuum_setting_is_read_from_postgres_only(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    let setting = store.autovacuum().await.unwrap();
    match store.is_shared() {
        true => assert!(
            matches!(setting.as_deref(), Some("on") | Some("off")),
            "{setting:?}"
        ),
        false => assert_eq!(setting, None),
    }
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
        .fetch_one(sqlite_pool(&store))
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode, "wal");
    let sync: i64 = sqlx::query("PRAGMA synchronous")
        .fetch_one(sqlite_pool(&store))
        .await
        .unwrap()
        .get(0);
    assert_eq!(sync, 2, "synchronous=FULL");
    let fk: i64 = sqlx::query("PRAGMA foreign_keys")
        .fetch_one(sqlite_pool(&store))
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
    store.close().await;
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
    store.close().await;
    for _ in 0..2 {
        let store = Store::open(&url).await.unwrap();
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM schema_version").await,
            schema::LATEST
        );
        assert_eq!(store.load_states().await.unwrap().len(), 2);
        assert_eq!(store.outbox_counts().await.unwrap().pending, 1);
        store.close().await;
    }
}

fn sqlite_pool(store: &Store) -> &SqlitePool {
    match &store.backend {
        Backend::Sqlite(pool) => pool,
        Backend::Postgres(_) => panic!("a SQLite store was expected"),
    }
}

impl Store {
    async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }
}

impl Scratch {
    fn url(&self) -> String {
        match self {
            Self::Dir(dir) => file_url(dir).0,
            Self::Database(db) => db.url().to_string(),
        }
    }
}

async fn a_newer_schema_is_refused(kind: Kind) {
    let (store, scratch) = fresh(kind).await;
    exec(
        &store,
        &format!(
            "INSERT INTO schema_version (version, applied_at) VALUES ({}, 0)",
            schema::LATEST + 5
        ),
    )
    .await;
    store.close().await;
    let err = Store::open(&scratch.url()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema { found, .. } if found == schema::LATEST + 5),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("upgrade campaign-watcher"),
        "{err}"
    );
    // Refused untouched: the version row is still there, nothing was migrated down.
    let store = fresh_view(&scratch).await;
    assert_eq!(
        count(&store, "SELECT MAX(version) FROM schema_version").await,
        schema::LATEST + 5
    );
}

/// A raw view of a scratch database, bypassing `Store::open`'s checks.
async fn fresh_view(scratch: &Scratch) -> Store {
    match scratch {
        Scratch::Dir(dir) => {
            let (_, path) = file_url(dir);
            let pool = SqlitePool::connect_with(SqliteConnectOptions::new().filename(path))
                .await
                .unwrap();
            Store::new(Backend::Sqlite(pool), "view".into())
        }
        Scratch::Database(db) => {
            let pool = PgPool::connect(db.url()).await.unwrap();
            Store::new(Backend::Postgres(pool), "view".into())
        }
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (url, path) = file_url(&dir);
    let store = Store::open(&url).await.unwrap();
    sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES (?, 0)")
        .bind(schema::LATEST + 5)
        .execute(sqlite_pool(&store))
        .await
        .unwrap();
    store.close().await;

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
    let err = Store::open("mysql://watcher:hunter2@db/state")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("postgres://"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn an_unreachable_postgres_names_it_without_the_password() {
    // Port 1 on localhost: nothing listens, the connection is refused at once.
    let err = Store::open("postgres://watcher:hunter2@127.0.0.1:1/state")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("127.0.0.1:1/state"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn a_version_1_postgres_database_is_upgraded_in_place() {
    let db = ScratchDatabase::create().await;
    {
        let pool = PgPool::connect(db.url()).await.unwrap();
        sqlx::raw_sql(schema::postgres::MIGRATIONS[0])
            .execute(&pool)
            .await
            .unwrap();
        sqlx::raw_sql(
            "CREATE TABLE schema_version (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL);
             INSERT INTO schema_version VALUES (1, 0);",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO events (id, type, campaign_id, occurred_at, payload_json)
             VALUES ('evt_1', 'watcher.api_unhealthy', NULL, 0, $1)",
        )
        .bind(event("evt_1").to_json())
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO outbox (event_id, channel, status, created_at, next_attempt_at)
             VALUES ('evt_1', 'hook', 'dead', 0, 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    let store = Store::open(db.url()).await.unwrap();
    assert_eq!(
        count(&store, "SELECT MAX(version) FROM schema_version").await,
        schema::LATEST
    );
    let dead = store.outbox_entries(true).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        store.replay_by(&ops(), dead[0].id, t0()).await.unwrap(),
        ReplayOutcome::Replayed
    );
    let silence = store
        .create_silence(
            &ops(),
            "camp_*",
            None,
            None,
            "upgrade",
            t0(),
            t0() + TimeDelta::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(store.silences(t0(), false).await.unwrap(), [silence]);
    an_episode_is_opened_told_and_closed(&store).await;
    store.close().await;
}

/// Version 11: an episode's row is written with its start, told the channels
/// of its reminders, and closed by its end, each in its cycle's transaction.
async fn an_episode_is_opened_told_and_closed(store: &Store) {
    let start = campaign_event("evt_inc_start", "camp_inc", t0());
    let mut incident = crate::state::Incident::open(
        Some("default".into()),
        "camp_inc".into(),
        "paused",
        &start.id,
        t0(),
    );
    incident.channels_told.insert("hook".into());
    let mut routed = RoutedEvent::new(start, vec!["hook".into()]);
    routed.incident = Some(incident.clone());
    let commit = |events| CycleCommit {
        now: t0(),
        states: vec![],
        health: None,
        events,
        reminders: vec![],
    };
    store.commit_cycle(&commit(vec![routed])).await.unwrap();
    assert_eq!(store.open_incidents().await.unwrap(), [incident.clone()]);
    assert_eq!(
        store.channels_given(&["evt_inc_start"]).await.unwrap(),
        BTreeSet::from(["hook".to_string()])
    );

    let mut end = campaign_event("evt_inc_end", "camp_inc", t0() + TimeDelta::hours(2));
    end.kind = EventType::StatusChanged;
    incident.ended_at = Some(end.occurred_at);
    let mut routed = RoutedEvent::new(end, vec![]);
    routed.followers = vec!["hook".into()];
    routed.incident = Some(incident.clone());
    store.commit_cycle(&commit(vec![routed])).await.unwrap();
    assert!(store.open_incidents().await.unwrap().is_empty());
    assert_eq!(store.incidents(false, 10).await.unwrap(), [incident]);
    assert_eq!(
        store.channels_given(&["evt_inc_end"]).await.unwrap(),
        BTreeSet::from(["hook".to_string()]),
        "the follower got its outbox row"
    );
}

#[tokio::test]
async fn memory_store_is_shared_between_calls() {
    a_clone_shares(Store::open("sqlite::memory:").await.unwrap()).await;
}

async fn a_clone_shares_the_store(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    a_clone_shares(store).await;
}

/// Replicas elect a leader and keep no memory of their own only on a shared store.
async fn only_a_postgres_store_is_shared_between_replicas(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    assert_eq!(store.is_shared(), matches!(kind, Kind::Postgres));
    assert_eq!(store.is_shared(), store.postgres_options().is_some());
}

async fn a_clone_shares(store: Store) {
    store
        .commit_cycle(&cycle(&[("evt_1", &["a", "b"])]))
        .await
        .unwrap();
    let clone = store.clone();
    assert_eq!(clone.outbox_counts().await.unwrap().pending, 2);
    assert_eq!(clone.load_states().await.unwrap().len(), 2);
}

/// `load_states_for` crosses its 500-key chunks and leaves out unknown keys;
/// `each_state` visits every row once.
async fn states_are_read_for_chosen_campaigns_or_one_at_a_time(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    let states: Vec<(String, CampaignState)> = (0..1_234)
        .map(|n| {
            let key = format!("camp_{n:05}");
            let status = if n % 3 == 0 {
                CampaignStatus::Paused
            } else {
                CampaignStatus::Live
            };
            let state = state(&key, status, n);
            (key, state)
        })
        .collect();
    store
        .commit_cycle(&CycleCommit {
            now: t0(),
            states: states.clone(),
            health: None,
            events: vec![],
            reminders: vec![],
        })
        .await
        .unwrap();

    let wanted: Vec<&str> = states
        .iter()
        .step_by(2)
        .map(|(key, _)| key.as_str())
        .chain(["camp_missing", "camp_also_missing"])
        .collect();
    let loaded = store.load_states_for(wanted).await.unwrap();
    assert_eq!(loaded.len(), 617);
    for (key, state) in states.iter().step_by(2) {
        assert_eq!(loaded.get(key), Some(state), "{key}");
    }
    assert!(!loaded.contains_key("camp_00001"));
    assert!(store
        .load_states_for(std::iter::empty())
        .await
        .unwrap()
        .is_empty());

    let mut visited = HashMap::new();
    store
        .each_state(|key, state| {
            assert!(
                visited.insert(key, state.seq).is_none(),
                "a row visited twice"
            );
        })
        .await
        .unwrap();
    assert_eq!(visited.len(), 1_234);
    assert_eq!(visited.get("camp_01233"), Some(&1_233));
}

/// What a silenced event's resolve is judged by: one campaign's (or the
/// watcher's own) history, newest first, with the silence marks.
async fn latest_events_of_one_campaign_newest_first(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    let about = |id: &str, campaign: Option<&str>| Event {
        campaign: campaign.map(|c| crate::event::CampaignInfo {
            id: c.into(),
            name: c.into(),
            status: CampaignStatus::Paused,
            previous_status: Some(CampaignStatus::Live),
            agent: None,
            caller_number: None,
        }),
        kind: EventType::StatusChanged,
        ..event(id)
    };
    for (id, campaign, silenced) in [
        ("evt_a1", Some("camp_a"), false),
        ("evt_b1", Some("camp_b"), false),
        ("evt_w1", None, false),
        ("evt_a2", Some("camp_a"), true),
    ] {
        let mut routed = RoutedEvent::new(about(id, campaign), vec!["hook".into()]);
        if silenced {
            let silence = store
                .create_silence(
                    &ops(),
                    "camp_a",
                    None,
                    None,
                    "test",
                    t0(),
                    t0() + TimeDelta::hours(1),
                )
                .await
                .unwrap();
            routed.silence = Some(silence.id);
        }
        store
            .commit_cycle(&CycleCommit {
                now: t0(),
                states: vec![],
                health: None,
                events: vec![routed],
                reminders: vec![],
            })
            .await
            .unwrap();
    }
    let of_a: Vec<(String, bool)> = store
        .latest_events_of(Some("camp_a"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(event, silenced)| (event.id, silenced))
        .collect();
    assert_eq!(
        of_a,
        [("evt_a2".to_string(), true), ("evt_a1".to_string(), false)]
    );
    let watcher = store.latest_events_of(None, 10).await.unwrap();
    assert_eq!(watcher.len(), 1);
    assert_eq!(watcher[0].0.id, "evt_w1");
    assert_eq!(
        store
            .latest_events_of(Some("camp_a"), 1)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// `state rename-account`: every row of the account moves in one
/// transaction and is audited; `default`, an unknown account and a name in
/// use are refused and change nothing.
/// A rename beside a leading watcher would race its writes under the old
/// name: while any session holds the leader lock it is refused, moving nothing.
#[tokio::test]
async fn a_rename_is_refused_while_a_watcher_leads_on_postgres() {
    let db = ScratchDatabase::create().await;
    let store = Store::open(db.url()).await.unwrap();
    let acme = store.for_account("acme");
    acme.commit_cycle(&cycle(&[("evt_acme", &["hook"])]))
        .await
        .unwrap();
    let mut leader = <sqlx::PgConnection as sqlx::Connection>::connect(db.url())
        .await
        .unwrap();
    let (class, object) = crate::commit::LOCK_KEY;
    sqlx::query("SELECT pg_advisory_lock($1, $2)")
        .bind(class)
        .bind(object)
        .execute(&mut leader)
        .await
        .unwrap();
    let refused = store.rename_account(&ops(), "acme", "emea", t0()).await;
    assert!(
        matches!(refused, Err(RenameError::LeaderLive)),
        "{refused:?}"
    );
    assert!(refused
        .unwrap_err()
        .to_string()
        .contains("stop every replica"));
    assert_eq!(store.stored_accounts().await.unwrap(), ["acme"]);
    // Released by the leader itself (a closed session lets go of it only
    // once the server has noticed).
    sqlx::query("SELECT pg_advisory_unlock($1, $2)")
        .bind(class)
        .bind(object)
        .execute(&mut leader)
        .await
        .unwrap();
    assert!(
        store
            .rename_account(&ops(), "acme", "emea", t0())
            .await
            .unwrap()
            > 0
    );
}

async fn an_account_is_renamed_with_every_row_or_not_at_all(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    let acme = store.for_account("acme");
    let mut theirs = cycle(&[("evt_acme", &["hook"])]);
    theirs.health = Some(ApiHealth::default());
    acme.commit_cycle(&theirs).await.unwrap();
    store
        .commit_cycle(&cycle(&[("evt_default", &["hook"])]))
        .await
        .unwrap();
    let ops = Actor {
        name: "ops".into(),
        via: "cli",
    };
    acme.create_silence(
        &ops,
        "camp_a",
        Some("acme"),
        None,
        "r",
        t0(),
        t0() + TimeDelta::hours(1),
    )
    .await
    .unwrap();
    let before = acme.load_states().await.unwrap();
    assert!(!before.is_empty());
    for (from, to) in [
        ("default", "main"),
        ("acme", "default"),
        ("nobody", "x"),
        ("acme", "acme"),
    ] {
        let refused = store.rename_account(&ops, from, to, t0()).await;
        assert!(refused.is_err(), "{from} -> {to}");
    }
    assert_eq!(
        acme.load_states().await.unwrap(),
        before,
        "a refusal changes nothing"
    );
    let moved = store
        .rename_account(&ops, "acme", "acme-eu", t0())
        .await
        .unwrap();
    assert_eq!(moved, before.len() as u64);
    let renamed = store.for_account("acme-eu");
    assert_eq!(renamed.load_states().await.unwrap(), before);
    assert!(acme.load_states().await.unwrap().is_empty());
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM events WHERE account = 'acme-eu'"
        )
        .await,
        1
    );
    let history = renamed
        .history(None, t0() - TimeDelta::hours(1), 10)
        .await
        .unwrap();
    let moved_event = history
        .iter()
        .find(|entry| entry.event.id == "evt_acme")
        .expect("the renamed account's event");
    assert_eq!(
        moved_event.event.account(),
        Some("acme-eu"),
        "the payload names the new account"
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM silences WHERE account = 'acme-eu'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM events WHERE account = 'default'"
        )
        .await,
        1,
        "the other accounts are untouched"
    );
    assert_eq!(
        store.stored_accounts().await.unwrap(),
        ["acme-eu", "default"]
    );
    let audit = store
        .audit_log(t0() - TimeDelta::hours(1), 10)
        .await
        .unwrap();
    assert!(
        audit.iter().any(|record| record.action == ACCOUNT_RENAME),
        "{audit:?}"
    );
}

/// A campaign is (account, campaign id): each account's handle reads and
/// writes its own states, health, seen rows and reminders, and the `default`
/// handle is the store as single-account releases wrote it.
async fn one_campaign_id_in_two_accounts_is_two_campaigns(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    assert_eq!(store.account(), "default");
    let acme = store.for_account("acme");
    let mut commit = cycle(&[("evt_default", &["hook"])]);
    commit.reminders = vec![ReminderWrite {
        campaign_id: "camp_a".into(),
        rule: "r".into(),
        reminder: Some(crate::state::Reminder {
            condition: crate::state::ReminderCondition::UploadErrors,
            since: t0(),
            last_at: t0(),
            sent: 0,
        }),
    }];
    store.commit_cycle(&commit).await.unwrap();
    let mut theirs = cycle(&[("evt_acme", &["hook"])]);
    theirs.states = vec![(
        "camp_a".into(),
        state("camp_a", CampaignStatus::Completed, 9),
    )];
    theirs.health = Some(ApiHealth::default());
    acme.commit_cycle(&theirs).await.unwrap();

    let mine = store.load_states().await.unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine["camp_a"].snapshot.status, CampaignStatus::Paused);
    let other = acme.load_states().await.unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other["camp_a"].seq, 9);
    let chosen = acme.load_states_for(["camp_a", "camp_b"]).await.unwrap();
    assert_eq!(chosen.len(), 1, "camp_b is only the default account's");
    assert!(store.load_health().await.unwrap().unhealthy);
    assert!(!acme.load_health().await.unwrap().unhealthy);
    assert_eq!(store.load_reminders().await.unwrap().len(), 1);
    assert!(acme.load_reminders().await.unwrap().is_empty());
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM events WHERE account = 'acme'").await,
        1
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM campaign_state WHERE key = 'camp_a'"
        )
        .await,
        2
    );
    let outcome = CycleOutcome {
        started_at: t0(),
        finished_at: t0(),
        result: "ok".into(),
        detail: String::new(),
        campaigns_read: 0,
    };
    acme.record_cycle(&[("camp_a".into(), t0())], &[], &[], &outcome)
        .await
        .unwrap();
    assert_eq!(acme.unseen_campaigns().await.unwrap().len(), 1);
    assert!(store.unseen_campaigns().await.unwrap().is_empty());

    // Each account's last cycle is its own; the watcher's counts them all.
    let read = |campaigns_read, detail: &str| CycleOutcome {
        campaigns_read,
        detail: detail.into(),
        finished_at: t0() + TimeDelta::seconds(1),
        ..outcome.clone()
    };
    store
        .record_cycle(&[], &[], &[], &read(3, "three"))
        .await
        .unwrap();
    acme.record_cycle(&[], &[], &[], &read(4, "four"))
        .await
        .unwrap();
    let cycles = store.account_cycles().await.unwrap();
    assert_eq!(cycles["default"].detail, "three");
    assert_eq!(cycles["acme"].campaigns_read, 4);
    assert_eq!(store.last_cycle().await.unwrap().unwrap().campaigns_read, 7);
}

async fn commit_cycle_round_trips(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
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

async fn states_span_several_statements_and_a_repeated_key_keeps_the_last(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    // More rows than one statement carries, and not a multiple of it.
    let mut commit = cycle(&[]);
    commit.states = (0..1_000)
        .map(|i| {
            let id = format!("camp_{i:04}");
            let status = state(&id, CampaignStatus::Live, i);
            (id, status)
        })
        .collect();
    commit.states.push((
        "camp_0007".into(),
        state("camp_0007", CampaignStatus::Paused, 99),
    ));
    store.commit_cycle(&commit).await.unwrap();
    let states = store.load_states().await.unwrap();
    assert_eq!(states.len(), 1_000);
    assert_eq!(states["camp_0999"].seq, 999);
    assert_eq!(states["camp_0007"].snapshot.status, CampaignStatus::Paused);
    assert_eq!(states["camp_0007"].seq, 99);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM campaign_state WHERE status_label = 'paused'"
        )
        .await,
        1
    );
}

async fn the_same_event_committed_twice_is_stored_once(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
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

async fn outbox_transitions_and_counts(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
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
    let failing = store.outbox_entries(false).await.unwrap();
    let row = failing.iter().find(|e| e.id == due[0].id).unwrap();
    assert_eq!(row.last_error.as_deref(), Some("HTTP 500"));

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

async fn a_failed_commit_writes_nothing(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    // A statement late in the transaction fails: everything before it must roll back.
    exec(
        &store,
        match kind {
            Kind::Sqlite => {
                "CREATE TRIGGER fail_boom BEFORE INSERT ON outbox WHEN NEW.channel = 'boom'
                 BEGIN SELECT RAISE(ABORT, 'boom channel refused'); END;"
            }
            Kind::Postgres => {
                "ALTER TABLE outbox ADD CONSTRAINT fail_boom CHECK (channel <> 'boom')"
            }
        },
    )
    .await;
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

async fn corrupt_rows_are_errors_naming_the_row(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    store
        .commit_cycle(&cycle(&[("evt_1", &["hook"])]))
        .await
        .unwrap();
    exec(
        &store,
        "UPDATE campaign_state SET state_json = '{not json' WHERE key = 'camp_b'",
    )
    .await;
    let err = store.load_states().await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("camp_b"), "{err}");

    // A damaged outbox row is set aside as dead; the rows behind it still go out.
    store
        .commit_cycle(&CycleCommit {
            states: vec![],
            health: None,
            ..cycle(&[("evt_2", &["hook"])])
        })
        .await
        .unwrap();
    exec(
        &store,
        "UPDATE events SET payload_json = '[]' WHERE id = 'evt_1'",
    )
    .await;
    let due = store.due_deliveries(t0(), 10).await.unwrap();
    assert_eq!(
        due.iter().map(|d| d.event.id.as_str()).collect::<Vec<_>>(),
        ["evt_2"]
    );
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.dead), (1, 1));
    let dead = store.outbox_entries(true).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].event_id, "evt_1");
    let reason = dead[0].last_error.as_deref().unwrap_or_default();
    assert!(reason.starts_with("unreadable:"), "{reason}");
    assert!(
        dead[0].summary.contains("cannot be read"),
        "{}",
        dead[0].summary
    );

    let err = store.recent_events(10).await.unwrap_err();
    assert!(err.to_string().contains("evt_1"), "{err}");

    // A well-formed event of a type from a newer version stays pending (a
    // replica that knows it sends it) and is looked at again later, not every drain.
    exec(
        &store,
        "UPDATE events SET payload_json = '{\"type\": \"campaign.from_a_newer_version\"}' WHERE id = 'evt_2'",
    )
    .await;
    assert!(store.due_deliveries(t0(), 10).await.unwrap().is_empty());
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.dead), (1, 1));
    let next = store.next_due_at().await.unwrap();
    assert_eq!(next, Some(t0() + TimeDelta::minutes(5)));
    let later = t0() + TimeDelta::minutes(6);
    assert!(store.due_deliveries(later, 10).await.unwrap().is_empty());
    assert_eq!(store.outbox_counts().await.unwrap().pending, 1);

    exec(&store, "UPDATE watcher_state SET health_json = 'x'").await;
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
        sqlx::raw_sql(schema::sqlite::MIGRATIONS[0])
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
    // Version 8: the retention's clock beside the last read.
    let outcome = CycleOutcome {
        started_at: t0(),
        finished_at: t0(),
        result: "success".into(),
        detail: String::new(),
        campaigns_read: 0,
    };
    store
        .record_cycle(
            &[("camp_failing".into(), t0())],
            &[("camp_gone".into(), t0())],
            &[],
            &outcome,
        )
        .await
        .unwrap();
    assert_eq!(
        store.seen_rows().await.unwrap(),
        HashMap::from([
            ("camp_failing".to_string(), false),
            ("camp_gone".to_string(), true)
        ])
    );
    let dead = store.outbox_entries(true).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].held_until, None);
    assert_eq!(
        store.replay_by(&ops(), dead[0].id, t0()).await.unwrap(),
        ReplayOutcome::Replayed
    );
    let history = store
        .history(None, t0() - TimeDelta::days(365 * 60), 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert!(history[0].silenced_by.is_none());
    let silence = store
        .create_silence(
            &ops(),
            "camp_*",
            None,
            None,
            "upgrade",
            t0(),
            t0() + TimeDelta::hours(1),
        )
        .await
        .unwrap();
    assert_eq!(store.silences(t0(), false).await.unwrap(), [silence]);
    // Version 9: audit records carry their account (the replayed event's;
    // none for a silence of every account).
    let accounts: Vec<Option<String>> = store
        .audit_log(t0() - TimeDelta::hours(1), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.account)
        .collect();
    assert_eq!(accounts, [None, Some("default".to_string())]);
    an_episode_is_opened_told_and_closed(&store).await;
}

/// Audit records written before version 10 take the account of their silence
/// (or replayed event) while that row is kept; the rest stay without one.
#[tokio::test]
async fn a_version_9_files_audit_records_take_their_account() {
    let dir = tempfile::tempdir().unwrap();
    let (url, path) = file_url(&dir);
    {
        let mut conn = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::raw_sql(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL);",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        for (index, script) in schema::sqlite::MIGRATIONS[..9].iter().enumerate() {
            sqlx::raw_sql(script).execute(&mut conn).await.unwrap();
            sqlx::query("INSERT INTO schema_version VALUES (?, 0)")
                .bind(index as i64 + 1)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        sqlx::raw_sql(
            "INSERT INTO silences (id, campaign, event_type, reason, created_at, expires_at, author, account)
                 VALUES (7, 'camp_1', NULL, 'r', 0, 1, 'a', 'acme');
             INSERT INTO events (id, type, campaign_id, occurred_at, payload_json, account)
                 VALUES ('evt_1', 'campaign.status_changed', 'camp_1', 0, '{}', 'emea');
             INSERT INTO outbox (id, event_id, channel, status, created_at, next_attempt_at)
                 VALUES (3, 'evt_1', 'hook', 'sent', 0, 0);
             INSERT INTO audit (at, actor, via, action, campaign, target_id, detail) VALUES
                 (1, 'a', 'cli', 'silence.create', 'camp_1', 7, 'made'),
                 (2, 'a', 'cli', 'outbox.replay', 'camp_1', 3, 'replayed'),
                 (3, 'a', 'cli', 'silence.create', 'camp_2', 99, 'pruned since');",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    let store = Store::open(&url).await.unwrap();
    assert_eq!(raw_version(&path).await, schema::LATEST);
    let accounts: Vec<Option<String>> = store
        .audit_log(DateTime::<Utc>::MIN_UTC, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.account)
        .collect();
    assert_eq!(
        accounts,
        [None, Some("emea".to_string()), Some("acme".to_string())]
    );
}

fn campaign_event(id: &str, campaign: &str, at: DateTime<Utc>) -> Event {
    Event {
        kind: EventType::StatusChanged,
        occurred_at: at,
        campaign: Some(crate::event::CampaignInfo {
            id: campaign.into(),
            name: format!("Campaign {campaign}"),
            status: CampaignStatus::Paused,
            previous_status: Some(CampaignStatus::Live),
            agent: None,
            caller_number: None,
        }),
        ..event(id)
    }
}

/// Every query behind silences, reminders, quiet hours, rate limits, `history`,
/// `status` and the outbox commands, on both dialects.
async fn alerting_and_status_queries_round_trip(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    let hour = TimeDelta::hours(1);
    let old = store
        .create_silence(
            &ops(),
            "camp_x",
            None,
            None,
            "over",
            t0() - hour * 2,
            t0() - hour,
        )
        .await
        .unwrap();
    let silence = store
        .create_silence(
            &ops(),
            "camp_*",
            None,
            Some(EventType::StatusChanged),
            "maintenance",
            t0(),
            t0() + hour,
        )
        .await
        .unwrap();
    assert!(silence.id > old.id);
    assert_eq!(
        store.silences(t0(), false).await.unwrap(),
        std::slice::from_ref(&silence)
    );
    assert_eq!(store.silences(t0(), true).await.unwrap().len(), 2);

    let reminder = crate::state::Reminder {
        condition: crate::state::ReminderCondition::Status(CampaignStatus::Paused),
        since: t0(),
        last_at: t0(),
        sent: 1,
    };
    let mut commit = cycle(&[]);
    commit.events = vec![
        RoutedEvent::new(
            campaign_event("evt_a1", "camp_a", t0()),
            vec!["hook".into()],
        ),
        RoutedEvent::new(
            campaign_event("evt_a2", "camp_a", t0()),
            vec!["hook".into(), "mail".into()],
        ),
        RoutedEvent {
            silence: Some(silence.id),
            ..RoutedEvent::new(
                campaign_event("evt_b1", "camp_b", t0()),
                vec!["hook".into()],
            )
        },
    ];
    commit.reminders = vec![
        ReminderWrite {
            campaign_id: "camp_a".into(),
            rule: "paused".into(),
            reminder: Some(reminder.clone()),
        },
        ReminderWrite {
            campaign_id: "camp_b".into(),
            rule: "paused".into(),
            reminder: Some(reminder.clone()),
        },
    ];
    store.commit_cycle(&commit).await.unwrap();
    let reminders = store.load_reminders().await.unwrap();
    assert_eq!(reminders.len(), 2);
    assert_eq!(reminders[&("camp_a".into(), "paused".into())], reminder);
    let mut delete = cycle(&[]);
    delete.reminders = vec![ReminderWrite {
        campaign_id: "camp_b".into(),
        rule: "paused".into(),
        reminder: None,
    }];
    store.commit_cycle(&delete).await.unwrap();
    assert_eq!(store.load_reminders().await.unwrap().len(), 1);

    // History: newest first, ties broken by insertion order; silenced kept, unsent.
    let since = t0() - hour;
    let history = store.history(None, since, 10).await.unwrap();
    let ids: Vec<&str> = history.iter().map(|h| h.event.id.as_str()).collect();
    assert_eq!(ids, ["evt_b1", "evt_a2", "evt_a1"]);
    assert_eq!(
        history[0].silenced_by.as_ref().map(|s| s.id),
        Some(silence.id)
    );
    assert!(history[0].deliveries.is_empty());
    let channels: Vec<&str> = history[1]
        .deliveries
        .iter()
        .map(|d| d.channel.as_str())
        .collect();
    assert_eq!(channels, ["hook", "mail"]);
    let of_a = store.history(Some("camp_a"), since, 10).await.unwrap();
    assert_eq!(of_a.len(), 2);
    assert_eq!(store.history(None, since, 1).await.unwrap().len(), 1);

    // Status: last seen, newest event per campaign, last cycle.
    let outcome = CycleOutcome {
        started_at: t0(),
        finished_at: t0() + TimeDelta::seconds(1),
        result: "success".into(),
        detail: "2 campaigns".into(),
        campaigns_read: 0,
    };
    // Both read at t0; at t0+1h camp_b is not read (last seen t0); at t0+2h it is again.
    store.record_cycle(&[], &[], &[], &outcome).await.unwrap();
    let later = CycleOutcome {
        started_at: t0() + hour,
        ..outcome.clone()
    };
    store
        .record_cycle(&[("camp_b".into(), t0())], &[], &[], &later)
        .await
        .unwrap();
    assert_eq!(store.last_cycle().await.unwrap(), Some(later.clone()));
    assert_eq!(
        store.unseen_campaigns().await.unwrap(),
        ["camp_b".to_string()].into_iter().collect()
    );
    let activity = store.campaign_activity().await.unwrap();
    assert_eq!(activity["camp_a"].last_seen_at, Some(t0() + hour));
    assert_eq!(activity["camp_a"].last_event_id.as_deref(), Some("evt_a2"));
    assert_eq!(activity["camp_b"].last_seen_at, Some(t0()));
    assert_eq!(activity["camp_b"].last_event_id.as_deref(), Some("evt_b1"));
    let latest = CycleOutcome {
        started_at: t0() + hour * 2,
        ..outcome.clone()
    };
    store
        .record_cycle(&[], &[], &["camp_b".into()], &latest)
        .await
        .unwrap();
    assert!(store.unseen_campaigns().await.unwrap().is_empty());
    let activity = store.campaign_activity().await.unwrap();
    assert_eq!(activity["camp_b"].last_seen_at, Some(t0() + hour * 2));

    // Quiet hours, rate limit, digest.
    let due = store.due_deliveries(t0(), 10).await.unwrap();
    assert_eq!(due.len(), 3);
    store.hold(due[0].id, t0() + hour).await.unwrap();
    store.defer(due[1].id, t0() + hour).await.unwrap();
    let held = store.due_deliveries(t0() + hour, 10).await.unwrap();
    assert_eq!(held.len(), 3);
    assert_eq!(held[0].held_until, Some(t0() + hour));
    assert_eq!(held[1].held_until, None);
    assert_eq!(
        store
            .pending_for(&["evt_a1".into(), "evt_a2".into()])
            .await
            .unwrap(),
        2
    );
    store
        .mark_sent_in_digest(&[held[0].id, held[1].id], "dig_1", t0() + hour)
        .await
        .unwrap();
    store.mark_sent(held[2].id, t0() + hour * 2).await.unwrap();
    let sent = store.sent_since("hook", t0()).await.unwrap();
    assert_eq!(sent, [t0() + hour]);
    let history = store.history(Some("camp_a"), since, 10).await.unwrap();
    let digested = history
        .iter()
        .flat_map(|h| &h.deliveries)
        .filter(|d| d.digest_id.as_deref() == Some("dig_1"))
        .count();
    assert_eq!(digested, 2);

    // Outbox commands: dead rows, replay, purge.
    let mut more = cycle(&[("evt_c", &["hook", "mail"])]);
    more.now = t0() + hour;
    store.commit_cycle(&more).await.unwrap();
    for row in store.due_deliveries(t0() + hour, 10).await.unwrap() {
        store
            .mark_dead(row.id, t0() + hour, "HTTP 410")
            .await
            .unwrap();
    }
    let dead = store.outbox_entries(true).await.unwrap();
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0].event_type, "watcher.api_unhealthy");
    assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 410"));
    assert_eq!(
        store.replay_by(&ops(), dead[0].id, t0()).await.unwrap(),
        ReplayOutcome::Replayed
    );
    assert_eq!(
        store.replay_by(&ops(), dead[0].id, t0()).await.unwrap(),
        ReplayOutcome::NotDead("pending".into())
    );
    assert_eq!(
        store.replay_by(&ops(), 999_999, t0()).await.unwrap(),
        ReplayOutcome::Unknown
    );
    assert_eq!(store.replay_dead_by(&ops(), t0()).await.unwrap(), 1);
    assert_eq!(store.outbox_entries(false).await.unwrap().len(), 2);
    // Sent rows created at t0 go; the replayed (pending) ones stay.
    assert_eq!(store.purge_outbox(t0() + hour * 3).await.unwrap(), (3, 0));
    assert_eq!(store.outbox_counts().await.unwrap().pending, 2);

    // A now with sub-millisecond digits: the stored end is cut to milliseconds,
    // and must still read as ended by this call.
    let now = t0() + TimeDelta::nanoseconds(123_456);
    let Some(SilenceExpiry::EndedNow(ended)) =
        store.end_silence(&ops(), silence.id, now).await.unwrap()
    else {
        panic!("the first expire ends the silence");
    };
    assert_eq!(ended.expires_at, t0());
    assert!(matches!(
        store.end_silence(&ops(), silence.id, now).await.unwrap(),
        Some(SilenceExpiry::AlreadyEnded(_))
    ));
    assert!(store.silences(t0(), false).await.unwrap().is_empty());
    assert_eq!(
        store.end_silence(&ops(), 999_999, t0()).await.unwrap(),
        None
    );
}

mod audit;
mod board;
mod full_disk;
use audit::{
    a_version_5_store_gains_the_audit_log, audit_records_carry_their_account,
    each_action_is_recorded_with_who_and_what,
    the_record_of_a_silence_in_force_outlives_the_retention,
};
mod retention;
use board::{
    events_page_by_type_campaign_channel_and_since, the_board_pages_filters_and_counts_campaigns,
    the_commit_marker_moves_with_commits_deliveries_and_silences,
};
