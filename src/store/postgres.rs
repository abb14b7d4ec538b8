//! The Postgres adapter: the production store, shared by every replica.

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use uuid::Uuid;

use sqlx::types::Json;

use super::rows::{
    self, ClientRow, CredentialRow, SecretRow, TenantRow, TokenRow, permissions_text,
};
use super::{
    ClientDecision, CredentialDecision, PoolSettings, PoolStats, SecretDecision, Store, StoreError,
    StoreResult, StoredToken,
};
use crate::domain::client::{Client, ClientId, IssuedSecret, Refusal};
use crate::domain::credential::{Credential, CredentialChange};
use crate::domain::page::{Limit, Page};
use crate::domain::rotation::{SecretChange, Slot, StoredSecret};
use crate::domain::secret::SecretHash;
use crate::domain::tenant::{Tenant, TenantId};
use crate::domain::time::Timestamp;
use crate::domain::token::{ApiToken, TenantScope};

/// The columns of a client, followed by the query's own clauses.
macro_rules! client_query {
    ($tail:literal) => {
        concat!(
            "SELECT id, tenant_id, app_type, settings, manually_created, created, modified, last_used
             FROM clients",
            $tail
        )
    };
}

const SECRETS_OF_CLIENT: &str = "SELECT slot, secret_hash, last_four, created, last_used
     FROM client_secrets WHERE client_id = $1 ORDER BY slot";

const CREDENTIALS_OF_CLIENT: &str = "SELECT id, name, credential_type, kid, alg, subject_dn,
        thumbprint_sha256, key_fingerprint, pem, certificate_expires_at, created_at, updated_at,
        expires_at
     FROM client_credentials WHERE client_id = $1 ORDER BY created_at, id";

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

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub fn open(url: &str, settings: &PoolSettings) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)?.application_name("clientd");
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(options);
        Ok(Self { pool })
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

    async fn create_client(
        &self,
        client: &Client,
        secret: Option<&IssuedSecret>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO clients (id, tenant_id, app_type, settings, manually_created, created, modified, last_used)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(client.id.as_str())
        .bind(client.tenant.as_str())
        .bind(client.app_type.as_str())
        .bind(Json(&client.settings))
        .bind(client.manually_created)
        .bind(client.created)
        .bind(client.modified)
        .bind(client.last_used)
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::on_unique(e, "a client with this id exists") {
            StoreError::Backend(e) => StoreError::on_foreign_key_as(e, StoreError::UnknownTenant),
            other => other,
        })?;
        if let Some(secret) = secret {
            sqlx::query(
                "INSERT INTO client_secrets (client_id, slot, secret_hash, last_four, created)
                 VALUES ($1, 'current', $2, $3, $4)",
            )
            .bind(client.id.as_str())
            .bind(secret.hash.as_bytes())
            .bind(&secret.last_four)
            .bind(client.created)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
        let row: Option<ClientRow> = sqlx::query_as(client_query!(" WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(Client::try_from).transpose()
    }

    async fn list_clients(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        limit: Limit,
    ) -> StoreResult<Page<Client>> {
        let rows: Vec<ClientRow> = sqlx::query_as(client_query!(
            " WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(tenant.as_str())
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit.get()) + 1)
        .fetch_all(&self.pool)
        .await?;
        Ok(Page::from_rows(
            rows::clients(rows)?,
            limit,
            |c: &Client| c.id.to_string(),
        ))
    }

    async fn update_client(
        &self,
        id: &ClientId,
        decide: &ClientDecision<'_>,
    ) -> StoreResult<Result<Client, Refusal>> {
        let mut tx = self.pool.begin().await?;
        let row: Option<ClientRow> = sqlx::query_as(client_query!(" WHERE id = $1 FOR UPDATE"))
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let current = Client::try_from(row.ok_or(StoreError::NotFound)?)?;
        let rows: Vec<CredentialRow> = sqlx::query_as(CREDENTIALS_OF_CLIENT)
            .bind(id.as_str())
            .fetch_all(&mut *tx)
            .await?;
        let changed = match decide(&current, &rows::credentials(rows)?) {
            Err(refusal) => return Ok(Err(refusal)),
            Ok(None) => return Ok(Ok(current)),
            Ok(Some(changed)) => changed,
        };
        // last_used is left alone: verifications record it without taking this lock.
        sqlx::query(
            "UPDATE clients SET tenant_id = $2, settings = $3, modified = $4 WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(changed.tenant.as_str())
        .bind(Json(&changed.settings))
        .bind(changed.modified)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_foreign_key_as(e, StoreError::UnknownTenant))?;
        tx.commit().await?;
        Ok(Ok(changed))
    }

    async fn delete_client(&self, id: &ClientId, tenant: &TenantId) -> StoreResult<()> {
        let deleted = sqlx::query("DELETE FROM clients WHERE id = $1 AND tenant_id = $2")
            .bind(id.as_str())
            .bind(tenant.as_str())
            .execute(&self.pool)
            .await?;
        match deleted.rows_affected() {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    async fn secrets(&self, client: &ClientId) -> StoreResult<Vec<StoredSecret>> {
        let rows: Vec<SecretRow> = sqlx::query_as(SECRETS_OF_CLIENT)
            .bind(client.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows::secrets(rows)
    }

    async fn rotate_secrets(
        &self,
        client: &ClientId,
        decide: &SecretDecision<'_>,
    ) -> StoreResult<Result<(Client, Vec<StoredSecret>), Refusal>> {
        let mut tx = self.pool.begin().await?;
        let row: Option<ClientRow> = sqlx::query_as(client_query!(" WHERE id = $1 FOR UPDATE"))
            .bind(client.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let current = Client::try_from(row.ok_or(StoreError::NotFound)?)?;
        let rows: Vec<SecretRow> = sqlx::query_as(SECRETS_OF_CLIENT)
            .bind(client.as_str())
            .fetch_all(&mut *tx)
            .await?;
        let secrets = rows::secrets(rows)?;
        let change = match decide(&current, &secrets) {
            Ok(change) => change,
            Err(refusal) => return Ok(Err(refusal)),
        };
        match &change {
            SecretChange::Start(next) => {
                sqlx::query(
                    "INSERT INTO client_secrets (client_id, slot, secret_hash, last_four, created)
                     VALUES ($1, 'next', $2, $3, $4)",
                )
                .bind(client.as_str())
                .bind(next.hash.as_bytes())
                .bind(&next.last_four)
                .bind(next.created)
                .execute(&mut *tx)
                .await?;
            }
            SecretChange::Complete => {
                sqlx::query("DELETE FROM client_secrets WHERE client_id = $1 AND slot = 'current'")
                    .bind(client.as_str())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE client_secrets SET slot = 'current' WHERE client_id = $1 AND slot = 'next'")
                    .bind(client.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            SecretChange::Cancel => {
                sqlx::query("DELETE FROM client_secrets WHERE client_id = $1 AND slot = 'next'")
                    .bind(client.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        let secrets = crate::domain::rotation::after(&secrets, &change);
        Ok(Ok((current, secrets)))
    }

    async fn record_secret_use(
        &self,
        client: &ClientId,
        slot: Slot,
        now: Timestamp,
        since: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE client_secrets SET last_used = $3
             WHERE client_id = $1 AND slot = $2 AND (last_used IS NULL OR last_used < $4)",
        )
        .bind(client.as_str())
        .bind(slot.as_str())
        .bind(now)
        .bind(since)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE clients SET last_used = $2 WHERE id = $1 AND (last_used IS NULL OR last_used < $3)")
            .bind(client.as_str())
            .bind(now)
            .bind(since)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn credentials(&self, client: &ClientId) -> StoreResult<Vec<Credential>> {
        let rows: Vec<CredentialRow> = sqlx::query_as(CREDENTIALS_OF_CLIENT)
            .bind(client.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows::credentials(rows)
    }

    async fn change_credentials(
        &self,
        client: &ClientId,
        decide: &CredentialDecision<'_>,
    ) -> StoreResult<Result<CredentialChange, Refusal>> {
        let mut tx = self.pool.begin().await?;
        let row: Option<ClientRow> = sqlx::query_as(client_query!(" WHERE id = $1 FOR UPDATE"))
            .bind(client.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let current = Client::try_from(row.ok_or(StoreError::NotFound)?)?;
        let rows: Vec<CredentialRow> = sqlx::query_as(CREDENTIALS_OF_CLIENT)
            .bind(client.as_str())
            .fetch_all(&mut *tx)
            .await?;
        let change = match decide(&current, &rows::credentials(rows)?) {
            Ok(change) => change,
            Err(refusal) => return Ok(Err(refusal)),
        };
        match &change {
            CredentialChange::Add(c) => {
                sqlx::query(
                    "INSERT INTO client_credentials (id, client_id, name, credential_type, kid, alg,
                        subject_dn, thumbprint_sha256, key_fingerprint, pem, certificate_expires_at,
                        created_at, updated_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(&c.id)
                .bind(client.as_str())
                .bind(&c.name)
                .bind(c.credential_type.as_str())
                .bind(&c.kid)
                .bind(c.alg.map(|alg| format!("{alg:?}")))
                .bind(&c.subject_dn)
                .bind(&c.thumbprint_sha256)
                .bind(&c.key_fingerprint)
                .bind(&c.pem)
                .bind(c.certificate_expires_at)
                .bind(c.created_at)
                .bind(c.updated_at)
                .bind(c.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::on_unique(e, "this client already has this key"))?;
            }
            CredentialChange::Replace(c) => {
                sqlx::query(
                    "UPDATE client_credentials SET expires_at = $2, updated_at = $3 WHERE id = $1",
                )
                .bind(&c.id)
                .bind(c.expires_at)
                .bind(c.updated_at)
                .execute(&mut *tx)
                .await?;
            }
            CredentialChange::Remove(c) => {
                sqlx::query("DELETE FROM client_credentials WHERE id = $1")
                    .bind(&c.id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(Ok(change))
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
