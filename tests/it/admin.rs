//! The admin on the service's host, with the real binary: the commands on the
//! stored state in a root shell (no `$CREDENTIALS_DIRECTORY`, another working
//! directory), silencing a whole account, what `check-config` prints beside
//! its errors, `healthcheck --url` naming the endpoint, and when a replayed
//! row really goes.

use std::path::Path;

use crate::accounts::{accounts_toml, KEY_ACME, KEY_GLOBEX};
use crate::helpers::*;

/// The binary in `dir` with `env` added to a clean environment (no
/// `CREDENTIALS_DIRECTORY`, no `SIGMAMIND_API_KEY`): as the service or an
/// admin's shell runs it.
async fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Finished {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(args)
        .current_dir(dir)
        .env_remove("SIGMAMIND_API_KEY")
        .env_remove("CAMPAIGN_WATCHER_CONFIG")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("NOTIFY_SOCKET")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    finish(command).await
}

const SLACK_URL: &str = "https://hooks.slack.com/services/T0RECOGNISABLE/B0/XsecretX";

/// The layout docs/operations.md recommends: the configuration in /etc with
/// relative `*_file` names, the secrets handed over by systemd
/// (`$CREDENTIALS_DIRECTORY`), the state in the unit's working directory
/// under the default relative `sqlite://state.db`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_commands_work_in_a_root_shell_on_the_services_host() {
    let sim = spawn_sim_with_key(2, TEST_KEY).await;
    let host = tempfile::tempdir().unwrap();
    let (etc, credentials, state, root) = (
        host.path().join("etc"),
        host.path().join("credentials"),
        host.path().join("var-lib-campaign-watcher"),
        host.path().join("root"),
    );
    for dir in [&etc, &credentials, &state, &root] {
        std::fs::create_dir(dir).unwrap();
    }
    std::fs::write(credentials.join("api_key"), TEST_KEY).unwrap();
    std::fs::write(credentials.join("slack_url"), SLACK_URL).unwrap();
    let ids: Vec<String> = sim
        .control
        .ids()
        .iter()
        .map(|id| format!("{id:?}"))
        .collect();
    let config = etc.join("campaign-watcher.toml");
    std::fs::write(
        &config,
        format!(
            "[sigmamind]\nbase_url = \"{}\"\napi_key_file = \"api_key\"\nmax_retries = 0\n\
             [watch]\ncampaigns = [{}]\n[http]\nlisten = \"127.0.0.1:0\"\n\
             [channels.ops]\nkind = \"slack\"\nurl_file = \"slack_url\"\n",
            sim.base_url(),
            ids.join(", ")
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let credentials = credentials.to_str().unwrap();

    // The service: systemd's credentials, its state directory as working directory.
    let service = run_in(
        &state,
        &["--config", config, "once"],
        &[("CREDENTIALS_DIRECTORY", credentials)],
    )
    .await;
    assert_eq!(service.code, Some(0), "{}", service.all_output());
    assert!(state.join("state.db").exists());

    // A root shell elsewhere: told where the store was looked for and what to
    // do, and no empty store of its own is made there.
    let elsewhere = run_in(&root, &["--config", config, "silence", "list"], &[]).await;
    assert_eq!(elsewhere.code, Some(2), "{}", elsewhere.all_output());
    let wanted = format!(
        "no state store at {}: [state] url names a path relative to the working directory, {}",
        root.join("state.db").display(),
        root.display()
    );
    assert!(elsewhere.stderr.contains(&wanted), "{}", elsewhere.stderr);
    assert!(
        elsewhere.stderr.contains("cd there first"),
        "{}",
        elsewhere.stderr
    );
    assert!(
        !elsewhere.stderr.contains("cannot read"),
        "{}",
        elsewhere.stderr
    );
    let status = run_in(&root, &["--config", config, "status"], &[]).await;
    assert_eq!(status.code, Some(0), "{}", status.all_output());
    assert!(
        status.stdout.contains("working directory"),
        "{}",
        status.stdout
    );
    assert!(
        !root.join("state.db").exists(),
        "nothing made in the shell's directory"
    );

    // In the service's working directory, without the credentials: every
    // command on the stored state works and reads no secret.
    let first = sim.control.ids()[0].clone();
    let backup = host.path().join("backup.db");
    let backup = backup.to_str().unwrap();
    for args in [
        vec!["status"],
        vec!["history"],
        vec!["outbox", "list"],
        vec!["outbox", "list", "--dead"],
        vec!["silence", "list"],
        vec![
            "silence",
            "add",
            "--campaign",
            &first,
            "--for",
            "1h",
            "--reason",
            "dialler maintenance",
        ],
        vec!["silence", "expire", "1"],
        vec!["state", "backup", backup],
    ] {
        let mut full = vec!["--config", config];
        full.extend(args.iter().copied());
        let finished = run_in(&state, &full, &[("USER", "root")]).await;
        assert_eq!(
            finished.code,
            Some(0),
            "{args:?}: {}",
            finished.all_output()
        );
        let output = finished.all_output();
        assert!(!output.contains("cannot read"), "{args:?}: {output}");
        assert!(
            !output.contains("XsecretX") && !output.contains(TEST_KEY),
            "{args:?}"
        );
    }

    // check-config does read the secrets: it says where the service reads a
    // relative name, and passes when pointed at them.
    let check = run_in(&state, &["--config", config, "check-config"], &[]).await;
    assert_eq!(check.code, Some(2), "{}", check.all_output());
    assert!(
        check
            .stderr
            .contains("channels.ops.url_file: cannot read \"slack_url\"")
            && check.stderr.contains("$CREDENTIALS_DIRECTORY"),
        "{}",
        check.stderr
    );
    let pointed = run_in(
        &root,
        &["--config", config, "check-config"],
        &[("CREDENTIALS_DIRECTORY", credentials)],
    )
    .await;
    assert_eq!(pointed.code, Some(0), "{}", pointed.all_output());
    assert!(!pointed.all_output().contains("XsecretX"));
}

/// `silence add --account NAME` alone silences that whole account: every
/// campaign of it and its API health, and nothing of the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_alone_silences_the_whole_account() {
    let acme = spawn_sim_with_key(1, KEY_ACME).await;
    let globex = spawn_sim_with_key(1, KEY_GLOBEX).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("accounts.toml");
    std::fs::write(
        &config,
        format!(
            "{}[state]\nurl = \"sqlite://{}\"\n",
            accounts_toml(&[("acme", &acme, KEY_ACME), ("globex", &globex, KEY_GLOBEX)]),
            dir.path().join("state.db").display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let add = run_cli(
        &[
            "--config",
            config,
            "silence",
            "add",
            "--account",
            "globex",
            "--for",
            "2h",
            "--reason",
            "client paused for the holidays",
        ],
        &[("USER", "dana")],
    )
    .await;
    assert_eq!(add.code, Some(0), "{}", add.all_output());
    assert!(
        add.stdout.contains(
            "every event of account \"globex\" (each of its campaigns and its API health) is kept in history and not sent"
        ),
        "{}",
        add.stdout
    );
    assert!(!add.stderr.contains("warning"), "{}", add.stderr);
    let list = run_cli(&["--config", config, "silence", "list", "--json"], &[]).await;
    let silences: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(silences[0]["account"], "globex", "{silences}");
    assert_eq!(silences[0]["campaign"], "*", "{silences}");

    // Neither a campaign nor an account: clap says what is missing.
    let neither = run_cli(
        &[
            "--config", config, "silence", "add", "--for", "1h", "--reason", "r",
        ],
        &[],
    )
    .await;
    assert_eq!(neither.code, Some(2), "{}", neither.all_output());
    assert!(neither.stderr.contains("--campaign"), "{}", neither.stderr);
}

/// Warnings print beside the errors (a misspelled override explains a
/// missing key); durations and rates print as written or in their plainest
/// form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_warns_beside_errors_and_prints_values_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        "[watch]\nall = true\n[channels.pagerduty]\nkind = \"pagerduty\"\nrouting_key = \"R0UT1NGKEY0123456789012345678901\"\n\
         [[rules]]\nevents = [\"campaign.status_changed\"]\nchannels = [\"pager\"]\n",
    )
    .unwrap();
    let finished = run_cli(
        &["--config", broken.to_str().unwrap(), "check-config"],
        &[("CAMPAIGN_WATCHER_SIGMAMIND_API_KEY", TEST_KEY)],
    )
    .await;
    assert_eq!(finished.code, Some(2), "{}", finished.all_output());
    assert!(
        finished.stderr.contains(
            "warning: environment variable CAMPAIGN_WATCHER_SIGMAMIND_API_KEY is not an override"
        ),
        "{}",
        finished.stderr
    );
    assert!(
        finished
            .stderr
            .contains("rules[0].channels: \"pager\" is not a configured channel (did you mean \"pagerduty\"?)"),
        "{}",
        finished.stderr
    );
    assert!(!finished.all_output().contains(TEST_KEY));
    // A problem found while reading the file (an unknown key) gets it too.
    let unknown = dir.path().join("unknown.toml");
    std::fs::write(
        &unknown,
        "[watch]
al = true
",
    )
    .unwrap();
    let finished = run_cli(
        &["--config", unknown.to_str().unwrap(), "check-config"],
        &[("CAMPAIGN_WATCHER_WATCH_ALL", "true")],
    )
    .await;
    assert_eq!(finished.code, Some(2), "{}", finished.all_output());
    assert!(
        finished
            .stderr
            .contains("did you mean CAMPAIGN_WATCHER__WATCH__ALL?")
            && finished.stderr.contains("watch.al"),
        "{}",
        finished.stderr
    );

    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[sigmamind]\nmax_requests_per_second = 5\n[watch]\nall = true\n[state]\nlease_ttl = \"90s\"\n",
    )
    .unwrap();
    let shown = run_cli(
        &["--config", good.to_str().unwrap(), "check-config"],
        &[("SIGMAMIND_API_KEY", TEST_KEY)],
    )
    .await;
    assert_eq!(shown.code, Some(0), "{}", shown.all_output());
    for line in [
        "max_requests_per_second = 5\n",
        "retention = \"90d\"\n",
        "lease_ttl = \"90s\"\n",
        "interval = \"1m\"\n",
        "retry_base = \"250ms\"\n",
    ] {
        assert!(shown.stdout.contains(line), "{line:?} in {}", shown.stdout);
    }
}

/// `--url` may name the endpoint itself; a URL where nothing is served says
/// so in one line, without the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_takes_the_endpoint_as_its_url() {
    let app = BinaryApp::spawn(1, "").await;
    let mut daemon = spawn_daemon(&app.config, app.dir.path());
    let addr = daemon.http_addr().await;
    wait_cycles(addr, 1).await;
    for url in [
        format!("http://{addr}"),
        format!("http://{addr}/"),
        format!("http://{addr}/healthz"),
    ] {
        let finished = run_cli(&["healthcheck", "--url", &url], &[]).await;
        assert_eq!(finished.code, Some(0), "{url}: {}", finished.all_output());
        assert!(
            finished
                .stdout
                .contains(&format!("http://{addr}/healthz answered 200")),
            "{url}: {}",
            finished.stdout
        );
    }
    let ready = run_cli(
        &["healthcheck", "--url", &format!("http://{addr}/readyz")],
        &[],
    )
    .await;
    assert!(
        ready
            .all_output()
            .contains(&format!("http://{addr}/readyz answered")),
        "{}",
        ready.all_output()
    );
    let nowhere = run_cli(
        &["healthcheck", "--url", &format!("http://{addr}/status")],
        &[],
    )
    .await;
    assert_eq!(nowhere.code, Some(1), "{}", nowhere.all_output());
    assert!(
        nowhere
            .stderr
            .contains("answered 404: nothing is served at that path"),
        "{}",
        nowhere.stderr
    );
    assert!(
        !nowhere.all_output().contains("<!DOCTYPE"),
        "{}",
        nowhere.all_output()
    );
    daemon.terminate(std::time::Duration::from_secs(15)).await;
}

/// A replayed row on a channel in its quiet hours is said to wait for them,
/// with the hour it goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_in_quiet_hours_says_when_the_row_goes() {
    let BinaryApp {
        sim,
        receiver,
        dir,
        config,
    } = BinaryApp::spawn(1, "").await;
    let id = sim.control.ids()[0].clone();
    all_live(&sim);
    let path = config.to_str().unwrap();
    assert_eq!(
        run_cli(&["--config", path, "once"], &[]).await.code,
        Some(0)
    );
    receiver.answer_with(&[410]);
    sim.control.set_status(&id, "paused");
    run_cli(&["--config", path, "once"], &[]).await;
    let rows: serde_json::Value = serde_json::from_str(
        &run_cli(
            &["--config", path, "outbox", "list", "--dead", "--json"],
            &[],
        )
        .await
        .stdout,
    )
    .unwrap();
    let row = rows[0]["id"].as_i64().unwrap().to_string();

    // Quiet hours from an hour ago to two hours ahead, added to the hook.
    let now = chrono::Utc::now();
    let (start, end) = (
        (now - chrono::TimeDelta::hours(1)).format("%H:%M"),
        (now + chrono::TimeDelta::hours(2)).format("%H:%M"),
    );
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[channels.hook]\n",
        &format!(
            "[channels.hook]\nquiet_hours = {{ start = \"{start}\", end = \"{end}\", timezone = \"UTC\" }}\n"
        ),
    );
    std::fs::write(&config, text).unwrap();
    let replay = run_cli(&["--config", path, "outbox", "replay", &row], &[]).await;
    assert_eq!(replay.code, Some(0), "{}", replay.all_output());
    assert!(
        replay.stdout.contains(&format!(
            "is pending again: its channel's quiet hours ({start}-{end} UTC) hold it until "
        )) && replay.stdout.contains("then it goes in their digest"),
        "{}",
        replay.stdout
    );
    drop(dir);
}

fn repository_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The unit's `Documentation=` names this project's pages (installed from
/// docs/), the board's page says nothing of "for now" or issue numbers, the
/// simulator's page documents `--account`, and the interval is the latency.
#[test]
fn the_docs_an_operator_follows_say_what_is_so() {
    let unit = repository_file("systemd/campaign-watcher.service");
    let documentation = unit
        .lines()
        .find_map(|line| line.strip_prefix("Documentation="))
        .expect("the unit has Documentation=");
    assert!(!documentation.contains("sigmamind.ai"), "{documentation}");
    for uri in documentation.split_whitespace() {
        let page = uri
            .strip_prefix("file:/usr/local/share/doc/campaign-watcher/")
            .unwrap_or_else(|| panic!("{uri} is not one of the installed docs"));
        repository_file(&format!("docs/{page}"));
    }
    let board = repository_file("docs/board.md");
    assert!(
        !board.contains("for now"),
        "board.md still says \"for now\""
    );
    assert!(!board.contains("(issue "), "board.md names issue numbers");
    let simulator = repository_file("docs/simulator.md");
    assert!(
        simulator.contains("--account NAME=KEY") && simulator.contains("`--listen`'s port"),
        "simulator.md documents --account"
    );
    for page in ["docs/operations.md", "docs/configuration.md"] {
        assert!(
            repository_file(page).contains("a change is seen within one interval"),
            "{page} relates the interval to the alert latency"
        );
    }
}
