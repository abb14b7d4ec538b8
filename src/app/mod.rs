//! Use cases: one function per change or query, given the caller. Each owns the order of its
//! steps (permission, the domain's decision, the store's write) and returns an outcome or one
//! `Error`; the HTTP handlers and the command line only translate to and from them.

pub mod autopilot;
mod background;
pub mod cache;
pub mod clients;
pub mod credentials;
mod error;
pub mod events;
pub mod housekeeping;
pub mod idempotency;
pub mod limits;
pub mod oauth;
pub mod secret_uses;
pub mod secrets;
pub mod tenants;
pub mod tokens;

use std::num::NonZeroU32;
use std::sync::Arc;

use crate::config::Settings;
use crate::domain::change::{Actor, ChangeContext};
use crate::domain::tenant::TenantId;
use crate::domain::token::Grants;
use crate::store::Store;

/// What the use cases' callers see of the store: whether a change is made or only rehearsed,
/// and the connection pool's figures.
pub use crate::store::{PoolStats, WriteMode};
pub use background::Background;
use cache::Cache;
use cache::CacheStats;
pub use error::{Error, Result};
pub use housekeeping::prune;
use limits::{FailureLimit, VerifyKey};
use secret_uses::SecretUses;

/// What every use case works with.
#[derive(Clone)]
pub struct App {
    store: Arc<dyn Store>,
    /// Most credentials one client may hold.
    max_credentials: usize,
    verify_failures: Arc<FailureLimit<VerifyKey>>,
    cache: Arc<Cache>,
    secret_uses: Arc<SecretUses>,
    /// A remembered request still unfinished after this long counts as abandoned (the server
    /// stopped under it), and its claim may be taken over if its change never committed; a
    /// change still under way then fails rather than happen twice.
    abandoned_after: chrono::TimeDelta,
    /// How long audit events are kept before housekeeping prunes them.
    audit_retention: chrono::TimeDelta,
    oauth: Arc<oauth::OAuthConfig>,
    autopilot: autopilot::AutopilotConfig,
    /// The longest a feed request waits for an event: 25 s, inside the request timeout.
    longest_wait: std::time::Duration,
}

impl App {
    pub fn new(store: Arc<dyn Store>, settings: &Settings) -> Self {
        let per_minute = NonZeroU32::new(settings.verify_failures_per_minute);
        Self {
            store,
            max_credentials: settings.max_credentials_per_client,
            verify_failures: Arc::new(FailureLimit::per_minute(
                per_minute.unwrap_or(NonZeroU32::MIN),
            )),
            cache: Arc::new(Cache::new(settings.cache_mib * 1024 * 1024)),
            secret_uses: Arc::default(),
            abandoned_after: chrono::TimeDelta::seconds(
                i64::try_from(settings.request_timeout_secs).unwrap_or(3600) + 30,
            ),
            audit_retention: chrono::TimeDelta::days(i64::from(settings.audit_retention_days)),
            oauth: Arc::new(oauth::OAuthConfig::new(settings)),
            autopilot: autopilot::AutopilotConfig::new(settings),
            // Half a second inside the request timeout, for the answer itself.
            longest_wait: std::time::Duration::from_millis(
                (settings.request_timeout_secs * 1000)
                    .saturating_sub(500)
                    .min(25_000),
            ),
        }
    }

    /// Checks the database through the pool, as a use case's statements would reach it.
    pub async fn ping(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    pub fn pool_stats(&self) -> PoolStats {
        self.store.pool_stats()
    }

    /// What the cache holds now, for the metrics.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Where each tenant's authorization server is reached, for its metadata.
    pub fn oauth(&self) -> &oauth::OAuthConfig {
        &self.oauth
    }

    /// Lets the database go, once the last use case is done.
    pub async fn close(&self) {
        self.store.close().await;
    }
}

/// Who is calling: what they may do, and what their changes carry.
#[derive(Debug, Clone)]
pub struct Caller {
    pub grants: Grants,
    pub change: ChangeContext,
}

impl Caller {
    /// The command line, which holds every permission over the database it was given.
    pub fn command_line() -> Self {
        Self {
            grants: Grants::everything(),
            change: ChangeContext::without_request(Actor::Cli),
        }
    }

    fn require_admin(&self) -> Result<()> {
        if self.grants.is_admin() {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "this needs a token with the admin permission",
            ))
        }
    }

    /// The events routes: `audit.read`, or a permission that reads clients.
    fn require_audit(&self) -> Result<()> {
        if self.grants.reads_audit() {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "reading the audit trail needs audit.read, client.read or more",
            ))
        }
    }

    /// `secrets/verify` and token introspection: `secret.verify`, or a permission that
    /// reads clients.
    fn require_verify(&self) -> Result<()> {
        if self.grants.verifies_secrets() {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "verifying secrets needs secret.verify, client.read or more",
            ))
        }
    }

    /// A tenant the caller cannot see is answered exactly as one that does not exist.
    fn require_read(&self, tenant: &TenantId) -> Result<()> {
        if self.grants.can_read(tenant) {
            Ok(())
        } else {
            Err(Error::NotFound(crate::domain::Missing::Tenant))
        }
    }
}
