//! Browser sessions: a login is exchanged for a random id (the cookie), so the
//! password is checked once per login, never per request. Kept in memory, by
//! the SHA-256 of the id (the table holds no usable cookie); they end at their
//! expiry, at logout, and when the daemon restarts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use crate::config::Role;

/// Sessions kept at most; past it, the one closest to its end goes first.
pub const MAX_SESSIONS: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: Role,
    /// The CSRF token bound to this session (forms and `X-CSRF-Token`).
    pub csrf: String,
    pub expires: Instant,
}

#[derive(Debug, Default)]
pub struct Sessions {
    by_digest: HashMap<[u8; 32], Session>,
}

/// 32 random bytes, base64url without padding: a cookie value or a token.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    /// A new session for `user`; returns its id (the cookie value).
    pub fn open(&mut self, now: Instant, user: &str, role: Role, ttl: Duration) -> String {
        if self.by_digest.len() >= MAX_SESSIONS {
            self.by_digest.retain(|_, session| session.expires > now);
        }
        if self.by_digest.len() >= MAX_SESSIONS {
            if let Some(oldest) = self
                .by_digest
                .iter()
                .min_by_key(|(_, session)| session.expires)
                .map(|(key, _)| *key)
            {
                self.by_digest.remove(&oldest);
            }
        }
        let id = random_token();
        self.by_digest.insert(
            digest(&id),
            Session {
                user: user.to_string(),
                role,
                csrf: random_token(),
                expires: now + ttl,
            },
        );
        id
    }

    /// The live session with this id; an expired one is removed.
    pub fn find(&mut self, now: Instant, id: &str) -> Option<Session> {
        let key = digest(id);
        match self.by_digest.get(&key) {
            Some(session) if session.expires > now => Some(session.clone()),
            Some(_) => {
                self.by_digest.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session (logout); whether there was one.
    pub fn close(&mut self, id: &str) -> bool {
        self.by_digest.remove(&digest(id)).is_some()
    }

    /// Ends every session whose user is not in `users`; how many ended.
    pub fn keep_only(&mut self, users: &[&str]) -> usize {
        let before = self.by_digest.len();
        self.by_digest
            .retain(|_, session| users.contains(&session.user.as_str()));
        before - self.by_digest.len()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_digest.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_session_lives_until_its_expiry_or_its_logout() {
        let start = Instant::now();
        let mut sessions = Sessions::default();
        let id = sessions.open(start, "alice", Role::Admin, HOUR);
        let found = sessions.find(start + HOUR / 2, &id).unwrap();
        assert_eq!((found.user.as_str(), found.role), ("alice", Role::Admin));
        assert!(sessions.find(start, "not-the-id").is_none());
        assert!(sessions.find(start + HOUR, &id).is_none());
        assert_eq!(sessions.len(), 0, "an expired session is removed");

        let id = sessions.open(start, "alice", Role::Read, HOUR);
        assert!(sessions.close(&id));
        assert!(sessions.find(start, &id).is_none());
        assert!(!sessions.close(&id));
    }

    #[test]
    fn ids_and_tokens_are_random_and_distinct() {
        let start = Instant::now();
        let mut sessions = Sessions::default();
        let a = sessions.open(start, "alice", Role::Read, HOUR);
        let b = sessions.open(start, "alice", Role::Read, HOUR);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        let (sa, sb) = (
            sessions.find(start, &a).unwrap(),
            sessions.find(start, &b).unwrap(),
        );
        assert_ne!(sa.csrf, sb.csrf);
        assert_ne!(sa.csrf, a);
    }

    #[test]
    fn a_reload_keeps_only_the_sessions_of_unchanged_users() {
        let start = Instant::now();
        let mut sessions = Sessions::default();
        let alice = sessions.open(start, "alice", Role::Admin, HOUR);
        let bob = sessions.open(start, "bob", Role::Read, HOUR);
        assert_eq!(sessions.keep_only(&["alice"]), 1);
        assert!(sessions.find(start, &alice).is_some());
        assert!(sessions.find(start, &bob).is_none());
    }

    #[test]
    fn the_table_is_bounded() {
        let start = Instant::now();
        let mut sessions = Sessions::default();
        for i in 0..MAX_SESSIONS + 5 {
            sessions.open(
                start + Duration::from_millis(i as u64),
                "u",
                Role::Read,
                HOUR,
            );
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
    }
}
