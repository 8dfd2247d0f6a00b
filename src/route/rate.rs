//! The rate limit, pure: `max_per_minute` messages per rolling minute on a
//! channel; the excess waits (never dropped) until the window frees a slot.

use chrono::{DateTime, TimeDelta, Utc};

/// The rolling window `max_per_minute` counts in.
pub const WINDOW: TimeDelta = TimeDelta::minutes(1);

/// A rolling one-minute send budget, from the sends already made (the store
/// remembers them, so a restart does not reset it) plus those taken since.
#[derive(Debug, Clone)]
pub struct RateBudget {
    limit: Option<u32>,
    /// Send times inside the window, oldest first.
    sent: Vec<DateTime<Utc>>,
}

impl RateBudget {
    /// `sent`: when the channel's earlier messages went out (any order; those
    /// outside the window at `now` are dropped).
    pub fn new(limit: Option<u32>, mut sent: Vec<DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        sent.retain(|at| *at > now - WINDOW);
        sent.sort();
        Self { limit, sent }
    }

    /// Take one send now, or `Err(when the next one is allowed)`.
    pub fn take(&mut self, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        self.sent.retain(|at| *at > now - WINDOW);
        let limit = usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
        if self.sent.len() < limit {
            self.sent.push(now);
            return Ok(());
        }
        // The window frees a slot when the send `limit` places from the end leaves it.
        Err(self.sent[self.sent.len() - limit] + WINDOW)
    }

    /// The configured limit (`None`: unlimited).
    pub fn limit(&self) -> Option<u32> {
        self.limit
    }

    /// Sends counted in the window (as of the last `new` or `take`).
    pub fn used(&self) -> usize {
        self.sent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap() + TimeDelta::seconds(seconds)
    }

    #[test]
    fn the_budget_allows_n_per_rolling_minute_and_says_when_the_next_is_free() {
        let mut unlimited = RateBudget::new(None, vec![], t(0));
        assert!((0..1000).all(|_| unlimited.take(t(0)).is_ok()));

        // Three already sent (one of them outside the window), limit 3.
        let mut budget = RateBudget::new(Some(3), vec![t(-90), t(-50), t(-10)], t(0));
        assert_eq!(budget.used(), 2);
        assert_eq!(budget.take(t(0)), Ok(()));
        assert_eq!(
            budget.take(t(1)),
            Err(t(10)),
            "frees when the send at -50s leaves the window"
        );
        assert_eq!(
            budget.take(t(10)),
            Ok(()),
            "the -50s send has left the window"
        );
        assert_eq!(budget.take(t(11)), Err(t(50)));
        assert_eq!(budget.take(t(50)), Ok(()));
    }

    #[test]
    fn a_limit_of_one_spaces_sends_a_minute_apart() {
        let mut budget = RateBudget::new(Some(1), vec![t(-30)], t(0));
        let cases = [
            (0, Err(t(30))),
            (30, Ok(())),
            (31, Err(t(90))),
            (90, Ok(())),
        ];
        for (at, expected) in cases {
            assert_eq!(budget.take(t(at)), expected, "at {at}s");
        }
    }
}
