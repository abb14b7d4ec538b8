//! The Postgres adapter: the production store, shared by every replica. What differs from
//! SQLite: lists of ids travel as arrays, a token's tenants are gathered with `string_agg`,
//! and a read-modify-write locks the client's row (`FOR NO KEY UPDATE`). The migrator holds an
//! advisory lock, so replicas starting together apply each migration once.

mod clients;
mod feed;
mod operations;
mod secrets;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::{PoolSettings, StoreResult};
use sqlx::{Pool, Postgres, QueryBuilder, Transaction};

use crate::domain::audit::FeedPosition;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::store::UsedAssertion;
use crate::store::adapter::Adapter;
use crate::store::dialect::Dialect;
use crate::store::events::{bind_event, finish};

/// How long a pooled connection may sit unused before it is checked before use.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

const READ_COMMITTED: &str =
    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED";

/// How Postgres spells the shared queries: clients matched and ordered inside their
/// settings document, a list of ids bound as a `text[]`.
impl Dialect for Postgres {
    type TenantList = Vec<String>;

    const NAME_KEY: &'static str = "(lower(settings->>'name') COLLATE \"C\")";
    const ENABLED_KEY: &'static str = "(settings->>'enabled')::boolean";
    /// Never-used clients sort first, as the earliest time there is.
    const LAST_USED_KEY: &'static str = "coalesce(last_used, '-infinity'::timestamptz)";
    const NEVER_USED: &'static str = "'-infinity'::timestamptz";
    const FEED_XID: &'static str = "xid::text";
    const FEED_ORDER: &'static str = " ORDER BY xid, seq";
    const TENANTS_PAGE: &'static str = "SELECT id, name, created FROM tenants
     WHERE id > $1 AND ($2::text[] IS NULL OR id = ANY($2))
     ORDER BY id LIMIT $3";
    const TENANTS_AMONG: &'static str = "SELECT id FROM tenants WHERE id = ANY($1)";
    const TOKEN_BY_ID: &'static str =
        "SELECT t.id, t.name, t.token_hash, t.permissions, t.expires_at, t.created, t.last_used,
        (SELECT coalesce(string_agg(tenant_id, ' '), '')
         FROM api_token_tenants WHERE token_id = t.id) AS tenants
     FROM api_tokens t WHERE t.id = $1";
    const TOKENS_PAGE: &'static str =
        "SELECT t.id, t.name, t.token_hash, t.permissions, t.expires_at, t.created, t.last_used,
        (SELECT coalesce(string_agg(tenant_id, ' '), '')
         FROM api_token_tenants WHERE token_id = t.id) AS tenants
     FROM api_tokens t WHERE t.id > $1 ORDER BY t.id LIMIT $2";
    const INSERT_TOKEN_TENANTS: &'static str =
        "INSERT INTO api_token_tenants (token_id, tenant_id) SELECT $1, unnest($2::text[])";
    /// NO KEY UPDATE: no write changes a client's id, and the weaker lock lets a tenant's
    /// deletion check for the tenant's clients (KEY SHARE) without waiting on a change under way.
    const LOCK_CLIENT: &'static str =
        "SELECT id, tenant_id, app_type, settings, manually_created, created, modified, last_used
         FROM clients WHERE id = $1 FOR NO KEY UPDATE";

    const LOCK_TENANT: &'static str = "SELECT id FROM tenants WHERE id = $1 FOR NO KEY UPDATE";

    fn rows_affected(done: &sqlx::postgres::PgQueryResult) -> u64 {
        done.rows_affected()
    }

    fn push_lower(q: &mut QueryBuilder<Self>, text: String) {
        q.push("(lower(")
            .push_bind(text)
            .push("::text) COLLATE \"C\")");
    }

    fn push_last_used(q: &mut QueryBuilder<Self>, at: Option<Timestamp>) {
        q.push("coalesce(")
            .push_bind(at)
            .push("::timestamptz, '-infinity'::timestamptz)");
    }

    fn push_contains(q: &mut QueryBuilder<Self>, field: &'static str, value: String) {
        q.push("(settings->'")
            .push(field)
            .push("') @> jsonb_build_array(")
            .push_bind(value)
            .push("::text)");
    }

    /// Tenant ids as an array, for `= ANY`.
    fn tenant_list(ids: &[TenantId]) -> Vec<String> {
        ids.iter().map(|id| id.as_str().to_owned()).collect()
    }

    fn push_tenant_in(q: &mut QueryBuilder<Self>, ids: &[TenantId]) {
        q.push("tenant_id = ANY(")
            .push_bind(Self::tenant_list(ids))
            .push(")");
    }

    /// Three arrays, whatever the batch's size: one statement text, prepared once per
    /// connection, where a `VALUES` list of each size would be parsed and planned anew.
    fn push_assertion_rows(q: &mut QueryBuilder<Self>, used: &[UsedAssertion]) {
        let clients: Vec<String> = (used.iter())
            .map(|one| one.client.as_str().to_owned())
            .collect();
        let jtis: Vec<String> = used.iter().map(|one| one.jti.clone()).collect();
        let expiries: Vec<Timestamp> = used.iter().map(|one| one.expires_at).collect();
        q.push("SELECT * FROM unnest(")
            .push_bind(clients)
            .push("::text[], ")
            .push_bind(jtis)
            .push("::text[], ")
            .push_bind(expiries)
            .push("::timestamptz[])");
    }

    /// Below the snapshot's xmin every writing transaction has ended (see feed.rs).
    /// A cursor of a newest-first page (a seq alone, xid 0) goes on after that event.
    fn push_feed_after(q: &mut QueryBuilder<Self>, after: FeedPosition) {
        q.push("(xid, seq) > (");
        if after.xid == 0 {
            q.push("coalesce((SELECT at.xid FROM events at WHERE at.seq = ")
                .push_bind(after.seq)
                .push("), '0'::xid8)");
        } else {
            q.push_bind(after.xid.to_string()).push("::xid8");
        }
        q.push(", ")
            .push_bind(after.seq)
            .push(") AND xid < pg_snapshot_xmin(pg_current_snapshot())");
    }
}

pub struct PostgresStore {
    pool: PgPool,
    /// For the writes a crash of the database may lose (`Adapter::relaxed_writer`).
    relaxed: PgPool,
    /// One connection for the migrations, closed once they are done.
    migrating: PgPool,
    /// The one connection that listens for changes, apart from the requests' pool.
    listening: PgPool,
}

impl PostgresStore {
    pub fn open(url: &str, settings: &PoolSettings) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)?.application_name("clientd");
        let pool = requests_pool(&options, settings, &[]);
        // Its commits do not wait for the WAL flush (see `Adapter::relaxed_writer`).
        let relaxed = requests_pool(
            &options.clone().application_name("clientd relaxed"),
            settings,
            &["SET synchronous_commit = off"],
        );
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
            relaxed,
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
}

impl Adapter for PostgresStore {
    type Db = Postgres;

    fn reader(&self) -> &Pool<Postgres> {
        &self.pool
    }

    fn writer(&self) -> &Pool<Postgres> {
        PostgresStore::writer(self)
    }

    fn relaxed_writer(&self) -> &Pool<Postgres> {
        &self.relaxed
    }

    fn begin_write(
        &self,
    ) -> impl Future<Output = StoreResult<Transaction<'static, Postgres>>> + Send {
        PostgresStore::begin_write(self)
    }
}

/// The requests' pool: read committed, `statement_timeout` the request's, and `also` run on
/// every new connection.
fn requests_pool(
    options: &PgConnectOptions,
    settings: &PoolSettings,
    also: &'static [&'static str],
) -> PgPool {
    let statement_timeout = format!(
        "SET statement_timeout = {}",
        settings.statement_timeout.as_millis().max(1)
    );
    // A ping before every use doubled the round trips of every query; under load a
    // connection was in use a moment ago, so only one idle for a while is pinged. One that
    // died in the meantime fails its query (503) and the pool drops it.
    PgPoolOptions::new()
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
                for statement in also {
                    sqlx::Executor::execute(&mut *connection, *statement).await?;
                }
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
        .connect_lazy_with(options.clone())
}
