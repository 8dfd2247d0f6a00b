//! Failed logins per client address: after [`MAX_FAILURES`] within
//! [`WINDOW`], that address is refused (429) without a bcrypt check until the
//! oldest failure leaves the window.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(300);
/// Addresses tracked at most; past it, the quietest are forgotten.
const MAX_ADDRESSES: usize = 10_000;

#[derive(Debug, Default)]
pub struct Limiter {
    failures: HashMap<IpAddr, VecDeque<Instant>>,
}

impl Limiter {
    /// How long `client` must wait, or `None` when it may try.
    pub fn wait(&mut self, now: Instant, client: IpAddr) -> Option<Duration> {
        let times = self.failures.get_mut(&client)?;
        while times.front().is_some_and(|at| *at + WINDOW <= now) {
            times.pop_front();
        }
        if times.is_empty() {
            self.failures.remove(&client);
            return None;
        }
        if times.len() >= MAX_FAILURES {
            let oldest = *times.front()?;
            return Some(
                (oldest + WINDOW)
                    .saturating_duration_since(now)
                    .max(Duration::from_secs(1)),
            );
        }
        None
    }

    pub fn fail(&mut self, now: Instant, client: IpAddr) {
        if self.failures.len() >= MAX_ADDRESSES && !self.failures.contains_key(&client) {
            self.failures
                .retain(|_, times| times.back().is_some_and(|at| *at + WINDOW > now));
            if self.failures.len() >= MAX_ADDRESSES {
                self.failures.clear();
            }
        }
        let times = self.failures.entry(client).or_default();
        times.push_back(now);
        while times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_held_back_after_too_many_failures_and_only_that_one() {
        let start = Instant::now();
        let (attacker, other): (IpAddr, IpAddr) =
            ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let mut limiter = Limiter::default();
        for i in 0..MAX_FAILURES {
            assert_eq!(limiter.wait(start, attacker), None, "failure {i}");
            limiter.fail(start + Duration::from_secs(i as u64), attacker);
        }
        let wait = limiter
            .wait(start + Duration::from_secs(10), attacker)
            .unwrap();
        assert_eq!(wait, WINDOW - Duration::from_secs(10));
        assert_eq!(limiter.wait(start, other), None);
        // The oldest failure leaves the window: one more try.
        assert_eq!(limiter.wait(start + WINDOW, attacker), None);
        assert_eq!(limiter.wait(start + WINDOW * 3, attacker), None);
    }
}
