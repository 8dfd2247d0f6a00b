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
        let Some(spacing) = self.spacing else {
            return;
        };
        let slot = {
            // A poisoned lock only means another task panicked mid-update; the instant is still usable.
            let mut next_free = self
                .next_free_slot
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let slot = (*next_free).max(Instant::now());
            *next_free = slot + spacing;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unlimited_budget_never_waits() {
        let budget = RequestBudget::new(0.0);
        let started = Instant::now();
        for _ in 0..1000 {
            budget.wait_turn().await;
        }
        assert!(started.elapsed() < Duration::from_millis(100));
        assert!(RequestBudget::new(f64::NAN).spacing.is_none());
        assert!(RequestBudget::new(-1.0).spacing.is_none());
        assert_eq!(RequestBudget::new(1e-30).spacing, Some(LONGEST_SPACING));
    }

    #[tokio::test]
    async fn requests_are_spaced_one_over_rate_apart() {
        let budget = RequestBudget::new(50.0);
        let started = Instant::now();
        for _ in 0..6 {
            budget.wait_turn().await;
        }
        // Six slots: the first is immediate, five more 20 ms apart.
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(95), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
    }
}
