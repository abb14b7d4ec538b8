//! Limits on failed attempts (brute force), each keyed as narrowly as the request allows so
//! that it stops only the party that misbehaves: failed authentication per source address
//! (and only requests without a valid token are ever refused for it), failed secret
//! verification per client, calling token and source address. A verifying caller past its
//! limit is refused even with the right secret, so the limit is no oracle.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::domain::change::{Actor, ChangeContext};
use crate::domain::client::ClientId;

/// What failures from an address are counted under: the address, or for IPv6 its /64,
/// which one host is commonly given whole (so it cannot try again from a fresh address).
pub fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

/// Who failed to verify a client's secret: one caller (its token, from its address) guessing
/// at one client. A gateway verifying the same client with another token, or from another
/// address, is never refused because of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerifyKey {
    pub client: ClientId,
    pub caller: CallerKey,
    pub address: Option<IpAddr>,
}

/// The calling credential, as a verification limit tells callers apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallerKey {
    Token(uuid::Uuid),
    Bootstrap,
    Cli,
    Server,
}

impl VerifyKey {
    pub fn new(client: &ClientId, change: &ChangeContext) -> Self {
        Self {
            client: client.clone(),
            caller: match &change.actor {
                Actor::Token { id, .. } => CallerKey::Token(*id),
                Actor::Bootstrap => CallerKey::Bootstrap,
                Actor::Cli => CallerKey::Cli,
                Actor::Server | Actor::Autopilot => CallerKey::Server,
            },
            address: change.source.map(address_key),
        }
    }
}

/// Counts failures per key with a GCRA limiter (governor): `per_minute` in a burst, then one
/// more each time a share of the minute has passed.
pub struct FailureLimit<K: Hash + Eq + Clone> {
    failures: DefaultKeyedRateLimiter<K>,
    /// Keys refused until the instant given; checked on every attempt, so it is kept small:
    /// `forget_stale` drops what has expired.
    blocked: Mutex<HashMap<K, Instant>>,
    /// Spares every attempt the lock while nothing is blocked, as nearly always.
    any_blocked: AtomicBool,
}

impl<K: Hash + Eq + Clone> FailureLimit<K> {
    pub fn per_minute(failures: NonZeroU32) -> Self {
        Self {
            failures: DefaultKeyedRateLimiter::keyed(Quota::per_minute(failures)),
            blocked: Mutex::new(HashMap::new()),
            any_blocked: AtomicBool::new(false),
        }
    }

    /// How long `key` must wait before it may try again, if it is over its limit.
    pub fn refused(&self, key: &K) -> Option<Duration> {
        if !self.any_blocked.load(Ordering::Relaxed) {
            return None;
        }
        let blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let until = *blocked.get(key)?;
        until.checked_duration_since(Instant::now())
    }

    /// Records a failure of `key`; the wait it must now sit out, if this one passed the limit.
    pub fn record_failure(&self, key: &K) -> Option<Duration> {
        let not_until = self.failures.check_key(key).err()?;
        let wait = not_until.wait_time_from(self.failures.clock().now());
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        blocked.insert(key.clone(), Instant::now() + wait);
        self.any_blocked.store(true, Ordering::Relaxed);
        Some(wait)
    }

    /// Drops keys whose failures are all forgotten, so memory tracks recent attackers only.
    pub fn forget_stale(&self) {
        self.failures.retain_recent();
        self.failures.shrink_to_fit();
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        blocked.retain(|_, until| *until > now);
        blocked.shrink_to_fit();
        self.any_blocked
            .store(!blocked.is_empty(), Ordering::Relaxed);
    }

    /// Keys the limiter remembers, for tests of `forget_stale`.
    pub fn remembered(&self) -> usize {
        self.failures.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_past_its_limit_waits_and_others_do_not() {
        let limit = FailureLimit::per_minute(NonZeroU32::new(3).unwrap());
        for _ in 0..3 {
            assert_eq!(limit.record_failure(&"a"), None);
        }
        assert_eq!(limit.refused(&"a"), None);
        let wait = limit.record_failure(&"a").unwrap();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(limit.refused(&"a").is_some());
        assert_eq!(limit.refused(&"b"), None);
        limit.forget_stale();
        assert!(limit.refused(&"a").is_some(), "still blocked");
        assert_eq!(limit.remembered(), 1);
    }
}
