//! The request budget: at most `max_requests_per_second`, spread evenly.
//!
//! Even spacing (one slot every `1/rps`) rather than a bursty token bucket keeps
//! a listing of many pages from hitting an undocumented server limit all at once.
//!
//! A leaf beside [`crate::backoff`]: the SigmaMind client and the Slack channel both pace requests.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Longest spacing honoured; a tiny budget like 1e-9 rps would otherwise stall forever.
const LONGEST_SPACING: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub(crate) struct RequestBudget {
    spacing: Option<Duration>,
    next_free_slot: Mutex<Instant>,
}

impl RequestBudget {
    /// `requests_per_second` of 0 (or anything not positive and finite) means unlimited.
    pub(crate) fn new(requests_per_second: f64) -> Self {
        let spacing = (requests_per_second.is_finite() && requests_per_second > 0.0).then(|| {
            Duration::try_from_secs_f64(1.0 / requests_per_second)
                .unwrap_or(LONGEST_SPACING)
                .min(LONGEST_SPACING)
        });
        Self {
            spacing,
            next_free_slot: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this request's slot; slots are handed out in call order.
    pub(crate) async fn wait_turn(&self) {
        if let Some(slot) = self.claim_slot(Instant::now()) {
            tokio::time::sleep_until(slot).await;
        }
    }

    /// The next free slot at or after `now`, taken; `None` when unlimited.
    fn claim_slot(&self, now: Instant) -> Option<Instant> {
        let spacing = self.spacing?;
        let slot = {
            // A poisoned lock only means another task panicked mid-update; the instant is still usable.
            let mut next_free = self
                .next_free_slot
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let slot = (*next_free).max(now);
            *next_free = slot + spacing;
            slot
        };
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unlimited_budget_never_waits() {
        let budget = RequestBudget::new(0.0);
        let now = Instant::now();
        for _ in 0..1000 {
            assert_eq!(budget.claim_slot(now), None, "no slot to wait for");
            budget.wait_turn().await;
        }
        assert!(RequestBudget::new(f64::NAN).spacing.is_none());
        assert!(RequestBudget::new(-1.0).spacing.is_none());
        assert_eq!(RequestBudget::new(1e-30).spacing, Some(LONGEST_SPACING));
    }

    #[test]
    fn slots_are_one_over_rate_apart_in_call_order() {
        let budget = RequestBudget::new(50.0);
        let now = Instant::now();
        let slots: Vec<Duration> = (0..6)
            .map(|_| budget.claim_slot(now).expect("a limited budget") - now)
            .collect();
        let expected: Vec<Duration> = (0..6).map(|n| Duration::from_millis(20 * n)).collect();
        assert_eq!(slots, expected);
        // A caller that comes after the free slot is not charged for the past.
        let later = now + Duration::from_secs(5);
        assert_eq!(budget.claim_slot(later), Some(later));
    }

    #[tokio::test]
    async fn a_turn_waits_for_its_slot() {
        let budget = RequestBudget::new(50.0);
        let started = Instant::now();
        for _ in 0..6 {
            budget.wait_turn().await;
        }
        // Six slots: the first is immediate, five more 20 ms apart; a busy
        // machine can only make it later.
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    }
}
