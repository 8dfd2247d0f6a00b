//! Step 4 of the pipeline: rules choose the channels for each event. Pure: no I/O.
//!
//! Without any `[[rules]]`, every event except `campaign.settings_changed` goes to
//! every channel. With rules, an event goes to the union of the channels of every
//! rule it matches; an event no rule matches is kept in history and sent nowhere.

pub mod decide;
pub mod quiet;
pub mod rate;
pub mod replay;
mod rule;
pub mod shape;
pub mod silence;

use std::collections::BTreeSet;

use crate::event::{Event, EventType};
pub use rule::{Rule, RuleError, RuleSettings, StatusChange, StatusChangeError};

/// The compiled `[[rules]]` plus the configured channel names.
#[derive(Debug, Clone)]
pub struct Router {
    rules: Vec<Rule>,
    channels: Vec<String>,
    /// Channels with `send_resolved = false`: an episode's end reaches them
    /// only where the rules route it.
    unresolved: BTreeSet<String>,
}

impl Router {
    /// The router over parsed rules, once every channel and plain account name
    /// they name is configured; otherwise every name that is not.
    pub fn new(
        rules: Vec<Rule>,
        channels: &[String],
        accounts: &[String],
    ) -> Result<Self, Vec<RuleError>> {
        let problems: Vec<RuleError> = rules
            .iter()
            .flat_map(|rule| rule.unknown_names(channels, accounts))
            .collect();
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self {
            rules,
            channels: channels.to_vec(),
            unresolved: BTreeSet::new(),
        })
    }

    /// This router, with `channels` keeping only the ends the rules route
    /// to them (`send_resolved = false`).
    pub fn with_unresolved(mut self, channels: impl IntoIterator<Item = String>) -> Self {
        self.unresolved = channels.into_iter().collect();
        self
    }

    /// Of the channels an episode's start or reminders reached, those its end
    /// follows to besides the rules' `routed` ones: still configured, not
    /// `send_resolved = false`, each once, in name order.
    pub fn followers<'a>(
        &self,
        told: impl IntoIterator<Item = &'a String>,
        routed: &[String],
    ) -> Vec<String> {
        let followers: BTreeSet<&String> = told
            .into_iter()
            .filter(|channel| self.channels.contains(channel))
            .filter(|channel| !self.unresolved.contains(*channel))
            .filter(|channel| !routed.contains(channel))
            .collect();
        followers.into_iter().cloned().collect()
    }

    /// Parses `[[rules]]` and builds the router: every problem at once.
    pub fn from_settings(
        rules: &[RuleSettings],
        channels: &[String],
        accounts: &[String],
    ) -> Result<Self, Vec<RuleError>> {
        let mut parsed = Vec::with_capacity(rules.len());
        let mut problems = Vec::new();
        for (index, settings) in rules.iter().enumerate() {
            match Rule::parse(settings, index) {
                Ok(rule) => parsed.push(rule),
                Err(found) => {
                    problems.extend(found);
                    problems.extend(settings.unknown_names(index, channels, accounts));
                }
            }
        }
        match Self::new(parsed, channels, accounts) {
            Ok(router) if problems.is_empty() => Ok(router),
            Ok(_) => Err(problems),
            Err(unknown) => {
                problems.extend(unknown);
                Err(problems)
            }
        }
    }

    /// Polls a change of this campaign must be seen on: the largest `confirm_polls`
    /// among rules naming the campaign (by their campaign globs alone: confirmation
    /// happens before there are events to match), else `default`.
    pub fn confirm_polls(
        &self,
        account: &str,
        campaign_id: &str,
        name: Option<&str>,
        default: u32,
    ) -> u32 {
        self.rules
            .iter()
            .filter(|rule| rule.takes_account(account))
            .filter(|rule| rule.names_campaign(campaign_id, name))
            .filter_map(|rule| rule.confirm_polls)
            .max()
            .unwrap_or(default)
    }

    /// `(rule index, rule name, interval)` of every rule with `remind_every`.
    pub fn reminding_rules(&self) -> Vec<(usize, &str, std::time::Duration)> {
        self.rules
            .iter()
            .enumerate()
            .filter_map(|(index, rule)| Some((index, rule.name.as_str(), rule.remind_every?)))
            .collect()
    }

    /// Whether rule `index` matches `event`.
    pub fn rule_matches(&self, index: usize, event: &Event) -> bool {
        self.rules
            .get(index)
            .is_some_and(|rule| rule.matches(event))
    }

    /// Where rule `index` sends: its channels, or every channel.
    pub fn rule_channels(&self, index: usize) -> Vec<String> {
        let Some(rule) = self.rules.get(index) else {
            return vec![];
        };
        let mut channels = if rule.channels.is_empty() {
            self.channels.clone()
        } else {
            rule.channels.clone()
        };
        channels.sort();
        channels
    }

    /// The channels this event goes to, each once, in name order.
    pub fn route(&self, event: &Event) -> Vec<String> {
        self.explain(event).channels
    }

    /// [`Router::route`] with its reasons: the rules that matched, in order,
    /// or that there are no rules and the default applied.
    pub fn explain(&self, event: &Event) -> Routing {
        if event.kind == EventType::Test {
            return Routing::default();
        }
        if self.rules.is_empty() {
            let mut all = match event.kind {
                EventType::SettingsChanged => vec![],
                _ => self.channels.clone(),
            };
            all.sort();
            return Routing {
                matched: vec![],
                by_default: true,
                channels: all,
            };
        }
        let mut chosen = BTreeSet::new();
        let mut matched = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            if !rule.matches(event) {
                continue;
            }
            tracing::trace!(rule = %rule.name, event = %event.id, "rule matched");
            let channels = self.rule_channels(index);
            chosen.extend(channels.iter().cloned());
            matched.push(MatchedRule {
                rule: rule.name.clone(),
                channels,
            });
        }
        Routing {
            matched,
            by_default: false,
            channels: chosen.into_iter().collect(),
        }
    }
}

/// Where an event goes and why ([`Router::explain`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    /// The rules it matched, in configuration order.
    pub matched: Vec<MatchedRule>,
    /// There are no `[[rules]]`: every channel, except for `campaign.settings_changed`.
    pub by_default: bool,
    /// The union of the channels, each once, in name order.
    pub channels: Vec<String>,
}

/// One rule an event matched, with the channels it sends to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRule {
    /// Its `name`, or `rules[N]`.
    pub rule: String,
    pub channels: Vec<String>,
}

#[cfg(test)]
mod tests;
