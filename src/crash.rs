//! A testing aid: `CAMPAIGN_WATCHER_CRASH_AT=STAGE[:N]` makes the process abort
//! (no destructors, no flush: as abrupt as SIGKILL) the Nth time it reaches
//! STAGE, so the crash-safety tests can hit each stage of a cycle exactly.
//!
//! Inert unless the variable is set: only `main` arms it, once, at startup;
//! library users and in-process tests never do.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

pub const CRASH_ENV: &str = "CAMPAIGN_WATCHER_CRASH_AT";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Every campaign was read; nothing is committed yet.
    AfterFetch,
    /// The cycle's states, events and outbox rows are committed; nothing is sent.
    AfterCommit,
    /// A receiver answered 2xx; the outbox row is not yet marked sent.
    AfterSend,
    /// A retention batch deleted its rows; its transaction is not committed.
    DuringPrune,
}

impl Stage {
    fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "after_fetch" => Some(Self::AfterFetch),
            "after_commit" => Some(Self::AfterCommit),
            "after_send" => Some(Self::AfterSend),
            "during_prune" => Some(Self::DuringPrune),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::AfterFetch => "after_fetch",
            Self::AfterCommit => "after_commit",
            Self::AfterSend => "after_send",
            Self::DuringPrune => "during_prune",
        }
    }
}

static PLAN: OnceLock<(Stage, u32)> = OnceLock::new();
static REACHED: AtomicU32 = AtomicU32::new(0);

/// The crash variable is set but names no stage; `Display` is the sentence.
#[derive(Debug, thiserror::Error)]
#[error("{CRASH_ENV}={0:?} is not STAGE[:N] with STAGE one of after_fetch, after_commit, after_send, during_prune; unset it (it is a testing aid)")]
pub struct UnknownCrashPlan(String);

/// Read the variable once. A set but unparsable value is an error for the
/// caller: a typo must not silently disable the crash a test relies on.
pub fn arm_from_env() -> Result<(), UnknownCrashPlan> {
    let Ok(text) = std::env::var(CRASH_ENV) else {
        return Ok(());
    };
    let (stage, nth) = match text.split_once(':') {
        Some((stage, nth)) => (stage, nth.trim().parse::<u32>().ok().filter(|n| *n > 0)),
        None => (text.as_str(), Some(1)),
    };
    match (Stage::parse(stage), nth) {
        (Some(stage), Some(nth)) => {
            let _ = PLAN.set((stage, nth));
            Ok(())
        }
        _ => Err(UnknownCrashPlan(text)),
    }
}

/// Abort here if this is the armed stage's Nth arrival.
pub fn reached(stage: Stage) {
    let Some((armed, nth)) = PLAN.get() else {
        return;
    };
    if *armed == stage && REACHED.fetch_add(1, Ordering::SeqCst) + 1 == *nth {
        eprintln!(
            "campaign-watcher: {CRASH_ENV}: aborting at {}",
            stage.as_str()
        );
        std::process::abort();
    }
}
