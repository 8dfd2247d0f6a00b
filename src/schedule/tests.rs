use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::*;

#[test]
fn the_period_of_a_schedule_is_its_longest_gap() {
    let from = chrono::DateTime::parse_from_rfc3339("2026-11-26T09:00:30Z")
        .unwrap()
        .with_timezone(&Utc);
    let table = [
        ("0 */5 * * * *", 300),
        ("*/10 * * * * *", 10),
        // Twice an hour, unevenly: the longer gap counts.
        ("0 0,10 * * * *", 50 * 60),
    ];
    for (expression, seconds) in table {
        assert_eq!(
            CronSchedule::parse(expression).unwrap().period(from),
            Duration::from_secs(seconds),
            "{expression}"
        );
    }
    assert!(CronSchedule::parse("not a cron").is_err());
    assert_eq!(
        Schedule::Every(Duration::from_secs(42)).period(),
        Duration::from_secs(42)
    );
}

/// Ticks received so far, letting the interval task run first.
async fn drain(rx: &mut mpsc::Receiver<()>) -> usize {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let mut count = 0;
    while rx.try_recv().is_ok() {
        count += 1;
    }
    count
}

#[tokio::test(start_paused = true)]
async fn after_a_stall_of_ten_periods_the_interval_ticks_once_then_keeps_its_period() {
    let every = Duration::from_millis(1500);
    let (ticks, mut rx) = mpsc::channel(100);
    let stop = CancellationToken::new();
    let lates = Arc::new(std::sync::Mutex::new(Vec::new()));
    let task = tokio::spawn(run_interval(every, ticks, stop.clone(), {
        let lates = lates.clone();
        move |late| lates.lock().unwrap().push(late)
    }));
    assert_eq!(drain(&mut rx).await, 0, "the first tick is a period away");

    // Sub-second periods are kept, not rounded to whole seconds.
    tokio::time::advance(every).await;
    assert_eq!(drain(&mut rx).await, 1);
    assert!(lates.lock().unwrap().is_empty());

    // As if the process had been stopped for ten periods.
    tokio::time::advance(every * 10).await;
    assert_eq!(drain(&mut rx).await, 1, "missed ticks are not replayed");
    assert_eq!(lates.lock().unwrap().len(), 1, "the stall is reported once");
    assert!(lates.lock().unwrap()[0] >= every * 9);

    // The next tick is a full period after the late one, not at once.
    tokio::time::advance(every - Duration::from_millis(1)).await;
    assert_eq!(drain(&mut rx).await, 0);
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(drain(&mut rx).await, 1);

    stop.cancel();
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_tick_while_a_cycle_runs_is_dropped_not_queued() {
    let every = Duration::from_secs(1);
    let (ticks, mut rx) = mpsc::channel(1);
    let stop = CancellationToken::new();
    let late = Arc::new(AtomicUsize::new(0));
    let task = tokio::spawn(run_interval(every, ticks, stop.clone(), {
        let late = late.clone();
        move |_| {
            late.fetch_add(1, Ordering::SeqCst);
        }
    }));
    // Three periods pass while nobody takes the tick (a long cycle).
    for _ in 0..3 {
        tokio::time::advance(every).await;
        drain_none(&rx).await;
    }
    assert_eq!(
        drain(&mut rx).await,
        1,
        "one tick waits, the others were dropped"
    );
    assert_eq!(late.load(Ordering::SeqCst), 0, "on time, only not taken");
    stop.cancel();
    task.await.unwrap();
}

async fn drain_none(_rx: &mpsc::Receiver<()>) {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}
