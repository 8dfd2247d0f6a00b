//! What a watcher keeps between cycles, so that a quiet cycle reads and writes
//! (almost) nothing. Anything missing is read from the store again.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::commit::bookkeeping::Bookkeeping;
use crate::fetch::known::Known;
use crate::state::CampaignState;

pub(super) struct Memory {
    /// A brief of every stored state as of the last commit.
    pub(super) briefs: Option<HashMap<String, Brief>>,
    /// Campaigns no longer read and when the last read was, for `status`.
    pub(super) bookkeeping: Bookkeeping,
}

/// What the watcher keeps of a stored state between cycles: enough to tell an
/// unchanged listing entry and to count and track campaigns, about a tenth of
/// the full state. Full states are read from the store only for campaigns whose
/// observation differs (or for every campaign when reminding rules need them).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Brief {
    fingerprint: u64,
    pub(super) status_bucket: &'static str,
    pub(super) not_found: bool,
    /// A debounce candidate is waiting: the next observation must be diffed.
    pending: bool,
    pub(super) changed_at: DateTime<Utc>,
}

impl Brief {
    pub(super) fn of(state: &CampaignState) -> Self {
        Self {
            fingerprint: state.snapshot.fingerprint(),
            status_bucket: crate::metrics::status_bucket(
                &state.snapshot.status,
                state.not_found,
                state.reads.unreadable_since.is_some(),
            ),
            not_found: state.not_found,
            pending: state.pending.is_some() || !state.reads.is_clear(),
            changed_at: state.changed_at,
        }
    }

    /// What the fetch needs of it to skip an unchanged campaign.
    pub(super) fn known(&self) -> Known {
        Known {
            fingerprint: self.fingerprint,
            not_found: self.not_found,
            pending: self.pending,
            live: self.status_bucket == "live",
        }
    }
}
