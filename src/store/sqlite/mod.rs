//! The SQLite adapter: the embedded default, so clientd runs with nothing else installed.
//! What differs from Postgres: lists of ids travel as JSON arrays (`json_each`), a token's
//! tenants are gathered with `group_concat`, and a read-modify-write needs no row lock, as
//! its writer holds the database's (`BEGIN IMMEDIATE`, taken up front so it never fails to
//! upgrade). SQLite lets one writer in at a time, so writes go through a pool of one
//! connection: writers wait their turn in its queue, in order, instead of in SQLite's busy
//! handler, whose sleeps of up to 100 ms made the slowest writes hundreds of milliseconds late.

mod clients;
mod operations;
mod secrets;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{PoolSettings, StoreError, StoreResult};
use sqlx::{Pool, QueryBuilder, Sqlite, Transaction};

use crate::domain::audit::FeedPosition;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::store::UsedAssertion;
use crate::store::adapter::Adapter;
use crate::store::dialect::Dialect;
use crate::store::events::finish;

/// Three quarters of the request's time, at most ten seconds, to wait for the write lock.
fn busy_timeout(request: Duration) -> Duration {
    (request * 3 / 4).min(Duration::from_secs(10))
}

/// How SQLite spells the shared queries: clients matched and ordered inside their settings
/// document, a list of ids bound as a JSON array. SQLite's lower() folds ASCII letters only.
impl Dialect for Sqlite {
    type TenantList = String;

    const NAME_KEY: &'static str = "lower(json_extract(settings, '$.name'))";
    const ENABLED_KEY: &'static str = "json_extract(settings, '$.enabled')";
    /// Never-used clients sort first: the empty text is before every RFC 3339 time.
    const LAST_USED_KEY: &'static str = "coalesce(last_used, '')";
    const NEVER_USED: &'static str = "''";
    /// Writes are serialized whole: seq order is commit order, and xid has no part.
    const FEED_XID: &'static str = "'0'";
    const FEED_ORDER: &'static str = " ORDER BY seq";
    const TENANTS_PAGE: &'static str = "SELECT id, name, created FROM tenants
     WHERE id > $1 AND ($2 IS NULL OR id IN (SELECT value FROM json_each($2)))
     ORDER BY id LIMIT $3";
    const TENANTS_AMONG: &'static str =
        "SELECT id FROM tenants WHERE id IN (SELECT value FROM json_each($1))";
    const TOKEN_BY_ID: &'static str =
        "SELECT t.id, t.name, t.token_hash, t.permissions, t.expires_at, t.created, t.last_used,
        (SELECT coalesce(group_concat(tenant_id, ' '), '')
         FROM api_token_tenants WHERE token_id = t.id) AS tenants
     FROM api_tokens t WHERE t.id = $1";
    const TOKENS_PAGE: &'static str =
        "SELECT t.id, t.name, t.token_hash, t.permissions, t.expires_at, t.created, t.last_used,
        (SELECT coalesce(group_concat(tenant_id, ' '), '')
         FROM api_token_tenants WHERE token_id = t.id) AS tenants
     FROM api_tokens t WHERE t.id > $1 ORDER BY t.id LIMIT $2";
    const INSERT_TOKEN_TENANTS: &'static str =
        "INSERT INTO api_token_tenants (token_id, tenant_id) SELECT $1, value FROM json_each($2)";
    /// The whole database is locked by `BEGIN IMMEDIATE` already.
    const LOCK_CLIENT: &'static str =
        "SELECT id, tenant_id, app_type, settings, manually_created, created, modified, last_used
         FROM clients WHERE id = $1";

    const LOCK_TENANT: &'static str = "SELECT id FROM tenants WHERE id = $1";

    fn rows_affected(done: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    fn push_lower(q: &mut QueryBuilder<Self>, text: String) {
        q.push("lower(").push_bind(text).push(")");
    }

    fn push_last_used(q: &mut QueryBuilder<Self>, at: Option<Timestamp>) {
        q.push("coalesce(").push_bind(at).push(", '')");
    }

    fn push_contains(q: &mut QueryBuilder<Self>, field: &'static str, value: String) {
        q.push("EXISTS (SELECT 1 FROM json_each(settings, '$.")
            .push(field)
            .push("') WHERE value = ")
            .push_bind(value)
            .push(")");
    }

    /// Tenant ids as a JSON array, for `json_each`.
    fn tenant_list(ids: &[TenantId]) -> String {
        serde_json::Value::from(ids.iter().map(|id| id.as_str()).collect::<Vec<_>>()).to_string()
    }

    fn push_tenant_in(q: &mut QueryBuilder<Self>, ids: &[TenantId]) {
        q.push("tenant_id IN (SELECT value FROM json_each(")
            .push_bind(Self::tenant_list(ids))
            .push("))");
    }

    fn push_assertion_rows(q: &mut QueryBuilder<Self>, used: &[UsedAssertion]) {
        q.push_values(used, |mut row, one| {
            row.push_bind(one.client.as_str().to_owned())
                .push_bind(one.jti.clone())
                .push_bind(one.expires_at);
        });
    }

    fn push_feed_after(q: &mut QueryBuilder<Self>, after: FeedPosition) {
        q.push("seq > ").push_bind(after.seq);
    }
}

pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
    /// For an in-memory database, one connection held for the life of the store: the
    /// database lives only while some connection is open, and the pool closes its own
    /// whenever a request is abandoned mid-query.
    in_memory: Option<InMemoryDatabase>,
    /// The database file, locked by the one server that serves it (see `claim_sole_server`).
    file: Option<std::path::PathBuf>,
    sole_server: std::sync::Mutex<Option<std::fs::File>>,
}

struct InMemoryDatabase {
    options: SqliteConnectOptions,
    connection: tokio::sync::OnceCell<tokio::sync::Mutex<sqlx::SqliteConnection>>,
}

impl SqliteStore {
    pub fn open(url: &str, settings: &PoolSettings) -> StoreResult<Self> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        // Every in-memory URL becomes one named, shared-cache database of this process (sqlx
        // names one per `sqlite::memory:`), so every connection of the store sees the same.
        let base = if in_memory {
            SqliteConnectOptions::from_str("sqlite::memory:")?
        } else {
            SqliteConnectOptions::from_str(url)?
        };
        let options = base
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            // Below the request timeout, so a write that waits for the lock fails in time.
            .busy_timeout(busy_timeout(settings.statement_timeout));
        let connections = |max| {
            SqlitePoolOptions::new()
                .max_connections(max)
                .acquire_timeout(settings.acquire_timeout)
        };
        if in_memory {
            // One pooled connection for reads and writes alike: the database is in this
            // process, so there is no round trip to overlap.
            let pool = connections(1).connect_lazy_with(options.clone());
            return Ok(Self {
                writer: pool.clone(),
                pool,
                in_memory: Some(InMemoryDatabase {
                    options,
                    connection: tokio::sync::OnceCell::new(),
                }),
                file: None,
                sole_server: std::sync::Mutex::default(),
            });
        }
        Ok(Self {
            pool: connections(settings.max_connections).connect_lazy_with(options.clone()),
            file: Some(options.get_filename().to_owned()),
            writer: connections(1).connect_lazy_with(options),
            in_memory: None,
            sole_server: std::sync::Mutex::default(),
        })
    }

    /// Opens the in-memory database's held connection, once, before the schema is made.
    async fn keep_alive(&self) -> StoreResult<()> {
        if let Some(in_memory) = &self.in_memory {
            in_memory
                .connection
                .get_or_try_init(|| async {
                    let connection = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(
                        &in_memory.options,
                    )
                    .await?;
                    Ok::<_, StoreError>(tokio::sync::Mutex::new(connection))
                })
                .await?;
        }
        Ok(())
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

impl Adapter for SqliteStore {
    type Db = Sqlite;

    fn reader(&self) -> &Pool<Sqlite> {
        &self.pool
    }

    fn relaxed_writer(&self) -> &Pool<Sqlite> {
        Adapter::writer(self)
    }

    fn writer(&self) -> &Pool<Sqlite> {
        SqliteStore::writer(self)
    }

    fn begin_write(
        &self,
    ) -> impl Future<Output = StoreResult<Transaction<'static, Sqlite>>> + Send {
        SqliteStore::begin_write(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::{Action, Event};
    use crate::domain::change::{Actor, ChangeContext};
    use crate::domain::tenant::Tenant;
    use crate::domain::time;
    use crate::store::{Operations, TenantStore};

    /// What sqlx does when a request is abandoned mid-query: it closes that connection.
    #[tokio::test]
    async fn an_in_memory_database_outlives_its_pooled_connections() {
        let settings = PoolSettings {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
        };
        let store = SqliteStore::open("sqlite::memory:", &settings).unwrap();
        store.migrate().await.unwrap();
        let tenant = Tenant::new("kept", "Kept", time::now()).unwrap();
        let change = ChangeContext::without_request(Actor::Cli);
        let event = Event::new(&change, Action::TenantCreate, Some(&tenant.id), "kept", "/");
        store.create_tenant(&tenant, &event).await.unwrap();
        for _ in 0..3 {
            let connection = store.pool.acquire().await.unwrap();
            connection.close().await.unwrap();
        }
        assert_eq!(store.tenant(&tenant.id).await.unwrap(), Some(tenant));
    }
}
