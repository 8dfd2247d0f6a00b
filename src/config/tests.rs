//! Loading, validation and redaction tests. None touches the process
//! environment: every environment is an explicit map, so tests cannot race.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::deliver::alertmanager::AlertmanagerSettings;
use crate::deliver::pagerduty::PagerDutySettings;
use crate::deliver::webhook::WebhookSettings;
use crate::setting::{fields, url};

const SECRET: &str = "sk_live_SECRET123";
const VALID_WHSEC: &str = "whsec_z1q2S+du5vfnYbSlb4KuUyJcsjBMA0Xz";

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

fn load(toml: &str, pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::load_from_str_with_env(toml, "test.toml", env(pairs))
}

fn problems(result: Result<Settings, ConfigError>) -> Vec<String> {
    match result {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        Err(other) => panic!("expected Invalid, got {other}"),
        Ok(_) => panic!("expected Invalid, got Ok"),
    }
}

fn temp_file(content: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(content.as_bytes()).unwrap();
    file
}

#[test]
fn defaults_match_the_design() {
    let settings = Settings::default();
    assert_eq!(settings.sigmamind.base_url, "https://api.sigmamind.ai");
    assert!(settings.sigmamind.api_key.is_none());
    assert_eq!(settings.sigmamind.timeout, Duration::from_secs(10));
    assert_eq!(settings.sigmamind.max_in_flight, 8);
    assert_eq!(settings.watch.page_size, 100);
    assert_eq!(settings.watch.effective_interval(), Duration::from_secs(60));
    assert_eq!(settings.watch.confirm_polls, 1);
    assert_eq!(settings.state.url, "sqlite://state.db");
    assert_eq!(settings.http.listen, "127.0.0.1:9464");
    assert!(settings.channels.is_empty() && settings.rules.is_empty());

    // An empty file is the same as no file.
    let loaded = Settings::load_from_str("", "empty.toml").unwrap();
    let rendered = settings.to_redacted_toml();
    assert_eq!(loaded.to_redacted_toml(), rendered);
    assert!(!rendered.starts_with('#'), "{rendered}");
    assert!(
        rendered.contains("interval = \"1m\"") && rendered.contains("[http]"),
        "{rendered}"
    );
}

#[test]
fn environment_overrides_nested_keys_and_lists() {
    let toml = r#"
        [watch]
        campaigns = ["camp_file"]
        interval = "60s"
        [channels.ops-hook]
        kind = "webhook"
        url = "https://file.example.com/"
    "#;
    let settings = load(
        toml,
        &[
            ("CAMPAIGN_WATCHER__WATCH__INTERVAL", "30s"),
            ("CAMPAIGN_WATCHER__WATCH__CAMPAIGNS", "camp_a, camp_b,"),
            ("CAMPAIGN_WATCHER__WATCH__STATUSES", "live"),
            ("CAMPAIGN_WATCHER__WATCH__ALL", "true"),
            ("CAMPAIGN_WATCHER__SIGMAMIND__MAX_IN_FLIGHT", "4"),
            // Digits only: must stay a string, leading zero included.
            ("CAMPAIGN_WATCHER__SIGMAMIND__API_KEY", "0123"),
            // `OPS_HOOK` reaches `[channels.ops-hook]`.
            (
                "CAMPAIGN_WATCHER__CHANNELS__OPS_HOOK__URL",
                "https://env.example.com/",
            ),
            ("CAMPAIGN_WATCHER_CONFIG", "/not/a/setting.toml"),
            ("UNRELATED", "x"),
        ],
    )
    .unwrap();
    assert_eq!(settings.watch.interval, Some(Duration::from_secs(30)));
    assert_eq!(settings.watch.campaigns, ["camp_a", "camp_b"]);
    assert_eq!(
        settings.watch.statuses,
        [crate::observe::CampaignStatus::Live]
    );
    assert!(settings.watch.all);
    assert_eq!(settings.sigmamind.max_in_flight, 4);
    assert_eq!(
        settings.sigmamind.api_key.as_ref().unwrap().expose(),
        "0123"
    );
    assert_eq!(settings.channels.len(), 1);
    let hook: &WebhookSettings = settings.channels["ops-hook"].kind.get().unwrap();
    assert_eq!(hook.url.as_deref(), Some("https://env.example.com/"));
}

#[test]
fn api_key_precedence() {
    let key_file = temp_file("from_file\n");
    let key_path = key_file.path().display().to_string();
    // (api_key in the file, api_key_file, CAMPAIGN_WATCHER__ override, SIGMAMIND_API_KEY, expected)
    type Case = (
        Option<&'static str>,
        bool,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );
    let cases: [Case; 7] = [
        (
            Some("in_toml"),
            true,
            None,
            Some("from_env"),
            Some("in_toml"),
        ),
        (
            None,
            true,
            Some("override"),
            Some("from_env"),
            Some("override"),
        ),
        (
            Some("in_toml"),
            false,
            Some("override"),
            None,
            Some("override"),
        ),
        (None, true, None, Some("from_env"), Some("from_file")),
        (None, false, None, Some(" from_env \n"), Some("from_env")),
        (None, false, None, Some(""), None),
        (None, false, None, None, None),
    ];
    for (index, (in_toml, use_file, over, fallback, expected)) in cases.into_iter().enumerate() {
        let mut toml = String::from("[sigmamind]\n");
        if let Some(key) = in_toml {
            toml.push_str(&format!("api_key = \"{key}\"\n"));
        }
        if use_file {
            toml.push_str(&format!("api_key_file = \"{key_path}\"\n"));
        }
        let mut pairs = Vec::new();
        if let Some(key) = over {
            pairs.push(("CAMPAIGN_WATCHER__SIGMAMIND__API_KEY", key));
        }
        if let Some(key) = fallback {
            pairs.push(("SIGMAMIND_API_KEY", key));
        }
        let settings = load(&toml, &pairs).unwrap();
        let got = settings.sigmamind.api_key.as_ref().map(Secret::expose);
        assert_eq!(got, expected, "case {index}");
    }
}

#[test]
fn secret_files_are_read_trimmed_and_resolved_in_credentials_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api_key"), format!("{SECRET}\r\n  \n")).unwrap();
    std::fs::write(dir.path().join("hook_url"), "https://hooks.example.com/x\n").unwrap();
    std::fs::write(dir.path().join("hook_secret"), format!("{VALID_WHSEC}\n")).unwrap();
    let toml = r#"
        [sigmamind]
        api_key_file = "api_key"
        [watch]
        campaigns = ["camp_1"]
        [channels.ops-hook]
        kind = "webhook"
        url_file = "hook_url"
        secret_file = "hook_secret"
    "#;
    let credentials = dir.path().display().to_string();
    let settings = load(toml, &[("CREDENTIALS_DIRECTORY", credentials.as_str())]).unwrap();
    assert_eq!(
        settings.sigmamind.api_key.as_ref().unwrap().expose(),
        SECRET
    );
    let hook: &WebhookSettings = settings.channels["ops-hook"].kind.get().unwrap();
    assert_eq!(hook.url.as_deref(), Some("https://hooks.example.com/x"));
    assert_eq!(hook.secret.as_ref().unwrap().expose(), VALID_WHSEC);
    assert_eq!(settings.validate().map(drop), Ok(()));

    // Absolute paths ignore CREDENTIALS_DIRECTORY.
    let absolute = dir.path().join("api_key").display().to_string();
    let toml = format!("[sigmamind]\napi_key_file = \"{absolute}\"\n");
    let settings = load(&toml, &[("CREDENTIALS_DIRECTORY", "/nonexistent")]).unwrap();
    assert_eq!(
        settings.sigmamind.api_key.as_ref().unwrap().expose(),
        SECRET
    );
}

#[test]
fn unreadable_secret_files_name_the_key_and_the_path() {
    let toml = r#"
        [sigmamind]
        api_key_file = "/nonexistent/cw/api_key"
        [channels.ops-hook]
        kind = "webhook"
        url = "https://hooks.example.com/"
        secret_file = "/nonexistent/cw/hook_secret"
    "#;
    let found = problems(load(toml, &[("SIGMAMIND_API_KEY", SECRET)]));
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("sigmamind.api_key_file: cannot read \"/nonexistent/cw/api_key\""));
    assert!(found[1]
        .starts_with("channels.ops-hook.secret_file: cannot read \"/nonexistent/cw/hook_secret\""));

    let empty = temp_file("\n");
    let toml = format!(
        "[sigmamind]\napi_key_file = \"{}\"\n",
        empty.path().display()
    );
    let found = problems(load(&toml, &[]));
    assert_eq!(
        found,
        [format!(
            "sigmamind.api_key_file: \"{}\" is empty",
            empty.path().display()
        )]
    );
}

#[test]
fn all_unknown_keys_are_reported_together_with_the_file() {
    let file = temp_file(
        r#"
        colour = "blue"
        [sigmamind]
        api_key = "sk_live_SECRET123"
        [watch]
        intervall = "60s"
        [bogus]
        x = 1
        [channels.ops-hook]
        kind = "console"
        urll = "https://x"
        [[rules]]
        evnts = ["campaign.reminder"]
        "#,
    );
    let error =
        Settings::load_with_env(file.path(), env(&[("CAMPAIGN_WATCHER__HTTP__LISTN", "x")]))
            .unwrap_err();
    let text = error.to_string();
    let origin = file.path().display().to_string();
    assert!(
        text.starts_with(&format!("{origin}: 6 problems in the configuration:\n  - ")),
        "{text}"
    );
    let ConfigError::Invalid { problems, .. } = error else {
        panic!("expected Invalid");
    };
    assert_eq!(
        problems,
        [
            "unknown section \"bogus\"",
            "unknown key \"colour\"",
            "unknown key \"http.listn\" (did you mean \"listen\"?) (set by environment variable CAMPAIGN_WATCHER__HTTP__LISTN)",
            "unknown key \"rules[0].evnts\" (did you mean \"events\"?)",
            "unknown key \"watch.intervall\" (did you mean \"interval\"?)",
            "unknown key \"channels.ops-hook.urll\" (did you mean \"url\"?)",
        ]
    );
}

#[test]
fn the_live_lane_is_on_by_default_and_a_misspelt_key_says_what_to_write() {
    assert!(Settings::default().watch.lanes);
    let off = load("[watch]\nall = true\nlanes = false\n", &[]).unwrap();
    assert!(!off.watch.lanes);
    let found = problems(load("[watch]\nall = true\nlane = false\n", &[]));
    assert_eq!(
        found,
        ["unknown key \"watch.lane\" (did you mean \"lanes\"?)"]
    );
}

#[test]
fn type_errors_name_the_key() {
    let cases = [
        ("[watch]\npage_size = \"many\"", "watch.page_size: "),
        ("[sigmamind]\ntimeout = \"soon\"", "sigmamind.timeout: "),
        ("[watch]\ncampaigns = \"camp_1\"", "watch.campaigns: "),
        (
            "[channels.ops-hook]\nkind = \"smtp\"",
            "channels.ops-hook.kind: unknown channel kind \"smtp\" (",
        ),
        (
            "[channels.ops-hook]\nurl = \"https://x\"",
            "channels.ops-hook.kind: missing required key",
        ),
        ("[[rules]]\nevents = [1, {a = 1}]", "rules[0].events[1]: "),
        ("watch = 5", "watch: "),
    ];
    for (toml, expected) in cases {
        let found = problems(load(toml, &[]));
        assert_eq!(found.len(), 1, "{toml}: {found:?}");
        assert!(found[0].starts_with(expected), "{toml}: {found:?}");
    }

    // One wrong type per section does not hide the others, nor unknown keys.
    let toml = "[watch]\npage_size = \"many\"\nextra = 1\n[sigmamind]\ntimeout = \"soon\"";
    let found = problems(load(toml, &[]));
    assert_eq!(found.len(), 3, "{found:?}");
}

#[test]
fn channel_names_with_dashes_and_case_survive_loading() {
    let toml = r#"
        [channels.ops-hook]
        kind = "console"
        [channels.Ops_Mail-2]
        kind = "console"
    "#;
    let settings = load(
        toml,
        &[("CAMPAIGN_WATCHER__CHANNELS__OPS_MAIL_2__TIMEOUT", "3s")],
    )
    .unwrap();
    let names: Vec<&str> = settings.channels.keys().map(String::as_str).collect();
    assert_eq!(names, ["Ops_Mail-2", "ops-hook"]);
    assert_eq!(
        settings.channels["Ops_Mail-2"].shared.timeout,
        Duration::from_secs(3)
    );
}

#[test]
fn missing_file_and_syntax_errors_are_clear_sentences() {
    let error = Settings::load_with_env(Path::new("/nonexistent/cw.toml"), env(&[])).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("/nonexistent/cw.toml not found"), "{text}");
    assert!(text.contains("--config"), "{text}");

    // An unquoted secret is a syntax error; the parser's excerpt must not leak it.
    let file = temp_file("[sigmamind]\napi_key = sk_live_SECRET123\n");
    let error = Settings::load_with_env(file.path(), env(&[])).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ConfigError::Syntax { .. }), "{text}");
    assert!(text.contains("line 2"), "{text}");
    assert!(text.contains(&file.path().display().to_string()), "{text}");
    assert!(
        !text.contains(SECRET) && !format!("{error:?}").contains(SECRET),
        "{text}"
    );
}

#[test]
fn validate_reports_every_problem_at_once() {
    let toml = r#"
        [sigmamind]
        base_url = "ftp://user:hunter2@api.example.com"
        timeout = "0s"
        max_in_flight = 0
        max_requests_per_second = -1
        [watch]
        page_size = 5000
        interval = "500ms"
        schedule = "0 */5 * * *"
        confirm_polls = 0
        unhealthy_after = 0
        statuses = ["live", "running"]
        [state]
        url = "postgres://u:p@db/cw"
        lease_ttl = "1s"
        retention = "30s"
        [http]
        listen = "localhost"
        [channels."bad name"]
        kind = "console"
        [channels.hook]
        kind = "webhook"
        secret = "sk_live_SECRET123"
        previous_secret = "whsec_!!notbase64"
        retry_initial_backoff = "20m"
        retry_max_backoff = "10m"
        max_age = "0s"
        [channels.mail]
        kind = "slack"
        [[rules]]
        events = ["campaign.reminder", "campaign.nope"]
        transitions = ["live->paused", "live-paused", "Live->*"]
        campaigns = ["camp_[", "*"]
        channels = ["hook", "pager"]
    "#;
    let settings = load(toml, &[]).unwrap();
    let found = settings.validate().unwrap_err();
    let expected = [
        "sigmamind.api_key: no API key",
        "sigmamind.base_url: \"ftp://user:<redacted>@api.example.com\" is not an http",
        "sigmamind.timeout: must be longer than 0s",
        "sigmamind.max_in_flight:",
        "sigmamind.max_requests_per_second:",
        "watch.campaigns: nothing to watch",
        "watch.page_size:",
        "watch.interval: set either interval or schedule",
        "watch.schedule: \"0 */5 * * *\" is not a 6- or 7-field cron",
        "watch.interval: 500ms is below the 1s minimum",
        "watch.confirm_polls: 0 is outside 1..=100",
        "watch.unhealthy_after:",
        "watch.statuses[1]: \"running\"",
        "state.lease_ttl: 1s is too short",
        "state.retention: 30s is outside the allowed range",
        "http.listen:",
        "channels.bad name: the name may only contain",
        "channels.hook.secret: must start with whsec_",
        "channels.hook.previous_secret: is not valid base64",
        "channels.hook.retry_initial_backoff: 20m is longer than retry_max_backoff (10m)",
        "channels.hook.max_age:",
        "channels.hook.url: a webhook channel needs url",
        "channels.mail.url: a slack channel needs the webhook url",
        "rules[0].events: \"campaign.nope\" is not an event type",
        "rules[0].transitions: only apply to campaign.status_changed",
        "rules[0].transitions: \"live-paused\" is not of the form from->to",
        "rules[0].transitions: \"Live->*\" needs a lower-case status",
        "rules[0].campaigns: \"camp_[\" is not a valid glob",
        "rules[0].channels: \"pager\" is not a configured channel",
    ];
    for prefix in expected {
        assert!(
            found.iter().any(|problem| problem.starts_with(prefix)),
            "missing {prefix:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    let joined = format!("{found:?}");
    assert!(!joined.contains(SECRET) && !joined.contains("hunter2") && !joined.contains(":p@"));

    let wrapped = ConfigError::invalid("cw.toml", found).to_string();
    assert!(wrapped.starts_with(&format!(
        "cw.toml: {} problems in the configuration:\n  - sigmamind.api_key: ",
        expected.len()
    )));
}

#[test]
fn valid_values_pass_validation() {
    let cases = [
        "[watch]\nschedule = \"0 */5 * * * *\"",
        "[watch]\nschedule = \"0 0 9-17 * * MON-FRI 2026\"",
        "[watch]\nall = true\nstatuses = [\"live\", \"paused\"]\npage_size = 1000",
        "[state]\nurl = \"postgres://watcher:pw@db:5432/cw\"\nlease_ttl = \"10s\"",
        "[state]\nurl = \"postgresql://watcher@db/cw?sslmode=require\"",
        "[state]\nurl = \"sqlite::memory:\"",
        "[state]\nretention = \"0\"",
        "[state]\nretention = \"5m\"",
        "[http]\nlisten = \"[::1]:9464\"",
        "[channels.c]\nkind = \"console\"\n[[rules]]\ntransitions = [\"*->archived\"]\nchannels = [\"c\"]",
        "[sigmamind]\nbase_url = \"http://127.0.0.1:8080/v1\"\nmax_requests_per_second = 0",
    ];
    let pairs = [
        ("SIGMAMIND_API_KEY", "k"),
        ("CAMPAIGN_WATCHER__WATCH__CAMPAIGNS", "camp_1"),
    ];
    for extra in cases {
        let settings = load(extra, &pairs).unwrap();
        assert_eq!(settings.validate().map(drop), Ok(()), "{extra}");
    }
}

#[test]
fn a_cron_expression_the_scheduler_refuses_is_refused_by_validation() {
    let pairs = [
        ("SIGMAMIND_API_KEY", "k"),
        ("CAMPAIGN_WATCHER__WATCH__CAMPAIGNS", "camp_1"),
    ];
    let refused = "0 0 25 * * *";
    let nothing =
        |_id, _scheduler| -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
            Box::pin(async {})
        };
    assert!(tokio_cron_scheduler::Job::new_async(refused, nothing).is_err());
    let settings = load(&format!("[watch]\nschedule = \"{refused}\""), &pairs).unwrap();
    let problems = settings.validate().unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].starts_with(
            "watch.schedule: \"0 0 25 * * *\" is not a cron expression the scheduler accepts: "
        ),
        "{problems:#?}"
    );

    let kept = load("[watch]\nschedule = \"0 */5 * * * *\"", &pairs)
        .unwrap()
        .validate()
        .unwrap()
        .schedule;
    assert_eq!(kept.to_string(), "cron \"0 */5 * * * *\"");
    assert_eq!(kept.period(), std::time::Duration::from_secs(300));
}

#[test]
fn redacted_toml_hides_every_secret() {
    let toml = format!(
        r#"
        [sigmamind]
        api_key = "{SECRET}"
        [watch]
        campaigns = ["camp_1"]
        [state]
        url = "sqlite://state.db"
        [channels.hook]
        kind = "webhook"
        url = "https://ops:{SECRET}@hooks.example.com/x?token={SECRET}&team=ops&Sig={SECRET}"
        secret = "whsec_{SECRET}"
        previous_secret = "whsec_{SECRET}"
        [[rules]]
        name = "all"
        "#
    );
    let settings = load(&toml, &[]).unwrap();
    let rendered = settings.to_redacted_toml();
    assert!(!rendered.contains(SECRET), "{rendered}");
    assert!(
        rendered.contains(
            // A channel URL may carry a secret anywhere after its host.
            "url = \"https://hooks.example.com/<redacted>\""
        ),
        "{rendered}"
    );
    assert!(rendered.contains("api_key = \"<redacted>\""), "{rendered}");
    assert!(rendered.contains("timeout = \"10s\""), "{rendered}");
    assert!(
        rendered.contains("retry_max_backoff = \"10m\""),
        "{rendered}"
    );
    assert!(rendered.contains("max_age = \"1day\""), "{rendered}");
    let order: Vec<usize> = [
        "[sigmamind]",
        "[watch]",
        "[state]",
        "[http]",
        "[channels.hook]",
        "[[rules]]",
    ]
    .iter()
    .map(|header| rendered.find(header).unwrap())
    .collect();
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{rendered}");
    // The rendering is itself a loadable configuration.
    let reparsed: toml::Value = toml::from_str(&rendered).unwrap();
    assert!(reparsed.get("rules").is_some());

    assert!(!format!("{settings:?}").contains(SECRET));
    let problems = settings.validate().unwrap_err();
    assert!(!format!("{problems:?}").contains(SECRET));
    let error = ConfigError::invalid("x", problems);
    assert!(!error.to_string().contains(SECRET) && !format!("{error:?}").contains(SECRET));
}

#[test]
fn url_redaction() {
    let cases = [
        ("https://hooks.example.com/x", "https://hooks.example.com/x"),
        ("https://u:p@h/x", "https://u:<redacted>@h/x"),
        ("https://tok@h", "https://<redacted>@h"),
        (
            "https://h/x?api_key=1&a=2#frag",
            "https://h/x?api_key=<redacted>&a=2#frag",
        ),
        (
            "https://h/x?password=1&signature=2",
            "https://h/x?password=<redacted>&signature=<redacted>",
        ),
        ("sqlite://state.db", "sqlite://state.db"),
        ("sqlite:state.db?mode=rwc", "sqlite:state.db?mode=rwc"),
    ];
    for (url, expected) in cases {
        assert_eq!(url::redact_url(url), expected);
    }
}

#[test]
fn url_from_url_file_shows_scheme_and_host_only() {
    let url = temp_file("https://hooks.slack.com/services/T0/B0/SECRETPATH\n");
    let toml = format!(
        "[channels.slacky]\nkind = \"webhook\"\nurl_file = \"{}\"\n",
        url.path().display()
    );
    let settings = load(&toml, &[]).unwrap();
    let rendered = settings.to_redacted_toml();
    assert!(!rendered.contains("SECRETPATH"), "{rendered}");
    assert!(
        rendered.contains("url = \"https://hooks.slack.com/<redacted>\""),
        "{rendered}"
    );
}

#[test]
fn example_configuration_loads_and_validates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/campaign-watcher.toml");
    let settings = Settings::load_with_env(&path, env(&[("SIGMAMIND_API_KEY", SECRET)])).unwrap();
    assert_eq!(settings.validate().map(drop), Ok(()));
    assert!(settings.warnings().is_empty(), "{:?}", settings.warnings());
    assert_eq!(settings.watch.campaigns, ["camp_XiQEBcj9cc5TFRB4"]);
    assert_eq!(settings.channels["ops-hook"].kind(), ChannelKind::Webhook);
    assert_eq!(settings.channels["terminal"].kind(), ChannelKind::Console);
    assert_eq!(settings.rules.len(), 1);
    assert!(!settings.to_redacted_toml().contains(SECRET));

    // Without any key source it is rejected with the key path.
    let settings = Settings::load_with_env(&path, env(&[])).unwrap();
    let problems = settings.validate().unwrap_err();
    assert_eq!(
        problems,
        ["sigmamind.api_key: no API key: set api_key, api_key_file or SIGMAMIND_API_KEY"]
    );
}

#[test]
fn log_format_comes_from_the_log_section_or_the_environment() {
    let table = [
        ("", vec![], crate::telemetry::LogFormat::Text),
        (
            "[log]\nformat = \"json\"\n",
            vec![],
            crate::telemetry::LogFormat::Json,
        ),
        (
            "[log]\nformat = \"text\"\n",
            vec![("CAMPAIGN_WATCHER__LOG__FORMAT", "json")],
            crate::telemetry::LogFormat::Json,
        ),
    ];
    for (toml, pairs, expected) in table {
        let settings = load(toml, &pairs).expect(toml);
        assert_eq!(settings.log.format, expected, "{toml}");
    }
    let wrong = problems(load("[log]\nformat = \"xml\"\nformt = 1\n", &[]));
    assert!(wrong.iter().any(|p| p.contains("log.formt")), "{wrong:?}");
}

#[test]
fn alerting_controls_are_loaded_and_checked() {
    let toml = r#"
        [sigmamind]
        api_key = "k"
        [watch]
        campaigns = ["camp_1"]
        confirm_polls = 3
        [channels.hook]
        kind = "console"
        max_per_minute = 0
        quiet_hours = { start = "22:00", end = "7am", timezone = "Mars/Olympus", excep = [] }
        [channels.ok]
        kind = "console"
        max_per_minute = 10
        quiet_hours = { start = "22:00", end = "07:00", timezone = "Europe/Berlin", except = ["watcher.api_unhealthy"] }
        [[rules]]
        events = ["campaign.not_found"]
        remind_every = "10s"
        confirm_polls = 101
    "#;
    let error = load(toml, &[]).unwrap_err().to_string();
    assert!(
        error
            .contains("unknown key \"channels.hook.quiet_hours.excep\" (did you mean \"except\"?)"),
        "{error}"
    );
    let fixed = toml.replace(", excep = []", "");
    let settings = load(&fixed, &[]).unwrap();
    assert_eq!(settings.watch.confirm_polls, 3);
    assert_eq!(settings.channels["ok"].shared.max_per_minute, Some(10));
    assert_eq!(
        settings.rules[0].remind_every,
        Some(std::time::Duration::from_secs(10))
    );
    let problems = settings.validate().unwrap_err();
    for expected in [
        "channels.hook.max_per_minute: must be at least 1",
        "channels.hook.quiet_hours: end \"7am\" is not a time of day",
        "rules[0].confirm_polls: 101 is outside 1..=100",
        "rules[0].remind_every: 10s is below the 1m minimum",
        "rules[0].remind_every: reminders follow campaign.status_changed",
    ] {
        assert!(
            problems.iter().any(|problem| problem.starts_with(expected)),
            "missing {expected:?} in {problems:#?}"
        );
    }
    assert!(!problems
        .iter()
        .any(|problem| problem.starts_with("channels.ok")));
}

#[test]
fn chat_and_incident_channels_load_and_hide_their_secrets() {
    let key = temp_file("PDROUTINGKEY0123456789abcdef01\n");
    let toml = format!(
        r#"
[sigmamind]
api_key = "{SECRET}"
[watch]
campaigns = ["camp_1"]
[channels.slack]
kind = "slack"
url = "https://hooks.slack.com/services/T0/B0/SLACKTOKEN"
group = false
[channels.discord]
kind = "discord"
url = "https://discord.com/api/webhooks/1/DISCORDTOKEN"
severity = {{ paused = "critical" }}
[channels.teams]
kind = "teams"
url = "https://prod.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=TEAMSSIG"
[channels.pager]
kind = "pagerduty"
routing_key_file = "{}"
severity = {{ "campaign.upload_errors_added" = "error", "Paused" = "critical" }}
[channels.am]
kind = "alertmanager"
urls = ["http://am-1:9093", "https://user:AMPASS@am-2:9093"]
resend_interval = "30s"
labels = {{ team = "outreach" }}
"#,
        key.path().display()
    );
    let settings = load(&toml, &[]).unwrap();
    let pager: &PagerDutySettings = settings.channels["pager"].kind.get().unwrap();
    assert_eq!(
        pager.routing_key.as_ref().map(Secret::expose),
        Some("PDROUTINGKEY0123456789abcdef01")
    );
    // Dotted event types survive as map keys; condition names are exact.
    let severity = pager.severity.as_ref().unwrap();
    assert_eq!(severity.written()["campaign.upload_errors_added"], "error");
    assert!(
        severity.map().is_err(),
        "\"Paused\" is refused when the table is read"
    );
    let problems = settings.validate().unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("channels.pager.severity: \"Paused\" is not a condition"),
        "{problems:?}"
    );
    let am: &AlertmanagerSettings = settings.channels["am"].kind.get().unwrap();
    assert_eq!(am.resend_interval, Some(Duration::from_secs(30)));
    assert_eq!(am.labels.as_ref().unwrap()["team"], "outreach");
    assert!(settings.warnings().is_empty(), "{:?}", settings.warnings());

    let rendered = settings.to_redacted_toml();
    let debugged = format!("{settings:?}");
    for secret in [
        "SLACKTOKEN",
        "DISCORDTOKEN",
        "TEAMSSIG",
        "PDROUTINGKEY",
        "AMPASS",
    ] {
        assert!(!rendered.contains(secret), "{secret} in {rendered}");
        assert!(!debugged.contains(secret), "{secret} in {debugged}");
    }
    assert!(rendered.contains("http://am-1:9093"), "{rendered}");
}

#[test]
fn quiet_hours_are_refused_on_incident_channels() {
    let toml = r#"
        [sigmamind]
        api_key = "k"
        [watch]
        campaigns = ["camp_1"]
        [channels.pager]
        kind = "pagerduty"
        routing_key = "R0UT1NGKEY0123456789012345678901"
        quiet_hours = { start = "22:00", end = "07:00", timezone = "Europe/Berlin" }
        [channels.chat]
        kind = "console"
        quiet_hours = { start = "22:00", end = "07:00", timezone = "Europe/Berlin" }
    "#;
    let problems = load(toml, &[]).unwrap().validate().unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p
                .starts_with("channels.pager.quiet_hours: not supported for kind \"pagerduty\"")),
        "{problems:#?}"
    );
    assert!(
        !problems.iter().any(|p| p.starts_with("channels.chat")),
        "{problems:#?}"
    );
}

#[test]
fn the_heartbeat_url_is_a_secret_read_from_a_file_and_checked() {
    let ping = format!("https://hc-ping.example.com/{SECRET}");
    let file = temp_file(&format!("{ping}\n"));
    let toml = format!(
        "[sigmamind]\napi_key = \"k\"\n[watch]\ncampaigns = [\"camp_1\"]\n[heartbeat]\nurl_file = \"{}\"\ntimeout = \"3s\"\n",
        file.path().display()
    );
    let settings = load(&toml, &[]).unwrap();
    assert_eq!(settings.heartbeat.url.as_deref(), Some(ping.as_str()));
    assert_eq!(settings.heartbeat.timeout, Duration::from_secs(3));
    assert!(settings.validate().is_ok());
    let rendered = settings.to_redacted_toml();
    assert!(!rendered.contains(SECRET), "{rendered}");
    assert!(rendered.contains("[heartbeat]"), "{rendered}");

    let toml = format!(
        "[sigmamind]\napi_key = \"k\"\n[watch]\ncampaigns = [\"camp_1\"]\n[heartbeat]\nurl = \"ftp://{SECRET}\"\ntimeout = \"2m\"\n"
    );
    let invalid = load(&toml, &[]).unwrap().validate().unwrap_err();
    assert_eq!(invalid.len(), 2, "{invalid:?}");
    assert!(invalid.iter().all(|p| !p.contains(SECRET)), "{invalid:?}");
    assert!(invalid[0].starts_with("heartbeat.url:"), "{invalid:?}");
    assert!(invalid[1].starts_with("heartbeat.timeout:"), "{invalid:?}");

    let problems = problems(load(
        "[heartbeat]\nurl_file = \"/nonexistent/cw/ping\"\nping = true\n",
        &[],
    ));
    assert!(
        problems.contains(&"unknown key \"heartbeat.ping\"".to_string()),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with("heartbeat.url_file")),
        "{problems:?}"
    );
}

#[test]
fn a_key_of_another_kind_names_the_key_the_channel_and_its_kind() {
    let toml = r#"
        [channels.ops]
        kind = "slack"
        url = "https://hooks.slack.com/services/T0/B0/X"
        to = ["ops@example.com"]
        secret = "whsec_x"
        grop = true
        [channels.mail]
        kind = "email"
        url = "https://x.example.com/"
        [channels.hook]
        kind = "webhook"
        url = "https://x.example.com/"
        timezone = "Europe/Berlin"
    "#;
    let found = problems(load(
        toml,
        &[("CAMPAIGN_WATCHER__CHANNELS__OPS__ROUTING_KEY", "k")],
    ));
    assert_eq!(
        found,
        [
            "channels.hook.timezone: is a key of email, slack, discord, teams, pagerduty, alertmanager, ntfy, telegram, opsgenie, google_chat and mattermost channels; this channel is kind \"webhook\"",
            "channels.mail.url: is a key of webhook, slack, discord, teams, pagerduty, alertmanager, ntfy, google_chat, mattermost and http channels; this channel is kind \"email\"",
            "unknown key \"channels.ops.grop\" (did you mean \"group\"?)",
            "channels.ops.routing_key: is a key of pagerduty channels; this channel is kind \"slack\" (set by environment variable CAMPAIGN_WATCHER__CHANNELS__OPS__ROUTING_KEY)",
            "channels.ops.secret: is a key of webhook channels; this channel is kind \"slack\"",
            "channels.ops.to: is a key of email channels; this channel is kind \"slack\"",
        ]
    );
}

#[test]
fn every_kind_has_its_own_keys_apart_from_the_shared_and_text_ones() {
    let shared = fields::struct_fields::<SharedSettings>();
    let text = fields::struct_fields::<TextSettings>();
    for kind in ChannelKind::ALL {
        assert_eq!(ChannelKind::parse(kind.as_str()), Some(*kind));
        for key in kind.own_keys() {
            assert!(
                !shared.contains(key) && !text.contains(key) && *key != "kind",
                "{kind}.{key} is also a shared key"
            );
        }
    }
}

#[test]
fn settings_deserialized_directly_type_channels_by_kind() {
    let settings: Settings = toml::from_str(
        r#"
        [channels.hook]
        kind = "webhook"
        url = "https://x.example.com/"
        max_age = "1h"
        "#,
    )
    .unwrap();
    assert_eq!(settings.channels["hook"].kind(), ChannelKind::Webhook);
    assert_eq!(
        settings.channels["hook"].shared.max_age,
        Duration::from_secs(3600)
    );
    let error = toml::from_str::<Settings>("[channels.hook]\nkind = \"slack\"\nto = []\n")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("channels.hook.to: is a key of email channels"),
        "{error}"
    );
}

#[test]
fn check_config_shows_only_the_keys_of_the_channels_kind() {
    let settings = load(
        "[channels.c]\nkind = \"console\"\n[channels.h]\nkind = \"webhook\"\nurl = \"https://x.example.com/\"\n",
        &[],
    )
    .unwrap();
    let rendered = settings.to_redacted_toml();
    let console =
        &rendered[rendered.find("[channels.c]").unwrap()..rendered.find("[channels.h]").unwrap()];
    assert!(console.contains("kind = \"console\""), "{rendered}");
    assert!(console.contains("timeout = \"15s\""), "{rendered}");
    assert!(
        !console.contains("url") && !console.contains("to ="),
        "{rendered}"
    );
    let reparsed = load(&rendered, &[]).unwrap();
    assert_eq!(reparsed.channels["h"].kind(), ChannelKind::Webhook);
}

#[test]
fn chat_and_incident_checks_name_the_key_and_never_the_url() {
    let toml = r#"
        [channels.s]
        kind = "slack"
        url = "ftp://hooks.slack.com/services/T0/B0/SECRETTOKEN"
        [channels.d]
        kind = "discord"
        [channels.p]
        kind = "pagerduty"
        [channels.a]
        kind = "alertmanager"
        urls = ["http://am-1:9093"]
        resend_interval = "10ms"
        labels = { team = "outreach", severity = "x", 9lives = "y", empty = "" }
    "#;
    let found = load(toml, &[]).unwrap().validate().unwrap_err();
    for prefix in [
        "channels.s.url: the URL is not an http",
        "channels.d.url: a discord channel needs the webhook url",
        "channels.p.routing_key: a pagerduty channel needs",
        "channels.a.labels.severity: is set by campaign-watcher itself",
        "channels.a.labels.9lives: a label name is",
        "channels.a.labels.empty: is empty",
        "channels.a.resend_interval: 10ms is below the 1s minimum",
    ] {
        assert!(
            found.iter().any(|problem| problem.starts_with(prefix)),
            "missing {prefix:?} in {found:#?}"
        );
    }
    assert!(!format!("{found:?}").contains("SECRETTOKEN"));
}

/// `config/campaign-watcher.toml` says it shows every key: of every section
/// but the channels (whose kinds are documented in docs/configuration.md), it
/// does, set or commented out, and names no key the loader does not know.
#[test]
fn the_example_config_shows_every_key_of_every_section() {
    let example = include_str!("../../config/campaign-watcher.toml");
    let mut shown: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut section = String::new();
    for line in example.lines() {
        let line = line.trim_start_matches('#').trim();
        if let Some(header) = line
            .strip_prefix("[[")
            .and_then(|rest| rest.split("]]").next())
            .or_else(|| {
                line.strip_prefix('[')
                    .and_then(|rest| rest.split(']').next())
            })
        {
            // `[http.users.NAME]` and `[http.tokens.NAME]` show their own keys.
            let parts: Vec<&str> = header.split('.').collect();
            section = match parts.as_slice() {
                ["http", map @ ("users" | "tokens"), _, ..] => format!("http.{map}"),
                ["sigmamind", "accounts", _, ..] => "sigmamind.accounts".to_string(),
                _ => parts.first().copied().unwrap_or_default().to_string(),
            };
            continue;
        }
        let Some((key, _)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            shown
                .entry(section.clone())
                .or_default()
                .insert(key.to_string());
        }
    }
    let http: Vec<&str> = fields::struct_fields::<HttpSettings>()
        .iter()
        .copied()
        .filter(|key| !matches!(*key, "users" | "tokens"))
        .collect();
    let sigmamind: Vec<&str> = fields::struct_fields::<SigmaMindSettings>()
        .iter()
        .copied()
        .filter(|key| *key != "accounts")
        .collect();
    let known: [(&str, &[&str]); 11] = [
        ("", &["instance"]),
        ("sigmamind", &sigmamind),
        (
            "sigmamind.accounts",
            fields::struct_fields::<AccountSettings>(),
        ),
        ("watch", fields::struct_fields::<WatchSettings>()),
        ("state", fields::struct_fields::<StateSettings>()),
        ("http", &http),
        ("http.users", fields::struct_fields::<UserSettings>()),
        ("http.tokens", fields::struct_fields::<TokenSettings>()),
        ("log", fields::struct_fields::<LogSettings>()),
        ("heartbeat", fields::struct_fields::<HeartbeatSettings>()),
        ("rules", fields::struct_fields::<RuleSettings>()),
    ];
    for (name, keys) in known {
        let keys: BTreeSet<String> = keys.iter().map(|key| key.to_string()).collect();
        let in_example = shown.get(name).cloned().unwrap_or_default();
        let missing: Vec<_> = keys.difference(&in_example).collect();
        let unknown: Vec<_> = in_example.difference(&keys).collect();
        assert!(
            missing.is_empty() && unknown.is_empty(),
            "[{name}] in config/campaign-watcher.toml: missing {missing:?}, unknown {unknown:?}"
        );
    }
}

/// The usual mistakes get a sentence that says what to write instead.
#[test]
fn the_usual_mistakes_say_what_to_write_instead() {
    let typed = problems(load(
        "[watch]\ninterval = 300\n[channels.ops-hook]\nkind = \"webhok\"\nurl = \"https://hooks.example.com/x\"\n",
        &[],
    ));
    assert!(
        typed.iter().any(|p| p.starts_with("watch.interval:")
            && p.contains("durations are strings with a unit, like \"300s\"")),
        "{typed:?}"
    );
    assert!(
        typed
            .iter()
            .any(|p| p.contains("unknown channel kind \"webhok\" (did you mean \"webhook\"?)")),
        "{typed:?}"
    );

    let settings = load(
        "[channels.ops-hook]\nkind = \"console\"\n[[rules]]\nname = \"r\"\nevents = [\"campaign.status_chnaged\"]\nchannels = [\"ops_hook\"]\n",
        &[],
    )
    .unwrap();
    let invalid = settings.validate().unwrap_err();
    assert!(
        invalid.iter().any(|p| p.contains(
            "\"campaign.status_chnaged\" is not an event type (did you mean \"campaign.status_changed\"?)"
        )),
        "{invalid:?}"
    );
    assert!(
        invalid
            .iter()
            .any(|p| p
                .contains("\"ops_hook\" is not a configured channel (did you mean \"ops-hook\"?)")),
        "{invalid:?}"
    );

    // A status the API does not document is warned about, not refused: the API
    // may add one.
    let settings = load(
        "[[rules]]\nname = \"r\"\ntransitions = [\"live->pasued\"]\n",
        &[],
    )
    .unwrap();
    let refused = settings.validate().err().unwrap_or_default();
    assert!(!refused.iter().any(|p| p.contains("pasued")), "{refused:?}");
    assert!(
        settings
            .warnings()
            .iter()
            .any(|w| w.contains("\"pasued\" in \"live->pasued\"")
                && w.contains("did you mean \"paused\"?")),
        "{:?}",
        settings.warnings()
    );
}

#[test]
fn secret_values_list_every_configured_secret() {
    let toml = r#"
        [sigmamind]
        api_key = "sk_api_KEY123"
        [state]
        url = "postgres://cw:DBPASS99@db.example/cw"
        [heartbeat]
        url = "https://hc.example/ping/PINGTOKEN1"
        [channels.hook]
        kind = "webhook"
        url = "https://hooks.example.com/in/HOOKPATH1"
        secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
        [channels.pd]
        kind = "pagerduty"
        routing_key = "ROUTINGKEY1"
        [channels.chat]
        kind = "slack"
        url = "https://hooks.slack.com/services/T0/B0/SLACKTOKEN1"
        [channels.mail]
        kind = "email"
        smtp_url = "smtps://user:SMTPPASS1@mail.example"
        from = "w@example.com"
        to = ["ops@example.com"]
    "#;
    let secrets = load(toml, &[]).unwrap().secret_values().join(" ");
    for expected in [
        "sk_api_KEY123",
        "DBPASS99",
        "/ping/PINGTOKEN1",
        "/in/HOOKPATH1",
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "ROUTINGKEY1",
        "SLACKTOKEN1",
        "SMTPPASS1",
    ] {
        assert!(
            secrets.contains(expected),
            "{expected} missing from {secrets}"
        );
    }
    assert!(
        !secrets.contains("hooks.example.com"),
        "hosts are not secrets"
    );
}

#[test]
fn a_link_local_heartbeat_is_refused_unless_allowed() {
    let base = "[sigmamind]\napi_key = \"k\"\n[watch]\ncampaigns = [\"c\"]\n";
    let refused = format!("{base}[heartbeat]\nurl = \"http://169.254.169.254/ping/T\"\n");
    let problems = load(&refused, &[]).unwrap().validate().unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("heartbeat.url: the host 169.254.169.254")),
        "{problems:?}"
    );
    let allowed = format!("{refused}allow_link_local = true\n");
    assert_eq!(load(&allowed, &[]).unwrap().validate().map(drop), Ok(()));
}

/// Every table of a configuration is checked for unknown keys, at any depth,
/// because the check follows the settings types: a typo under each header
/// of a file using every kind of table is named with its full path.
#[test]
fn a_typo_under_any_table_is_named_with_its_path() {
    let example = include_str!("../../config/campaign-watcher.toml");
    let more = r#"
[sigmamind.accounts.clientb]
api_key = "k"
campaigns = ["camp_1"]
[http.users.alice]
password_hash = "$2b$12$abcdefghijklmnopqrstuu5Jd1Hf8jQKkb8l2h3TfiMqQl5ZPXJn2"
role = "read"
[heartbeat]
url = "https://hc-ping.example.com/x"
[channels.mail]
kind = "email"
smtp_url = "smtp://mail.example.com:587"
from = "w@example.com"
to = ["ops@example.com"]
[channels.mail.quiet_hours]
start = "22:00"
end = "07:00"
timezone = "Europe/Berlin"
[[rules]]
events = ["campaign.completed"]
"#;
    // Named accounts take the default account's key out of [sigmamind].
    let example = example.replace("\n[sigmamind]\n", "\n[sigmamind.accounts.default]\n");
    let toml = format!("{example}\n{more}");
    let headers: Vec<(usize, String)> = toml
        .lines()
        .enumerate()
        .filter(|(_, line)| line.starts_with('['))
        .map(|(at, line)| (at, line.to_string()))
        .collect();
    assert!(headers.len() >= 12, "{headers:?}");
    let mut rules = 0;
    for (at, header) in headers {
        let path = if let Some(name) = header.strip_prefix("[[").and_then(|h| h.strip_suffix("]]"))
        {
            rules += 1;
            format!("{name}[{}]", rules - 1)
        } else {
            header.trim_matches(['[', ']']).to_string()
        };
        let mut lines: Vec<&str> = toml.lines().collect();
        lines.insert(at + 1, "zzz_not_a_key = 1");
        let found = problems(load(&lines.join("\n"), &[]));
        let expected = format!("unknown key \"{path}.zzz_not_a_key\"");
        assert!(
            found.contains(&expected),
            "under {header}: expected {expected:?}, got {found:?}"
        );
    }
}

/// The channel examples in `config/campaign-watcher.toml` (commented out, one
/// per kind) load once uncommented: each kind still takes every key its
/// reference shows, the hook URL keys it shares with other kinds included.
#[test]
fn every_kinds_documented_example_loads() {
    let example = include_str!("../../config/campaign-watcher.toml");
    let mut blocks = Vec::new();
    let mut block: Option<String> = None;
    for line in example.lines() {
        match (&mut block, line.strip_prefix("# ")) {
            (None, Some(rest)) if rest.starts_with("[channels.") => {
                block = Some(format!("{rest}\n"));
            }
            (Some(text), Some(rest)) => text.push_str(&format!("{rest}\n")),
            (Some(_), None) => blocks.extend(block.take()),
            (None, _) => {}
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let secret = |file: &str| match file {
        "ntfy-topic-url" => "https://ntfy.example.com/topic",
        "telegram-bot-token" => "123456789:AAbcdefghijklmnopqrstuvwxyz",
        file if file.ends_with("url") => "https://hooks.example.com/services/T0/B0/x",
        _ => "a-secret-value",
    };
    let mut kinds = BTreeSet::new();
    for block in &blocks {
        for line in block.lines() {
            let Some((key, value)) = line.split_once(" = ") else {
                continue;
            };
            if (key.ends_with("_file") || key.ends_with("_files")) && key != "ca_file" {
                let file = value.split('"').nth(1).unwrap();
                std::fs::write(dir.path().join(file), secret(file)).unwrap();
            }
        }
        let credentials = dir.path().display().to_string();
        let settings = load(block, &[("CREDENTIALS_DIRECTORY", credentials.as_str())])
            .unwrap_or_else(|error| panic!("{block}: {error}"));
        let (_, channel) = settings.channels.iter().next().unwrap();
        kinds.insert(channel.kind());
    }
    let undocumented: Vec<_> = ChannelKind::ALL
        .iter()
        .filter(|kind| !kinds.contains(kind))
        .collect();
    // Webhook and console are the file's live channels, loaded by
    // `example_configuration_loads_and_validates`.
    assert_eq!(
        undocumented,
        [&ChannelKind::Webhook, &ChannelKind::Console],
        "{blocks:?}"
    );
}

/// A typo in a hook URL key a kind shares with others still gets its
/// did-you-mean, as the kind's own keys do.
#[test]
fn a_typo_in_a_shared_hook_key_gets_did_you_mean() {
    for kind in ["slack", "discord", "teams", "google_chat", "mattermost"] {
        let toml = format!("[channels.hook]\nkind = \"{kind}\"\nurl_fille = \"hook-url\"\n");
        let found = problems(load(&toml, &[]));
        assert!(
            found.contains(
                &"unknown key \"channels.hook.url_fille\" (did you mean \"url_file\"?)".to_string()
            ),
            "{kind}: {found:?}"
        );
    }
}

mod email;

/// An admin's shell on the service's host: relative `*_file` names and no
/// `$CREDENTIALS_DIRECTORY`. The commands on the stored state load the file
/// without reading a secret; the full load says where the service reads them.
#[test]
fn the_store_commands_load_without_reading_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("campaign-watcher.toml");
    std::fs::write(
        &path,
        r#"
        [sigmamind]
        api_key_file = "api_key"
        [watch]
        all = true
        [state]
        url = "sqlite://state.db"
        [channels.ops]
        kind = "slack"
        url_file = "slack_url"
        [http.tokens.ci]
        role = "read"
        token_file = "ci_token"
        "#,
    )
    .unwrap();
    let full = problems(Settings::load_with_env(&path, env(&[])));
    assert!(
        full.iter().any(|problem| problem
            .starts_with("channels.ops.url_file: cannot read \"slack_url\"")
            && problem.contains("$CREDENTIALS_DIRECTORY")),
        "{full:#?}"
    );
    let settings = Settings::load_without_secrets_with_env(&path, env(&[])).unwrap();
    assert_eq!(settings.state.url, "sqlite://state.db");
    assert!(settings.sigmamind.api_key.is_none());
    assert_eq!(settings.account_names(), ["default"]);
    // Still every key checked: a typo is refused as by the full load.
    std::fs::write(&path, "[state]\nurll = \"sqlite://state.db\"\n").unwrap();
    let found = problems(Settings::load_without_secrets_with_env(&path, env(&[])));
    assert!(found[0].contains("did you mean \"url\""), "{found:#?}");
}

#[test]
fn a_rule_channel_cut_short_and_every_quiet_hours_problem_are_named() {
    let toml = r#"
        [sigmamind]
        api_key = "k"
        [watch]
        all = true
        [channels.pagerduty]
        kind = "pagerduty"
        routing_key = "R0UT1NGKEY0123456789012345678901"
        [channels.hook]
        kind = "webhook"
        url = "https://hooks.example.com/x"
        quiet_hours = { start = "25:00", end = "07:00", timezone = "Mars/Olympus", except = ["campaign.paused"] }
        [[rules]]
        events = ["campaign.status_changed"]
        channels = ["pager"]
    "#;
    let found = load(toml, &[]).unwrap().validate().unwrap_err();
    let expected = [
        "channels.hook.quiet_hours: start \"25:00\" is not a time of day",
        "channels.hook.quiet_hours: timezone \"Mars/Olympus\" is not an IANA time zone name",
        "channels.hook.quiet_hours: except: \"campaign.paused\" is not an event type",
        "rules[0].channels: \"pager\" is not a configured channel (did you mean \"pagerduty\"?)",
    ];
    for prefix in expected {
        assert!(
            found.iter().any(|problem| problem.starts_with(prefix)),
            "missing {prefix:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}
