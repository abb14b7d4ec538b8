//! Where a request comes from: the peer, or the client a trusted proxy names in
//! `X-Forwarded-For`. Failed authentications are limited per this address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

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
        // Bytes, not text: one byte a client put in its own part of the header must not make
        // the proxies' part unreadable.
        let forwarded: Vec<&[u8]> = (headers.get_all("x-forwarded-for").iter())
            .flat_map(|value| value.as_bytes().split(|&b| b == b','))
            .map(<[u8]>::trim_ascii)
            .collect();
        for hop in forwarded.iter().rev() {
            match std::str::from_utf8(hop)
                .ok()
                .and_then(|hop| hop.parse::<IpAddr>().ok())
            {
                Some(address) => {
                    source = address;
                    if !self.trusts(address) {
                        break;
                    }
                }
                None => break,
            }
        }
        source
    }
}

impl SourceAddress {
    /// What failures from this address are counted under (see `limits::address_key`).
    pub fn limit_key(self) -> IpAddr {
        crate::app::limits::address_key(self.0)
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
        let mut unreadable = HeaderMap::new();
        unreadable.insert(
            "x-forwarded-for",
            axum::http::HeaderValue::from_bytes(b"\x80junk, 203.0.113.9").unwrap(),
        );
        assert_eq!(
            proxies.source(ip("10.0.0.1"), &unreadable),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn ipv6_sources_are_limited_by_their_64() {
        let a = SourceAddress(ip("2001:db8:1:2:aaaa::1")).limit_key();
        let b = SourceAddress(ip("2001:db8:1:2:bbbb::9")).limit_key();
        assert_eq!(a, b);
        assert_eq!(a, ip("2001:db8:1:2::"));
        assert_eq!(SourceAddress(ip("192.0.2.1")).limit_key(), ip("192.0.2.1"));
    }
}
