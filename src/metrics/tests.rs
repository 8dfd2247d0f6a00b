use super::*;

#[test]
fn status_classes() {
    let table = [
        (Some(200), "2xx"),
        (Some(204), "2xx"),
        (Some(304), "3xx"),
        (Some(404), "4xx"),
        (Some(429), "4xx"),
        (Some(503), "5xx"),
        (Some(999), "error"),
        (None, "error"),
    ];
    for (status, class) in table {
        assert_eq!(status_class(status), class, "{status:?}");
    }
}

#[test]
fn unknown_statuses_fall_into_other() {
    use crate::observe::CampaignStatus;
    let table = [
        (CampaignStatus::Live, false, false, "live"),
        (CampaignStatus::Paused, true, false, "not_found"),
        (CampaignStatus::Paused, true, true, "not_found"),
        (CampaignStatus::Live, false, true, "unreadable"),
        (
            CampaignStatus::Unknown("Exploding".into()),
            false,
            false,
            "other",
        ),
    ];
    for (status, not_found, unreadable, bucket) in table {
        assert_eq!(status_bucket(&status, not_found, unreadable), bucket);
    }
    let counts = count_by_status(["live", "live", "other", "bogus"]);
    assert_eq!(counts["live"], 2);
    assert_eq!(counts["other"], 1);
    assert_eq!(counts["paused"], 0);
    assert_eq!(counts.len(), CAMPAIGN_STATUS_BUCKETS.len());
}

#[test]
fn exposition_uses_units_and_total_suffixes() {
    let metrics = Metrics::new();
    metrics.record_api_request(
        "default",
        ApiEndpoint::get_campaign,
        Some(200),
        Duration::from_millis(20),
    );
    metrics.record_notification("ops-hook", NotificationResult::sent);
    metrics.set_outbox(3, 1);
    metrics.record_pruned(&BTreeMap::from([("events", 40), ("outbox", 80)]));
    metrics.record_store(4096, Duration::from_secs(600));
    metrics.record_prune_outcome(true, 1);
    metrics.record_prune_outcome(true, 2);
    metrics.set_scraped(2, 1);
    metrics.record_reload(false, Utc::now());
    metrics.set_schedule_period(Duration::from_secs(60));
    let text = metrics.encode();
    for expected in [
        "campaign_watcher_api_requests_total{account=\"default\",endpoint=\"get_campaign\",status_class=\"2xx\"} 1",
        "campaign_watcher_api_request_duration_seconds_bucket{",
        "campaign_watcher_notifications_total{channel=\"ops-hook\",result=\"sent\"} 1",
        "campaign_watcher_outbox_pending 3",
        "campaign_watcher_outbox_dead 1",
        "campaign_watcher_store_pruned_rows_total{table=\"outbox\"} 80",
        "campaign_watcher_store_size_bytes 4096",
        "campaign_watcher_store_oldest_event_age_seconds 600",
        "campaign_watcher_store_prune_failures_total 2",
        "campaign_watcher_store_prune_consecutive_failures 2",
        "campaign_watcher_leader 1",
        "campaign_watcher_build_info{version=\"",
        "# TYPE campaign_watcher_last_successful_cycle_timestamp_seconds gauge",
        "# TYPE campaign_watcher_cycle_duration_seconds histogram",
        "campaign_watcher_silences_in_force 2",
        "campaign_watcher_outbox_held_for_quiet_hours 1",
        "campaign_watcher_config_last_reload_successful 0",
        "campaign_watcher_schedule_period_seconds 60.0",
        "# TYPE process_resident_memory_bytes gauge",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(
            line.starts_with("campaign_watcher_") || line.starts_with("process_"),
            "{line}"
        );
    }
    let resident = text
        .lines()
        .find_map(|line| line.strip_prefix("process_resident_memory_bytes "))
        .and_then(|value| value.parse::<u64>().ok());
    assert!(resident.is_some_and(|bytes| bytes > 0), "{text}");
}
