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
}
