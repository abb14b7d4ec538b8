//! The token endpoint's use cases (DESIGN 15): issuing access tokens for client
//! credentials, introspecting and revoking them, and each tenant's signing keys.

mod authenticate;
mod introspect;
mod jtis;
mod keys;
mod token;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use chrono::TimeDelta;

pub use introspect::{Introspector, introspect, revoke};
pub use keys::{KeyRing, jwks, require_tenant, rotate_keys, signing_keys};
pub use token::{Issued, issue};

use super::limits::{FailureLimit, address_key};
use crate::config::Settings;
use crate::domain::client::ClientId;
use crate::domain::oauth::grant;
use crate::domain::oauth::keys::KeyPolicy;
use crate::domain::oauth::seal::Sealer;
use crate::domain::oauth::signing::SigningAlg;
use crate::domain::tenant::TenantId;

/// What the token endpoint is configured with.
pub struct OAuthConfig {
    public_url: String,
    accept_token_endpoint_audience: bool,
    max_token_lifetime_secs: i64,
    signing_alg: SigningAlg,
    policy: KeyPolicy,
    /// None without `CLIENTD_KEY_ENCRYPTION_KEYS`: keys can be neither made nor opened.
    sealer: Option<Arc<Sealer>>,
    /// Failed client authentications per (client, source address).
    failures: FailureLimit<ClientKey>,
    /// Held while a change to some tenant's keys is decided and written: requests that find
    /// keys due at once make them once, not each (an RSA key takes a while to make).
    key_changes: tokio::sync::Mutex<()>,
    jtis: jtis::JtiWriter,
}

/// Who failed to authenticate as a client: the client id it named, from its address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    client_id: String,
    address: Option<IpAddr>,
}

impl ClientKey {
    /// Failures naming what cannot be a client id count together, per address: the limit
    /// keeps no more than a client id's 64 characters of what a caller sends.
    fn new(client_id: &str, address: Option<IpAddr>) -> Self {
        let client_id = match ClientId::parse(client_id) {
            Ok(id) => id.as_str().to_owned(),
            Err(_) => String::new(),
        };
        Self {
            client_id,
            address: address.map(address_key),
        }
    }
}

impl OAuthConfig {
    pub fn new(settings: &Settings) -> Self {
        let per_minute = NonZeroU32::new(settings.verify_failures_per_minute);
        Self {
            public_url: settings.public_url(),
            accept_token_endpoint_audience: settings.accept_token_endpoint_audience,
            max_token_lifetime_secs: settings.max_access_token_secs,
            signing_alg: settings.token_signing_alg,
            policy: KeyPolicy {
                rotation_period: TimeDelta::days(i64::from(settings.signing_key_rotation_days)),
                max_token_lifetime: TimeDelta::seconds(settings.max_access_token_secs),
            },
            sealer: Sealer::new(&settings.key_encryption_keys).map(Arc::new),
            failures: FailureLimit::per_minute(per_minute.unwrap_or(NonZeroU32::MIN)),
            key_changes: tokio::sync::Mutex::new(()),
            jtis: jtis::JtiWriter::default(),
        }
    }

    pub fn issuer(&self, tenant: &TenantId) -> String {
        grant::issuer(&self.public_url, tenant)
    }

    pub fn token_endpoint(&self, tenant: &TenantId) -> String {
        format!("{}/oauth2/token", self.issuer(tenant))
    }

    /// What a client assertion's `aud` may be.
    fn assertion_audiences(&self, tenant: &TenantId) -> Vec<String> {
        let mut audiences = vec![self.issuer(tenant)];
        if self.accept_token_endpoint_audience {
            audiences.push(self.token_endpoint(tenant));
        }
        audiences
    }

    /// Forgets callers that stopped failing, as the other limits do.
    pub fn forget_stale_failures(&self) {
        self.failures.forget_stale();
    }
}
