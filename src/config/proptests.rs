//! Property tests: every key fed arbitrary values loads and
//! validates to a usable configuration or to problems that are one sentence
//! each, never a panic; and what validates can be turned into timers and dates.

use std::time::Duration;

use proptest::prelude::*;

use super::*;

const BASE: &str = r#"
[sigmamind]
api_key = "sk_test_property"
[watch]
campaigns = ["camp_1"]
[channels.hook]
kind = "webhook"
url = "https://hooks.example.com/"
[channels.am]
kind = "alertmanager"
url = "http://127.0.0.1:9093"
[[rules]]
channels = ["hook"]
"#;

/// Every scalar key with its table; `rules` is the first rule.
const KEYS: &[(&str, &str)] = &[
    ("sigmamind", "timeout"),
    ("sigmamind", "connect_timeout"),
    ("sigmamind", "max_in_flight"),
    ("sigmamind", "max_requests_per_second"),
    ("sigmamind", "max_retries"),
    ("sigmamind", "retry_base"),
    ("sigmamind", "retry_max"),
    ("sigmamind", "max_response_bytes"),
    ("sigmamind", "base_url"),
    ("watch", "page_size"),
    ("watch", "list_threshold"),
    ("watch", "interval"),
    ("watch", "schedule"),
    ("watch", "confirm_polls"),
    ("watch", "unhealthy_after"),
    ("watch", "all"),
    ("state", "url"),
    ("state", "lease_ttl"),
    ("http", "listen"),
    ("heartbeat", "timeout"),
    ("heartbeat", "url"),
    ("channels.hook", "timeout"),
    ("channels.hook", "retry_initial_backoff"),
    ("channels.hook", "retry_max_backoff"),
    ("channels.hook", "max_age"),
    ("channels.hook", "max_per_minute"),
    ("channels.am", "resend_interval"),
    ("rules", "remind_every"),
    ("rules", "confirm_polls"),
];

/// A TOML value of any shape a hand-edited file might hold: numbers at the
/// edges, durations from nanoseconds to aeons, and arbitrary text.
fn value() -> impl Strategy<Value = String> {
    let unit = prop::sample::select(vec![
        "ns", "us", "ms", "s", "m", "h", "d", "w", "months", "years", "",
    ]);
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        prop::sample::select(vec![0i64, 1, -1, i64::MAX, i64::MIN, u32::MAX as i64])
            .prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| toml::Value::Float(f).to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        (any::<u64>(), unit.clone()).prop_map(|(n, unit)| quoted(&format!("{n}{unit}"))),
        (0u64..100_000, unit).prop_map(|(n, unit)| quoted(&format!("{n}{unit}"))),
        ".*".prop_map(|text| quoted(&text)),
    ]
}

fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// BASE with `key = value` put into its table (or the first rule).
fn with_value(table: &str, key: &str, value: &str) -> String {
    if table == "rules" {
        return format!("{BASE}{key} = {value}\n");
    }
    let header = format!("[{table}]\n");
    match BASE.find(&header) {
        Some(at) => {
            let insert = at + header.len();
            format!("{}{key} = {value}\n{}", &BASE[..insert], &BASE[insert..])
        }
        None => format!("{BASE}{header}{key} = {value}\n"),
    }
}

fn one_sentence(problem: &str) {
    assert!(!problem.trim().is_empty(), "an empty problem");
    assert!(
        !problem.contains('\n'),
        "a problem of several lines: {problem:?}"
    );
}

/// What the scheduler, the backoff and the dates do with a validated duration.
fn usable(duration: Duration) {
    assert!(
        chrono::TimeDelta::from_std(duration).is_ok(),
        "{duration:?}"
    );
    assert!(
        std::time::Instant::now().checked_add(duration).is_some(),
        "{duration:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_key_loads_valid_or_as_one_sentence_per_problem(
        key in prop::sample::select(KEYS.to_vec()),
        value in value(),
    ) {
        let (table, key) = key;
        let text = with_value(table, key, &value);
        match Settings::load_from_str(&text, "property.toml") {
            Err(ConfigError::Invalid { problems, .. }) => problems.iter().for_each(|p| one_sentence(p)),
            Err(ConfigError::Syntax { message, .. }) => prop_assert!(false, "generated TOML did not parse: {message}\n{text}"),
            Err(other) => one_sentence(&other.to_string()),
            Ok(settings) => match settings.validate() {
                Err(problems) => problems.iter().for_each(|p| one_sentence(p)),
                Ok(_) => {
                    let api = &settings.sigmamind;
                    for duration in [api.timeout, api.connect_timeout, api.retry_base, api.retry_max] {
                        usable(duration);
                    }
                    usable(settings.watch.effective_interval());
                    settings.state.lease_ttl.into_iter().for_each(usable);
                    usable(settings.heartbeat.timeout);
                    for channel in settings.channels.values() {
                        let shared = &channel.shared;
                        for duration in [shared.timeout, shared.retry_initial_backoff, shared.retry_max_backoff, shared.max_age] {
                            usable(duration);
                        }
                    }
                    settings.rules.iter().filter_map(|rule| rule.remind_every).for_each(usable);
                }
            },
        }
    }
}

#[test]
fn an_interval_of_aeons_is_refused_with_its_range() {
    let text = with_value("watch", "interval", "\"500000000years\"");
    let settings = Settings::load_from_str(&text, "aeons.toml").expect("it parses");
    let problems = settings.validate().expect_err("it is out of range");
    assert_eq!(
        problems,
        ["watch.interval: 500000000years is outside the allowed range 1s..=7days"]
    );
}
