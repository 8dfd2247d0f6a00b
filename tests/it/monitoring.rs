//! Watching the watcher with the real tools: the alert rules pass `promtool
//! check rules` and their own `promtool test rules`; every expression of the
//! Grafana dashboard parses (as a recording rule, with its variables
//! substituted); every metric the rules and the dashboard name is exported by
//! a running watcher. A missing promtool fails the test.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{all_live, eventually, spawn_daemon, BinaryApp};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

async fn promtool(args: &[&str], dir: &Path) -> String {
    let output = tokio::process::Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .kill_on_drop(true)
        .output()
        .await
        .expect("promtool is installed (Debian's prometheus package; scripts/test installs it)");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}:\n{text}");
    text
}

/// Every PromQL expression of the dashboard, its variables substituted.
fn dashboard_expressions() -> Vec<String> {
    let text = std::fs::read_to_string(repo("deploy/grafana/campaign-watcher.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    let mut expressions = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            expressions.push(
                expr.replace("$__rate_interval", "5m")
                    .replace("$account", ".*"),
            );
        }
    }
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|variable| variable["name"].as_str())
        .collect();
    assert_eq!(variables, ["datasource", "account"]);
    expressions
}

fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes: Vec<char> = text.chars().collect();
    let mut word = String::new();
    for c in bytes.iter().copied().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            if word.starts_with("campaign_watcher_") || word.starts_with("process_") {
                names.insert(word.clone());
            }
            word.clear();
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_rules_pass_promtool_and_their_tests() {
    let dir = repo("deploy/prometheus");
    let checked = promtool(&["check", "rules", "campaign-watcher.rules.yml"], &dir).await;
    assert!(checked.contains("SUCCESS: 10 rules found"), "{checked}");
    let tested = promtool(&["test", "rules", "campaign-watcher.rules.test.yml"], &dir).await;
    assert!(tested.contains("SUCCESS"), "{tested}");
    // Every alert is exercised by the tests.
    let rules = std::fs::read_to_string(dir.join("campaign-watcher.rules.yml")).unwrap();
    let tests = std::fs::read_to_string(dir.join("campaign-watcher.rules.test.yml")).unwrap();
    for alert in rules
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- alert: "))
    {
        assert!(
            tests.contains(&format!("alertname: {alert}\n")),
            "{alert} has no promtool test"
        );
        let anchor = alert.to_lowercase();
        let docs = std::fs::read_to_string(repo("docs/monitoring.md")).unwrap();
        assert!(
            docs.contains(&format!("### {alert}")),
            "{alert} has no runbook section ({anchor}) in docs/monitoring.md"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_expression_parses_and_every_metric_named_is_exported() {
    let expressions = dashboard_expressions();
    assert!(expressions.len() >= 12, "{expressions:?}");
    let dir = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (n, expr) in expressions.iter().enumerate() {
        rules.push_str(&format!(
            "      - record: dashboard:panel_{n}\n        expr: {}\n",
            serde_json::to_string(expr).unwrap()
        ));
    }
    std::fs::write(dir.path().join("dashboard.rules.yml"), rules).unwrap();
    let checked = promtool(&["check", "rules", "dashboard.rules.yml"], dir.path()).await;
    assert!(checked.contains("SUCCESS"), "{checked}");

    // A watcher that cycled, paused a campaign and delivered it exports them all.
    let app = BinaryApp::spawn(2, "").await;
    all_live(&app.sim);
    let mut daemon = spawn_daemon(&app.config, app.dir.path());
    let addr = daemon.http_addr().await;
    let baseline = eventually(Duration::from_secs(60), || {
        app.receiver.received().is_empty() && daemon.logs().contains("cycle finished")
    })
    .await;
    assert!(baseline, "{}", daemon.logs());
    app.sim
        .control
        .set_status(&app.sim.control.ids()[0], "paused");
    let delivered = eventually(Duration::from_secs(60), || {
        !app.receiver.received().is_empty()
    })
    .await;
    assert!(delivered, "{}", daemon.logs());
    let rules =
        std::fs::read_to_string(repo("deploy/prometheus/campaign-watcher.rules.yml")).unwrap();
    let named: BTreeSet<String> = metric_names(&expressions.join("\n"))
        .into_iter()
        .chain(metric_names(&rules))
        .collect();
    // The cycle's and the delivery's figures are recorded just after the
    // receiver has the message: ask until both are in, within a bound.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (missing, exported) = loop {
        let exported = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let exported_names: BTreeSet<String> = exported
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split(['{', ' ']).next())
            .map(str::to_string)
            .collect();
        let missing: Vec<String> = named.difference(&exported_names).cloned().collect();
        if missing.is_empty() || tokio::time::Instant::now() > deadline {
            break (missing, exported);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(missing.is_empty(), "not exported: {missing:?}\n{exported}");
    daemon.terminate(Duration::from_secs(15)).await;
}

fn yaml(path: &str) -> Value {
    serde_norway::from_str(&std::fs::read_to_string(repo(path)).unwrap()).unwrap()
}

#[test]
fn the_operator_component_carries_the_rules_as_they_are_and_scrapes_the_metrics_service() {
    let rules = yaml("deploy/prometheus/campaign-watcher.rules.yml");
    let rule = yaml("deploy/kubernetes-monitoring/prometheusrule.yaml");
    assert_eq!(rule["kind"], "PrometheusRule");
    assert_eq!(
        rule["spec"]["groups"], rules["groups"],
        "the PrometheusRule differs from the rules file: run scripts/prometheus-rule"
    );

    let monitor = yaml("deploy/kubernetes-monitoring/servicemonitor.yaml");
    let service = yaml("deploy/kubernetes/service.yaml");
    let labels = service["metadata"]["labels"].as_object().unwrap();
    for (key, value) in monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap()
    {
        assert_eq!(
            labels.get(key),
            Some(value),
            "the ServiceMonitor selects the Service"
        );
    }
    let ports: Vec<&str> = service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|port| port["name"].as_str())
        .collect();
    for endpoint in monitor["spec"]["endpoints"].as_array().unwrap() {
        let port = endpoint["port"].as_str().unwrap();
        assert!(ports.contains(&port), "{port} is not a port of the Service");
        assert_eq!(endpoint["path"], "/metrics");
    }
    // The alert rules' job label is what the ServiceMonitor's jobLabel yields.
    let job_label = monitor["spec"]["jobLabel"].as_str().unwrap();
    assert_eq!(labels[job_label], "campaign-watcher");

    let component = yaml("deploy/kubernetes-monitoring/kustomization.yaml");
    assert_eq!(component["kind"], "Component");
    let resources: Vec<&str> = component["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|resource| resource.as_str())
        .collect();
    assert_eq!(resources, ["servicemonitor.yaml", "prometheusrule.yaml"]);
}
