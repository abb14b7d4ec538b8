//! The Postgres adapter: the production store, shared by every replica.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use uuid::Uuid;

use super::clients::client_query;
use super::rows::{TenantRow, TokenRow, permissions_text};
use super::{PoolSettings, PoolStats, Store, StoreError, StoreResult, StoredToken};
use crate::domain::page::{Limit, Page};
use crate::domain::secret::SecretHash;
use crate::domain::tenant::{Tenant, TenantId};
use crate::domain::token::{ApiToken, TenantScope};

/// How long a pooled connection may sit unused before it is checked before use.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

pub(super) const LOCK_CLIENT: &str = client_query!(" WHERE id = $1 FOR UPDATE");

/// A token with its tenants gathered into one space-separated column, in one round trip.
macro_rules! token_query {
    ($tail:literal) => {
        concat!(
            "SELECT t.id, t.name, t.token_hash, t.permissions, t.expires_at, t.created,
                    (SELECT coalesce(string_agg(tenant_id, ' '), '')
                     FROM api_token_tenants WHERE token_id = t.id) AS tenants
             FROM api_tokens t ",
            $tail
        )
    };
}

super::clients::client_store!(PostgresStore, sqlx::Postgres);

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub fn open(url: &str, settings: &PoolSettings) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)?.application_name("clientd");
        // A ping before every use doubled the round trips of every query; under load a
        // connection was in use a moment ago, so only one idle for a while is pinged. One that
        // died in the meantime fails its query (503) and the pool drops it.
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .test_before_acquire(false)
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_WHEN_IDLE_FOR {
                        sqlx::Connection::ping(connection).await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(options);
        Ok(Self { pool })
    }

    fn writer(&self) -> &sqlx::PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self.pool.begin().await?)
    }
}

fn tenant_ids(ids: &[TenantId]) -> Vec<String> {
    ids.iter().map(|id| id.as_str().to_owned()).collect()
}

#[async_trait]
impl Store for PostgresStore {
    async fn migrate(&self) -> StoreResult<()> {
        // The migrator holds an advisory lock, so replicas starting together apply each once.
        sqlx::migrate!("migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn probe(&self) -> StoreResult<()> {
        let connection =
            <sqlx::PgConnection as sqlx::Connection>::connect_with(&self.pool.connect_options())
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
        self.pool.close().await;
    }

    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        sqlx::query("INSERT INTO tenants (id, name, created) VALUES ($1, $2, $3)")
            .bind(tenant.id.as_str())
            .bind(tenant.name.as_str())
            .bind(tenant.created)
            .execute(&self.pool)
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
            TenantScope::Only(ids) => Some(tenant_ids(ids)),
        };
        let rows: Vec<TenantRow> = sqlx::query_as(
            "SELECT id, name, created FROM tenants
             WHERE id > $1 AND ($2::text[] IS NULL OR id = ANY($2))
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
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::on_foreign_key(e, "the tenant still has clients"))?;
        match deleted.rows_affected() {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn missing_tenants(&self, ids: &[TenantId]) -> StoreResult<Vec<TenantId>> {
        let found: Vec<(String,)> = sqlx::query_as("SELECT id FROM tenants WHERE id = ANY($1)")
            .bind(tenant_ids(ids))
            .fetch_all(&self.pool)
            .await?;
        Ok(ids
            .iter()
            .filter(|id| !found.iter().any(|(f,)| f == id.as_str()))
            .cloned()
            .collect())
    }

    async fn create_token(&self, token: &ApiToken, hash: &SecretHash) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        insert_token(&mut tx, token, hash).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_first_token(&self, token: &ApiToken, hash: &SecretHash) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
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
            .execute(&self.pool)
            .await?;
        match deleted.rows_affected() {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}

async fn insert_token(
    tx: &mut sqlx::PgTransaction<'_>,
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
        "INSERT INTO api_token_tenants (token_id, tenant_id) SELECT $1, unnest($2::text[])",
    )
    .bind(token.id)
    .bind(tenant_ids(token.grants.tenants()))
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::on_foreign_key(e, "one of the token's tenants was just deleted"))?;
    Ok(())
}
