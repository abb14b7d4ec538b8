//! Clients on SQLite. Its CTEs cannot modify data, so a write and its event are two
//! statements of one transaction (in-process, so no round trip is saved by one); every
//! writer holds the database's lock from its start (`begin_write`), so a client is read for
//! a read-modify-write without a lock of its own.

use async_trait::async_trait;
use sqlx::types::Json;

use super::{SqliteStore, finish};
use crate::domain::Missing;
use crate::domain::audit::Event;
use crate::domain::client::{Client, ClientId};
use crate::domain::page::Page;
use crate::domain::secret::IssuedSecret;
use crate::store::client_list;
use crate::store::clients::{
    self, ClientQuery, WriteMode, create_failed, locked_client, moved_away,
};
use crate::store::credentials::credentials_of;
use crate::store::rows::ClientRow;
use crate::store::secrets;
use crate::store::{Audit, ClientDecision, ClientStore, StoreError, StoreResult};

#[async_trait]
impl ClientStore for SqliteStore {
    async fn create_client(
        &self,
        client: &Client,
        secret: Option<&IssuedSecret>,
        event: &Event,
        mode: WriteMode,
    ) -> StoreResult<()> {
        if mode == WriteMode::DryRun {
            return clients::rehearse_create(self, client).await;
        }
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
        .map_err(create_failed)?;
        if let Some(secret) = secret {
            sqlx::query(
                "INSERT INTO client_secrets (client_id, slot, secret_hash, last_four, created,
                    stale_at)
                 VALUES ($1, 'current', $2, $3, $4, $5)",
            )
            .bind(client.id.as_str())
            .bind(secret.hash.as_bytes())
            .bind(&secret.last_four)
            .bind(client.created)
            .bind(client.settings.secret_policy.stale_at(client.created))
            .execute(&mut *tx)
            .await?;
        }
        finish(tx, event).await
    }

    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
        clients::client(&self.pool, id).await
    }

    async fn list_clients(&self, query: &ClientQuery<'_>) -> StoreResult<Page<Client>> {
        client_list::list_clients(&self.pool, query).await
    }

    async fn count_clients(&self, query: &ClientQuery<'_>) -> StoreResult<u64> {
        client_list::count_clients(&self.pool, query).await
    }

    async fn update_client(
        &self,
        id: &ClientId,
        _seen: Option<&Client>,
        decide: &ClientDecision<'_>,
        mode: WriteMode,
    ) -> StoreResult<Client> {
        if mode == WriteMode::DryRun {
            return clients::rehearse_update(self, id, decide).await;
        }
        // `seen` saves nothing here: without a one-statement write, every change is decided
        // under the lock.
        let mut tx = self.begin_write().await?;
        let current = locked_client(&mut tx, id).await?;
        // The domain decides under the lock: the one call from the store back up.
        let Some((changed, event)) =
            clients::decide_on(&current, decide, || credentials_of(&mut *tx, id)).await?
        else {
            return Ok(current);
        };
        // last_used is left alone: the uses of its secrets are written apart from every
        // change (src/app/secret_uses.rs).
        sqlx::query(
            "UPDATE clients SET tenant_id = $2, settings = $3, modified = $4 WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(changed.tenant.as_str())
        .bind(Json(&changed.settings))
        .bind(changed.modified)
        .execute(&mut *tx)
        .await
        .map_err(moved_away)?;
        secrets::apply_secret_policy(&mut tx, &current, &changed).await?;
        finish(tx, &event).await?;
        Ok(changed)
    }

    async fn delete_client(&self, read: &Client, audit: &Audit<'_, Client>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let deleted: Option<ClientRow> = sqlx::query_as(
            "DELETE FROM clients WHERE id = $1 AND tenant_id = $2
             RETURNING id, tenant_id, app_type, settings, manually_created, created, modified, last_used",
        )
        .bind(read.id.as_str())
        .bind(read.tenant.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let deleted = Client::try_from(deleted.ok_or(StoreError::NotFound(Missing::Client))?)?;
        finish(tx, &audit(&deleted)).await
    }
}
