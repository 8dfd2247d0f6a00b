//! Failed password checks, per client network and user name: after
//! [`MAX_FAILURES`] within [`WINDOW`] for one name from one network, that name
//! is refused (429) from that network without a bcrypt check until the oldest
//! failure leaves the window.
//!
//! Keyed by the name as well as the network, so that behind a proxy (where
//! every client has the proxy's address) one user's wrong passwords never
//! hold back another user; keyed by network (/24 for IPv4, /64 for IPv6)
//! rather than address, because one client usually has a whole /64. Bearer
//! tokens are never counted: a long random token needs no rate limit.
//!
//! The table is bounded: at most [`MAX_NAMES_PER_NETWORK`] names per network
//! and [`MAX_ENTRIES`] in all. Past either, one entry is forgotten, never the
//! whole table: one not held back if there is any (a name held back stays
//! held however many networks fail once), the one whose last failure is oldest.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

pub const MAX_FAILURES: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(300);
/// Names tracked at most (over all networks).
const MAX_ENTRIES: usize = 10_000;
/// Names tracked at most per network: one network cannot push out the rest.
const MAX_NAMES_PER_NETWORK: usize = 32;
/// A name is kept to this many characters (a long one is still one key).
const NAME_CHARS: usize = 128;

/// The network a client address is counted in: its /24 (IPv4) or /64 (IPv6);
/// an IPv4-mapped IPv6 address counts as its IPv4 address.
pub fn network_of(client: IpAddr) -> IpAddr {
    let client = match client {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
        v4 => v4,
    };
    match client {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::V4(Ipv4Addr::new(a, b, c, 0))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }
}

#[derive(Debug, Default)]
pub struct Limiter {
    /// Network → name → the times of its last failures.
    failures: HashMap<IpAddr, HashMap<String, VecDeque<Instant>>>,
    entries: usize,
}

fn key(name: &str) -> String {
    name.chars().take(NAME_CHARS).collect()
}

impl Limiter {
    /// How long `name` must wait from `client`'s network, or `None` when it may try.
    pub fn wait(&mut self, now: Instant, client: IpAddr, name: &str) -> Option<Duration> {
        let network = network_of(client);
        let names = self.failures.get_mut(&network)?;
        let name = key(name);
        let times = names.get_mut(&name)?;
        while times.front().is_some_and(|at| *at + WINDOW <= now) {
            times.pop_front();
        }
        if times.is_empty() {
            names.remove(&name);
            self.entries -= 1;
            if names.is_empty() {
                self.failures.remove(&network);
            }
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

    pub fn fail(&mut self, now: Instant, client: IpAddr, name: &str) {
        let network = network_of(client);
        let name = key(name);
        let known = self
            .failures
            .get(&network)
            .is_some_and(|names| names.contains_key(&name));
        if !known {
            let crowded = self
                .failures
                .get(&network)
                .is_some_and(|names| names.len() >= MAX_NAMES_PER_NETWORK);
            if crowded {
                self.forget_quietest(now, Some(network));
            } else if self.entries >= MAX_ENTRIES {
                self.forget_quietest(now, None);
            }
            self.entries += 1;
        }
        let times = self
            .failures
            .entry(network)
            .or_default()
            .entry(name)
            .or_default();
        times.push_back(now);
        while times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }

    /// Forgets one entry in `network` or anywhere: not held back if possible,
    /// and of those the one whose last failure is oldest.
    fn forget_quietest(&mut self, now: Instant, network: Option<IpAddr>) {
        let held = |times: &VecDeque<Instant>| {
            times.len() >= MAX_FAILURES && times.front().is_some_and(|at| *at + WINDOW > now)
        };
        let quietest = self
            .failures
            .iter()
            .filter(|(at, _)| network.map_or(true, |network| **at == network))
            .flat_map(|(at, names)| {
                names
                    .iter()
                    .map(move |(name, times)| ((held(times), times.back().copied()), *at, name))
            })
            .min_by_key(|(order, _, _)| *order)
            .map(|(_, at, name)| (at, name.clone()));
        let Some((at, name)) = quietest else { return };
        if let Some(names) = self.failures.get_mut(&at) {
            if names.remove(&name).is_some() {
                self.entries -= 1;
            }
            if names.is_empty() {
                self.failures.remove(&at);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_name_is_held_back_after_too_many_failures_and_only_that_one() {
        let start = Instant::now();
        let (attacker, other) = (ip("192.0.2.1"), ip("198.51.100.2"));
        let mut limiter = Limiter::default();
        for i in 0..MAX_FAILURES {
            assert_eq!(limiter.wait(start, attacker, "alice"), None, "failure {i}");
            limiter.fail(start + Duration::from_secs(i as u64), attacker, "alice");
        }
        let wait = limiter
            .wait(start + Duration::from_secs(10), attacker, "alice")
            .unwrap();
        assert_eq!(wait, WINDOW - Duration::from_secs(10));
        // Another network, and another name from the same one, may try.
        assert_eq!(limiter.wait(start, other, "alice"), None);
        assert_eq!(limiter.wait(start, attacker, "bob"), None);
        // The same /24 is the same network.
        assert!(limiter.wait(start, ip("192.0.2.200"), "alice").is_some());
        // The oldest failure leaves the window: one more try.
        assert_eq!(limiter.wait(start + WINDOW, attacker, "alice"), None);
        assert_eq!(limiter.wait(start + WINDOW * 3, attacker, "alice"), None);
    }

    #[test]
    fn networks_are_the_slash_24_and_the_slash_64() {
        let cases = [
            ("192.0.2.77", "192.0.2.0"),
            ("::ffff:192.0.2.77", "192.0.2.0"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"),
            ("2001:db8:1:2::", "2001:db8:1:2::"),
            ("::1", "::"),
        ];
        for (client, network) in cases {
            assert_eq!(network_of(ip(client)), ip(network), "{client}");
        }
    }

    #[test]
    fn a_full_table_forgets_the_quietest_entry_never_all_of_them() {
        let start = Instant::now();
        let mut limiter = Limiter::default();
        let held = ip("203.0.113.9");
        for i in 0..MAX_FAILURES {
            limiter.fail(start + Duration::from_secs(i as u64 + 1), held, "alice");
        }
        // Many more networks than the table holds, each failing once, later.
        for n in 0..MAX_ENTRIES + 10 {
            let client = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + ((n as u32) << 8)));
            limiter.fail(start + Duration::from_secs(10), client, "x");
        }
        assert!(limiter.len() <= MAX_ENTRIES);
        assert!(limiter
            .wait(start + Duration::from_secs(11), held, "alice")
            .is_some());
    }

    #[test]
    fn one_network_spraying_names_keeps_at_most_its_share() {
        let start = Instant::now();
        let mut limiter = Limiter::default();
        let client = ip("2001:db8::1");
        for n in 0..MAX_NAMES_PER_NETWORK * 3 {
            limiter.fail(
                start + Duration::from_millis(n as u64),
                client,
                &format!("u{n}"),
            );
        }
        assert_eq!(limiter.len(), MAX_NAMES_PER_NETWORK);
    }
}
