//! What the plan and the lane need to know of one stored campaign, in its own
//! file so both can use it without importing each other.

use crate::observe::Observation;

/// What the plan needs to know of one stored campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub fingerprint: u64,
    pub not_found: bool,
    /// A debounce candidate is waiting, or its last read failed: the next
    /// observation must be diffed, and the lane reads it every cycle.
    pub pending: bool,
    /// Its stored status is `live`: the lane expects it.
    pub live: bool,
}

impl Known {
    /// Read exactly as stored, with no debounce candidate or 404 to settle.
    pub fn unchanged_by(self, observation: &Observation) -> bool {
        match observation {
            Observation::Found(snapshot) => {
                !self.not_found && !self.pending && self.fingerprint == snapshot.fingerprint()
            }
            _ => false,
        }
    }
}
