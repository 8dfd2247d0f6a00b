//! Silences, pure: an operator-made, time-limited "don't send this". A silenced
//! event is still committed to history (marked with the silence), never sent,
//! and nothing is sent for it when the silence ends: the next transition is.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::event::{Event, EventType};

/// The most silences that may be in force or yet to start at once. Each costs
/// a match per event routed and per campaign shown, so their number is bounded
/// rather than left to whoever can reach the API.
pub const MAX_SILENCES_IN_FORCE: usize = 10_000;

/// A campaign or account matcher (an id or name, or a glob over either),
/// compiled once when made: matching never compiles. Compares, prints and
/// serializes as its text.
#[derive(Clone)]
pub struct Pattern {
    text: String,
    matcher: Matcher,
}

/// How a pattern matches. The globs people write most (`camp_eu_*`,
/// `*-test`, `*Q4*`, `*`) are string comparisons; only the others run a
/// compiled glob, which costs about a hundred times more per match.
#[derive(Clone)]
enum Matcher {
    /// No glob character, or not a valid glob: the text itself.
    Exact,
    Prefix(String),
    Suffix(String),
    Contains(String),
    Anything,
    Glob(Arc<globset::GlobMatcher>),
}

const GLOB_CHARACTERS: [char; 7] = ['*', '?', '[', ']', '{', '}', '\\'];

impl Matcher {
    fn of(text: &str) -> Self {
        if !text.contains(GLOB_CHARACTERS) {
            return Self::Exact;
        }
        let plain = |part: &str| !part.contains(GLOB_CHARACTERS);
        if text.chars().all(|c| c == '*') {
            return Self::Anything;
        }
        let inner = text
            .strip_prefix('*')
            .and_then(|rest| rest.strip_suffix('*'));
        if let Some(middle) = inner.filter(|middle| !middle.is_empty() && plain(middle)) {
            return Self::Contains(middle.to_string());
        }
        if let Some(head) = text.strip_suffix('*').filter(|head| plain(head)) {
            return Self::Prefix(head.to_string());
        }
        if let Some(tail) = text.strip_prefix('*').filter(|tail| plain(tail)) {
            return Self::Suffix(tail.to_string());
        }
        match globset::Glob::new(text) {
            Ok(glob) => {
                #[cfg(test)]
                tests::COMPILED.with(|count| count.set(count.get() + 1));
                Self::Glob(Arc::new(glob.compile_matcher()))
            }
            Err(_) => Self::Exact,
        }
    }
}

impl Pattern {
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let matcher = Matcher::of(&text);
        Self { text, matcher }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it takes this id or this name.
    pub fn matches(&self, id: &str, name: &str) -> bool {
        let one = |candidate: &str| match &self.matcher {
            Matcher::Exact => self.text == candidate,
            Matcher::Prefix(head) => candidate.starts_with(head.as_str()),
            Matcher::Suffix(tail) => candidate.ends_with(tail.as_str()),
            Matcher::Contains(middle) => candidate.contains(middle.as_str()),
            Matcher::Anything => true,
            Matcher::Glob(glob) => glob.is_match(candidate),
        };
        one(id) || one(name)
    }
}

impl std::ops::Deref for Pattern {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl From<&str> for Pattern {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<String> for Pattern {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Pattern {}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.text.fmt(f)
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.text.fmt(f)
    }
}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// Patterns made before, by text: loading the same silences again (every
/// cycle, every board or API read) compiles nothing. Bounded: past twice the
/// silences that can be in force it starts over.
#[derive(Debug, Default)]
pub struct PatternCache(std::sync::Mutex<std::collections::HashMap<String, Pattern>>);

impl PatternCache {
    pub fn get(&self, text: String) -> Pattern {
        let mut known = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(pattern) = known.get(&text) {
            return pattern.clone();
        }
        if known.len() >= 2 * MAX_SILENCES_IN_FORCE {
            known.clear();
        }
        let pattern = Pattern::new(text.clone());
        known.insert(text, pattern.clone());
        pattern
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Silence {
    pub id: i64,
    /// A campaign id or name, or a glob over either (`camp_eu_*`, `*`).
    pub campaign: Pattern,
    /// Only this account's events (a name or a glob over names); `None`
    /// silences every account's, as silences made before accounts did.
    pub account: Option<Pattern>,
    /// Only this event type; `None` silences every type.
    pub event: Option<EventType>,
    pub reason: String,
    /// Who made it: the OS user of `silence add` (or its `--author`); empty
    /// for silences made before authors were kept.
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Silence {
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        self.created_at <= now && now < self.expires_at
    }

    /// Whether it covers this campaign of `account` (some or all of its
    /// events): what the board shows as "silenced by".
    pub fn covers_campaign(&self, account: &str, id: &str, name: &str) -> bool {
        self.takes_account(account) && self.campaign.matches(id, name)
    }

    fn takes_account(&self, account: &str) -> bool {
        self.account
            .as_ref()
            .map_or(true, |pattern| pattern.matches(account, account))
    }

    /// Whether it holds back what starts with an event of `kind` about
    /// `campaign` (`(id, name)`; none for the watcher) in `account`: the
    /// re-asserter's question for a condition still standing.
    pub fn holds(&self, kind: EventType, account: &str, campaign: Option<(&str, &str)>) -> bool {
        if self.event.is_some_and(|silenced| !silenced.covers(kind)) {
            return false;
        }
        match campaign {
            Some((id, name)) => self.covers_campaign(account, id, name),
            None => self.campaign.trim() == "*" && self.takes_account(account),
        }
    }

    /// Watcher events (no campaign) are silenced only by a `*` silence: an API
    /// outage is about every campaign, not the one a silence names.
    pub fn matches(&self, event: &Event) -> bool {
        if self.event.is_some_and(|kind| !kind.covers(event.kind)) {
            return false;
        }
        // A silence of one account holds nothing of another, nor what
        // belongs to no account (the store's or a channel's health).
        if self.account.is_some() {
            let Some(of_event) = event.account() else {
                return false;
            };
            if !self.takes_account(of_event) {
                return false;
            }
        }
        let Some(campaign) = &event.campaign else {
            return self.campaign.trim() == "*";
        };
        self.campaign.matches(&campaign.id, &campaign.name)
    }
}

/// Whether a silence's account matcher (a name or a glob; none: every
/// account) takes `account`.
pub fn account_matches(pattern: Option<&str>, account: &str) -> bool {
    pattern.map_or(true, |pattern| campaign_matches(pattern, account, account))
}

/// The account a new silence is stored with: a single-account watcher's
/// silence of its one account is one of every account, as before accounts
/// existed (so it also holds the whole watcher's own events).
pub fn stored_account(account: Option<String>, configured: &[String]) -> Option<String> {
    account.filter(|_| configured.len() > 1)
}

/// A campaign id or name, or a glob over either: how silences and `history
/// --campaign` pick campaigns. A pattern that is not a valid glob matches
/// exactly.
/// To match many campaigns against one pattern, make a [`Pattern`] once.
pub fn campaign_matches(pattern: &str, id: &str, name: &str) -> bool {
    Pattern::new(pattern).matches(id, name)
}

/// Whether a matcher matches every campaign there can be (`*`, `**`, `?*`, `{*,x}`...):
/// judged by whether it matches ids and names unlike each other in every way
/// a glob could tell apart (first and last character, length, separators).
pub fn matches_every_campaign(pattern: &str) -> bool {
    const UNLIKE: [&str; 8] = [
        "a",
        "Z9",
        "camp_XiQEBcj9cc5TFRB4",
        "Q4 Outreach Campaign",
        "-/.",
        "é ü",
        "a/b\\c",
        "[x]{y}",
    ];
    UNLIKE
        .iter()
        .all(|probe| campaign_matches(pattern.trim(), probe, probe))
}

/// Whether a silence of `campaign` in `account` (none: every account) would
/// hold everything: a campaign matcher of every campaign, and either no
/// account or an account glob taking every configured account (or every
/// name there can be). A plain account name narrows it, even when it is the
/// only account.
pub fn matches_everything(campaign: &str, account: Option<&str>, configured: &[String]) -> bool {
    if !matches_every_campaign(campaign) {
        return false;
    }
    let Some(account) = account.map(str::trim) else {
        return true;
    };
    let is_glob = account.contains(['*', '?', '[', '{']);
    is_glob
        && (matches_every_campaign(account)
            || configured
                .iter()
                .all(|name| account_matches(Some(account), name)))
}

/// The first active silence covering `event`, if any.
pub fn silencing<'a>(
    silences: &'a [Silence],
    event: &Event,
    now: DateTime<Utc>,
) -> Option<&'a Silence> {
    silences
        .iter()
        .find(|silence| silence.active(now) && silence.matches(event))
}

#[cfg(test)]
mod tests;
