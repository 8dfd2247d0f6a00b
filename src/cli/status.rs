//! `status`: the stored state of every watched campaign, the outbox and recent events.

use std::path::Path;

use chrono::Utc;

use super::failure::Failure;
use super::output::SUMMARY_CHARS;
use super::store_access::{open_store, print_json, read, stamp, stamp_or_dash};
use crate::commit::CampaignActivity;
use crate::text::terminal;

pub(super) async fn status(config: &Path, json: bool) -> Result<(), Failure> {
    let store = open_store(config).await?;
    let mut states: Vec<_> = store
        .load_states()
        .await
        .map_err(read)?
        .into_iter()
        .collect();
    states.sort_by(|a, b| a.0.cmp(&b.0));
    let health = store.load_health().await.map_err(read)?;
    let outbox = store.outbox_counts().await.map_err(read)?;
    let recent = store.recent_events(10).await.map_err(read)?;
    let activity = store.campaign_activity().await.map_err(read)?;
    let last_cycle = store.last_cycle().await.map_err(read)?;
    let now = Utc::now();
    let silences = store.silences(now, false).await.map_err(read)?;
    let held = store
        .outbox_entries(false)
        .await
        .map_err(read)?
        .iter()
        .filter(|entry| entry.held_until.is_some_and(|until| until > now))
        .count();
    let no_activity = CampaignActivity::default();
    if json {
        let campaigns: Vec<_> = states
            .iter()
            .map(|(key, state)| {
                let seen = activity.get(key).unwrap_or(&no_activity);
                serde_json::json!({
                    "id": key,
                    "name": state.snapshot.name,
                    "status": state.snapshot.status,
                    "upload_errors": state.snapshot.upload_errors.len(),
                    "not_found": state.not_found,
                    "unreadable": state.reads.unreadable_since.is_some(),
                    "failed_reads": state.reads.failed,
                    "unreadable_since": state.reads.unreadable_since,
                    "last_read_error": state.reads.last_error,
                    "changed_at": state.changed_at,
                    "last_seen_at": seen.last_seen_at,
                    "last_event": seen.last_event_type.as_ref().map(|kind| serde_json::json!({
                        "type": kind,
                        "id": seen.last_event_id,
                        "occurred_at": seen.last_event_at,
                    })),
                })
            })
            .collect();
        let events: Vec<_> = recent
            .iter()
            .map(|stored| serde_json::json!({"event": stored.event, "deliveries": stored.deliveries}))
            .collect();
        let body = serde_json::json!({
            "campaigns": campaigns,
            "api": {"unhealthy": health.unhealthy, "consecutive_failures": health.consecutive_failures},
            "outbox": outbox,
            "held_for_quiet_hours": held,
            "silences": silences,
            "last_cycle": last_cycle,
            "recent_events": events,
        });
        print_json(&body);
        return Ok(());
    }
    say!(
        "{:<28} {:<32} {:<10} {:>6}  {:<20} {:<20} last event",
        "campaign",
        "name",
        "status",
        "errors",
        "changed",
        "last seen"
    );
    for (key, state) in &states {
        // An unreadable campaign's stored status is only what it was when last read.
        let status = if state.not_found {
            "not found".to_string()
        } else if state.reads.unreadable_since.is_some() {
            "unreadable".to_string()
        } else {
            state.snapshot.status.to_string()
        };
        let seen = activity.get(key).unwrap_or(&no_activity);
        let last_event = match &seen.last_event_type {
            Some(kind) => format!("{kind} at {}", stamp_or_dash(seen.last_event_at)),
            None => "-".into(),
        };
        say!(
            "{:<28} {:<32} {:<10} {:>6}  {:<20} {:<20} {}",
            terminal(key),
            // Cut before escaping, so the column holds whole escapes.
            terminal(&crate::text::cap(&state.snapshot.name, 32)),
            status,
            state.snapshot.upload_errors.len(),
            stamp(state.changed_at),
            stamp_or_dash(seen.last_seen_at),
            last_event
        );
    }
    for (key, state) in &states {
        if let Some(since) = state.reads.unreadable_since {
            println!(
                "unreadable: {key} since {} ({} failed reads, last stored status {}): {}",
                stamp(since),
                state.reads.failed,
                state.snapshot.status,
                state.reads.last_error.as_deref().unwrap_or("-")
            );
        }
    }
    match &last_cycle {
        Some(cycle) => say!(
            "last cycle: {} at {} ({})",
            cycle.result,
            stamp(cycle.started_at),
            terminal(&cycle.detail)
        ),
        None => say!("last cycle: none recorded yet"),
    }
    say!(
        "api: {} ({} consecutive failed cycles)",
        if health.unhealthy {
            "UNHEALTHY"
        } else {
            "healthy"
        },
        health.consecutive_failures
    );
    let held = match held {
        0 => String::new(),
        held => format!(" ({held} held for quiet hours)"),
    };
    say!(
        "outbox: {} pending{held}, {} dead, {} sent",
        outbox.pending,
        outbox.dead,
        outbox.sent
    );
    for silence in &silences {
        say!(
            "silence {}: {} {} until {} ({})",
            silence.id,
            terminal(&silence.campaign),
            silence.event.map_or("every event", |kind| kind.as_str()),
            stamp(silence.expires_at),
            terminal(&silence.reason)
        );
    }
    for stored in &recent {
        let deliveries: Vec<String> = stored
            .deliveries
            .iter()
            .map(|(c, s)| format!("{}={}", terminal(c), terminal(s)))
            .collect();
        say!(
            "{} {} {} [{}]",
            stamp(stored.event.occurred_at),
            terminal(&crate::text::cap(&stored.event.summary, SUMMARY_CHARS)),
            terminal(&stored.event.id),
            deliveries.join(" ")
        );
    }
    Ok(())
}
