use super::*;

#[test]
fn autovacuum_off_is_said_only_when_retention_prunes() {
    let day = Some(Duration::from_secs(86_400));
    for (setting, retention, warned) in [
        (Some("off"), day, true),
        (Some("OFF "), day, true),
        (Some("on"), day, false),
        (Some("off"), None, false),
        (None, day, false),
    ] {
        assert_eq!(
            autovacuum_warning(setting, retention).is_some(),
            warned,
            "{setting:?} {retention:?}"
        );
    }
}

#[test]
fn rounds_come_every_twentieth_of_the_retention_within_bounds() {
    let cases = [
        (None, MAX_GAP),
        (Some(Duration::from_secs(10)), Duration::from_secs(1)),
        (Some(Duration::from_secs(180)), Duration::from_secs(9)),
        (Some(Duration::from_secs(90 * 86_400)), MAX_GAP),
    ];
    for (retention, gap) in cases {
        assert_eq!(round_gap(retention), gap, "{retention:?}");
    }
}

#[test]
fn a_long_streak_of_failed_rounds_is_an_error_once_per_episode() {
    let mut streak = FailureStreak::default();
    let mut loudness: Vec<Loudness> = (0..FAILURES_BEFORE_ERROR + 2)
        .map(|_| streak.failed())
        .collect();
    let error_at = loudness.iter().position(|l| *l == Loudness::Error);
    assert_eq!(error_at, Some(FAILURES_BEFORE_ERROR as usize - 1));
    loudness.retain(|l| *l == Loudness::Error);
    assert_eq!(loudness.len(), 1, "one error per episode");
    assert_eq!(streak.succeeded(), FAILURES_BEFORE_ERROR + 2);
    assert_eq!(streak.succeeded(), 0);
    // A new episode is an error again once it is as long.
    let again: Vec<Loudness> = (0..FAILURES_BEFORE_ERROR)
        .map(|_| streak.failed())
        .collect();
    assert_eq!(again.last(), Some(&Loudness::Error));
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Pruned rows are counted even when the store's size cannot be read, and
/// rounds that cannot prune show as a streak in the metrics until one can.
#[tokio::test]
async fn pruned_rows_and_failed_rounds_reach_the_metrics() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("state.db").display());
    let store = Store::open(&url).await.unwrap();
    let mut raw = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let now = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    let hours_ago = |h: i64| (now - TimeDelta::hours(h)).timestamp_millis();
    // camp_a's older event may go; camp_b's only event stays, and its
    // timestamp is out of range, so the oldest event's age cannot be read.
    for (id, campaign, at) in [
        ("a1", "camp_a", hours_ago(2)),
        ("a2", "camp_a", hours_ago(1)),
        ("b1", "camp_b", i64::MIN),
    ] {
        sqlx::query(
            "INSERT INTO events (id, type, campaign_id, occurred_at, payload_json, account)
             VALUES ($1, 'campaign.settings_changed', $2, $3, '{}', 'default')",
        )
        .bind(id)
        .bind(campaign)
        .bind(at)
        .execute(&mut raw)
        .await
        .unwrap();
    }
    assert!(store.oldest_event_at().await.is_err());
    let metrics = Metrics::new();
    let mut pruner = Pruner::new(Some(Duration::from_secs(60)), metrics.clone());
    pruner.after_cycle(&store, now).await;
    let text = metrics.encode();
    assert_eq!(
        metric(
            &text,
            "campaign_watcher_store_pruned_rows_total{table=\"events\"}"
        ),
        Some(1.0),
        "{text}"
    );

    // Pruning fails while the events table is gone.
    sqlx::query("ALTER TABLE events RENAME TO events_away")
        .execute(&mut raw)
        .await
        .unwrap();
    let mut at = now;
    for round in 1..=FAILURES_BEFORE_ERROR + 1 {
        at += TimeDelta::hours(1);
        pruner.after_cycle(&store, at).await;
        let text = metrics.encode();
        let streak = metric(&text, "campaign_watcher_store_prune_consecutive_failures");
        assert_eq!(streak, Some(f64::from(round)), "{text}");
    }
    sqlx::query("ALTER TABLE events_away RENAME TO events")
        .execute(&mut raw)
        .await
        .unwrap();
    pruner.after_cycle(&store, at + TimeDelta::hours(1)).await;
    let text = metrics.encode();
    assert_eq!(
        metric(&text, "campaign_watcher_store_prune_consecutive_failures"),
        Some(0.0)
    );
    assert_eq!(
        metric(&text, "campaign_watcher_store_prune_failures_total"),
        Some(f64::from(FAILURES_BEFORE_ERROR + 1))
    );
}
