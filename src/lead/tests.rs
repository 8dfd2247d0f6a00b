use chrono::Utc;

use super::*;
use crate::commit::scratch::ScratchDatabase;
use crate::commit::{CycleCommit, RoutedEvent, Store, StoreError};
use crate::event::{Event, EventType, UploadErrors};

/// A cycle with one event for the channel "hook".
fn cycle(event_id: &str) -> CycleCommit {
    let event = Event {
        version: "1".into(),
        id: event_id.into(),
        kind: EventType::ApiUnhealthy,
        occurred_at: Utc::now(),
        campaign: None,
        upload_errors: UploadErrors::default(),
        changes: vec![],
        hints: vec![],
        summary: format!("summary of {event_id}"),
        account: crate::event::default_account(),
        incident: None,
        links: None,
    };
    CycleCommit {
        now: Utc::now(),
        states: vec![],
        health: None,
        events: vec![RoutedEvent::new(event, vec!["hook".into()])],
        reminders: vec![],
    }
}

/// A connection of the store's own database, for sabotage and inspection.
async fn session(store: &Store) -> PgConnection {
    store
        .postgres_options()
        .expect("a PostgreSQL store")
        .connect()
        .await
        .unwrap()
}

async fn exec(store: &Store, sql: &str) {
    let mut conn = session(store).await;
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

async fn count(store: &Store, sql: &str) -> i64 {
    let mut conn = session(store).await;
    let n: i64 = sqlx::query(sql).fetch_one(&mut conn).await.unwrap().get(0);
    conn.close().await.unwrap();
    n
}

#[tokio::test]
async fn a_fenced_store_commits_only_while_its_replica_leads() {
    let db = ScratchDatabase::create().await;
    let ttl = std::time::Duration::from_secs(30);
    let first_lease = LeaseState::new(ttl);
    let first = Store::open(db.url())
        .await
        .unwrap()
        .with_lease(first_lease.clone());
    let second_lease = LeaseState::new(ttl);
    let second = Store::open(db.url())
        .await
        .unwrap()
        .with_lease(second_lease.clone());
    let commit = cycle("evt_1");

    // Nobody leads yet: both are fenced.
    assert!(matches!(
        first.commit_cycle(&commit).await,
        Err(StoreError::NotLeader)
    ));
    assert!(matches!(first.check_leader(), Err(StoreError::NotLeader)));
    let first_elector = Elector::new(first.postgres_options().unwrap(), first_lease.clone());
    let second_elector = Elector::new(second.postgres_options().unwrap(), second_lease.clone());
    assert!(first_elector.round().await);
    assert!(!second_elector.round().await);
    // Renewing keeps it; the standby still cannot take it.
    assert!(first_elector.round().await);
    assert!(!second_elector.round().await);
    first.commit_cycle(&commit).await.unwrap();
    assert!(first.check_leader().is_ok());
    assert!(matches!(
        second.commit_cycle(&commit).await,
        Err(StoreError::NotLeader)
    ));

    // The server ends the lock session behind the leader's back (as after a
    // network partition): the very next commit finds out inside its
    // transaction, although the in-memory lease still looks fresh.
    let pid = first_lease.check().unwrap();
    exec(&second, &format!("SELECT pg_terminate_backend({pid})")).await;
    // pg_terminate_backend only signals: wait until the session is gone.
    let gone = format!("SELECT COUNT(*) FROM pg_stat_activity WHERE pid = {pid}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count(&second, &gone).await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "session {pid} never ended"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(first_lease.is_leader());
    assert!(matches!(
        first.commit_cycle(&cycle("evt_2")).await,
        Err(StoreError::NotLeader)
    ));
    assert!(!first_lease.is_leader());
    assert!(second_elector.round().await);
    second.commit_cycle(&cycle("evt_2")).await.unwrap();
    assert_eq!(second.outbox_counts().await.unwrap().pending, 2);
    // The old leader finds its session gone on its next round and stays a standby.
    assert!(!first_elector.round().await);

    // Releasing hands over at once.
    second_elector.release().await;
    assert!(!second_lease.is_leader());
    assert!(first_elector.round().await);
    first_elector.release().await;
}
