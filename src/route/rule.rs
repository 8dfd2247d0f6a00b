//! `[[rules]]`: the settings as written, and the [`Rule`] the router matches
//! with, parsed from them once. Each problem is a sentence starting with its
//! key path, so `validate` and the router report the same words.

use std::str::FromStr;
use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::event::{Event, EventType};
use crate::setting::account_pattern::{account_glob_problem, unknown_account_problem};
use crate::setting::suggest::did_you_mean;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RuleSettings {
    #[serde(default)]
    pub name: Option<String>,
    /// Event types; empty means every type.
    #[serde(default)]
    pub events: Vec<String>,
    /// `from->to` with `*` for any; only constrains `campaign.status_changed`.
    #[serde(default)]
    pub transitions: Vec<String>,
    /// Globs on campaign id or name; empty means every campaign.
    #[serde(default)]
    pub campaigns: Vec<String>,
    /// Account names or globs over them (`[sigmamind.accounts.NAME]`); empty
    /// means every account. Events about the whole watcher (its store, its
    /// channels) belong to no account and are not held back by it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Channel names; empty means every channel.
    #[serde(default)]
    pub channels: Vec<String>,
    /// While a campaign stays in the state this rule matched, send `campaign.reminder` this often.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub remind_every: Option<Duration>,
    /// Overrides `watch.confirm_polls` for the campaigns this rule names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_polls: Option<u32>,
}

/// One side of a `from->to` transition pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StatusPattern {
    Any,
    Exactly(String),
}

impl StatusPattern {
    fn matches(&self, status: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exactly(expected) => expected.eq_ignore_ascii_case(status),
        }
    }
}

/// A `from->to` pattern over a campaign's status change, `*` for any status.
/// Named apart from the condition `Transition`, which is what an alert is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    from: StatusPattern,
    to: StatusPattern,
}

impl StatusChange {
    pub fn matches(&self, from: &str, to: &str) -> bool {
        self.from.matches(from) && self.to.matches(to)
    }

    /// The statuses it names (not `*`), from then to.
    pub fn named_statuses(&self) -> impl Iterator<Item = &str> {
        [&self.from, &self.to]
            .into_iter()
            .filter_map(|side| match side {
                StatusPattern::Any => None,
                StatusPattern::Exactly(status) => Some(status.as_str()),
            })
    }
}

/// Why a transition pattern is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusChangeError {
    #[error("is not of the form from->to (e.g. live->paused, *->completed)")]
    NoArrow,
    /// Unknown lower-case words are allowed because SigmaMind may add statuses.
    #[error("needs a lower-case status or * on each side of ->")]
    NotAStatus,
}

impl FromStr for StatusChange {
    type Err = StatusChangeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (from, to) = text.split_once("->").ok_or(StatusChangeError::NoArrow)?;
        let side = |side: &str| {
            let side = side.trim();
            if side == "*" {
                return Ok(StatusPattern::Any);
            }
            let status = side.starts_with(|c: char| c.is_ascii_lowercase())
                && side
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if status {
                Ok(StatusPattern::Exactly(side.to_string()))
            } else {
                Err(StatusChangeError::NotAStatus)
            }
        };
        Ok(Self {
            from: side(from)?,
            to: side(to)?,
        })
    }
}

/// Globs compiled into one matcher; none written matches everything.
#[derive(Debug, Clone, Default)]
pub struct Globs(Option<GlobSet>);

impl Globs {
    /// Every pattern is a valid glob (checked before).
    fn compile(patterns: &[String]) -> Result<Self, globset::Error> {
        if patterns.is_empty() {
            return Ok(Self(None));
        }
        let mut builder = GlobSetBuilder::new();
        for pattern in patterns {
            builder.add(Glob::new(pattern)?);
        }
        builder.build().map(|set| Self(Some(set)))
    }

    /// `None` when no pattern was written.
    fn is_match(&self, text: &str) -> Option<bool> {
        self.0.as_ref().map(|set| set.is_match(text))
    }
}

/// What is wrong with one `[[rules]]` entry: the sentence starts with its key path.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuleError {
    #[error(
        "{at}.events: \"{written}\" is not an event type{} (known: {})",
        did_you_mean(written, &event_names()),
        event_names().join(", ")
    )]
    UnknownEvent { at: String, written: String },
    #[error("{at}.transitions: only apply to campaign.status_changed, which {at}.events does not include")]
    TransitionsWithoutStatusChanges { at: String },
    #[error("{at}.transitions: \"{written}\" {why}")]
    Transition {
        at: String,
        written: String,
        why: StatusChangeError,
    },
    #[error("{at}.campaigns: \"{pattern}\" is not a valid glob: {}", .error.kind())]
    CampaignGlob {
        at: String,
        pattern: String,
        error: globset::Error,
    },
    /// An account pattern that is not a glob, or a plain name no account has.
    #[error("{at}.accounts: {why}")]
    Account { at: String, why: String },
    #[error("{at}.remind_every: reminders follow campaign.status_changed or campaign.upload_errors_added, which {at}.events does not include")]
    NothingToRemind { at: String },
    #[error(
        "{at}.channels: \"{channel}\" is not a configured channel{} (configured: {})",
        did_you_mean(channel, &configured.iter().map(String::as_str).collect::<Vec<_>>()),
        configured.join(", ")
    )]
    UnknownChannel {
        at: String,
        channel: String,
        configured: Vec<String>,
    },
}

impl RuleSettings {
    /// Every channel and plain account name rule `index` names that is not
    /// configured; checked even when the rule's own keys have problems.
    pub fn unknown_names(
        &self,
        index: usize,
        channels: &[String],
        accounts: &[String],
    ) -> Vec<RuleError> {
        let at = format!("rules[{index}]");
        unknown_names(&at, &self.accounts, &self.channels, channels, accounts)
    }
}

fn unknown_names(
    at: &str,
    account_patterns: &[String],
    rule_channels: &[String],
    channels: &[String],
    accounts: &[String],
) -> Vec<RuleError> {
    let mut problems = Vec::new();
    for pattern in account_patterns {
        // A pattern that is no glob was reported as such.
        if account_glob_problem(pattern).is_some() {
            continue;
        }
        if let Some(why) = unknown_account_problem(pattern, accounts) {
            problems.push(RuleError::Account {
                at: at.to_string(),
                why,
            });
        }
    }
    for channel in rule_channels {
        if !channels.contains(channel) {
            problems.push(RuleError::UnknownChannel {
                at: at.to_string(),
                channel: channel.clone(),
                configured: channels.to_vec(),
            });
        }
    }
    problems
}

fn event_names() -> Vec<&'static str> {
    EventType::ALL.iter().map(|kind| kind.as_str()).collect()
}

/// One rule, parsed: what the router matches events with.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its `name`, or `rules[N]`.
    pub(super) name: String,
    /// `rules[N]`, for the problems found when the router cross-checks names.
    at: String,
    events: Vec<EventType>,
    transitions: Vec<StatusChange>,
    campaigns: Globs,
    account_patterns: Vec<String>,
    accounts: Globs,
    pub(super) channels: Vec<String>,
    pub(super) remind_every: Option<Duration>,
    pub(super) confirm_polls: Option<u32>,
}

impl Rule {
    /// Rule `index` of `[[rules]]`, or every problem its own keys have (names
    /// of channels and accounts are checked by the router, which knows them).
    pub fn parse(settings: &RuleSettings, index: usize) -> Result<Self, Vec<RuleError>> {
        let at = format!("rules[{index}]");
        let mut problems = Vec::new();
        let mut events = Vec::with_capacity(settings.events.len());
        for written in &settings.events {
            match EventType::parse(written) {
                Some(kind) => events.push(kind),
                None => problems.push(RuleError::UnknownEvent {
                    at: at.clone(),
                    written: written.clone(),
                }),
            }
        }
        let names = |kinds: &[EventType]| {
            settings.events.is_empty()
                || settings
                    .events
                    .iter()
                    .any(|written| kinds.iter().any(|kind| written == kind.as_str()))
        };
        if !settings.transitions.is_empty() && !names(&[EventType::StatusChanged]) {
            problems.push(RuleError::TransitionsWithoutStatusChanges { at: at.clone() });
        }
        let mut transitions = Vec::with_capacity(settings.transitions.len());
        for written in &settings.transitions {
            match written.parse() {
                Ok(change) => transitions.push(change),
                Err(why) => problems.push(RuleError::Transition {
                    at: at.clone(),
                    written: written.clone(),
                    why,
                }),
            }
        }
        for pattern in &settings.campaigns {
            if let Err(error) = Glob::new(pattern) {
                problems.push(RuleError::CampaignGlob {
                    at: at.clone(),
                    pattern: pattern.clone(),
                    error,
                });
            }
        }
        for pattern in &settings.accounts {
            if let Some(why) = account_glob_problem(pattern) {
                problems.push(RuleError::Account {
                    at: at.clone(),
                    why,
                });
            }
        }
        let remindable = [EventType::StatusChanged, EventType::UploadErrorsAdded];
        if settings.remind_every.is_some() && !names(&remindable) {
            problems.push(RuleError::NothingToRemind { at: at.clone() });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        // Every pattern compiled alone above; a set of valid globs builds.
        let campaigns = Globs::compile(&settings.campaigns).unwrap_or_default();
        let accounts = Globs::compile(&settings.accounts).unwrap_or_default();
        Ok(Self {
            name: settings.name.clone().unwrap_or_else(|| at.clone()),
            at,
            events,
            transitions,
            campaigns,
            account_patterns: settings.accounts.clone(),
            accounts,
            channels: settings.channels.clone(),
            remind_every: settings.remind_every,
            confirm_polls: settings.confirm_polls,
        })
    }

    /// Every channel and plain account name this rule names that is not configured.
    pub(super) fn unknown_names(&self, channels: &[String], accounts: &[String]) -> Vec<RuleError> {
        unknown_names(
            &self.at,
            &self.account_patterns,
            &self.channels,
            channels,
            accounts,
        )
    }
    /// Whether this rule's account globs take `account` (none written: every one).
    pub(super) fn takes_account(&self, account: &str) -> bool {
        self.accounts.is_match(account) != Some(false)
    }

    pub(super) fn names_campaign(&self, id: &str, name: Option<&str>) -> bool {
        match self.campaigns.is_match(id) {
            Some(true) | None => true,
            Some(false) => name.is_some_and(|name| self.campaigns.is_match(name) == Some(true)),
        }
    }

    pub(super) fn matches(&self, event: &Event) -> bool {
        if !self.events.is_empty() && !self.events.iter().any(|kind| kind.covers(event.kind)) {
            return false;
        }
        if event.kind == EventType::StatusChanged && !self.transitions.is_empty() {
            let Some((from, to)) = event.transition() else {
                return false;
            };
            let hit = self
                .transitions
                .iter()
                .any(|change| change.matches(from.as_str(), to.as_str()));
            if !hit {
                return false;
            }
        }
        // Events about the whole watcher belong to no account, so account
        // filters don't hold them back.
        if let Some(account) = event.account() {
            if !self.takes_account(account) {
                return false;
            }
        }
        // Watcher events concern every campaign, so campaign filters don't hold them back.
        match &event.campaign {
            Some(campaign) => self.names_campaign(&campaign.id, Some(&campaign.name)),
            None => true,
        }
    }
}
