//! Persistence: one `Store` trait, with a Postgres and an SQLite adapter chosen once from the
//! database URL. A store method is one transaction; store code decides no business rule.
//!
//! The trait is the sum of one part per aggregate (tenants, tokens, clients, secrets,
//! credentials, events, idempotency records). Each part's module holds its trait and types.
//! Tenants, tokens, credentials, events and idempotency records are implemented there once
//! for both adapters, over `Adapter` (a database, its pools, how a write begins) and
//! `Dialect` (what its SQL spells differently: lists of ids, aggregates, case folding, the
//! row lock); so are the client reads and listing, the reads under a client's lock, the
//! events' insert (`finish`) and the dry runs. Clients and secrets keep their writes per
//! backend in `postgres/` and `sqlite/`: Postgres writes with one-statement CTEs and row
//! locks, SQLite with `BEGIN IMMEDIATE` and several statements.

mod adapter;
mod autopilot;
mod changes;
mod client_list;
mod clients;
mod credentials;
mod dialect;
mod events;
mod idempotency;
mod oauth;
mod operations;
mod postgres;
mod rows;
mod secrets;
mod sqlite;
mod tenants;
mod tokens;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::Missing;
use crate::domain::audit::Event;
use crate::domain::refusal::Refusal;

pub use autopilot::{AutopilotStore, DueRotation, ExpiringCredential, StaleSecret};
pub use changes::{Change, ChangeFeed};
pub use clients::{ClientDecision, ClientQuery, ClientStore, Reach, WriteMode};
pub use credentials::{ClientCredential, CredentialDecision, CredentialQuery, CredentialStore};
pub use events::{EventQuery, EventStore, History};
pub use idempotency::{Claim, ClaimDeadlines, IdempotencyStore, StoredAnswer};
pub use oauth::{OAuthStore, UsedAssertion};
pub use postgres::PostgresStore;
pub use secrets::{SecretDecision, SecretStore};
pub use sqlite::SqliteStore;
pub use tenants::TenantStore;
pub use tokens::{StoredToken, TokenStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no {0} with this id")]
    NotFound(Missing),
    #[error("{0}")]
    Conflict(&'static str),
    /// The domain refused the change when the store asked it, under the lock.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The database could not be reached in time: worth retrying, not the caller's fault.
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    /// The database gave up a transaction that met a concurrent one (a deadlock, a
    /// serialization failure, a lock not granted in time): worth retrying as it was.
    #[error("gave way to a concurrent change: {0}")]
    Contention(sqlx::Error),
    /// A statement ran out of the request's time (Postgres `statement_timeout`) or waited
    /// too long for SQLite's write lock; its transaction was rolled back.
    #[error("ran out of time: {0}")]
    TimedOut(sqlx::Error),
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
            sqlx::Error::Database(db) if db.code().is_some_and(|code| is_contention(&code)) => {
                Self::Contention(error)
            }
            sqlx::Error::Database(db) if db.code().is_some_and(|code| is_timeout(&code)) => {
                Self::TimedOut(error)
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

/// SQLSTATEs of a transaction given up for another's sake: 40001 (serialization failure,
/// and an Idempotency-Key claim taken over by a retry), 40P01 (deadlock) and 55P03 (lock not
/// available); on SQLite 1811, a trigger's abort (the claim taken over). Named whole:
/// SQLite's codes are numbers (4106 is an I/O error), and no prefix of theirs must match.
fn is_contention(sqlstate: &str) -> bool {
    matches!(sqlstate, "40001" | "40P01" | "55P03" | "1811")
}

/// SQLSTATE 57014 (a statement cancelled, as `statement_timeout` does) and SQLite's
/// SQLITE_BUSY (5, and its extended codes 261 and 517: the busy timeout ran out).
fn is_timeout(code: &str) -> bool {
    matches!(code, "57014" | "5" | "261" | "517")
}

impl StoreError {
    /// Turns a unique-key or foreign-key violation into `instead`; `kind()` works on both
    /// backends (constraint names are Postgres's only).
    fn on_violation(error: sqlx::Error, kind: sqlx::error::ErrorKind, instead: Self) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.kind() == kind => instead,
            _ => error.into(),
        }
    }

    fn on_unique(error: sqlx::Error, conflict: &'static str) -> Self {
        Self::on_violation(
            error,
            sqlx::error::ErrorKind::UniqueViolation,
            Self::Conflict(conflict),
        )
    }

    fn on_foreign_key(error: sqlx::Error, instead: Self) -> Self {
        Self::on_violation(error, sqlx::error::ErrorKind::ForeignKeyViolation, instead)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

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
    /// The longest a request's statements may run (the request timeout): on Postgres each
    /// statement's `statement_timeout`, on SQLite the wait for the write lock, which is kept
    /// below it so that a request that waits too long fails inside its time, rolled back.
    pub statement_timeout: Duration,
}

/// How a deletion says what it deleted: the event of the row as it was when it went.
pub type Audit<'a, T> = dyn Fn(&T) -> Event + Send + Sync + 'a;

/// The database's upkeep, apart from any aggregate.
#[async_trait]
pub trait Operations: Send + Sync {
    /// Brings the schema up to date; safe when several replicas start at once.
    async fn migrate(&self) -> StoreResult<()>;
    /// Checks the database through the pool, as a request would.
    async fn ping(&self) -> StoreResult<()>;
    /// Opens one connection outside the pool, so a failure carries the database's own error
    /// (refused, authentication failed, no such database) rather than a pool timeout.
    async fn probe(&self) -> StoreResult<()>;
    fn pool_stats(&self) -> PoolStats;
    /// A feed of the changes every process commits, or None when this process is the only
    /// writer (SQLite), so what it changes itself is all there is to hear.
    async fn changes(&self) -> StoreResult<Option<Box<dyn ChangeFeed>>>;
    /// Wakes every replica's feed, after a commit and outside its transaction, with the
    /// `changes` no event records (none for a plain wake-up). A no-op without a feed.
    async fn announce(&self, changes: &[Change]) -> StoreResult<()>;
    /// Claims the database for this one server when no feed of changes could tell another
    /// process what this one changes (SQLite): a second claim, by another process, is
    /// refused. Idempotent within the process; nothing to claim on Postgres.
    fn claim_sole_server(&self) -> StoreResult<()>;
    /// The file the database lives in: SQLite's, unless in memory; None on Postgres.
    fn database_file(&self) -> Option<&std::path::Path>;
    async fn close(&self);
}

/// Everything clientd keeps.
///
/// Text handed to a store holds no NUL: the domain refuses it where it enters (`domain::text`,
/// cursors, positions), because the backends disagree on it (Postgres refuses NUL in text and
/// JSON, SQLite keeps it). A backend need not refuse it itself, only never store it altered.
pub trait Store:
    Operations
    + TenantStore
    + TokenStore
    + ClientStore
    + SecretStore
    + CredentialStore
    + EventStore
    + IdempotencyStore
    + OAuthStore
    + AutopilotStore
    + 'static
{
}

impl<T> Store for T where
    T: Operations
        + TenantStore
        + TokenStore
        + ClientStore
        + SecretStore
        + CredentialStore
        + EventStore
        + IdempotencyStore
        + OAuthStore
        + AutopilotStore
        + 'static
{
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_an_outage_from_contention() {
        for outage in ["08006", "57P01", "57P03"] {
            assert!(is_outage(outage) && !is_contention(outage), "{outage}");
        }
        for contention in ["40001", "40P01", "55P03", "1811"] {
            assert!(
                is_contention(contention) && !is_outage(contention),
                "{contention}"
            );
        }
        assert!(is_timeout("57014") && is_timeout("5") && !is_outage("57014"));
        for neither in ["23505", "22P02", "55000", "4106", "50"] {
            assert!(
                !is_outage(neither) && !is_contention(neither) && !is_timeout(neither),
                "{neither}"
            );
        }
    }
}
