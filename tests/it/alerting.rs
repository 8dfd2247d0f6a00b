//! Alerts only when they matter: debounce, reminders, silences, quiet hours,
//! rate limits, and the `outbox`, `silence` and `history` commands. Time is
//! injected (`tick_at`, `drain_at`) wherever the behaviour depends on it.

use std::time::Duration;

use campaign_watcher::config::{QuietHoursSettings, RuleSettings};
use chrono::{DateTime, TimeDelta, Utc};

use crate::helpers::{all_live, outage, run_cli, BinaryApp, TestApp};

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

async fn tick_and_drain(app: &TestApp, now: DateTime<Utc>) {
    app.daemon.tick_at(now).await.expect("cycle");
    app.daemon.drain_at(now).await.expect("drain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flap_shorter_than_confirm_polls_is_silent_and_the_count_survives_a_restart() {
    let mut app = TestApp::spawn_with(3, |settings| settings.watch.confirm_polls = 3).await;
    app.all_live();
    app.cycle().await;
    let (flapping, steady, erroring) = (app.id(0), app.id(1), app.id(2));

    app.sim.control.set_status(&flapping, "paused");
    app.cycle().await;
    app.cycle().await;
    app.sim.control.set_status(&flapping, "live");
    app.cycle().await;
    app.cycle().await;
    assert!(
        app.receiver.received().is_empty(),
        "live -> paused -> live within 3 polls"
    );

    app.sim.control.set_status(&steady, "paused");
    app.sim
        .control
        .set_errors(&erroring, vec!["Row 2: bad number".into()]);
    app.cycle().await;
    app.restart().await;
    app.cycle().await;
    assert!(
        app.receiver.received().is_empty(),
        "seen twice is not yet confirmed"
    );
    app.cycle().await;
    assert_eq!(
        {
            let mut types = app.receiver.event_types();
            types.sort();
            types
        },
        ["campaign.status_changed", "campaign.upload_errors_added"],
        "confirmed on the third consecutive poll, across a restart"
    );
    app.cycle().await;
    assert_eq!(app.receiver.received().len(), 2, "announced once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_can_ask_for_more_confirmation_for_its_campaigns() {
    let app = TestApp::spawn_with(2, |settings| {
        let flaky = settings.watch.campaigns[0].clone();
        settings.rules = vec![
            RuleSettings {
                campaigns: vec![flaky],
                confirm_polls: Some(2),
                ..RuleSettings::default()
            },
            RuleSettings::default(),
        ];
    })
    .await;
    app.all_live();
    app.cycle().await;
    app.sim.control.set_status(&app.id(0), "paused");
    app.sim.control.set_status(&app.id(1), "paused");
    app.cycle().await;
    let first: Vec<String> = app
        .receiver
        .received()
        .iter()
        .map(|r| r.json()["campaign"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        first,
        [app.id(1)],
        "the other campaign is confirmed at once"
    );
    app.cycle().await;
    assert_eq!(app.receiver.received().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_repeat_while_paused_survive_a_restart_and_stop_on_resume() {
    let mut app = TestApp::spawn_with(2, |settings| {
        settings.rules = vec![RuleSettings {
            name: Some("pauses".into()),
            events: vec!["campaign.status_changed".into()],
            transitions: vec!["*->paused".into()],
            remind_every: Some(Duration::from_secs(3600)),
            ..RuleSettings::default()
        }];
    })
    .await;
    app.all_live();
    let t0 = utc("2026-03-02T08:00:00Z");
    let at = |minutes: i64| t0 + TimeDelta::minutes(minutes);
    tick_and_drain(&app, at(0)).await;
    app.sim.control.set_status(&app.id(0), "paused");
    tick_and_drain(&app, at(1)).await;
    tick_and_drain(&app, at(30)).await;
    assert_eq!(app.receiver.event_types(), ["campaign.status_changed"]);
    tick_and_drain(&app, at(61)).await;
    app.restart().await;
    tick_and_drain(&app, at(90)).await;
    tick_and_drain(&app, at(121)).await;
    app.sim.control.set_status(&app.id(0), "live");
    tick_and_drain(&app, at(150)).await;
    tick_and_drain(&app, at(300)).await;

    let received = app.receiver.received();
    let types: Vec<String> = received
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        [
            "campaign.status_changed",
            "campaign.reminder",
            "campaign.reminder",
            "campaign.status_changed"
        ],
        "one reminder per hour while paused, none after the resume or restart; \
         the resume, which no rule routes, follows the pause to its channel"
    );
    let resume = received[3].json();
    assert_eq!(resume["campaign"]["status"], "live");
    assert_eq!(
        resume["incident"]["id"],
        received[0].json()["incident"]["id"]
    );
    assert_eq!(resume["incident"]["duration_seconds"], 149 * 60);
    let first = received[1].json();
    assert_eq!(first["campaign"]["id"], app.id(0).as_str());
    let summary = first["summary"].as_str().unwrap();
    assert!(summary.contains("still paused after 1h"), "{summary}");
    assert!(received[2].json()["summary"]
        .as_str()
        .unwrap()
        .contains("(reminder 2)"));
    assert_ne!(
        received[1].header("webhook-id"),
        received[2].header("webhook-id")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_hold_events_across_a_restart_and_send_one_collapsed_digest() {
    let mut app = TestApp::spawn_with(2, |settings| {
        let hook = settings.channels.get_mut("hook").unwrap();
        hook.shared.quiet_hours = Some(
            QuietHoursSettings {
                start: "22:00".into(),
                end: "07:00".into(),
                timezone: "Europe/Berlin".into(),
                except: vec!["watcher.api_unhealthy".into()],
            }
            .into(),
        );
    })
    .await;
    app.all_live();
    // Berlin is UTC+1 in January.
    tick_and_drain(&app, utc("2026-01-15T20:00:00Z")).await;
    app.sim.control.set_status(&app.id(0), "paused");
    tick_and_drain(&app, utc("2026-01-15T22:10:00Z")).await;
    app.sim.control.set_status(&app.id(0), "live");
    tick_and_drain(&app, utc("2026-01-15T22:40:00Z")).await;
    app.sim
        .control
        .set_errors(&app.id(1), vec!["Row 7: bad number".into()]);
    tick_and_drain(&app, utc("2026-01-16T01:05:00Z")).await;
    assert!(app.receiver.received().is_empty(), "held, not sent");

    app.restart().await;
    app.daemon
        .drain_at(utc("2026-01-16T05:59:59Z"))
        .await
        .unwrap();
    assert!(
        app.receiver.received().is_empty(),
        "still quiet at 06:59:59"
    );
    let report = app
        .daemon
        .drain_at(utc("2026-01-16T06:00:00Z"))
        .await
        .unwrap();
    assert_eq!(report.sent, 3, "{report:?}");
    let received = app.receiver.received();
    assert_eq!(received.len(), 1, "one digest for the whole night");
    let digest = received[0].json();
    assert_eq!(digest["type"], "watcher.quiet_hours_digest");
    let summary = digest["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("({}): paused 23:10, resumed 23:40", app.id(0))),
        "{summary}"
    );
    assert!(summary.contains("1 new upload error 02:05"), "{summary}");
    let history = app
        .daemon
        .store()
        .history(None, utc("2026-01-01T00:00:00Z"), 100)
        .await
        .unwrap();
    assert_eq!(history.len(), 3);
    for entry in &history {
        let delivery = &entry.deliveries[0];
        assert_eq!(delivery.status, "sent");
        assert_eq!(delivery.held_until, Some(utc("2026-01-16T06:00:00Z")));
        assert_eq!(
            delivery.digest_id.as_deref(),
            Some(digest["id"].as_str().unwrap())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excepted_types_go_out_during_quiet_hours() {
    let app = TestApp::spawn_with(1, |settings| {
        settings.watch.unhealthy_after = 2;
        settings.sigmamind.max_retries = 0;
        let hook = settings.channels.get_mut("hook").unwrap();
        hook.shared.quiet_hours = Some(
            QuietHoursSettings {
                start: "22:00".into(),
                end: "07:00".into(),
                timezone: "UTC".into(),
                except: vec!["watcher.api_unhealthy".into()],
            }
            .into(),
        );
    })
    .await;
    tick_and_drain(&app, utc("2026-01-15T21:00:00Z")).await;
    app.sim.control.inject(outage());
    tick_and_drain(&app, utc("2026-01-15T23:00:00Z")).await;
    tick_and_drain(&app, utc("2026-01-15T23:01:00Z")).await;
    assert_eq!(
        app.receiver.event_types(),
        ["watcher.api_unhealthy"],
        "an outage is not held until morning"
    );
    app.sim.control.clear_faults();
    tick_and_drain(&app, utc("2026-01-15T23:02:00Z")).await;
    assert_eq!(app.receiver.received().len(), 1, "the recovery is held");
    tick_and_drain(&app, utc("2026-01-16T07:00:00Z")).await;
    let types = app.receiver.event_types();
    assert_eq!(
        types,
        ["watcher.api_unhealthy", "watcher.quiet_hours_digest"]
    );
    let digest = app.receiver.received()[1].json();
    assert!(
        digest["summary"]
            .as_str()
            .unwrap()
            .contains("watcher: API recovered 23:02"),
        "{digest}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_makes_the_excess_wait_and_drops_nothing() {
    let app = TestApp::spawn_with(5, |settings| {
        settings
            .channels
            .get_mut("hook")
            .unwrap()
            .shared
            .max_per_minute = Some(2);
    })
    .await;
    app.all_live();
    let t0 = utc("2026-03-02T08:00:00Z");
    tick_and_drain(&app, t0).await;
    for index in 0..5 {
        app.sim.control.set_status(&app.id(index), "paused");
    }
    app.daemon.tick_at(t0).await.unwrap();
    let first = app.daemon.drain_at(t0).await.unwrap();
    assert_eq!((first.sent, first.deferred), (2, 3), "{first:?}");
    app.daemon
        .drain_at(t0 + TimeDelta::seconds(30))
        .await
        .unwrap();
    assert_eq!(app.receiver.received().len(), 2, "the minute is not over");
    app.daemon
        .drain_at(t0 + TimeDelta::seconds(61))
        .await
        .unwrap();
    assert_eq!(app.receiver.received().len(), 4);
    app.daemon
        .drain_at(t0 + TimeDelta::seconds(122))
        .await
        .unwrap();
    assert_eq!(
        app.receiver.received().len(),
        5,
        "everything went out in the end"
    );
    let attempts: Vec<u32> = app
        .daemon
        .store()
        .history(None, t0 - TimeDelta::days(1), 100)
        .await
        .unwrap()
        .iter()
        .map(|entry| entry.deliveries[0].attempts)
        .collect();
    assert_eq!(
        attempts, [1; 5],
        "waiting for the limit is not a failed attempt"
    );
}

/// A silence added while a pause is out does not swallow the resume (that would
/// leave the incident open for good); a pause that was itself silenced stays
/// silent when it ends, and so does a return after a silenced disappearance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_never_swallows_the_end_of_what_was_sent() {
    let app = TestApp::spawn(3).await;
    app.all_live();
    let t0 = utc("2026-11-26T09:00:00Z");
    let minute = |n: i64| t0 + TimeDelta::minutes(n);
    tick_and_drain(&app, minute(0)).await;
    let (sent, silenced, vanished) = (app.id(0), app.id(1), app.id(2));
    app.sim.control.set_status(&sent, "paused");
    tick_and_drain(&app, minute(1)).await;

    app.daemon
        .store()
        .create_silence(
            &crate::helpers::ops(),
            "*",
            None,
            None,
            "maintenance",
            minute(2),
            minute(120),
        )
        .await
        .unwrap();
    app.sim.control.set_status(&silenced, "paused");
    let raw = app.sim.control.raw(&vanished).unwrap();
    app.sim.control.remove(&vanished);
    tick_and_drain(&app, minute(3)).await;

    app.sim.control.set_status(&sent, "live");
    app.sim.control.set_status(&silenced, "live");
    app.sim.control.insert(raw);
    let report = app.daemon.tick_at(minute(4)).await.unwrap();
    assert_eq!(report.events.len(), 3, "{:?}", report.events);
    app.daemon.drain_at(minute(4)).await.unwrap();

    let delivered: Vec<(String, String, String)> = app
        .receiver
        .received()
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["campaign"]["id"].as_str().unwrap().to_string(),
                body["campaign"]["previous_status"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                body["campaign"]["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        delivered,
        [
            (sent.clone(), "live".into(), "paused".into()),
            (sent.clone(), "paused".into(), "live".into()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_keep_events_in_history_and_let_the_next_transition_through() {
    let BinaryApp {
        sim,
        receiver,
        dir: _dir,
        config,
    } = BinaryApp::spawn(2, "").await;
    let ids = sim.control.ids();
    all_live(&sim);
    let config = config.to_str().unwrap();
    let cli = |args: &'static [&'static str]| {
        let mut full = vec!["--config", config];
        full.extend(args);
        async move { run_cli(&full, &[]).await }
    };
    assert_eq!(cli(&["once"]).await.code, Some(0));

    let add = run_cli(
        &[
            "--config",
            config,
            "silence",
            "add",
            "--campaign",
            &ids[0],
            "--for",
            "2h",
            "--reason",
            "planned maintenance",
        ],
        &[("USER", "dana")],
    )
    .await;
    assert_eq!(add.code, Some(0), "{}", add.stderr);
    // The author defaults to the OS user.
    assert!(
        add.stdout.contains("(planned maintenance; by dana)"),
        "{}",
        add.stdout
    );
    assert!(!add.stderr.contains("warning"), "{}", add.stderr);
    assert!(
        add.stdout.starts_with(&format!(
            "silence 1: every event of campaigns matching \"{}\" is kept",
            ids[0]
        )),
        "{}",
        add.stdout
    );
    let list = cli(&["silence", "list"]).await;
    assert!(
        list.stdout.contains("planned maintenance (by dana)"),
        "{}",
        list.stdout
    );
    assert!(list.stdout.contains("1 active silence"), "{}", list.stdout);

    sim.control.set_status(&ids[0], "paused");
    sim.control.set_status(&ids[1], "paused");
    assert_eq!(cli(&["once"]).await.code, Some(0));
    let sent_for: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["campaign"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        sent_for,
        [ids[1].clone()],
        "the silenced campaign's pause is not sent"
    );

    let history = cli(&["history"]).await;
    assert_eq!(history.code, Some(0), "{}", history.stderr);
    let silenced_line = history
        .stdout
        .lines()
        .find(|line| line.contains(&ids[0]))
        .unwrap_or_default();
    assert!(
        silenced_line.contains("silenced by 1 (planned maintenance): not sent"),
        "{}",
        history.stdout
    );
    let json = cli(&["history", "--json"]).await;
    let entries: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 2);
    let only_one = run_cli(
        &[
            "--config",
            config,
            "history",
            "--campaign",
            &ids[1],
            "--json",
        ],
        &[],
    )
    .await;
    let entries: serde_json::Value = serde_json::from_str(&only_one.stdout).unwrap();
    assert_eq!(entries[0]["deliveries"][0]["status"], "sent");
    assert_eq!(entries.as_array().unwrap().len(), 1);
    // By name and by a glob over names, as `silence add` takes them.
    let only_one_id = ids[1].as_str();
    let name = entries[0]["event"]["campaign"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let glob = format!("*{}", &name[name.len() - 2..]);
    for pattern in [name.as_str(), glob.as_str()] {
        let found = run_cli(
            &[
                "--config",
                config,
                "history",
                "--campaign",
                pattern,
                "--json",
            ],
            &[],
        )
        .await;
        let entries: serde_json::Value = serde_json::from_str(&found.stdout).unwrap();
        let ids: Vec<&str> = entries
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["event"]["campaign"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [only_one_id], "history --campaign {pattern:?}");
    }

    let expire = cli(&["silence", "expire", "1"]).await;
    assert_eq!(expire.code, Some(0), "{}", expire.stderr);
    assert!(
        expire.stdout.contains("silence 1 ended now"),
        "{}",
        expire.stdout
    );
    let again = cli(&["silence", "expire", "1"]).await;
    assert!(
        again.stdout.contains("had already ended"),
        "{}",
        again.stdout
    );
    assert_eq!(cli(&["once"]).await.code, Some(0));
    assert_eq!(
        receiver.received().len(),
        1,
        "nothing is sent retroactively"
    );
    sim.control.set_status(&ids[0], "live");
    assert_eq!(cli(&["once"]).await.code, Some(0));
    let last = receiver.received().last().unwrap().json();
    assert_eq!(last["campaign"]["id"], ids[0].as_str());
    assert_eq!(last["campaign"]["previous_status"], "paused");

    // The audit log: made by the OS user, ended by --author, in `history`.
    let ended_by = run_cli(
        &[
            "--config",
            config,
            "silence",
            "add",
            "--campaign",
            &ids[1],
            "--for",
            "1h",
            "--reason",
            "brief",
        ],
        &[("USER", "dana")],
    )
    .await;
    assert_eq!(ended_by.code, Some(0), "{}", ended_by.stderr);
    let expire_as = run_cli(
        &[
            "--config", config, "silence", "expire", "2", "--author", "erin",
        ],
        &[],
    )
    .await;
    assert_eq!(expire_as.code, Some(0), "{}", expire_as.stderr);
    let history = run_cli(&["--config", config, "history"], &[("USER", "dana")]).await;
    assert!(
        history.stdout.contains("audit silence.create")
            && history.stdout.contains("by dana (cli): silence 1 made"),
        "{}",
        history.stdout
    );
    assert!(
        history.stdout.contains("4 recorded actions"),
        "{}",
        history.stdout
    );
    let audit = cli(&["history", "--audit", "--json"]).await;
    let records: serde_json::Value = serde_json::from_str(&audit.stdout).unwrap();
    let who: Vec<(&str, &str)> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["action"].as_str().unwrap(), r["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(who[0], ("silence.end", "erin"), "{records}");
    assert_eq!(who[1], ("silence.create", "dana"), "{records}");
    assert_eq!(who.len(), 4, "{records}");
    assert_eq!(records[0]["campaign"], ids[1].as_str());
    let one = run_cli(
        &[
            "--config",
            config,
            "history",
            "--audit",
            "--campaign",
            &ids[1],
        ],
        &[],
    )
    .await;
    assert!(one.stdout.contains("2 recorded actions"), "{}", one.stdout);

    let typo = cli(&[
        "silence",
        "add",
        "--campaign",
        "camp_no_such_campaign",
        "--for",
        "1h",
        "--reason",
        "typo",
    ])
    .await;
    assert_eq!(typo.code, Some(0), "{}", typo.stderr);
    assert!(
        typo.stderr
            .contains("warning: no watched campaign matches \"camp_no_such_campaign\""),
        "{}",
        typo.stderr
    );
    let unknown = cli(&["silence", "expire", "99"]).await;
    assert_eq!(unknown.code, Some(2));
    assert!(
        unknown.stderr.contains("no silence 99"),
        "{}",
        unknown.stderr
    );
    let bad_type = cli(&[
        "silence",
        "add",
        "--campaign",
        "*",
        "--event",
        "campaign.nope",
        "--for",
        "1h",
        "--reason",
        "x",
    ])
    .await;
    assert_eq!(bad_type.code, Some(2));
    assert!(
        bad_type.stderr.contains("campaign.nope"),
        "{}",
        bad_type.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_commands_list_replay_and_purge() {
    let BinaryApp {
        sim,
        receiver,
        dir: _dir,
        config,
    } = BinaryApp::spawn(1, "").await;
    let ids = sim.control.ids();
    sim.control.set_status(&ids[0], "live");
    sim.control.set_errors(&ids[0], vec![]);
    let config = config.to_str().unwrap();
    let cli = |args: &'static [&'static str]| {
        let mut full = vec!["--config", config];
        full.extend(args);
        async move { run_cli(&full, &[]).await }
    };
    assert_eq!(cli(&["once"]).await.code, Some(0));

    receiver.answer_with(&[410]);
    sim.control.set_status(&ids[0], "paused");
    cli(&["once"]).await;
    let dead = cli(&["outbox", "list", "--dead"]).await;
    assert_eq!(dead.code, Some(0), "{}", dead.stderr);
    assert!(
        dead.stdout.contains("campaign.status_changed"),
        "{}",
        dead.stdout
    );
    assert!(dead.stdout.contains("last error"), "{}", dead.stdout);
    assert!(dead.stdout.ends_with("1 dead row\n"), "{}", dead.stdout);
    let rows: serde_json::Value =
        serde_json::from_str(&cli(&["outbox", "list", "--dead", "--json"]).await.stdout).unwrap();
    let row_id = rows[0]["id"].as_i64().unwrap().to_string();

    let replay = run_cli(
        &["--config", config, "outbox", "replay", &row_id],
        &[("USER", "oscar")],
    )
    .await;
    assert_eq!(replay.code, Some(0), "{}", replay.stderr);
    assert!(
        replay
            .stdout
            .contains("is pending again: a running daemon sends it within 30s"),
        "{}",
        replay.stdout
    );
    let audit = run_cli(
        &["--config", config, "history", "--audit"],
        &[("USER", "oscar")],
    )
    .await;
    assert!(
        audit.stdout.contains("audit outbox.replay")
            && audit
                .stdout
                .contains(&format!("by oscar (cli): outbox row {row_id} (event ")),
        "{}",
        audit.stdout
    );
    assert!(cli(&["outbox", "list"])
        .await
        .stdout
        .ends_with("1 pending row\n"));
    assert_eq!(cli(&["once"]).await.code, Some(0));
    assert_eq!(
        receiver.received().len(),
        2,
        "the 410 attempt and the replay"
    );
    assert_eq!(
        receiver.received()[0].header("webhook-id"),
        receiver.received()[1].header("webhook-id"),
        "a replay keeps the event id"
    );

    let again = run_cli(&["--config", config, "outbox", "replay", &row_id], &[]).await;
    assert_eq!(again.code, Some(2));
    assert!(
        again.stderr.contains("is sent, not dead"),
        "{}",
        again.stderr
    );
    let none = cli(&["outbox", "replay", "--dead"]).await;
    assert!(
        none.stdout.contains("0 dead rows pending again"),
        "{}",
        none.stdout
    );
    let keep = cli(&["outbox", "purge", "--older-than", "7d"]).await;
    assert!(
        keep.stdout.starts_with("purged 0 sent and 0 dead"),
        "{}",
        keep.stdout
    );
    let purge = cli(&["outbox", "purge", "--older-than", "0s"]).await;
    assert!(
        purge.stdout.starts_with("purged 1 sent and 0 dead"),
        "{}",
        purge.stdout
    );
    let history = cli(&["history"]).await;
    assert!(
        history.stdout.contains("1 event since"),
        "history is kept: {}",
        history.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_and_debounce_also_work_for_listed_campaigns_that_stay_unchanged() {
    // With watch.all, a listed campaign equal to its stored state is kept as its
    // key only; it must still count for reminders and debounce.
    let app = TestApp::spawn_with(3, |settings| {
        settings.watch.campaigns.clear();
        settings.watch.all = true;
        settings.watch.confirm_polls = 2;
        settings.rules = vec![RuleSettings {
            name: Some("pauses".into()),
            events: vec!["campaign.status_changed".into()],
            transitions: vec!["*->paused".into()],
            remind_every: Some(Duration::from_secs(3600)),
            ..RuleSettings::default()
        }];
    })
    .await;
    app.all_live();
    let t0 = utc("2026-03-02T08:00:00Z");
    let at = |minutes: i64| t0 + TimeDelta::minutes(minutes);
    tick_and_drain(&app, at(0)).await;
    app.sim.control.set_status(&app.id(0), "paused");
    tick_and_drain(&app, at(1)).await;
    assert!(
        app.receiver.received().is_empty(),
        "one poll is not confirmation"
    );
    tick_and_drain(&app, at(2)).await;
    for minute in [30, 62, 90] {
        tick_and_drain(&app, at(minute)).await;
    }
    assert_eq!(
        app.receiver.event_types(),
        ["campaign.status_changed", "campaign.reminder"],
        "confirmed on the second poll, reminded once after an hour unchanged"
    );
}
