//! A commit that fails because the disk is full: the connection it
//! used must not go back to the pool still counted inside a transaction, or
//! every later cycle fails with "begin_with at non-zero transaction depth".

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{Connection, Row};

use super::*;

/// A cycle too large for a file that may not grow.
fn large_cycle() -> CycleCommit {
    let mut cycle = cycle(&[("evt_full", &["ops"])]);
    cycle.states = (0..400)
        .map(|n| {
            let id = format!("camp_{n:04}");
            let mut state = state(&id, CampaignStatus::Paused, 1);
            state.snapshot.name = "x".repeat(2_000);
            (id, state)
        })
        .collect();
    cycle
}

#[tokio::test]
async fn a_commit_that_fills_the_disk_leaves_no_connection_in_a_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = file_url(&dir);
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal);
    // One connection: the commit after the failed one gets the same connection,
    // unless the pool discarded it.
    let pool = open::sqlite_pool_options(1)
        .connect_with(options)
        .await
        .unwrap();
    assert!(schema::sqlite::migrate(&pool).await.is_ok());
    let store = Store::new(Backend::Sqlite(pool.clone()), path.display().to_string());

    // The file may not grow beyond its size now: SQLITE_FULL, as on a full disk.
    let pages: i64 = sqlx::query("PRAGMA page_count")
        .fetch_one(&pool)
        .await
        .unwrap()
        .get(0);
    sqlx::raw_sql(&format!("PRAGMA max_page_count = {pages}"))
        .execute(&pool)
        .await
        .unwrap();
    let err = store.commit_cycle(&large_cycle()).await.unwrap_err();
    assert!(err.to_string().contains("full"), "{err}");

    // The space comes back (on this connection, if the pool kept it).
    sqlx::raw_sql("PRAGMA max_page_count = 1073741823")
        .execute(&pool)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    assert!(
        !conn.is_in_transaction(),
        "a connection came back from the failed commit still inside a transaction"
    );
    conn.ping().await.unwrap();
    drop(conn);
    store.commit_cycle(&large_cycle()).await.unwrap();
    assert_eq!(store.load_states().await.unwrap().len(), 400);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM outbox").await, 1);
}

#[tokio::test]
async fn refused_commits_in_a_row_make_the_store_refusing_until_one_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&file_url(&dir).0).await.unwrap();
    exec(
        &store,
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON outbox WHEN NEW.channel = 'boom'
         BEGIN SELECT RAISE(ABORT, 'boom channel refused'); END;",
    )
    .await;
    for _ in 0..STORE_UNHEALTHY_AFTER {
        assert!(!store.refusing_commits());
        store
            .commit_cycle(&cycle(&[("evt_1", &["boom"])]))
            .await
            .unwrap_err();
    }
    assert!(store.refusing_commits());
    assert!(
        store.unfenced().refusing_commits(),
        "clones share the count"
    );
    store
        .commit_cycle(&cycle(&[("evt_2", &["ok"])]))
        .await
        .unwrap();
    assert!(!store.refusing_commits());
}
