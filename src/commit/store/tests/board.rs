//! The board's read model on both dialects: pages, filters, counts, events
//! across campaigns, the commit marker, and the version-4 backfill.

use super::*;
use crate::commit::store::board::{CampaignQuery, EventQuery};

fn board_state(id: &str, name: &str, status: CampaignStatus, minute: i64) -> CampaignState {
    let mut state = state(id, status, 1);
    state.snapshot.name = name.into();
    state.snapshot.upload_errors.clear();
    state.changed_at = t0() + TimeDelta::minutes(minute);
    state
}

async fn commit_states(store: &Store, states: Vec<CampaignState>, events: Vec<RoutedEvent>) {
    let mut commit = cycle(&[]);
    commit.states = states
        .into_iter()
        .map(|s| (s.snapshot.id.clone(), s))
        .collect();
    commit.events = events;
    store.commit_cycle(&commit).await.unwrap();
}

fn ids(page: &CampaignPage) -> Vec<&str> {
    page.rows.iter().map(|row| row.id.as_str()).collect()
}

pub(super) async fn the_board_pages_filters_and_counts_campaigns(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    let mut errors = board_state("camp_err", "With errors", CampaignStatus::Live, 3);
    errors.snapshot.upload_errors = BTreeSet::from(["row 1".to_string(), "row 2".to_string()]);
    let mut gone = board_state("camp_gone", "Gone", CampaignStatus::Live, 4);
    gone.not_found = true;
    let mut dark = board_state("camp_dark", "Dark 100%_x", CampaignStatus::Paused, 5);
    dark.reads.unreadable_since = Some(t0());
    commit_states(
        &store,
        vec![
            board_state("camp_live", "Q4 Outreach", CampaignStatus::Live, 1),
            board_state(
                "camp_paused",
                "<img src=x onerror=alert(1)>",
                CampaignStatus::Paused,
                2,
            ),
            errors,
            gone,
            dark,
        ],
        vec![RoutedEvent::new(
            campaign_event("evt_p", "camp_paused", t0()),
            vec!["hook".into()],
        )],
    )
    .await;
    let all = |page, per_page| CampaignQuery {
        page,
        per_page,
        ..CampaignQuery::default()
    };
    let first = store.campaign_page(&all(1, 2)).await.unwrap();
    assert_eq!(first.total, 5);
    assert_eq!(
        ids(&first),
        ["camp_dark", "camp_gone"],
        "newest change first"
    );
    let third = store.campaign_page(&all(3, 2)).await.unwrap();
    assert_eq!(ids(&third), ["camp_live"]);
    let paused = store
        .campaign_page(&CampaignQuery {
            status: Some("paused".into()),
            ..all(1, 50)
        })
        .await
        .unwrap();
    assert_eq!(
        ids(&paused),
        ["camp_paused"],
        "the unreadable one is not paused"
    );
    assert_eq!(paused.rows[0].last_event.as_ref().unwrap().id, "evt_p");
    assert_eq!(paused.rows[0].name, "<img src=x onerror=alert(1)>");
    let text = |q: &str| CampaignQuery {
        text: Some(q.into()),
        ..all(1, 50)
    };
    assert_eq!(
        ids(&store.campaign_page(&text("OUTREACH")).await.unwrap()),
        ["camp_live"]
    );
    assert_eq!(
        ids(&store.campaign_page(&text("camp_er")).await.unwrap()),
        ["camp_err"]
    );
    // LIKE's own wildcards are literal.
    assert_eq!(
        ids(&store.campaign_page(&text("100%_")).await.unwrap()),
        ["camp_dark"]
    );
    assert_eq!(store.campaign_page(&text("%")).await.unwrap().total, 1);
    let problems = store
        .campaign_page(&CampaignQuery {
            problems: true,
            ..all(1, 50)
        })
        .await
        .unwrap();
    assert_eq!(
        ids(&problems),
        ["camp_dark", "camp_gone", "camp_err", "camp_paused"]
    );
    let summary = store.summary(t0()).await.unwrap();
    assert_eq!(summary.campaigns, 5);
    assert_eq!(summary.with_upload_errors, 1);
    for (label, n) in [
        ("live", 2),
        ("paused", 1),
        ("not found", 1),
        ("unreadable", 1),
        ("scheduled", 0),
        ("completed", 0),
    ] {
        assert_eq!(summary.counts[label], n, "{label}");
    }
    assert_eq!(summary.outbox.pending, 1);
}

pub(super) async fn events_page_by_type_campaign_channel_and_since(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    let silence = store
        .create_silence(
            &ops(),
            "camp_b",
            None,
            None,
            "maintenance",
            t0(),
            t0() + TimeDelta::hours(1),
        )
        .await
        .unwrap();
    let mut watcher = event("evt_w");
    watcher.occurred_at = t0() + TimeDelta::minutes(3);
    commit_states(
        &store,
        vec![],
        vec![
            RoutedEvent::new(campaign_event("evt_a", "camp_a", t0()), vec!["hook".into()]),
            RoutedEvent::new(
                campaign_event("evt_a2", "camp_a", t0() + TimeDelta::minutes(1)),
                vec!["hook".into(), "mail".into()],
            ),
            RoutedEvent {
                silence: Some(silence.id),
                ..RoutedEvent::new(
                    campaign_event("evt_b", "camp_b", t0() + TimeDelta::minutes(2)),
                    vec!["hook".into()],
                )
            },
            RoutedEvent::new(watcher, vec!["mail".into()]),
        ],
    )
    .await;
    let query = |adjust: fn(&mut EventQuery)| {
        let mut query = EventQuery {
            page: 1,
            per_page: 50,
            ..EventQuery::default()
        };
        adjust(&mut query);
        query
    };
    let ids = |page: &EventPage| -> Vec<String> {
        page.entries.iter().map(|e| e.event.id.clone()).collect()
    };
    let all = store.event_page(&query(|_| {})).await.unwrap();
    assert_eq!(ids(&all), ["evt_w", "evt_b", "evt_a2", "evt_a"]);
    assert!(!all.more);
    assert_eq!(all.entries[1].silenced_by.as_ref().unwrap().id, silence.id);
    assert_eq!(all.entries[2].deliveries.len(), 2);
    let first = store.event_page(&query(|q| q.per_page = 3)).await.unwrap();
    assert!(first.more);
    let second = store
        .event_page(&query(|q| {
            q.per_page = 3;
            q.page = 2;
        }))
        .await
        .unwrap();
    assert_eq!(ids(&second), ["evt_a"]);
    assert!(!second.more);
    let mail = store
        .event_page(&query(|q| q.channel = Some("mail".into())))
        .await
        .unwrap();
    assert_eq!(ids(&mail), ["evt_w", "evt_a2"]);
    let watcher_only = store
        .event_page(&query(|q| q.kind = Some("watcher.api_unhealthy".into())))
        .await
        .unwrap();
    assert_eq!(ids(&watcher_only), ["evt_w"]);
    let of_a = store
        .event_page(&query(|q| {
            q.campaign = Some("camp_a".into());
            q.since = Some(t0() + TimeDelta::seconds(30));
        }))
        .await
        .unwrap();
    assert_eq!(ids(&of_a), ["evt_a2"]);
    assert_eq!(store.silenced_counts().await.unwrap()[&silence.id], 1);
}

pub(super) async fn the_commit_marker_moves_with_commits_deliveries_and_silences(kind: Kind) {
    let (store, _scratch) = fresh(kind).await;
    let empty = store.commit_marker().await.unwrap();
    assert_eq!(
        store.commit_marker().await.unwrap(),
        empty,
        "stable while nothing happens"
    );
    commit_states(
        &store,
        vec![],
        vec![RoutedEvent::new(
            campaign_event("evt_a", "camp_a", t0()),
            vec!["hook".into()],
        )],
    )
    .await;
    let committed = store.commit_marker().await.unwrap();
    assert_ne!(committed, empty);
    let due = store.due_deliveries(t0(), 10).await.unwrap();
    store.mark_sent(due[0].id, t0()).await.unwrap();
    let sent = store.commit_marker().await.unwrap();
    assert_ne!(sent, committed);
    store
        .record_cycle(
            &[],
            &[],
            &[],
            &CycleOutcome {
                started_at: t0(),
                finished_at: t0() + TimeDelta::seconds(1),
                result: "success".into(),
                detail: "1 request".into(),
                campaigns_read: 0,
            },
        )
        .await
        .unwrap();
    let recorded = store.commit_marker().await.unwrap();
    assert_ne!(recorded, sent);
    store
        .create_silence(
            &ops(),
            "*",
            None,
            None,
            "x",
            t0(),
            t0() + TimeDelta::hours(1),
        )
        .await
        .unwrap();
    assert_ne!(store.commit_marker().await.unwrap(), recorded);
}

/// A version-3 file's states get their board columns from their JSON.
#[tokio::test]
async fn a_version_3_file_gets_its_board_columns_filled() {
    let dir = tempfile::tempdir().unwrap();
    let (url, path) = file_url(&dir);
    {
        let mut conn = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        for script in &schema::sqlite::MIGRATIONS[..3] {
            sqlx::raw_sql(script).execute(&mut conn).await.unwrap();
        }
        sqlx::raw_sql(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (1, 0), (2, 0), (3, 0);",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let mut gone = state("camp_gone", CampaignStatus::Live, 1);
        gone.not_found = true;
        let mut dark = state("camp_dark", CampaignStatus::Live, 1);
        dark.reads.unreadable_since = Some(t0());
        for (key, state) in [
            ("camp_a", state("camp_a", CampaignStatus::Paused, 1)),
            ("camp_gone", gone),
            ("camp_dark", dark),
        ] {
            sqlx::query("INSERT INTO campaign_state VALUES (?, ?, 1, 0)")
                .bind(key)
                .bind(serde_json::to_string(&state).unwrap())
                .execute(&mut conn)
                .await
                .unwrap();
        }
        conn.close().await.unwrap();
    }
    let store = Store::open(&url).await.unwrap();
    let summary = store.summary(t0()).await.unwrap();
    assert_eq!(summary.counts["paused"], 1);
    assert_eq!(summary.counts["not found"], 1);
    assert_eq!(summary.counts["unreadable"], 1);
    assert_eq!(summary.with_upload_errors, 3);
    let page = store
        .campaign_page(&CampaignQuery {
            text: Some("campaign camp_a".into()),
            page: 1,
            per_page: 10,
            ..CampaignQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.rows[0].upload_errors, 1);
}
