//! Clients with their secrets and credentials: the part of the store whose SQL both dialects
//! share. `client_store!` writes its implementation once for both adapters; each adapter
//! brings only what differs: `writer` (the pool writes go through), `begin_write` (how a
//! writer starts) and `LOCK_CLIENT` (how a client row is locked for a read-modify-write).

use async_trait::async_trait;

use super::{ClientDecision, CredentialDecision, SecretDecision, StoreResult};
use crate::domain::client::{Client, ClientId, IssuedSecret, Refusal};
use crate::domain::credential::{Credential, CredentialChange};
use crate::domain::page::{Limit, Page};
use crate::domain::rotation::{Slot, StoredSecret};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;

#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Stores a new client with its first secret. Conflict when the id is taken; unknown
    /// tenant when the tenant does not exist.
    async fn create_client(
        &self,
        client: &Client,
        secret: Option<&IssuedSecret>,
    ) -> StoreResult<()>;
    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>>;
    async fn list_clients(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        limit: Limit,
    ) -> StoreResult<Page<Client>>;
    /// Locks the client, lets `decide` say what it becomes, and stores that: concurrent
    /// updates apply one after another, never over each other.
    async fn update_client(
        &self,
        id: &ClientId,
        decide: &ClientDecision<'_>,
    ) -> StoreResult<Result<Client, Refusal>>;
    /// Deletes the client, with its secrets, if it is still in `tenant`.
    async fn delete_client(&self, id: &ClientId, tenant: &TenantId) -> StoreResult<()>;

    /// The client with its secrets (the current one and, while rotating, the next), in one
    /// query: what verification reads.
    async fn client_with_secrets(
        &self,
        id: &ClientId,
    ) -> StoreResult<Option<(Client, Vec<StoredSecret>)>>;
    /// Locks the client, lets `decide` say what a rotation step does, applies it, and returns
    /// the client with its secrets as they now are.
    async fn rotate_secrets(
        &self,
        client: &ClientId,
        decide: &SecretDecision<'_>,
    ) -> StoreResult<Result<(Client, Vec<StoredSecret>), Refusal>>;
    /// Records a use of `slot`'s secret (and of the client) at `now`, unless one at or after
    /// `since` is recorded already; concurrent verifications write it once.
    async fn record_secret_use(
        &self,
        client: &ClientId,
        slot: Slot,
        now: Timestamp,
        since: Timestamp,
    ) -> StoreResult<()>;

    /// A client's credentials, oldest first.
    async fn credentials(&self, client: &ClientId) -> StoreResult<Vec<Credential>>;
    /// Locks the client, lets `decide` say how its credentials change, and applies that.
    async fn change_credentials(
        &self,
        client: &ClientId,
        decide: &CredentialDecision<'_>,
    ) -> StoreResult<Result<CredentialChange, Refusal>>;
}

/// The columns of a client, then the query's own clauses.
macro_rules! client_query {
    ($tail:literal) => {
        concat!(
            "SELECT id, tenant_id, app_type, settings, manually_created, created, modified, last_used
             FROM clients",
            $tail
        )
    };
}
pub(super) use client_query;

pub(super) const CLIENT_BY_ID: &str = client_query!(" WHERE id = $1");
pub(super) const CLIENTS_OF_TENANT: &str =
    client_query!(" WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3");
pub(super) const CLIENT_WITH_SECRETS: &str = "SELECT c.id, c.tenant_id, c.app_type, c.settings,
        c.manually_created, c.created, c.modified, c.last_used, s.slot, s.secret_hash,
        s.last_four, s.created AS secret_created, s.last_used AS secret_last_used
     FROM clients c LEFT JOIN client_secrets s ON s.client_id = c.id
     WHERE c.id = $1 ORDER BY s.slot";
pub(super) const SECRETS_OF_CLIENT: &str = "SELECT slot, secret_hash, last_four, created, last_used
     FROM client_secrets WHERE client_id = $1 ORDER BY slot";
pub(super) const CREDENTIALS_OF_CLIENT: &str =
    "SELECT id, name, credential_type, kid, alg, subject_dn,
        thumbprint_sha256, key_fingerprint, pem, certificate_expires_at, created_at, updated_at,
        expires_at
     FROM client_credentials WHERE client_id = $1 ORDER BY created_at, id";

/// Implements `ClientStore` for an adapter of database `$db` that has `writer()`,
/// `begin_write()` and a `LOCK_CLIENT` query.
macro_rules! client_store {
    ($store:ident, $db:ty) => {
        mod client_store {
            use async_trait::async_trait;
            use sqlx::types::Json;

            use super::$store;
            use crate::domain::client::{Client, ClientId, IssuedSecret, Refusal};
            use crate::domain::credential::{Credential, CredentialChange};
            use crate::domain::page::{Limit, Page};
            use crate::domain::rotation::{SecretChange, Slot, StoredSecret};
            use crate::domain::tenant::TenantId;
            use crate::domain::time::Timestamp;
            use crate::store::clients::{
                CLIENT_BY_ID, CLIENT_WITH_SECRETS, CLIENTS_OF_TENANT, CREDENTIALS_OF_CLIENT, ClientStore,
                SECRETS_OF_CLIENT,
            };
            use crate::store::rows::{self, ClientRow, ClientSecretRow, CredentialRow, SecretRow};
            use crate::store::{ClientDecision, CredentialDecision, SecretDecision, StoreError, StoreResult};

            /// The client, locked until `tx` ends (a row lock, or the database lock SQLite's
            /// writers hold already); not found when it does not exist.
            async fn locked_client(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: &ClientId,
            ) -> StoreResult<Client> {
                let row: Option<ClientRow> = sqlx::query_as(super::LOCK_CLIENT)
                    .bind(id.as_str())
                    .fetch_optional(&mut **tx)
                    .await?;
                Client::try_from(row.ok_or(StoreError::NotFound)?)
            }

            #[async_trait]
            impl ClientStore for $store {
                async fn create_client(
                    &self,
                    client: &Client,
                    secret: Option<&IssuedSecret>,
                ) -> StoreResult<()> {
                    let mut tx = self.begin_write().await?;
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
                    let row: Option<ClientRow> = sqlx::query_as(CLIENT_BY_ID)
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
                    let rows: Vec<ClientRow> = sqlx::query_as(CLIENTS_OF_TENANT)
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
                    let mut tx = self.begin_write().await?;
                    let current = locked_client(&mut tx, id).await?;
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
                        .execute(self.writer())
                        .await?;
                    match deleted.rows_affected() {
                        0 => Err(StoreError::NotFound),
                        _ => Ok(()),
                    }
                }

                async fn client_with_secrets(
                    &self,
                    id: &ClientId,
                ) -> StoreResult<Option<(Client, Vec<StoredSecret>)>> {
                    let rows: Vec<ClientSecretRow> = sqlx::query_as(CLIENT_WITH_SECRETS)
                        .bind(id.as_str())
                        .fetch_all(&self.pool)
                        .await?;
                    rows::client_with_secrets(rows)
                }

                async fn rotate_secrets(
                    &self,
                    client: &ClientId,
                    decide: &SecretDecision<'_>,
                ) -> StoreResult<Result<(Client, Vec<StoredSecret>), Refusal>> {
                    let mut tx = self.begin_write().await?;
                    let current = locked_client(&mut tx, client).await?;
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
                    let mut tx = self.begin_write().await?;
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
                    let mut tx = self.begin_write().await?;
                    let current = locked_client(&mut tx, client).await?;
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
                                "UPDATE client_credentials SET expires_at = $3, updated_at = $4
                                 WHERE id = $1 AND client_id = $2",
                            )
                            .bind(&c.id)
                            .bind(client.as_str())
                            .bind(c.expires_at)
                            .bind(c.updated_at)
                            .execute(&mut *tx)
                            .await?;
                        }
                        CredentialChange::Remove(c) => {
                            sqlx::query("DELETE FROM client_credentials WHERE id = $1 AND client_id = $2")
                                .bind(&c.id)
                                .bind(client.as_str())
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    tx.commit().await?;
                    Ok(Ok(change))
                }
            }
        }
    };
}
pub(super) use client_store;
