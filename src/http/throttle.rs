//! Limits on failed attempts (brute force): failed authentication per source address, failed
//! secret verification per client. A key past its limit is refused with 429 until the limiter
//! lets it try again, even with the right credentials, so guessing gains nothing.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;

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

/// The address a request comes from, after `X-Forwarded-For` from trusted proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceAddress(pub IpAddr);

/// The proxies (`CLIENTD_TRUSTED_PROXIES`) whose `X-Forwarded-For` names the real source.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The source of a request from `peer`: walking `X-Forwarded-For` from the right, the
    /// first address not of a trusted proxy. Hops left of it were written by the client and
    /// prove nothing; an unreadable hop ends the walk at the last proxy that vouched for it.
    pub fn source(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut source = peer;
        if !self.trusts(peer) {
            return source;
        }
        let forwarded: Vec<&str> = (headers.get_all("x-forwarded-for").iter())
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        for hop in forwarded.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(address) => {
                    source = address;
                    if !self.trusts(address) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        source
    }
}

/// Middleware: puts the request's `SourceAddress` into its extensions.
pub async fn source_address(
    axum::extract::State(state): axum::extract::State<super::AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = (request.extensions().get::<ConnectInfo<SocketAddr>>())
        .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.ip());
    let source = state.trusted_proxies.source(peer, request.headers());
    request.extensions_mut().insert(SourceAddress(source));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", forwarded.parse().unwrap());
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let proxies = TrustedProxies(vec!["10.0.0.0/8".parse().unwrap()]);
        let spoofed = headers("6.6.6.6, 203.0.113.7, 10.0.0.2");
        assert_eq!(proxies.source(ip("10.0.0.1"), &spoofed), ip("203.0.113.7"));
        assert_eq!(
            proxies.source(ip("198.51.100.1"), &spoofed),
            ip("198.51.100.1")
        );
        assert_eq!(
            proxies.source(ip("10.0.0.1"), &headers("junk, 10.0.0.3")),
            ip("10.0.0.3")
        );
        assert_eq!(
            TrustedProxies::default().source(ip("10.0.0.1"), &spoofed),
            ip("10.0.0.1")
        );
    }

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
