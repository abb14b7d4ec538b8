//! The SQLite adapter: the embedded default, so clientd runs with nothing else installed.
//! Lists travel as JSON arrays (`json_each`) where Postgres takes arrays. SQLite lets one
//! writer in at a time, so writes go through a pool of one connection: writers wait their
//! turn in its queue, in order, instead of in SQLite's busy handler, whose sleeps of up to
//! 100 ms made the slowest writes hundreds of milliseconds late. Writers still take the lock
//! up front (`BEGIN IMMEDIATE`), so a read-modify-write never fails to upgrade it.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use uuid::Uuid;

use super::clients::client_query;
use super::rows::{TenantRow, TokenRow, permissions_text};
use super::{PoolSettings, PoolStats, Store, StoreError, StoreResult, StoredToken};
use crate::domain::page::{Limit, Page};
use crate::domain::secret::SecretHash;
use crate::domain::tenant::{Tenant, TenantId};
use crate::domain::token::{ApiToken, TenantScope};

/// The whole database is locked by `BEGIN IMMEDIATE` already.
pub(super) const LOCK_CLIENT: &str = client_query!(" WHERE id = $1");

/// A token with its tenants gathered into one space-separated column, in one round trip.
macro_rules! token_query {
    ($tail:literal) => {
        concat!(
            "SELECT t.id, t.name, t.token_hash, t.permissions, t.expires_at, t.created,
                    (SELECT coalesce(group_concat(tenant_id, ' '), '')
                     FROM api_token_tenants WHERE token_id = t.id) AS tenants
             FROM api_tokens t ",
            $tail
        )
    };
}

super::clients::client_store!(SqliteStore, sqlx::Sqlite);

pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
    /// For an in-memory database, one connection held for the life of the store: the
    /// database lives only while some connection is open, and the pool closes its own
    /// whenever a request is abandoned mid-query.
    keeper: Option<Keeper>,
}

struct Keeper {
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
            .busy_timeout(Duration::from_secs(10));
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
                keeper: Some(Keeper {
                    options,
                    connection: tokio::sync::OnceCell::new(),
                }),
            });
        }
        Ok(Self {
            pool: connections(settings.max_connections).connect_lazy_with(options.clone()),
            writer: connections(1).connect_lazy_with(options),
            keeper: None,
        })
    }

    /// Opens the keeper's connection, once, before the schema is made.
    async fn keep_alive(&self) -> StoreResult<()> {
        if let Some(keeper) = &self.keeper {
            keeper
                .connection
                .get_or_try_init(|| async {
                    let connection =
                        <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&keeper.options)
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

fn json_list(ids: &[TenantId]) -> String {
    serde_json::Value::from(ids.iter().map(|id| id.as_str()).collect::<Vec<_>>()).to_string()
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        self.keep_alive().await?;
        sqlx::migrate!("migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn probe(&self) -> StoreResult<()> {
        let connection = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(
            &self.pool.connect_options(),
        )
        .await?;
        sqlx::Connection::close(connection).await?;
        Ok(())
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            connections: self.pool.size(),
            idle: self.pool.num_idle() as u32,
        }
    }

    async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }

    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        sqlx::query("INSERT INTO tenants (id, name, created) VALUES ($1, $2, $3)")
            .bind(tenant.id.as_str())
            .bind(tenant.name.as_str())
            .bind(tenant.created)
            .execute(&self.writer)
            .await
            .map_err(|e| StoreError::on_unique(e, "a tenant with this id exists"))?;
        Ok(())
    }

    async fn tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>> {
        let row: Option<TenantRow> =
            sqlx::query_as("SELECT id, name, created FROM tenants WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
        row.map(Tenant::try_from).transpose()
    }

    async fn list_tenants(
        &self,
        scope: TenantScope<'_>,
        after: Option<&str>,
        limit: Limit,
    ) -> StoreResult<Page<Tenant>> {
        let only = match scope {
            TenantScope::All => None,
            TenantScope::Only(ids) => Some(json_list(ids)),
        };
        let rows: Vec<TenantRow> = sqlx::query_as(
            "SELECT id, name, created FROM tenants
             WHERE id > $1 AND ($2 IS NULL OR id IN (SELECT value FROM json_each($2)))
             ORDER BY id LIMIT $3",
        )
        .bind(after.unwrap_or(""))
        .bind(only)
        .bind(i64::from(limit.get()) + 1)
        .fetch_all(&self.pool)
        .await?;
        let tenants = rows
            .into_iter()
            .map(Tenant::try_from)
            .collect::<StoreResult<_>>()?;
        Ok(Page::from_rows(tenants, limit, |t: &Tenant| {
            t.id.to_string()
        }))
    }

    async fn delete_tenant(&self, id: &TenantId) -> StoreResult<()> {
        let deleted = sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(|e| StoreError::on_foreign_key(e, "the tenant still has clients"))?;
        match deleted.rows_affected() {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn missing_tenants(&self, ids: &[TenantId]) -> StoreResult<Vec<TenantId>> {
        let found: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM tenants WHERE id IN (SELECT value FROM json_each($1))")
                .bind(json_list(ids))
                .fetch_all(&self.pool)
                .await?;
        Ok(ids
            .iter()
            .filter(|id| !found.iter().any(|(f,)| f == id.as_str()))
            .cloned()
            .collect())
    }

    async fn create_token(&self, token: &ApiToken, hash: &SecretHash) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_token(&mut tx, token, hash).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_first_token(&self, token: &ApiToken, hash: &SecretHash) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let first = sqlx::query(
            "INSERT INTO installation_events (name, happened) VALUES ('first_admin_token', $1)
             ON CONFLICT DO NOTHING",
        )
        .bind(token.created)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let (has_tokens,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM api_tokens)")
            .fetch_one(&mut *tx)
            .await?;
        let issue = first && !has_tokens;
        if issue {
            insert_token(&mut tx, token, hash).await?;
        }
        tx.commit().await?;
        Ok(issue)
    }

    async fn token(&self, id: Uuid) -> StoreResult<Option<StoredToken>> {
        let row: Option<TokenRow> = sqlx::query_as(token_query!("WHERE t.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(StoredToken::try_from).transpose()
    }

    async fn list_tokens(&self, after: Option<Uuid>, limit: Limit) -> StoreResult<Page<ApiToken>> {
        let rows: Vec<TokenRow> =
            sqlx::query_as(token_query!("WHERE t.id > $1 ORDER BY t.id LIMIT $2"))
                .bind(after.unwrap_or(Uuid::nil()))
                .bind(i64::from(limit.get()) + 1)
                .fetch_all(&self.pool)
                .await?;
        let tokens = (rows.into_iter())
            .map(|row| StoredToken::try_from(row).map(|stored| stored.token))
            .collect::<StoreResult<_>>()?;
        Ok(Page::from_rows(tokens, limit, |t: &ApiToken| {
            t.id.to_string()
        }))
    }

    async fn delete_token(&self, id: Uuid) -> StoreResult<()> {
        let deleted = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        match deleted.rows_affected() {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}

async fn insert_token(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    token: &ApiToken,
    hash: &SecretHash,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, name, token_hash, permissions, expires_at, created)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token.id)
    .bind(&token.name)
    .bind(hash.as_bytes())
    .bind(permissions_text(token))
    .bind(token.expires_at)
    .bind(token.created)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO api_token_tenants (token_id, tenant_id) SELECT $1, value FROM json_each($2)",
    )
    .bind(token.id)
    .bind(json_list(token.grants.tenants()))
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::on_foreign_key(e, "one of the token's tenants was just deleted"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time;

    /// What sqlx does when a request is abandoned mid-query: it closes that connection.
    #[tokio::test]
    async fn an_in_memory_database_outlives_its_pooled_connections() {
        let settings = PoolSettings {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(5),
        };
        let store = SqliteStore::open("sqlite::memory:", &settings).unwrap();
        store.migrate().await.unwrap();
        let tenant = Tenant::new("kept", "Kept", time::now()).unwrap();
        store.create_tenant(&tenant).await.unwrap();
        for _ in 0..3 {
            let connection = store.pool.acquire().await.unwrap();
            connection.close().await.unwrap();
        }
        assert_eq!(store.tenant(&tenant.id).await.unwrap(), Some(tenant));
    }
}
