//! Basic credentials that bcrypt has accepted, remembered for a while so that
//! a script sending them on every request costs one bcrypt check, not one per
//! request. Keyed by an HMAC of user and password under a per-daemon key: the
//! table holds no password and nothing an attacker could test guesses against.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::config::Role;

/// How long an accepted password is remembered.
pub const REMEMBER_FOR: Duration = Duration::from_secs(300);
/// Entries kept at most (then the table starts over).
pub const MAX_REMEMBERED: usize = 4096;

#[derive(Debug, Default)]
pub struct Verified {
    entries: HashMap<[u8; 32], (Role, Instant)>,
}

/// HMAC-SHA256(key, user NUL password).
pub fn credential_key(key: &[u8; 32], user: &str, password: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as hmac::Mac>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(user.as_bytes());
    mac.update(&[0]);
    mac.update(password.as_bytes());
    mac.finalize().into_bytes().into()
}

impl Verified {
    pub fn find(&mut self, now: Instant, key: &[u8; 32]) -> Option<Role> {
        match self.entries.get(key) {
            Some((role, until)) if *until > now => Some(*role),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn remember(&mut self, now: Instant, key: [u8; 32], role: Role) {
        if self.entries.len() >= MAX_REMEMBERED {
            self.entries.retain(|_, (_, until)| *until > now);
            if self.entries.len() >= MAX_REMEMBERED {
                self.entries.clear();
            }
        }
        self.entries.insert(key, (role, now + REMEMBER_FOR));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accepted_password_is_remembered_for_a_while_only() {
        let key = [7u8; 32];
        let start = Instant::now();
        let mut verified = Verified::default();
        let right = credential_key(&key, "alice", "pw");
        verified.remember(start, right, Role::Read);
        assert_eq!(
            verified.find(start + REMEMBER_FOR / 2, &right),
            Some(Role::Read)
        );
        assert_eq!(
            verified.find(start, &credential_key(&key, "alice", "pw2")),
            None
        );
        assert_eq!(
            verified.find(start, &credential_key(&key, "alicepw", "")),
            None
        );
        assert_eq!(
            verified.find(start, &credential_key(&[8u8; 32], "alice", "pw")),
            None
        );
        assert_eq!(verified.find(start + REMEMBER_FOR, &right), None);
    }
}
