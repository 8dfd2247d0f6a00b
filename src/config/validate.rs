//! Semantic checks on loaded settings: every problem at once, each a sentence
//! starting with its key path. Values that may hold credentials are never echoed
//! except through [`redact_url`].

use std::collections::BTreeMap;
use std::time::Duration;

use super::{
    account_name_problem, Account, ChannelSettings, Settings, SigmaMindSettings, WatchSettings,
};
use crate::observe::{CampaignStatus, UndocumentedStatus};
use crate::route::decide::Shaping;
use crate::route::{Router, StatusChange};
use crate::schedule::{CronSchedule, Schedule};
use crate::setting::bounds::{duration_within, number_within, LONGEST};
use crate::setting::suggest::did_you_mean;
use crate::setting::url::check_http_url;
use crate::setting::url::redact_url;

const MAX_PAGE_SIZE: u32 = 1000;
const MAX_CONFIRM_POLLS: u32 = 100;
/// Shorter reminders are noise, not reminders.
const MIN_REMIND_EVERY: Duration = Duration::from_secs(60);
const MILLISECOND: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);
/// Polling less often than weekly is not watching.
const LONGEST_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);
const MAX_IN_FLIGHT: usize = 1024;
const MAX_REQUESTS_PER_SECOND: f64 = 100_000.0;
const MAX_RETRIES: u32 = 100;
const MAX_RESPONSE_BYTES: usize = 1 << 30;
const MAX_LIST_THRESHOLD: usize = 1_000_000;
const MAX_UNHEALTHY_AFTER: u32 = 10_000;

/// What [`Settings::validate`] built on the way, for the caller to keep
/// instead of building it again.
#[derive(Debug)]
pub struct Built {
    pub router: Router,
    /// Every channel's quiet hours and rate limit; whether it batches or
    /// groups is the built channel's to say.
    pub shaping: BTreeMap<String, Shaping>,
    /// When cycles start: `[watch] interval` or its cron `schedule`.
    pub schedule: Schedule,
}

impl Settings {
    /// Every configuration error at once; `Ok` may still come with [`Settings::warnings`].
    pub fn validate(&self) -> Result<Built, Vec<String>> {
        let mut problems = Vec::new();
        self.check_sigmamind(&mut problems);
        let schedule = self.check_watch(&mut problems);
        self.check_state_and_http(&mut problems);
        let mut shaping = BTreeMap::new();
        for (name, channel) in &self.channels {
            check_channel(name, channel, &mut problems);
            shaping.insert(name.clone(), shaping_of(name, channel, &mut problems));
        }
        let router = self.check_rules(&mut problems);
        match (router, schedule) {
            (Some(router), Some(schedule)) if problems.is_empty() => Ok(Built {
                router,
                shaping,
                schedule,
            }),
            _ => Err(problems),
        }
    }

    /// Doubtful but usable settings, for the caller to log at warn level.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        warnings.extend(crate::setting::suggest::misspelled_overrides(
            std::env::vars(),
        ));
        for (index, rule) in self.rules.iter().enumerate() {
            for transition in &rule.transitions {
                // A pattern that does not parse is validation's problem, not a warning.
                let Ok(change) = transition.parse::<StatusChange>() else {
                    continue;
                };
                for side in change.named_statuses() {
                    if side.parse::<CampaignStatus>().is_err() {
                        // Warned, not refused: the API may add a status, and a
                        // rule written for it should load.
                        warnings.push(format!(
                            "rules[{index}].transitions: \"{side}\" in \"{transition}\" is not a status SigmaMind documents{} ({}); the rule matches it only if the API reports it",
                            did_you_mean(side, &CampaignStatus::SPELLINGS),
                            CampaignStatus::SPELLINGS.join(", ")
                        ));
                    }
                }
            }
        }
        for account in self.accounts() {
            let (watch, at) = (&account.watch, &account.watch_at);
            if !watch.all && !watch.statuses.is_empty() {
                warnings.push(format!(
                    "{at}.statuses: only applies with {at}.all = true; it is ignored"
                ));
            }
            if !watch.all && (!watch.include.is_empty() || !watch.exclude.is_empty()) {
                warnings.push(format!(
                    "{at}.include/exclude: only apply with {at}.all = true; they are ignored"
                ));
            }
        }
        warnings.extend(shared_key_warnings(&self.accounts()));
        if self.state.lease_ttl.is_some() && is_sqlite(&self.state.url) {
            warnings.push(
                "state.lease_ttl: only used with a shared (postgres) state store; it is ignored"
                    .to_string(),
            );
        }
        for (name, channel) in &self.channels {
            warnings.extend(channel.kind.warnings(&format!("channels.{name}")));
        }
        warnings.extend(self.http.warnings());
        warnings
    }

    fn check_sigmamind(&self, problems: &mut Vec<String>) {
        let named = self.has_named_accounts();
        if named {
            for key in ["api_key", "api_key_file"] {
                let set = match key {
                    "api_key" => self.sigmamind.api_key.is_some(),
                    _ => self.sigmamind.api_key_file.is_some(),
                };
                if set {
                    problems.push(format!(
                        "sigmamind.{key}: with [sigmamind.accounts.*] each account has its own key; move it into [sigmamind.accounts.default] to keep watching that account under its stored state"
                    ));
                }
            }
            if !self.watch.campaigns.is_empty() {
                problems.push(
                    "watch.campaigns: with [sigmamind.accounts.*] each account lists its own campaigns; move them into [sigmamind.accounts.default] (or the account they belong to)"
                        .to_string(),
                );
            }
            for name in self.sigmamind.accounts.keys() {
                if let Some(why) = account_name_problem(name) {
                    problems.push(format!("sigmamind.accounts.{name}: {why}"));
                }
            }
        }
        for account in self.accounts() {
            check_api(&account.api, &account.api_at, problems);
            check_selection(&account.watch, &account.watch_at, problems);
        }
    }

    /// The `[watch]` keys; the schedule when they name a usable one.
    fn check_watch(&self, problems: &mut Vec<String>) -> Option<Schedule> {
        let watch = &self.watch;
        if watch.interval.is_some() && watch.schedule.is_some() {
            problems.push("watch.interval: set either interval or schedule, not both".to_string());
        }
        let schedule = match &watch.schedule {
            Some(schedule) => match parse_cron(schedule) {
                Ok(cron) => Some(Schedule::Cron(cron)),
                Err(why) => {
                    problems.push(format!("watch.schedule: \"{schedule}\" {why}"));
                    None
                }
            },
            None => Some(Schedule::Every(watch.effective_interval())),
        };
        if let Some(interval) = watch.interval {
            if interval < Duration::from_secs(1) {
                problems.push(format!(
                    "watch.interval: {} is below the 1s minimum",
                    human(interval)
                ));
            } else {
                duration_within(
                    problems,
                    "watch.interval",
                    interval,
                    SECOND..=LONGEST_INTERVAL,
                );
            }
        }
        check_confirm_polls(problems, "watch.confirm_polls", watch.confirm_polls);
        if watch.unhealthy_after == 0 {
            problems.push("watch.unhealthy_after: must be at least 1".to_string());
        } else {
            number_within(
                problems,
                "watch.unhealthy_after",
                watch.unhealthy_after,
                1..=MAX_UNHEALTHY_AFTER,
            );
        }
        schedule
    }

    fn check_state_and_http(&self, problems: &mut Vec<String>) {
        let url = &self.state.url;
        let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
        if !postgres && !is_sqlite(url) {
            problems.push(format!(
                "state.url: \"{}\" must start with sqlite://, sqlite: or postgres://",
                redact_url(url)
            ));
        }
        if let Some(ttl) = self.state.lease_ttl {
            // Renewed every third of it over a network round trip: under 3 s a
            // busy database would make the leader fence itself for nothing.
            if ttl < std::time::Duration::from_secs(3) {
                problems.push(format!(
                    "state.lease_ttl: {} is too short; use at least 3s (default 15s)",
                    humantime::format_duration(ttl)
                ));
            } else {
                duration_within(problems, "state.lease_ttl", ttl, 3 * SECOND..=HOUR);
            }
        }
        if let Some(retention) = self.state.retention() {
            // Under a minute the history would not even hold the last cycles.
            duration_within(
                problems,
                "state.retention",
                retention,
                60 * SECOND..=3650 * DAY,
            );
        }
        self.http.check(problems);
        if let Some(url) = &self.heartbeat.url {
            // The URL is a secret: say what is wrong without repeating it.
            let allow = self.heartbeat.allow_link_local;
            crate::setting::url::check_secret_url("heartbeat.url", url, allow, problems);
        }
        let timeout = self.heartbeat.timeout;
        if timeout < Duration::from_secs(1) || timeout > Duration::from_secs(60) {
            problems.push(format!(
                "heartbeat.timeout: {} is outside 1s..60s",
                humantime::format_duration(timeout)
            ));
        }
    }

    fn check_rules(&self, problems: &mut Vec<String>) -> Option<Router> {
        let channels: Vec<String> = self.channels.keys().cloned().collect();
        let unresolved: Vec<String> = self
            .channels
            .iter()
            .filter(|(_, channel)| !channel.shared.send_resolved)
            .map(|(name, _)| name.clone())
            .collect();
        let router = Router::from_settings(&self.rules, &channels, &self.account_names())
            .map_err(|found| problems.extend(found.iter().map(ToString::to_string)))
            .ok()
            .map(|router| router.with_unresolved(unresolved));
        for (index, rule) in self.rules.iter().enumerate() {
            let at = format!("rules[{index}]");
            if let Some(polls) = rule.confirm_polls {
                check_confirm_polls(problems, &format!("{at}.confirm_polls"), polls);
            }
            if let Some(every) = rule.remind_every {
                if every < MIN_REMIND_EVERY {
                    problems.push(format!(
                        "{at}.remind_every: {} is below the 1m minimum",
                        human(every)
                    ));
                } else {
                    duration_within(
                        problems,
                        &format!("{at}.remind_every"),
                        every,
                        MIN_REMIND_EVERY..=LONGEST,
                    );
                }
            }
        }
        router
    }
}

fn check_channel(name: &str, channel: &ChannelSettings, problems: &mut Vec<String>) {
    let at = format!("channels.{name}");
    if name.is_empty() {
        problems.push("channels: a channel name is empty".to_string());
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        problems.push(format!(
            "{at}: the name may only contain letters, digits, '_' and '-'"
        ));
    }
    channel.check(&at, problems);
}

fn check_confirm_polls(problems: &mut Vec<String>, key: &str, polls: u32) {
    if polls == 0 || polls > MAX_CONFIRM_POLLS {
        problems.push(format!("{key}: {polls} is outside 1..={MAX_CONFIRM_POLLS}"));
    }
}

fn non_zero(problems: &mut Vec<String>, key: &str, value: Duration) {
    if value.is_zero() {
        problems.push(format!("{key}: must be longer than 0s"));
    }
}

fn human(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite://") || url.starts_with("sqlite:")
}

/// Why `[watch] schedule` cannot be used; `Display` follows the quoted expression.
#[derive(Debug, thiserror::Error)]
enum CronProblem {
    #[error("is not a 6- or 7-field cron expression (seconds first, e.g. \"0 */5 * * * *\")")]
    FieldCount,
    #[error("contains characters a cron field cannot have")]
    Characters,
    #[error("is not a cron expression the scheduler accepts: {0}")]
    Refused(croner::errors::CronError),
}

/// The field count and characters are checked first for a plainer sentence
/// than the parser's; nicknames such as `@hourly` are not taken.
fn parse_cron(schedule: &str) -> Result<CronSchedule, CronProblem> {
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 6 && fields.len() != 7 {
        return Err(CronProblem::FieldCount);
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "*/,-?#".contains(c);
    if fields.iter().any(|field| !field.chars().all(allowed)) {
        return Err(CronProblem::Characters);
    }
    CronSchedule::parse(schedule).map_err(CronProblem::Refused)
}

/// Two accounts with one key read one workspace twice, as two sets of campaigns.
fn shared_key_warnings(accounts: &[Account]) -> Vec<String> {
    let mut warnings = Vec::new();
    for (index, first) in accounts.iter().enumerate() {
        let Some(key) = &first.api.api_key else {
            continue;
        };
        for second in &accounts[index + 1..] {
            if second.api.api_key.as_ref() == Some(key) && first.api.base_url == second.api.base_url
            {
                warnings.push(format!(
                    "{}: has the same API key as {}: both read the same SigmaMind account, and its campaigns are watched (and alerted on) twice",
                    second.api_at, first.api_at
                ));
            }
        }
    }
    warnings
}

fn check_api(api: &SigmaMindSettings, at: &str, problems: &mut Vec<String>) {
    match &api.api_key {
        None => problems.push(format!(
            "{at}.api_key: no API key: set api_key, api_key_file{}",
            if at == "sigmamind" {
                " or SIGMAMIND_API_KEY"
            } else {
                ""
            }
        )),
        Some(key) if key.expose().trim().is_empty() => {
            problems.push(format!("{at}.api_key: is empty"))
        }
        Some(_) => {}
    }
    if let Err(why) = check_http_url(&api.base_url) {
        problems.push(format!(
            "{at}.base_url: \"{}\" {why}",
            redact_url(&api.base_url)
        ));
    }
    for (key, value) in [
        (format!("{at}.timeout"), api.timeout),
        (format!("{at}.connect_timeout"), api.connect_timeout),
    ] {
        if value.is_zero() {
            non_zero(problems, &key, value);
        } else {
            duration_within(problems, &key, value, MILLISECOND..=HOUR);
        }
    }
    if api.max_in_flight == 0 {
        problems.push(format!("{at}.max_in_flight: must be at least 1"));
    } else {
        number_within(
            problems,
            &format!("{at}.max_in_flight"),
            api.max_in_flight,
            1..=MAX_IN_FLIGHT,
        );
    }
    let rps = api.max_requests_per_second;
    if !rps.is_finite() || rps < 0.0 {
        problems.push(format!(
            "{at}.max_requests_per_second: {rps} is not a finite number >= 0 (0 means no budget)"
        ));
    } else {
        number_within(
            problems,
            &format!("{at}.max_requests_per_second"),
            rps,
            0.0..=MAX_REQUESTS_PER_SECOND,
        );
    }
    number_within(
        problems,
        &format!("{at}.max_retries"),
        api.max_retries,
        0..=MAX_RETRIES,
    );
    duration_within(
        problems,
        &format!("{at}.retry_base"),
        api.retry_base,
        Duration::ZERO..=HOUR,
    );
    duration_within(
        problems,
        &format!("{at}.retry_max"),
        api.retry_max,
        Duration::ZERO..=DAY,
    );
    if api.retry_base > api.retry_max {
        problems.push(format!(
            "{at}.retry_base: {} is longer than {at}.retry_max ({})",
            human(api.retry_base),
            human(api.retry_max)
        ));
    }
    if api.max_response_bytes == 0 {
        problems.push(format!("{at}.max_response_bytes: must be at least 1"));
    } else {
        number_within(
            problems,
            &format!("{at}.max_response_bytes"),
            api.max_response_bytes,
            1..=MAX_RESPONSE_BYTES,
        );
    }
}

fn check_selection(watch: &WatchSettings, at: &str, problems: &mut Vec<String>) {
    if watch.campaigns.is_empty() && !watch.all {
        problems.push(format!(
            "{at}.campaigns: nothing to watch: list campaign ids or set {at}.all = true"
        ));
    }
    for (index, id) in watch.campaigns.iter().enumerate() {
        if id.trim().is_empty() {
            problems.push(format!("{at}.campaigns[{index}]: is empty"));
        } else if matches!(id.as_str(), "." | "..") {
            // Even percent-encoded (%2E) a URL resolves them away: the
            // request would read the campaign list, not this campaign.
            problems.push(format!(
                "{at}.campaigns[{index}]: \"{id}\" cannot be fetched: a URL path cannot hold \".\" or \"..\" as a campaign id"
            ));
        }
    }
    if watch.page_size == 0 || watch.page_size > MAX_PAGE_SIZE {
        problems.push(format!(
            "{at}.page_size: {} is outside 1..={MAX_PAGE_SIZE}",
            watch.page_size
        ));
    }
    for (key, patterns) in [
        (format!("{at}.include"), &watch.include),
        (format!("{at}.exclude"), &watch.exclude),
    ] {
        for (index, pattern) in patterns.iter().enumerate() {
            if let Err(error) = globset::Glob::new(pattern) {
                problems.push(format!(
                    "{key}[{index}]: \"{pattern}\" is not a valid glob: {error}"
                ));
            }
        }
    }
    if watch.list_threshold == 0 {
        problems.push(format!("{at}.list_threshold: must be at least 1"));
    } else {
        number_within(
            problems,
            &format!("{at}.list_threshold"),
            watch.list_threshold,
            1..=MAX_LIST_THRESHOLD,
        );
    }
    for (index, status) in watch.statuses.iter().enumerate() {
        if let CampaignStatus::Unknown(text) = status {
            problems.push(format!(
                "{at}.statuses[{index}]: {}{}",
                UndocumentedStatus(text.clone()),
                did_you_mean(text, &CampaignStatus::SPELLINGS)
            ));
        }
    }
}

/// What the routing needs of a channel: its quiet hours and rate limit. A
/// kind that refuses quiet hours was reported by the channel's own check.
fn shaping_of(name: &str, channel: &ChannelSettings, problems: &mut Vec<String>) -> Shaping {
    let quiet = match &channel.shared.quiet_hours {
        Some(quiet) if channel.kind.holds_quiet_hours() => quiet
            .parsed()
            .cloned()
            .map_err(|found| {
                problems.extend(
                    found
                        .each()
                        .map(|why| format!("channels.{name}.quiet_hours: {why}")),
                )
            })
            .ok(),
        _ => None,
    };
    Shaping {
        quiet,
        max_per_minute: channel.shared.max_per_minute,
        ..Shaping::default()
    }
}
