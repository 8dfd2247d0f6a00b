use super::*;

fn record(started: Instant) -> StatusRecord {
    StatusRecord {
        started,
        period: Duration::from_secs(60),
        last_cycle_started: None,
        last_success_at: None,
        last_cycle_readable: false,
        api_unhealthy: false,
        unhealthy_accounts: Vec::new(),
        store_reachable: true,
        failed_commits: 0,
        commit_error: None,
        ever_succeeded: false,
        standby: false,
    }
}

#[test]
fn liveness_allows_three_periods_of_quiet() {
    let t0 = Instant::now();
    let secs = Duration::from_secs;
    // (last cycle started after t0, now after t0, alive)
    let table = [
        (None, secs(0), true),
        (None, secs(180), true),
        (None, secs(181), false),
        (Some(secs(100)), secs(250), true),
        (Some(secs(100)), secs(280), true),
        (Some(secs(100)), secs(281), false),
    ];
    for (last, now, alive) in table {
        let mut r = record(t0);
        r.last_cycle_started = last.map(|d| t0 + d);
        assert_eq!(
            liveness(&r, t0 + now).is_ok(),
            alive,
            "last {last:?} now {now:?}"
        );
    }
}

#[test]
fn readiness_needs_a_good_cycle_a_store_and_a_healthy_api() {
    let t0 = Instant::now();
    let fresh = record(t0);
    assert!(
        !readiness(&fresh).is_ok(),
        "not before the first good cycle"
    );
    let good = StatusRecord {
        ever_succeeded: true,
        ..fresh.clone()
    };
    assert!(readiness(&good).is_ok());
    let unhealthy = StatusRecord {
        api_unhealthy: true,
        ..good.clone()
    };
    assert!(!readiness(&unhealthy).is_ok());
    let no_store = StatusRecord {
        store_reachable: false,
        ..good.clone()
    };
    assert!(!readiness(&no_store).is_ok());
    // A standby never reads the API, and is ready all the same, unless its
    // store is gone.
    let standby = StatusRecord {
        standby: true,
        ..fresh.clone()
    };
    assert!(readiness(&standby).is_ok());
    let standby_without_store = StatusRecord {
        store_reachable: false,
        ..standby
    };
    assert!(!readiness(&standby_without_store).is_ok());
}

#[test]
fn a_good_cycle_makes_it_ready_and_a_bad_one_keeps_it_ready_until_unhealthy() {
    let status = ServiceStatus::new(Duration::from_secs(60), false);
    assert!(!status.readiness().is_ok());
    status.cycle_started();
    status.cycle_finished(Utc::now(), true, vec![], 1);
    assert!(status.readiness().is_ok());
    status.cycle_finished(Utc::now(), false, vec![], 1);
    assert!(
        status.readiness().is_ok(),
        "one unreadable cycle is not an outage"
    );
    status.cycle_finished(Utc::now(), false, vec!["default".into()], 1);
    assert!(!status.readiness().is_ok());
}

#[test]
fn one_unhealthy_account_of_several_keeps_it_ready_and_is_named() {
    let status = ServiceStatus::new(Duration::from_secs(60), false);
    status.cycle_started();
    status.cycle_finished(Utc::now(), true, vec!["acme".into()], 2);
    let Verdict::Ok(reason) = status.readiness() else {
        panic!("one readable account of two is ready");
    };
    assert!(reason.contains("account acme"), "{reason}");
    status.cycle_finished(Utc::now(), false, vec!["acme".into(), "globex".into()], 2);
    let Verdict::Failing(reason) = status.readiness() else {
        panic!("no readable account is not ready");
    };
    assert!(reason.contains("acme, globex"), "{reason}");
}

#[test]
fn refused_commits_fail_readiness_at_once_and_liveness_after_the_bound() {
    let status = ServiceStatus::new(Duration::from_secs(1), false);
    status.cycle_started();
    status.cycle_finished(Utc::now(), true, vec![], 1);
    for n in 1..LIVENESS_FAILED_COMMITS {
        status.cycle_started();
        assert_eq!(status.commit_failed("database or disk is full".into()), n);
        let Verdict::Failing(reason) = status.readiness() else {
            panic!("ready after {n} refused commits");
        };
        assert!(reason.contains("database or disk is full"), "{reason}");
        assert!(status.liveness().is_ok(), "dead after only {n}");
    }
    status.commit_failed("database or disk is full".into());
    let Verdict::Failing(reason) = status.liveness() else {
        panic!("alive after {LIVENESS_FAILED_COMMITS} refused commits");
    };
    assert!(reason.contains("restart"), "{reason}");
    // One commit that goes through ends it.
    status.cycle_finished(Utc::now(), true, vec![], 1);
    assert!(status.liveness().is_ok());
    assert!(status.readiness().is_ok());
}
