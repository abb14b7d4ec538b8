//! Persistence: one `Store` trait, with a Postgres and an SQLite adapter chosen once from the
//! database URL. A store method is one transaction; store code decides no business rule.

mod clients;
mod postgres;
mod rows;
mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use crate::domain::client::{Client, Refusal};
use crate::domain::credential::{Credential, CredentialChange};
use crate::domain::page::{Limit, Page};
use crate::domain::rotation::{SecretChange, StoredSecret};
use crate::domain::secret::SecretHash;
use crate::domain::tenant::{Tenant, TenantId};
use crate::domain::token::{ApiToken, TenantScope};

pub use clients::ClientStore;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(&'static str),
    /// A row names a tenant that does not exist (any more).
    #[error("no tenant with this id")]
    UnknownTenant,
    /// The database could not be reached in time: worth retrying, not the caller's fault.
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Backend(sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                Self::Unavailable(error)
            }
            sqlx::Error::Database(db) if db.code().is_some_and(|code| is_outage(&code)) => {
                Self::Unavailable(error)
            }
            _ => Self::Backend(error),
        }
    }
}

/// SQLSTATEs of a database going away or not yet back (a restart, a failover): classes 08
/// (connection exception) and 57P (operator intervention, e.g. 57P01 admin shutdown).
fn is_outage(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") || sqlstate.starts_with("57P")
}

impl StoreError {
    /// Turns a unique-key violation into `conflict`; `kind()` works on both backends.
    fn on_unique(error: sqlx::Error, conflict: &'static str) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
                Self::Conflict(conflict)
            }
            _ => error.into(),
        }
    }

    /// Turns a foreign-key violation into `instead`.
    fn on_foreign_key_as(error: sqlx::Error, instead: Self) -> Self {
        match &error {
            sqlx::Error::Database(db)
                if db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation =>
            {
                instead
            }
            _ => error.into(),
        }
    }

    /// Turns a foreign-key violation into `conflict`.
    fn on_foreign_key(error: sqlx::Error, conflict: &'static str) -> Self {
        match &error {
            sqlx::Error::Database(db)
                if db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation =>
            {
                Self::Conflict(conflict)
            }
            _ => error.into(),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The domain's decision on a stored client, made under the store's lock: the new client,
/// None to leave it as it is, or why the change is refused.
pub type ClientDecision<'a> =
    dyn Fn(&Client, &[Credential]) -> Result<Option<Client>, Refusal> + Send + Sync + 'a;

/// The domain's decision on a rotation step, made under the client's lock.
pub type SecretDecision<'a> =
    dyn Fn(&Client, &[StoredSecret]) -> Result<SecretChange, Refusal> + Send + Sync + 'a;

/// The domain's decision on a client's credentials, made under the client's lock.
pub type CredentialDecision<'a> =
    dyn Fn(&Client, &[Credential]) -> Result<CredentialChange, Refusal> + Send + Sync + 'a;

/// A stored token with the hash its presented text must match.
pub struct StoredToken {
    pub token: ApiToken,
    pub hash: SecretHash,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub connections: u32,
    pub idle: u32,
}

#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// How long a request waits for a free connection before it is refused as unavailable.
    pub acquire_timeout: Duration,
}

#[async_trait]
pub trait Store: ClientStore + Send + Sync + 'static {
    /// Brings the schema up to date; safe when several replicas start at once.
    async fn migrate(&self) -> StoreResult<()>;
    /// Checks the database through the pool, as a request would.
    async fn ping(&self) -> StoreResult<()>;
    /// Opens one connection outside the pool, so a failure carries the database's own error
    /// (refused, authentication failed, no such database) rather than a pool timeout.
    async fn probe(&self) -> StoreResult<()>;
    fn pool_stats(&self) -> PoolStats;
    async fn close(&self);

    /// Conflict when the id is taken.
    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()>;
    async fn tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>>;
    async fn list_tenants(
        &self,
        scope: TenantScope<'_>,
        after: Option<&str>,
        limit: Limit,
    ) -> StoreResult<Page<Tenant>>;
    /// Not found, or conflict while the tenant still owns clients.
    async fn delete_tenant(&self, id: &TenantId) -> StoreResult<()>;
    /// The ids among `ids` that name no tenant.
    async fn missing_tenants(&self, ids: &[TenantId]) -> StoreResult<Vec<TenantId>>;

    /// Conflict when one of its tenants disappeared meanwhile.
    async fn create_token(&self, token: &ApiToken, hash: &SecretHash) -> StoreResult<()>;
    /// Creates `token` only if this installation never issued a first token and has none:
    /// true when it did. Replicas racing at start issue one between them.
    async fn create_first_token(&self, token: &ApiToken, hash: &SecretHash) -> StoreResult<bool>;
    async fn token(&self, id: Uuid) -> StoreResult<Option<StoredToken>>;
    async fn list_tokens(&self, after: Option<Uuid>, limit: Limit) -> StoreResult<Page<ApiToken>>;
    async fn delete_token(&self, id: Uuid) -> StoreResult<()>;
}

/// Which backend a database URL names; anything else is refused rather than guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn of(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else {
            Err("must start with sqlite: or postgres:// (for example sqlite://clientd.db, sqlite::memory: or postgres://user@host/db)".to_owned())
        }
    }
}

/// Builds the store a URL names. No connection is made yet: `ping` says when it is reachable.
pub fn open(url: &str, settings: &PoolSettings) -> StoreResult<Arc<dyn Store>> {
    let backend = Backend::of(url).map_err(|e| sqlx::Error::Configuration(e.into()))?;
    Ok(match backend {
        Backend::Postgres => Arc::new(PostgresStore::open(url, settings)?),
        Backend::Sqlite => Arc::new(SqliteStore::open(url, settings)?),
    })
}
