//! `routes test` and `replay` through the real binary: exit codes, a
//! configuration alone and one with a state store, and a seeded history
//! replayed under two configurations, against hand-counted expectations.

use std::path::{Path, PathBuf};

use campaign_watcher::commit::{CycleCommit, RoutedEvent, Store};
use campaign_watcher::diff::diff_campaign;
use campaign_watcher::event::{event_id, CampaignInfo, Event, EventType, UploadErrors};
use campaign_watcher::observe::{CampaignStatus, Observation, Snapshot};
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};

use crate::helpers::{run_cli, Finished};

/// A configuration with `body` (channels, rules) and a state file in `dir`.
fn config(dir: &Path, file: &str, body: &str) -> PathBuf {
    let text = format!(
        r#"[sigmamind]
base_url = "http://127.0.0.1:9"
api_key = "sk_test_unused"

[watch]
campaigns = ["camp_1"]

[state]
url = "sqlite://{state}"

{body}
"#,
        state = dir.join("state.db").display()
    );
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// pager: pauses, at most 2 a minute. mail: errors of EU campaigns, quiet 22:00-07:00 UTC.
const ROUTES: &str = r#"
[channels.pager]
kind = "webhook"
url = "http://127.0.0.1:9/pager"
max_per_minute = 2

[channels.mail]
kind = "webhook"
url = "http://127.0.0.1:9/mail"
quiet_hours = { start = "22:00", end = "07:00", timezone = "UTC" }

[[rules]]
name = "pauses"
events = ["campaign.status_changed"]
transitions = ["live->paused", "paused->live"]
channels = ["pager"]

[[rules]]
name = "eu-errors"
events = ["campaign.upload_errors_added"]
campaigns = ["camp_eu_*"]
channels = ["mail"]
"#;

async fn routes_test(config: &Path, args: &[&str]) -> Finished {
    let mut all = vec!["--config", config.to_str().unwrap(), "routes", "test"];
    all.extend_from_slice(args);
    run_cli(&all, &[]).await
}

#[tokio::test]
async fn routes_test_from_the_configuration_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "campaign-watcher.toml", ROUTES);
    let pause = ["--campaign", "camp_1", "--from", "live", "--to", "paused"];
    let errors = [
        "--event",
        "campaign.upload_errors_added",
        "--campaign",
        "camp_eu_7",
    ];
    let with = |base: &[&'static str], more: &[&'static str]| -> Vec<&'static str> {
        base.iter().chain(more).copied().collect()
    };
    // (arguments, exit code, what the output says)
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (with(&pause, &[]), 0, "rule \"pauses\" matches -> pager"),
        (with(&pause, &[]), 0, "pager: sent at once"),
        (
            vec!["--campaign", "camp_1", "--from", "paused", "--to", "live"],
            0,
            "it ends a condition: plus every channel that got its start",
        ),
        (
            with(&pause, &["--expect", "pager"]),
            0,
            "1 channel would get it: pager",
        ),
        (
            with(&pause, &["--expect", "pager,mail"]),
            3,
            "expected mail, pager, but pager would get it",
        ),
        (
            vec![
                "--campaign",
                "camp_1",
                "--from",
                "scheduled",
                "--to",
                "live",
            ],
            3,
            "no rule matches (2 rules configured)",
        ),
        (
            vec![
                "--campaign",
                "camp_1",
                "--from",
                "scheduled",
                "--to",
                "live",
                "--expect",
                "none",
            ],
            0,
            "no channel would get it",
        ),
        (
            with(&errors, &["--at", "2026-11-26T12:00:00Z"]),
            0,
            "mail: sent at once",
        ),
        (
            with(&errors, &["--at", "2026-11-26 23:10"]),
            0,
            "mail: held by quiet hours (22:00-07:00 UTC) until 2026-11-27 07:00:00Z",
        ),
        (
            with(&errors, &["--at", "2026-11-27T00:10:00+01:00"]),
            0,
            "until 2026-11-27 07:00:00Z",
        ),
        (
            vec![
                "--event",
                "campaign.upload_errors_added",
                "--campaign",
                "camp_us_1",
            ],
            3,
            "no channel would get it (exit 3)",
        ),
        (
            vec!["--event", "watcher.api_unhealthy"],
            3,
            "no rule matches",
        ),
        // Usage errors keep exit 2.
        (
            vec!["--event", "campaign.paused", "--campaign", "x"],
            2,
            "is not an event type",
        ),
        (
            with(&pause, &["--at", "tomorrow"]),
            2,
            "--at \"tomorrow\" is not a time",
        ),
        (
            with(&pause, &["--account", "emea"]),
            2,
            "--account \"emea\" is not an account of",
        ),
        (
            with(&pause, &["--expect", "pagr"]),
            2,
            "did you mean \"pager\"",
        ),
        (
            vec!["--from", "live", "--to", "paused"],
            2,
            "--campaign is needed",
        ),
        (vec!["--campaign", "camp_1"], 2, "needs --to"),
        // An unknown start matches only `*->` patterns.
        (
            vec!["--campaign", "camp_1", "--to", "paused"],
            3,
            "unknown -> paused",
        ),
        (
            vec!["--event", "campaign.reminder", "--campaign", "x"],
            2,
            "remind_every",
        ),
    ];
    for (args, code, says) in cases {
        let finished = routes_test(&config, &args).await;
        assert_eq!(
            finished.code,
            Some(code),
            "{args:?}: {}",
            finished.all_output()
        );
        assert!(
            finished.all_output().contains(says),
            "{args:?} should say {says:?}: {}",
            finished.all_output()
        );
        assert!(finished.all_output().contains("the configuration alone") || code == 2);
    }
    assert!(
        !dir.path().join("state.db").exists(),
        "a test from the configuration creates no state file"
    );
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn event(kind: EventType, campaign: &str, transition: &str, when: DateTime<Utc>) -> Event {
    let (from, to) = transition.split_once("->").unwrap_or(("live", "live"));
    Event {
        version: "1".into(),
        id: event_id(&[kind.as_str(), campaign, transition, &when.to_rfc3339()]),
        kind,
        occurred_at: when,
        campaign: Some(CampaignInfo {
            id: campaign.into(),
            name: format!("Campaign {campaign}"),
            status: CampaignStatus::parse(to),
            previous_status: Some(CampaignStatus::parse(from)),
            agent: None,
            caller_number: None,
        }),
        upload_errors: UploadErrors::default(),
        account: campaign_watcher::event::default_account(),
        changes: vec![],
        hints: vec![],
        summary: format!("Campaign {campaign} ({campaign}): {transition}"),
        incident: None,
        links: None,
    }
}

/// Commit `event` at its own time to `channels` (or silenced), as a cycle would.
async fn commit(store: &Store, event: Event, channels: &[&str], silence: Option<i64>) {
    let now = event.occurred_at;
    store
        .commit_cycle(&CycleCommit {
            now,
            states: vec![],
            health: None,
            events: vec![RoutedEvent {
                event,
                channels: channels.iter().map(|c| c.to_string()).collect(),
                silence,
                followers: vec![],
                incident: None,
            }],
            reminders: vec![],
        })
        .await
        .unwrap();
}

/// Mark every due row sent at `when`.
async fn send_due(store: &Store, when: DateTime<Utc>) {
    for row in store.due_deliveries(when, 100).await.unwrap() {
        store.mark_sent(row.id, when).await.unwrap();
    }
}

#[tokio::test]
async fn routes_test_uses_stored_silences_and_recent_sends() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "campaign-watcher.toml", ROUTES);
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("state.db").display()
    ))
    .await
    .unwrap();
    let silence = store
        .create_silence(
            &crate::helpers::ops(),
            "camp_eu_*",
            None,
            None,
            "EU dialler maintenance",
            at("2026-11-26T09:00:00Z"),
            at("2026-11-26T11:00:00Z"),
        )
        .await
        .unwrap();
    // Two pages in the minute before 12:00:00.
    for (campaign, when) in [
        ("camp_2", "2026-11-26T11:59:20Z"),
        ("camp_3", "2026-11-26T11:59:40Z"),
    ] {
        commit(
            &store,
            event(EventType::StatusChanged, campaign, "live->paused", at(when)),
            &["pager"],
            None,
        )
        .await;
        send_due(&store, at(when)).await;
    }
    // A campaign the watcher knows, paused, named "Renewals EU".
    let snapshot = Snapshot {
        id: "camp_eu_9".into(),
        name: "Renewals EU".into(),
        status: CampaignStatus::Paused,
        upload_errors: Default::default(),
        agent: None,
        caller_number: None,
        caller_active: None,
        concurrent_calls: None,
        scheduled_date: None,
    };
    let now = at("2026-11-26T08:00:00Z");
    let baseline = diff_campaign("camp_eu_9", None, &Observation::Found(snapshot), now);
    store
        .commit_cycle(&CycleCommit {
            now,
            states: vec![("camp_eu_9".into(), baseline.state.unwrap())],
            health: None,
            events: vec![],
            reminders: vec![],
        })
        .await
        .unwrap();
    drop(store);

    let eu_pause = [
        "--campaign",
        "camp_eu_1",
        "--from",
        "live",
        "--to",
        "paused",
    ];
    let with = |more: &[&'static str]| -> Vec<&'static str> {
        eu_pause.iter().chain(more).copied().collect()
    };
    let silenced = format!("silenced by silence {} (EU dialler maintenance", silence.id);
    let cases: Vec<(Vec<&str>, i32, String)> = vec![
        (with(&["--at", "2026-11-26T10:00:00Z"]), 3, silenced.clone()),
        (
            with(&["--at", "2026-11-26T10:00:00Z"]),
            3,
            "kept in history, sent nowhere".into(),
        ),
        // The silence ended at 11:00; the two sends left the window by 13:00.
        (
            with(&["--at", "2026-11-26T11:00:00Z"]),
            0,
            "pager: sent at once".into(),
        ),
        (
            with(&["--at", "2026-11-26T10:00:00Z", "--no-store"]),
            0,
            "the configuration alone (--no-store)".into(),
        ),
        (
            vec![
                "--campaign",
                "camp_1",
                "--from",
                "live",
                "--to",
                "paused",
                "--at",
                "2026-11-26T12:00:00Z",
            ],
            0,
            "pager: delayed by the rate limit (2 per minute, reached) until 2026-11-26 12:00:20Z"
                .into(),
        ),
        (
            vec![
                "--campaign",
                "camp_1",
                "--from",
                "live",
                "--to",
                "paused",
                "--at",
                "2026-11-26T12:00:41Z",
            ],
            0,
            "pager: sent at once".into(),
        ),
    ];
    for (args, code, says) in cases {
        let finished = routes_test(&config, &args).await;
        assert_eq!(
            finished.code,
            Some(code),
            "{args:?}: {}",
            finished.all_output()
        );
        assert!(
            finished.all_output().contains(&says),
            "{args:?} should say {says:?}: {}",
            finished.all_output()
        );
    }
}

/// Then: every event to `hook`. The candidate: pauses to `pager` (2 a minute),
/// upload errors to `hook` with quiet hours 22:00-07:00 UTC, resumes nowhere.
const THEN: &str = r#"
[channels.hook]
kind = "webhook"
url = "http://127.0.0.1:9/hook"
"#;

const CANDIDATE: &str = r#"
[channels.hook]
kind = "webhook"
url = "http://127.0.0.1:9/hook"
quiet_hours = { start = "22:00", end = "07:00", timezone = "UTC" }

[channels.pager]
kind = "webhook"
url = "http://127.0.0.1:9/pager"
max_per_minute = 2

[[rules]]
name = "pauses"
events = ["campaign.status_changed"]
transitions = ["live->paused"]
channels = ["pager"]

[[rules]]
name = "errors"
events = ["campaign.upload_errors_added"]
channels = ["hook"]
"#;

#[tokio::test]
async fn replay_of_a_seeded_history_under_two_configurations() {
    let dir = tempfile::tempdir().unwrap();
    let current = config(dir.path(), "campaign-watcher.toml", THEN);
    let candidate = config(dir.path(), "candidate.toml", CANDIDATE);
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("state.db").display()
    ))
    .await
    .unwrap();
    // Two days ago, so that the whole day lies inside --since 3d.
    let day = (Utc::now() - Duration::days(2)).date_naive();
    let time = |h: u32, m: u32, s: u32| {
        Utc.from_utc_datetime(&day.and_time(NaiveTime::from_hms_opt(h, m, s).unwrap()))
    };
    let silence = store
        .create_silence(
            &crate::helpers::ops(),
            "camp_eu_1",
            None,
            None,
            "EU tests",
            time(12, 30, 0),
            time(14, 0, 0),
        )
        .await
        .unwrap();
    use EventType::*;
    let history = [
        (
            event(StatusChanged, "camp_1", "live->paused", time(12, 0, 0)),
            false,
        ),
        (
            event(StatusChanged, "camp_2", "live->paused", time(12, 0, 10)),
            false,
        ),
        (
            event(StatusChanged, "camp_3", "live->paused", time(12, 0, 20)),
            false,
        ),
        (
            event(StatusChanged, "camp_eu_1", "live->paused", time(13, 0, 0)),
            true,
        ),
        (
            event(UploadErrorsAdded, "camp_1", "", time(23, 0, 0)),
            false,
        ),
        (
            event(StatusChanged, "camp_2", "paused->live", time(23, 30, 0)),
            false,
        ),
    ];
    let mut ids = Vec::new();
    for (event, silenced) in history {
        ids.push(event.id.clone());
        let when = event.occurred_at;
        match silenced {
            true => commit(&store, event, &[], Some(silence.id)).await,
            false => commit(&store, event, &["hook"], None).await,
        }
        send_due(&store, when).await;
    }
    drop(store);

    let replay = |config: PathBuf, json: bool| async move {
        let mut args = vec![
            "--config".to_string(),
            config.display().to_string(),
            "replay".into(),
            "--since".into(),
            "3d".into(),
        ];
        if json {
            args.push("--json".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli(&args, &[]).await
    };

    // The current configuration reproduces what happened: nothing differs.
    let same = replay(current.clone(), false).await;
    assert_eq!(same.code, Some(0), "{}", same.all_output());
    assert!(
        same.stdout.contains("replay of 6 events"),
        "{}",
        same.stdout
    );
    assert!(
        same.stdout.contains("no event's routing differs"),
        "{}",
        same.stdout
    );
    assert!(
        same.stdout.contains("confirm_polls"),
        "says what it cannot show: {}",
        same.stdout
    );
    let line = same
        .stdout
        .lines()
        .find(|l| l.starts_with("hook "))
        .unwrap();
    let numbers: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(numbers[1..], ["5", "5", "5", "5", "0", "0"], "{line}");

    let changed = replay(candidate.clone(), true).await;
    assert_eq!(changed.code, Some(0), "{}", changed.all_output());
    let report: serde_json::Value = serde_json::from_str(&changed.stdout).unwrap();
    assert_eq!(report["events"], 6);
    let hook = &report["channels"]["hook"];
    assert_eq!(hook["then"]["events"], 5);
    assert_eq!(hook["then"]["messages"], 5);
    // Only the 23:00 upload errors, held until 07:00 and sent as one digest.
    assert_eq!(hook["candidate"]["events"], 1);
    assert_eq!(hook["candidate"]["messages"], 1);
    assert_eq!(hook["candidate"]["held"], 1);
    assert_eq!(hook["candidate"]["digests"], 1);
    let pager = &report["channels"]["pager"];
    assert_eq!(pager["then"]["events"], 0);
    // The three pauses of 12:00; the third waits 40 s for the budget of 2 a
    // minute; camp_2's resume follows its pause there at 23:30.
    assert_eq!(pager["candidate"]["events"], 4);
    assert_eq!(pager["candidate"]["messages"], 4);
    assert_eq!(pager["candidate"]["delayed"], 1);
    assert_eq!(pager["candidate"]["longest_delay_seconds"], 40);
    // The three pauses move from hook to pager, the resume follows its pause
    // there; the silenced pause stays silenced, the upload errors stay on hook.
    let differing: Vec<&str> = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(differing, [&ids[0], &ids[1], &ids[2], &ids[5]]);
    let resume = &report["differences"][3];
    assert_eq!(resume["now_silent"], serde_json::json!(["hook"]));
    assert_eq!(resume["now_pages"], serde_json::json!(["pager"]));
    assert_eq!(
        resume["why"],
        "no rule matches; plus every channel that got its start: pager"
    );
    assert_eq!(
        report["differences"][0]["now_pages"],
        serde_json::json!(["pager"])
    );

    let text = replay(candidate, false).await;
    assert!(
        text.stdout.contains("4 events whose routing differs"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("would now be silent on hook"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("would now go to pager"),
        "{}",
        text.stdout
    );
}

#[tokio::test]
async fn replay_without_a_store_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "campaign-watcher.toml", THEN);
    let finished = run_cli(&["--config", config.to_str().unwrap(), "replay"], &[]).await;
    assert_eq!(finished.code, Some(2), "{}", finished.all_output());
    assert!(
        finished.stderr.contains("no history to replay"),
        "{}",
        finished.stderr
    );
    assert!(!dir.path().join("state.db").exists());
}

#[tokio::test]
async fn replay_counts_one_cycle_of_email_as_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let mail = r#"
[channels.mail]
kind = "email"
smtp_url = "smtp://127.0.0.1:2525"
from = "watcher@example.com"
to = ["ops@example.com"]
"#;
    let config = config(dir.path(), "campaign-watcher.toml", mail);
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("state.db").display()
    ))
    .await
    .unwrap();
    let cycle = Utc::now() - Duration::hours(3);
    let cycle = cycle - Duration::nanoseconds(cycle.timestamp_subsec_nanos().into());
    for campaign in ["camp_1", "camp_2", "camp_3"] {
        commit(
            &store,
            event(EventType::StatusChanged, campaign, "live->paused", cycle),
            &["mail"],
            None,
        )
        .await;
    }
    send_due(&store, cycle).await;
    drop(store);
    let finished = run_cli(
        &[
            "--config",
            config.to_str().unwrap(),
            "replay",
            "--since",
            "1d",
            "--json",
        ],
        &[],
    )
    .await;
    assert_eq!(finished.code, Some(0), "{}", finished.all_output());
    let report: serde_json::Value = serde_json::from_str(&finished.stdout).unwrap();
    let mail = &report["channels"]["mail"];
    assert_eq!(mail["then"]["events"], 3);
    assert_eq!(
        mail["then"]["messages"], 1,
        "one cycle's three rows were one email"
    );
    assert_eq!(mail["candidate"]["events"], 3);
    assert_eq!(mail["candidate"]["messages"], 1);
    assert_eq!(report["differences"], serde_json::json!([]));
}
