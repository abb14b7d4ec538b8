//! The Postgres adapter: the production store, shared by every replica. What differs from
//! SQLite: lists of ids travel as arrays, a token's tenants are gathered with `string_agg`,
//! and a read-modify-write locks the client's row (`FOR NO KEY UPDATE`). The migrator holds an
//! advisory lock, so replicas starting together apply each migration once.

mod clients;
mod events;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use super::changes::{CHANNEL, Change, ChangeFeed};
use super::{PoolSettings, StoreResult};
use crate::domain::tenant::TenantId;
use clients::{finish, locked_client};
use events::{bind_event, record};

/// How long a pooled connection may sit unused before it is checked before use.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// NO KEY UPDATE: no write changes a client's id, and the weaker lock lets a tenant's
/// deletion check for the tenant's clients (KEY SHARE) without waiting on a change under way.
const LOCK_CLIENT: &str =
    "SELECT id, tenant_id, app_type, settings, manually_created, created, modified, last_used
     FROM clients WHERE id = $1 FOR NO KEY UPDATE";

const TENANTS_PAGE: &str = "SELECT id, name, created FROM tenants
     WHERE id > $1 AND ($2::text[] IS NULL OR id = ANY($2))
     ORDER BY id LIMIT $3";
const TENANTS_AMONG: &str = "SELECT id FROM tenants WHERE id = ANY($1)";

super::tokens::token_queries!("string_agg");
const INSERT_TOKEN_TENANTS: &str =
    "INSERT INTO api_token_tenants (token_id, tenant_id) SELECT $1, unnest($2::text[])";

fn tenant_list(ids: &[TenantId]) -> Vec<String> {
    ids.iter().map(|id| id.as_str().to_owned()).collect()
}

fn push_tenant_in(q: &mut sqlx::QueryBuilder<sqlx::Postgres>, ids: &[TenantId]) {
    q.push("tenant_id = ANY(")
        .push_bind(tenant_list(ids))
        .push(")");
}

const READ_COMMITTED: &str =
    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED";

/// A CTE may insert and update, so a write and its event can be one statement.
const DATA_MODIFYING_CTE: bool = true;

// Transitional: the parts still expanded from macros reach these by their old module names.
mod client_store {
    pub(super) use super::{finish, locked_client};
}
mod event_store {
    pub(super) use super::{bind_event, record};
}

super::operations::operations!(PostgresStore, sqlx::Postgres, "migrations/postgres");
super::tenants::tenant_store!(PostgresStore);
super::tokens::token_store!(PostgresStore, sqlx::Postgres);
super::secrets::secret_store!(PostgresStore);
super::credentials::credential_store!(PostgresStore, sqlx::Postgres);
super::idempotency::idempotency_store!(PostgresStore);

pub struct PostgresStore {
    pool: PgPool,
    /// One connection for the migrations, closed once they are done.
    migrating: PgPool,
    /// The one connection that listens for changes, apart from the requests' pool.
    listening: PgPool,
}

impl PostgresStore {
    pub fn open(url: &str, settings: &PoolSettings) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)?.application_name("clientd");
        let statement_timeout = format!(
            "SET statement_timeout = {}",
            settings.statement_timeout.as_millis().max(1)
        );
        // A ping before every use doubled the round trips of every query; under load a
        // connection was in use a moment ago, so only one idle for a while is pinged. One that
        // died in the meantime fails its query (503) and the pool drops it.
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .test_before_acquire(false)
            // Every rule here assumes read committed (a write that waited for a lock reads the
            // row as committed since): a database or role whose default is stricter would turn
            // each wait into a serialization failure. Set once a connection opens, not as a
            // startup option, which poolers such as PgBouncer refuse.
            //
            // No statement outlives the request that runs it: one still running when the
            // request timeout answers 503 is cancelled by the database, its transaction rolled
            // back, so nothing is left half-written or holding locks.
            .after_connect(move |connection, _| {
                let statement_timeout = statement_timeout.clone();
                Box::pin(async move {
                    sqlx::Executor::execute(&mut *connection, READ_COMMITTED).await?;
                    let limit = sqlx::AssertSqlSafe(statement_timeout);
                    sqlx::Executor::execute(&mut *connection, limit).await?;
                    Ok(())
                })
            })
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_WHEN_IDLE_FOR {
                        sqlx::Connection::ping(connection).await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(options.clone());
        // Named apart, so an operator (and scripts/faults) can tell it in pg_stat_activity.
        let migrating = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(options.clone().application_name("clientd migrations"));
        let listening = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(options.application_name("clientd listener"));
        Ok(Self {
            pool,
            migrating,
            listening,
        })
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self.pool.begin().await?)
    }

    async fn before_migrations(&self) -> StoreResult<()> {
        Ok(())
    }

    /// Migrations run on a connection of their own, without the requests' statement
    /// timeout: building an index over a long trail, or a replica waiting for another's
    /// migrations (the migrator's advisory lock), may take longer than any request.
    fn migration_pool(&self) -> &PgPool {
        &self.migrating
    }

    async fn after_migrations(&self) {
        self.migrating.close().await;
    }

    /// Every replica hears every change: any number may serve one database.
    fn claim_file(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn change_feed(&self) -> StoreResult<Option<Box<dyn ChangeFeed>>> {
        let mut listener = PgListener::connect_with(&self.listening).await?;
        // A lost connection ends the feed: the follower starts over, and knows it must.
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await?;
        Ok(Some(Box::new(Listening(listener))))
    }

    async fn close_pools(&self) {
        self.listening.close().await;
        self.pool.close().await;
    }
}

struct Listening(PgListener);

#[async_trait]
impl ChangeFeed for Listening {
    async fn next(&mut self) -> StoreResult<Option<Change>> {
        let notice = self.0.try_recv().await?;
        Ok(notice.map(|notice| Change::parse(notice.payload())))
    }

    async fn check(&mut self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&mut self.0).await?;
        Ok(())
    }
}
