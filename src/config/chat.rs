//! Checks for the chat and incident channels: `slack`, `discord`, `teams`,
//! `pagerduty` and `alertmanager`.

use std::time::Duration;

use super::redact::redact_url;
use super::validate::check_http_url;
use super::{ChannelKind, ChannelSettings};
use crate::route::condition::SeverityMap;

/// Labels every alert already carries; `labels` may not replace them.
pub(crate) const RESERVED_LABELS: [&str; 4] =
    ["alertname", "campaign_id", "campaign_name", "severity"];
const MIN_RESEND_INTERVAL: Duration = Duration::from_secs(1);

/// Every problem of one chat/incident channel, each starting with its key path.
pub(super) fn check_chat_channel(at: &str, channel: &ChannelSettings, problems: &mut Vec<String>) {
    let kind = channel.kind;
    match kind {
        ChannelKind::Slack | ChannelKind::Discord | ChannelKind::Teams => match &channel.url {
            None => problems.push(format!(
                "{at}.url: a {} channel needs the webhook url (url or url_file)",
                kind.as_str()
            )),
            // The whole URL is the credential: name the problem, never the URL.
            Some(url) => {
                if let Err(why) = check_http_url(url) {
                    problems.push(format!("{at}.url: the webhook url {why}"));
                }
            }
        },
        ChannelKind::Pagerduty => {
            match &channel.routing_key {
                None => problems.push(format!(
                    "{at}.routing_key: a pagerduty channel needs its Events API v2 integration key (routing_key or routing_key_file)"
                )),
                Some(key) if key.expose().trim().is_empty() => {
                    problems.push(format!("{at}.routing_key: is empty"))
                }
                Some(_) => {}
            }
            if let Some(url) = &channel.url {
                if let Err(why) = check_http_url(url) {
                    problems.push(format!("{at}.url: \"{}\" {why}", redact_url(url)));
                }
            }
        }
        ChannelKind::Alertmanager => {
            let urls = alertmanager_urls(channel);
            if urls.is_empty() {
                problems.push(format!(
                    "{at}.urls: an alertmanager channel needs the base URL of every Alertmanager (url or urls), e.g. http://alertmanager:9093"
                ));
            }
            for url in urls {
                if let Err(why) = check_http_url(url) {
                    problems.push(format!("{at}.urls: \"{}\" {why}", redact_url(url)));
                }
            }
            for (name, value) in channel.labels.iter().flatten() {
                if RESERVED_LABELS.contains(&name.as_str()) {
                    problems.push(format!(
                        "{at}.labels.{name}: is set by campaign-watcher itself; choose another label name"
                    ));
                } else if !is_label_name(name) {
                    problems.push(format!(
                        "{at}.labels.{name}: a label name is letters, digits and '_', not starting with a digit"
                    ));
                }
                if value.is_empty() {
                    problems.push(format!(
                        "{at}.labels.{name}: is empty (Alertmanager drops empty labels)"
                    ));
                }
            }
            if let Some(interval) = channel.resend_interval {
                if interval < MIN_RESEND_INTERVAL {
                    problems.push(format!(
                        "{at}.resend_interval: {} is below the 1s minimum",
                        humantime::format_duration(interval)
                    ));
                }
            }
        }
        ChannelKind::Webhook | ChannelKind::Console | ChannelKind::Email => {}
    }
    if let Err(severity_problems) = SeverityMap::parse(channel.severity.as_ref()) {
        for problem in severity_problems {
            problems.push(format!("{at}.severity: {problem}"));
        }
    }
}

/// `url` then `urls`, for an alertmanager channel.
pub(crate) fn alertmanager_urls(channel: &ChannelSettings) -> Vec<&str> {
    channel
        .url
        .iter()
        .chain(channel.urls.iter().flatten())
        .map(String::as_str)
        .collect()
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Keys of the chat/incident kinds set on a kind that does not use them.
pub(super) fn misplaced_chat_keys(channel: &ChannelSettings) -> Vec<&'static str> {
    use ChannelKind::*;
    let kind = channel.kind;
    let set = [
        (
            "routing_key",
            channel.routing_key.is_some() && channel.routing_key_file.is_none(),
            &[Pagerduty][..],
        ),
        (
            "routing_key_file",
            channel.routing_key_file.is_some(),
            &[Pagerduty][..],
        ),
        (
            "severity",
            channel.severity.is_some(),
            &[Pagerduty, Alertmanager, Discord][..],
        ),
        ("labels", channel.labels.is_some(), &[Alertmanager][..]),
        (
            "resend_interval",
            channel.resend_interval.is_some(),
            &[Alertmanager][..],
        ),
        ("urls", channel.urls.is_some(), &[Alertmanager][..]),
        (
            "secret",
            channel.secret.is_some(),
            &[Webhook, Console, Email][..],
        ),
    ];
    set.into_iter()
        .filter(|(_, is_set, users)| *is_set && !users.contains(&kind))
        .map(|(key, _, _)| key)
        .collect()
}

/// Whether a key the email checks know is also used by `kind`: the chat kinds
/// render text too (time zone, subject and text templates); Slack groups.
pub(super) fn shared_with_email(kind: ChannelKind, key: &str) -> bool {
    use ChannelKind::*;
    match kind {
        Slack | Discord | Teams | Pagerduty | Alertmanager
            if matches!(key, "timezone" | "subject_template" | "text_template") =>
        {
            true
        }
        Slack => key == "group",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn problems_of(channel: &ChannelSettings) -> Vec<String> {
        let mut problems = Vec::new();
        check_chat_channel("channels.x", channel, &mut problems);
        problems
    }

    #[test]
    fn chat_kinds_need_their_url_and_never_show_it() {
        for kind in [ChannelKind::Slack, ChannelKind::Discord, ChannelKind::Teams] {
            let mut channel = ChannelSettings::new(kind);
            assert_eq!(problems_of(&channel).len(), 1, "{kind:?}");
            channel.url = Some("ftp://hooks.slack.com/services/T0/B0/SECRETTOKEN".into());
            let problems = problems_of(&channel);
            assert_eq!(problems.len(), 1);
            assert!(!problems[0].contains("SECRETTOKEN"), "{problems:?}");
            channel.url = Some("https://hooks.slack.com/services/T0/B0/SECRETTOKEN".into());
            assert!(problems_of(&channel).is_empty());
        }
    }

    #[test]
    fn pagerduty_needs_a_routing_key() {
        let mut channel = ChannelSettings::new(ChannelKind::Pagerduty);
        assert!(problems_of(&channel)[0].contains("routing_key"));
        channel.routing_key = Some(Secret::new("R0UTINGKEY"));
        assert!(problems_of(&channel).is_empty());
        channel.severity = Some([("paused".into(), "urgent".into())].into());
        assert!(problems_of(&channel)[0].starts_with("channels.x.severity:"));
    }

    #[test]
    fn alertmanager_urls_labels_and_interval() {
        let mut channel = ChannelSettings::new(ChannelKind::Alertmanager);
        assert!(problems_of(&channel)[0].contains("channels.x.urls"));
        channel.urls = Some(vec!["http://am-1:9093".into(), "http://am-2:9093".into()]);
        assert!(problems_of(&channel).is_empty());
        channel.labels = Some(
            [
                ("team".into(), "outreach".into()),
                ("severity".into(), "x".into()),
                ("9lives".into(), "y".into()),
                ("empty".into(), String::new()),
            ]
            .into(),
        );
        channel.resend_interval = Some(Duration::from_millis(10));
        let problems = problems_of(&channel);
        assert_eq!(problems.len(), 4, "{problems:?}");
    }

    #[test]
    fn misplaced_keys_are_named() {
        let mut channel = ChannelSettings::new(ChannelKind::Slack);
        channel.routing_key = Some(Secret::new("k"));
        channel.labels = Some(Default::default());
        assert_eq!(misplaced_chat_keys(&channel), vec!["routing_key", "labels"]);
        assert!(shared_with_email(ChannelKind::Slack, "group"));
        assert!(!shared_with_email(ChannelKind::Discord, "group"));
        assert!(!shared_with_email(ChannelKind::Webhook, "timezone"));
    }
}
