//! The real binary: exit codes, one-sentence errors, secrets, signals, restarts, demo.

use std::time::Duration;

use campaign_watcher::sim::{Fault, FaultKind};

use crate::helpers::{
    eventually, run_cli, spawn_daemon, spawn_sim, write_config, BinaryApp, Receiver, TEST_KEY,
};

fn assert_one_clear_failure(finished: &crate::helpers::Finished, code: i32, mentions: &str) {
    assert_eq!(finished.code, Some(code), "stderr: {}", finished.stderr);
    // Logs (RUST_LOG=trace here) may interleave; the error itself is one line of its own.
    let errors: Vec<&str> = finished
        .stderr
        .lines()
        .filter(|line| line.starts_with("campaign-watcher: "))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "exactly one error sentence: {}",
        finished.stderr
    );
    assert!(
        errors[0].contains(mentions),
        "the error names {mentions:?}: {}",
        errors[0]
    );
    assert!(
        !finished.stderr.contains("panicked"),
        "no panic: {}",
        finished.stderr
    );
    assert!(
        !finished.stderr.contains("RUST_BACKTRACE"),
        "no backtrace hint: {}",
        finished.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_config_passes_check_config() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config/campaign-watcher.toml");
    let finished = run_cli(
        &["--config", example, "check-config"],
        &[("SIGMAMIND_API_KEY", TEST_KEY)],
    )
    .await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert!(finished.stdout.contains("[sigmamind]"));
    assert!(
        !finished.all_output().contains(TEST_KEY),
        "the key is redacted"
    );
    // Durations as the file spells them (`24h`, `60s`), not humantime's `1day`.
    assert!(
        finished.stdout.contains("max_age = \"24h\""),
        "{}",
        finished.stdout
    );
    assert!(
        finished.stdout.contains("interval = \"60s\""),
        "{}",
        finished.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configs_exit_2_with_a_sentence_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[watch\ninterval = 5").unwrap();
    let finished = run_cli(&["--config", broken.to_str().unwrap(), "check-config"], &[]).await;
    assert_eq!(finished.code, Some(2));
    assert!(
        finished.stderr.contains("broken.toml"),
        "{}",
        finished.stderr
    );

    let unknown = dir.path().join("unknown.toml");
    std::fs::write(
        &unknown,
        "[watch]\nintervall = \"5s\"\ncampaigns = [\"a\"]\n[sigmamind]\napi_key = \"k\"\n",
    )
    .unwrap();
    let finished = run_cli(
        &["--config", unknown.to_str().unwrap(), "check-config"],
        &[],
    )
    .await;
    assert_eq!(finished.code, Some(2));
    assert!(
        finished.stderr.contains("watch.intervall"),
        "{}",
        finished.stderr
    );

    let missing_key = dir.path().join("missing-key.toml");
    std::fs::write(
        &missing_key,
        "[sigmamind]\napi_key_file = \"/nonexistent/credentials/api_key\"\n[watch]\ncampaigns = [\"a\"]\n",
    )
    .unwrap();
    let finished = run_cli(&["--config", missing_key.to_str().unwrap(), "once"], &[]).await;
    assert_eq!(finished.code, Some(2), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("/nonexistent/credentials/api_key"),
        "{}",
        finished.stderr
    );
    assert!(!finished.stderr.contains("panicked"));

    let absent = dir.path().join("absent.toml");
    let finished = run_cli(&["--config", absent.to_str().unwrap(), "run"], &[]).await;
    assert_one_clear_failure(&finished, 2, "absent.toml");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_state_file_exits_2_and_is_left_alone() {
    let BinaryApp {
        sim: _sim,
        receiver: _receiver,
        dir,
        config,
    } = BinaryApp::spawn(2, "").await;
    let garbage = b"this is not a database, it is a shopping list\n".repeat(100);
    std::fs::write(dir.path().join("state.db"), &garbage).unwrap();
    let finished = run_cli(&["--config", config.to_str().unwrap(), "once"], &[]).await;
    assert_one_clear_failure(&finished, 2, "state.db");
    assert_eq!(
        std::fs::read(dir.path().join("state.db")).unwrap(),
        garbage,
        "never altered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_file_from_a_newer_version_is_refused_unaltered() {
    let BinaryApp {
        sim: _sim,
        receiver: _receiver,
        dir,
        config,
    } = BinaryApp::spawn(2, "").await;
    let url = format!("sqlite://{}", dir.path().join("state.db").display());
    campaign_watcher::commit::Store::open(&url).await.unwrap();
    crate::helpers::pretend_newer_schema(&dir.path().join("state.db")).await;
    // The store opened above closes its pool in the background; the last
    // connection to close checkpoints the WAL into the file and removes it.
    // Only then is the file as the next process will find it.
    let wal = dir.path().join("state.db-wal");
    for _ in 0..200 {
        if !wal.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!wal.exists(), "the test's own connections never closed");
    let before = std::fs::read(dir.path().join("state.db")).unwrap();
    let finished = run_cli(&["--config", config.to_str().unwrap(), "once"], &[]).await;
    assert_one_clear_failure(&finished, 2, "newer");
    assert_eq!(std::fs::read(dir.path().join("state.db")).unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_exits_1_with_a_clear_sentence_when_the_api_answers_garbage() {
    let sim = spawn_sim(3).await;
    sim.control.inject(Fault {
        kind: FaultKind::NotJson,
        times: None,
        campaign: None,
    });
    let receiver = Receiver::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &sim.base_url(),
        &sim.control.ids(),
        &receiver.url(),
        "",
    );
    let finished = run_cli(&["--config", config.to_str().unwrap(), "once"], &[]).await;
    assert_one_clear_failure(&finished, 1, "could not be read");
    assert!(
        finished.stderr.to_lowercase().contains("json"),
        "the log says why: {}",
        finished.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_never_appears_in_any_output() {
    // The heartbeat URL is a secret too.
    let pings = Receiver::spawn().await;
    let heartbeat = format!(
        "[heartbeat]\nurl = \"{}\"\n",
        pings.url_for("/ping/HBSECRET42")
    );
    let BinaryApp {
        sim,
        receiver,
        dir: _dir,
        config,
    } = BinaryApp::spawn(3, &heartbeat).await;
    let ids = sim.control.ids();
    let path = config.to_str().unwrap();
    let mut outputs = vec![];
    outputs.push(run_cli(&["--config", path, "check-config"], &[]).await);
    outputs.push(run_cli(&["--config", path, "once"], &[]).await);
    sim.control.set_status(&ids[0], "completed");
    sim.control.set_status(&ids[0], "paused");
    outputs.push(run_cli(&["--config", path, "once"], &[]).await);
    outputs.push(run_cli(&["--config", path, "status"], &[]).await);
    outputs.push(run_cli(&["--config", path, "status", "--json"], &[]).await);
    // The API rejects the key: the error path must not print it either.
    sim.control.inject(Fault {
        kind: FaultKind::Status {
            status: 401,
            retry_after: None,
        },
        times: None,
        campaign: None,
    });
    outputs.push(run_cli(&["--config", path, "once"], &[]).await);
    assert_eq!(outputs.last().unwrap().code, Some(1));
    for finished in &outputs {
        assert!(
            !finished.all_output().contains(TEST_KEY),
            "key leaked:\n{}",
            finished.all_output()
        );
        assert!(
            !finished.all_output().contains("RECOGNISABLE"),
            "part of the key leaked"
        );
        assert!(
            !finished.all_output().contains("HBSECRET42"),
            "the heartbeat URL leaked:\n{}",
            finished.all_output()
        );
    }
    assert!(
        !pings.received_at("/ping/HBSECRET42").is_empty(),
        "the heartbeat was configured and used"
    );
    for request in receiver.received() {
        assert!(!request.body.contains(TEST_KEY));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_across_restarts_announces_each_change_exactly_once() {
    let BinaryApp {
        sim,
        receiver,
        dir: _dir,
        config,
    } = BinaryApp::spawn(4, "").await;
    let ids = sim.control.ids();
    for id in &ids {
        sim.control.set_status(id, "live");
    }
    let path = config.to_str().unwrap();
    let first = run_cli(&["--config", path, "once"], &[]).await;
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert!(
        first
            .stderr
            .contains("recorded 4 campaigns as the baseline; nothing is announced on first sight"),
        "the first cycle says why it is silent: {}",
        first.stderr
    );
    assert!(receiver.received().is_empty(), "baseline is silent");
    let second = run_cli(&["--config", path, "once"], &[]).await;
    assert_eq!(second.code, Some(0));
    assert!(
        !second.stderr.contains("as the baseline"),
        "{}",
        second.stderr
    );
    assert!(
        receiver.received().is_empty(),
        "a restart re-announces nothing"
    );

    sim.control.set_status(&ids[1], "paused");
    sim.control
        .set_errors(&ids[2], vec!["Row 4: invalid number".into()]);
    let finished = run_cli(&["--config", path, "once"], &[]).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert_eq!(
        run_cli(&["--config", path, "once"], &[]).await.code,
        Some(0)
    );
    let mut types = receiver.event_types();
    types.sort();
    assert_eq!(
        types,
        ["campaign.status_changed", "campaign.upload_errors_added"]
    );

    let status = run_cli(&["--config", path, "status"], &[]).await;
    assert_eq!(status.code, Some(0));
    assert!(
        status.stdout.contains(&ids[1]) && status.stdout.contains("paused"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("0 pending, 0 dead, 2 sent"),
        "{}",
        status.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_alerts_and_stops_cleanly_on_sigterm() {
    let BinaryApp {
        sim,
        receiver,
        dir,
        config,
    } = BinaryApp::spawn(3, "").await;
    let ids = sim.control.ids();
    for id in &ids {
        sim.control.set_status(id, "live");
    }
    let mut daemon = spawn_daemon(&config, dir.path());
    assert!(
        eventually(Duration::from_secs(20), || daemon
            .logs()
            .contains("cycle finished"))
        .await,
        "the first cycle ran: {}",
        daemon.logs()
    );
    sim.control.set_status(&ids[0], "paused");
    let r = receiver.clone();
    assert!(
        eventually(Duration::from_secs(20), || r.received().len() == 1).await,
        "the pause was delivered: {}",
        daemon.logs()
    );
    let status = daemon
        .terminate(Duration::from_secs(10))
        .await
        .expect("stopped within 10 s");
    assert!(status.success(), "{status:?}: {}", daemon.logs());
    assert!(!daemon.logs().contains(TEST_KEY));

    // The state survived: a restart announces nothing new.
    let path = config.to_str().unwrap();
    assert_eq!(
        run_cli(&["--config", path, "once"], &[]).await.code,
        Some(0)
    );
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(receiver.event_types(), ["campaign.status_changed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_prints_alerts_without_any_setup() {
    let dir = tempfile::tempdir().unwrap();
    let finished = run_cli(
        &[
            "--config",
            dir.path().join("none.toml").to_str().unwrap(),
            "demo",
            "--duration",
            "6s",
            "--step",
            "1s",
        ],
        &[("RUST_LOG", "warn")],
    )
    .await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert!(
        finished.stdout.contains("campaign.status_changed"),
        "{}",
        finished.stdout
    );
    assert!(
        finished
            .stdout
            .lines()
            .filter(|l| l.contains(" campaign."))
            .count()
            >= 2,
        "{}",
        finished.stdout
    );
    // The quiet first check says it recorded a baseline, before any alert.
    let baseline = finished
        .stdout
        .find(
            "first check done: 10 campaigns recorded as they are now (the baseline, in 2 accounts)",
        )
        .unwrap_or_else(|| panic!("no baseline line: {}", finished.stdout));
    assert!(baseline < finished.stdout.find(" campaign.").unwrap());
}

/// Every flag and argument of every command says what it is for.
#[test]
fn every_flag_and_argument_has_a_description() {
    fn undocumented(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" || arg.is_hide_set() {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in command.get_subcommands() {
            if sub.get_about().is_none() && sub.get_name() != "help" {
                missing.push(format!("{path} {} (the command itself)", sub.get_name()));
            }
            undocumented(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    undocumented(
        &campaign_watcher::cli::command(),
        "campaign-watcher",
        &mut missing,
    );
    assert!(missing.is_empty(), "without a description: {missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_and_the_man_page_come_from_the_same_definitions() {
    let bash = run_cli(&["completions", "bash"], &[]).await;
    assert_eq!(bash.code, Some(0), "{}", bash.stderr);
    for command in ["check-config", "test-notify", "silence", "completions"] {
        assert!(bash.stdout.contains(command), "bash completes {command}");
    }
    let zsh = run_cli(&["completions", "zsh"], &[]).await;
    assert!(
        zsh.stdout.starts_with("#compdef campaign-watcher"),
        "{}",
        zsh.stdout
    );
    let man = run_cli(&["manpage"], &[]).await;
    assert_eq!(man.code, Some(0), "{}", man.stderr);
    assert!(
        man.stdout.contains(".TH campaign-watcher 1"),
        "{}",
        man.stdout
    );
    assert!(man.stdout.contains("check\\-config"), "{}", man.stdout);
    let unknown = run_cli(&["completions", "tcsh"], &[]).await;
    assert_eq!(unknown.code, Some(2));
    // Commands that read no configuration do not offer --config.
    for command in ["demo", "simulate", "completions"] {
        let help = run_cli(&[command, "--help"], &[]).await;
        assert_eq!(help.code, Some(0), "{command}: {}", help.stderr);
        assert!(
            !help.stdout.contains("--config"),
            "{command}: {}",
            help.stdout
        );
    }
    let run_help = run_cli(&["run", "--help"], &[]).await;
    assert!(run_help.stdout.contains("--config"), "{}", run_help.stdout);
}

/// With the log turned down to errors there is no "log above": the final
/// sentence itself says why the API could not be read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_names_the_cause_in_its_last_sentence() {
    let BinaryApp {
        sim,
        receiver,
        dir,
        config,
    } = BinaryApp::spawn(2, "").await;
    let path = config.to_str().unwrap();
    sim.control.inject(crate::helpers::key_rejected());
    let rejected = run_cli(&["--config", path, "once"], &[("RUST_LOG", "error")]).await;
    assert_eq!(rejected.code, Some(1), "{}", rejected.stderr);
    let last = rejected.stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("the API key (HTTP 401)"),
        "the last line names the cause: {last}"
    );

    let (_nothing_listens, port) = crate::helpers::port_nothing_listens_on();
    let nowhere = format!("http://127.0.0.1:{port}");
    let config = write_config(
        dir.path(),
        &nowhere,
        &sim.control.ids(),
        &receiver.url(),
        "",
    );
    let unreachable = run_cli(
        &["--config", config.to_str().unwrap(), "once"],
        &[("RUST_LOG", "error")],
    )
    .await;
    assert_eq!(unreachable.code, Some(1), "{}", unreachable.stderr);
    let last = unreachable.stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains(&format!("nothing answers at {nowhere}")),
        "the last line names the cause: {last}"
    );
}

/// `check-config --online` asks the API once: a good key passes, a rejected
/// key exits 1 with the cause; no state file is written either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_online_asks_the_api_once_and_writes_nothing() {
    let BinaryApp {
        sim,
        receiver,
        dir,
        config,
    } = BinaryApp::spawn(3, "").await;
    let path = config.to_str().unwrap();
    let offline = run_cli(&["--config", path, "check-config"], &[]).await;
    assert_eq!(offline.code, Some(0), "{}", offline.stderr);
    let requests_before = sim.control.requests();
    let good = run_cli(&["--config", path, "check-config", "--online"], &[]).await;
    assert_eq!(good.code, Some(0), "{}", good.stderr);
    assert!(good.stderr.contains("accepts the key"), "{}", good.stderr);
    assert_eq!(sim.control.requests() - requests_before, 1, "one request");
    sim.control.inject(crate::helpers::key_rejected());
    let rejected = run_cli(&["--config", path, "check-config", "--online"], &[]).await;
    assert_eq!(rejected.code, Some(1), "{}", rejected.stderr);
    let last = rejected.stderr.lines().last().unwrap_or_default();
    assert!(last.contains("rejected the API key (HTTP 401)"), "{last}");
    assert!(!rejected.all_output().contains(TEST_KEY));
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("state"))
        .collect();
    assert!(written.is_empty(), "no state written: {written:?}");
    assert!(receiver.received().is_empty(), "nothing sent");
}

/// A listing that takes a while says how far it got, so a long first cycle
/// does not look like a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_listing_logs_its_progress() {
    let sim = spawn_sim(14).await;
    sim.control.inject(Fault {
        kind: FaultKind::Delay { millis: 500 },
        times: None,
        campaign: None,
    });
    let receiver = Receiver::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &sim.base_url(), &[], &receiver.url(), "");
    // One campaign a page, half a second a page: about 7 s of listing.
    let finished = run_cli(
        &["--config", config.to_str().unwrap(), "once"],
        &[
            ("CAMPAIGN_WATCHER__WATCH__ALL", "true"),
            ("CAMPAIGN_WATCHER__WATCH__PAGE_SIZE", "1"),
        ],
    )
    .await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("listing campaigns: page"),
        "progress is logged: {}",
        finished.stderr
    );
    assert!(
        finished.stderr.contains("as the baseline"),
        "{}",
        finished.stderr
    );
}
