//! Clients. `client_store!` writes the implementation once for both adapters; each brings
//! `writer` (the pool writes go through), `begin_write` (how a writer starts) and
//! `LOCK_CLIENT` (how a client row is locked for a read-modify-write).

use async_trait::async_trait;

use super::{Audit, StoreResult};
use crate::domain::audit::Event;
use crate::domain::client::{Client, ClientId};
use crate::domain::credential::Credential;
use crate::domain::page::{Limit, Page};
use crate::domain::refusal::Refusal;
use crate::domain::secret::IssuedSecret;
use crate::domain::tenant::TenantId;

/// The domain's decision on a stored client, made under the store's lock: the new client with
/// the event that records the change, None to leave it as it is, or why it is refused.
pub type ClientDecision<'a> =
    dyn Fn(&Client, &[Credential]) -> Result<Option<(Client, Event)>, Refusal> + Send + Sync + 'a;

/// A write that is only a rehearsal: every check and statement of the real one, rolled back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    Yes,
    DryRun,
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Stores a new client with its first secret. Conflict when the id is taken; tenant not
    /// found when the tenant does not exist.
    async fn create_client(
        &self,
        client: &Client,
        secret: Option<&IssuedSecret>,
        event: &Event,
        commit: Commit,
    ) -> StoreResult<()>;
    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>>;
    async fn list_clients(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        limit: Limit,
    ) -> StoreResult<Page<Client>>;
    /// Locks the client, lets `decide` say what it becomes, and stores that: concurrent
    /// updates apply one after another, never over each other. Tenant not found when the
    /// client moves to a tenant that does not exist.
    async fn update_client(
        &self,
        id: &ClientId,
        decide: &ClientDecision<'_>,
        commit: Commit,
    ) -> StoreResult<Client>;
    /// Deletes the client, with its secrets and credentials, if it is still in `tenant`.
    async fn delete_client(
        &self,
        id: &ClientId,
        tenant: &TenantId,
        audit: &Audit<'_, Client>,
    ) -> StoreResult<()>;
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

macro_rules! client_store {
    ($store:ident, $db:ty) => {
        mod client_store {
            use async_trait::async_trait;
            use sqlx::types::Json;

            use super::$store;
            use super::credential_store::credentials_of;
            use super::event_store::record;
            use crate::domain::Missing;
            use crate::domain::audit::Event;
            use crate::domain::client::{Client, ClientId};
            use crate::domain::page::{Limit, Page};
            use crate::domain::secret::IssuedSecret;
            use crate::domain::tenant::TenantId;
            use crate::store::clients::{CLIENT_BY_ID, CLIENTS_OF_TENANT, Commit};
            use crate::store::rows::{self, ClientRow};
            use crate::store::{Audit, ClientDecision, ClientStore, StoreError, StoreResult};

            /// The client, locked until `tx` ends (a row lock, or the database lock SQLite's
            /// writers hold already); not found when it does not exist.
            pub(super) async fn locked_client(
                tx: &mut sqlx::Transaction<'static, $db>,
                id: &ClientId,
            ) -> StoreResult<Client> {
                let row: Option<ClientRow> = sqlx::query_as(super::LOCK_CLIENT)
                    .bind(id.as_str())
                    .fetch_optional(&mut **tx)
                    .await?;
                Client::try_from(row.ok_or(StoreError::NotFound(Missing::Client))?)
            }

            /// Commits with the change's event, or rolls a rehearsal back without one.
            pub(super) async fn finish(
                mut tx: sqlx::Transaction<'static, $db>,
                event: &Event,
                commit: Commit,
            ) -> StoreResult<()> {
                match commit {
                    Commit::DryRun => tx.rollback().await?,
                    Commit::Yes => {
                        record(&mut tx, event).await?;
                        tx.commit().await?;
                        event.log();
                    }
                }
                Ok(())
            }

            #[async_trait]
            impl ClientStore for $store {
                async fn create_client(
                    &self,
                    client: &Client,
                    secret: Option<&IssuedSecret>,
                    event: &Event,
                    commit: Commit,
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
                        StoreError::Backend(e) => StoreError::on_foreign_key(e, StoreError::NotFound(Missing::Tenant)),
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
                    finish(tx, event, commit).await
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
                    Ok(Page::from_rows(rows::clients(rows)?, limit, |c: &Client| c.id.to_string()))
                }

                async fn update_client(
                    &self,
                    id: &ClientId,
                    decide: &ClientDecision<'_>,
                    commit: Commit,
                ) -> StoreResult<Client> {
                    let mut tx = self.begin_write().await?;
                    let current = locked_client(&mut tx, id).await?;
                    let credentials = credentials_of(&mut *tx, id).await?;
                    // The domain decides under the lock: the one call from the store back up.
                    let Some((changed, event)) = decide(&current, &credentials)? else {
                        return Ok(current);
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
                    .map_err(|e| StoreError::on_foreign_key(e, StoreError::NotFound(Missing::Tenant)))?;
                    finish(tx, &event, commit).await?;
                    Ok(changed)
                }

                async fn delete_client(
                    &self,
                    id: &ClientId,
                    tenant: &TenantId,
                    audit: &Audit<'_, Client>,
                ) -> StoreResult<()> {
                    let mut tx = self.begin_write().await?;
                    let deleted: Option<ClientRow> = sqlx::query_as(concat!(
                        "DELETE FROM clients WHERE id = $1 AND tenant_id = $2 RETURNING ",
                        "id, tenant_id, app_type, settings, manually_created, created, modified, last_used"
                    ))
                    .bind(id.as_str())
                    .bind(tenant.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                    let deleted = Client::try_from(deleted.ok_or(StoreError::NotFound(Missing::Client))?)?;
                    finish(tx, &audit(&deleted), Commit::Yes).await
                }
            }
        }
    };
}
pub(super) use client_store;
