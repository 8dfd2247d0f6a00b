//! The cycle loop: a cycle per tick with the generation's watchers; records
//! metrics and status, prunes after a committed cycle, and raises the alarm
//! when the store refuses commits. The alarm, the pruner and the tick channel
//! outlive reloads (they are about the store and the schedule, which a reload
//! keeps): each generation's loop takes them over when the previous one ends,
//! so cycles never overlap.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{mpsc, Mutex, Notify};
use tokio_util::sync::CancellationToken;

use crate::commit::pruning::Pruner;
use crate::commit::StoreError;
use crate::http::ServiceStatus;
use crate::metrics::Metrics;
use crate::watcher::{StoreAlarm, Watcher, Watchers};

/// What the cycle loops of successive generations hand on to each other.
pub(super) struct Cycles {
    /// Capacity 1: one tick may wait while a cycle runs; more are overruns.
    pub(super) ticks: mpsc::Receiver<()>,
    pub(super) alarm: StoreAlarm,
    pub(super) pruner: Pruner,
    pub(super) metrics: Metrics,
    pub(super) status: ServiceStatus,
}

/// Runs until `stop`, after the cycle in flight: cancellation is seen only
/// between cycles, since cancelling one mid-transaction would only roll it back.
pub(super) async fn cycle_loop(
    cycles: Arc<Mutex<Cycles>>,
    watchers: Arc<Watchers>,
    stop: CancellationToken,
) {
    let mut cycles = tokio::select! {
        () = stop.cancelled() => return,
        cycles = cycles.lock_owned() => cycles,
    };
    let Cycles {
        ticks,
        alarm,
        pruner,
        metrics,
        status,
    } = &mut *cycles;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            tick = ticks.recv() => {
                if tick.is_none() { break; }
                if watchers.store().check_leader().is_err() {
                    status.standby_tick();
                    tracing::debug!("standby: another replica is the leader; this tick is skipped");
                    if alarm.is_open() {
                        follow_store_episode(watchers.first(), alarm, status).await;
                    }
                    continue;
                }
                status.cycle_started();
                let started = std::time::Instant::now();
                match watchers.tick(Utc::now()).await {
                    Ok(report) => {
                        metrics.record_cycle(&report.figures());
                        status.cycle_finished(
                            report.started_at,
                            report.any_account_readable(),
                            report.unhealthy_accounts(),
                            report.accounts.len(),
                        );
                        close_store_episode(watchers.first(), alarm).await;
                        pruner.after_cycle(watchers.store(), Utc::now()).await;
                    }
                    Err(StoreError::NotLeader) => {
                        tracing::warn!("leadership lost during a cycle: none of its events were committed; the new leader polls from here");
                        if alarm.is_open() {
                            follow_store_episode(watchers.first(), alarm, status).await;
                        }
                    }
                    Err(error) => {
                        metrics.record_store_failure(started.elapsed());
                        let reason = error.to_string();
                        let failures = status.commit_failed(reason.clone());
                        tracing::error!(%error, failures, "cycle could not be committed; nothing was sent for it and it will be retried next cycle");
                        if let Some(event) = alarm.commit_refused(Utc::now(), &reason) {
                            watchers.first().announce_without_store(&event).await;
                        }
                    }
                }
            }
        }
    }
}

/// After the cycle that committed again: commit what closes an announced
/// episode of refused commits; if that fails, the next good cycle tries again.
async fn close_store_episode(watcher: &Watcher, alarm: &mut StoreAlarm) {
    let Some(recovery) = alarm.committed(Utc::now()) else {
        return;
    };
    match watcher.record_store_recovery(&recovery, Utc::now()).await {
        Ok(()) => {
            alarm.closed();
            tracing::info!(event_id = %recovery.recovered.id, "the state store accepts commits again; watcher.store_recovered is in the outbox");
        }
        Err(error) => {
            tracing::warn!(%error, "the state store took the cycle but not the recovery notice; trying again after the next cycle");
        }
    }
}

/// The store refused commits while this replica led, and then the lease went
/// (a lost PostgreSQL server takes the leader lock with it). The replica that
/// was leading speaks for the episode to its end: no other replica saw it
/// begin. A store that does not answer at all still counts as refusing.
async fn follow_store_episode(watcher: &Watcher, alarm: &mut StoreAlarm, status: &ServiceStatus) {
    match watcher.store().ping().await {
        Ok(()) => {
            status.commits_resumed();
            close_store_episode(watcher, alarm).await;
        }
        Err(error) => {
            watcher.store().note_unanswered();
            let reason = error.to_string();
            status.commit_failed(reason.clone());
            if let Some(event) = alarm.commit_refused(Utc::now(), &reason) {
                watcher.announce_without_store(&event).await;
            }
        }
    }
}

/// Mirrors the election in the metrics and status; on taking over, a cycle at
/// once and a drain of whatever the previous leader left in the outbox.
pub(super) async fn follow_leadership(
    mut changes: tokio::sync::watch::Receiver<bool>,
    metrics: Metrics,
    status: ServiceStatus,
    ticks: mpsc::Sender<()>,
    dispatcher_wake: Arc<Notify>,
) {
    while changes.changed().await.is_ok() {
        let leading = *changes.borrow_and_update();
        metrics.set_leader(leading);
        status.set_standby(!leading);
        if leading {
            tracing::info!("this replica is now the leader: polling and sending");
            let _ = ticks.try_send(());
            dispatcher_wake.notify_one();
        } else {
            tracing::info!("this replica is a standby: another replica polls and sends");
        }
    }
}
