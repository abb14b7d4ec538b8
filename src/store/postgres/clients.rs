//! Clients on Postgres. A write and its event are one statement where a data-modifying CTE
//! can say it, so a change that needs no lock takes one round trip; one that does locks the
//! client's row (`LOCK_CLIENT`) and writes under it.

use async_trait::async_trait;
use sqlx::Postgres;
use sqlx::types::Json;

use super::{PostgresStore, bind_event, finish};
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

/// A new client, its secret and its event in one statement: one round trip, atomic as any
/// statement is.
const CREATE_CLIENT_AT_ONCE: &str = "WITH new_client AS (
        INSERT INTO clients (id, tenant_id, app_type, settings, manually_created, created, modified, last_used)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id
    ), new_secret AS (
        INSERT INTO client_secrets (client_id, slot, secret_hash, last_four, created, stale_at)
        SELECT id, 'current', $9, $10, $6, $28 FROM new_client WHERE $9::bytea IS NOT NULL
    )
    INSERT INTO events (id, time, tenant_id, client_id, actor_kind, actor_token_id,
        actor_token_name, source_ip, request_id, action, resource_type, resource_id,
        resource_path, patch, changed, document, claim)
    SELECT $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27
    FROM new_client";

/// A deletion and its event in one statement, only if the row is still the one read (the
/// event was made from it); otherwise nothing, and the deletion reads the row it deletes.
const DELETE_CLIENT_AT_ONCE: &str = "WITH gone AS (
        DELETE FROM clients WHERE id = $1 AND tenant_id = $2 AND modified = $3
            AND last_used IS NOT DISTINCT FROM $4 AND settings = $5 AND app_type = $6
        RETURNING id
    )
    INSERT INTO events (id, time, tenant_id, client_id, actor_kind, actor_token_id,
        actor_token_name, source_ip, request_id, action, resource_type, resource_id,
        resource_path, patch, changed, document, claim)
    SELECT $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23
    FROM gone";

/// A patched client and its event in one statement, under the lock already held.
const UPDATE_CLIENT_AT_ONCE: &str = "WITH changed AS (
        UPDATE clients SET tenant_id = $2, settings = $3, modified = $4 WHERE id = $1 RETURNING id
    )
    INSERT INTO events (id, time, tenant_id, client_id, actor_kind, actor_token_id,
        actor_token_name, source_ip, request_id, action, resource_type, resource_id,
        resource_path, patch, changed, document, claim)
    SELECT $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21
    FROM changed";

/// A patched client and its event in one statement without a lock held, only if the row is
/// still the one the change was decided on (`$22` on: every column its document shows). A
/// concurrent write either committed first, and the row no longer matches, or waits for this
/// one: read committed checks the condition again on the row it finally updates. A write that
/// holds the lock but leaves the row as it is (a credential, a rotation step) cannot make the
/// decision wrong: one taken without credentials depends on the row alone.
const UPDATE_CLIENT_IF_UNCHANGED: &str = "WITH changed AS (
        UPDATE clients SET tenant_id = $2, settings = $3, modified = $4
        WHERE id = $1 AND tenant_id = $22 AND settings = $23 AND modified = $24
            AND last_used IS NOT DISTINCT FROM $25 AND app_type = $26 AND manually_created = $27
            AND created = $28
        RETURNING id
    )
    INSERT INTO events (id, time, tenant_id, client_id, actor_kind, actor_token_id,
        actor_token_name, source_ip, request_id, action, resource_type, resource_id,
        resource_path, patch, changed, document, claim)
    SELECT $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21
    FROM changed";

/// A client's update, its id first, then its event; last_used is left alone: the uses of its
/// secrets are written apart from every change (src/app/secret_uses.rs).
fn update<'q>(
    sql: &'static str,
    id: &'q ClientId,
    changed: &'q Client,
    event: &Event,
) -> sqlx::query::Query<'q, Postgres, <Postgres as sqlx::Database>::Arguments> {
    let update = sqlx::query(sql)
        .bind(id.as_str())
        .bind(changed.tenant.as_str())
        .bind(Json(&changed.settings))
        .bind(changed.modified);
    bind_event(update, event)
}

/// A change decided on `seen` (or on the row as read now, without a lock) and written in one
/// statement if the row is still that; None when there was no change to write or the row had
/// moved on, for the locked path to decide.
async fn update_if_unchanged(
    store: &PostgresStore,
    id: &ClientId,
    seen: Option<&Client>,
    decide: &ClientDecision<'_>,
) -> StoreResult<Option<Client>> {
    let read;
    let seen = match seen {
        Some(seen) => seen,
        None => match store.client(id).await? {
            Some(client) => {
                read = client;
                &read
            }
            None => return Ok(None),
        },
    };
    let Ok(Some((changed, event))) = decide(seen, None) else {
        return Ok(None);
    };
    // A new secret policy reschedules the client's secrets too: under the lock.
    if changed.settings.secret_policy != seen.settings.secret_policy {
        return Ok(None);
    }
    let statement = update(UPDATE_CLIENT_IF_UNCHANGED, id, &changed, &event)
        .bind(seen.tenant.as_str())
        .bind(Json(&seen.settings))
        .bind(seen.modified)
        .bind(seen.last_used)
        .bind(seen.app_type.as_str())
        .bind(seen.manually_created)
        .bind(seen.created);
    let done = statement
        .execute(store.writer())
        .await
        .map_err(moved_away)?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    event.log();
    Ok(Some(changed))
}

#[async_trait]
impl ClientStore for PostgresStore {
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
        let insert = sqlx::query(CREATE_CLIENT_AT_ONCE)
            .bind(client.id.as_str())
            .bind(client.tenant.as_str())
            .bind(client.app_type.as_str())
            .bind(Json(&client.settings))
            .bind(client.manually_created)
            .bind(client.created)
            .bind(client.modified)
            .bind(client.last_used)
            .bind(secret.map(|s| s.hash.as_bytes().to_vec()))
            .bind(secret.map(|s| s.last_four.clone()));
        let stale_at = client.settings.secret_policy.stale_at(client.created);
        let done = (bind_event(insert, event).bind(stale_at))
            .execute(self.writer())
            .await;
        done.map_err(create_failed)?;
        event.log();
        Ok(())
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
        seen: Option<&Client>,
        decide: &ClientDecision<'_>,
        mode: WriteMode,
    ) -> StoreResult<Client> {
        if mode == WriteMode::DryRun {
            return clients::rehearse_update(self, id, decide).await;
        }
        if let Some(changed) = update_if_unchanged(self, id, seen, decide).await? {
            return Ok(changed);
        }
        let mut tx = self.begin_write().await?;
        let current = locked_client(&mut tx, id).await?;
        // The domain decides under the lock: the one call from the store back up.
        let Some((changed, event)) =
            clients::decide_on(&current, decide, || credentials_of(&mut *tx, id)).await?
        else {
            return Ok(current);
        };
        let statement = update(UPDATE_CLIENT_AT_ONCE, id, &changed, &event);
        statement.execute(&mut *tx).await.map_err(moved_away)?;
        secrets::apply_secret_policy(&mut tx, &current, &changed).await?;
        tx.commit().await?;
        event.log();
        Ok(changed)
    }

    async fn delete_client(&self, read: &Client, audit: &Audit<'_, Client>) -> StoreResult<()> {
        let (id, tenant) = (&read.id, &read.tenant);
        let event = audit(read);
        let statement = sqlx::query(DELETE_CLIENT_AT_ONCE)
            .bind(id.as_str())
            .bind(tenant.as_str())
            .bind(read.modified)
            .bind(read.last_used)
            .bind(Json(&read.settings))
            .bind(read.app_type.as_str());
        let done = bind_event(statement, &event).execute(self.writer()).await?;
        if done.rows_affected() == 1 {
            event.log();
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        let deleted: Option<ClientRow> = sqlx::query_as(
            "DELETE FROM clients WHERE id = $1 AND tenant_id = $2
             RETURNING id, tenant_id, app_type, settings, manually_created, created, modified, last_used",
        )
        .bind(id.as_str())
        .bind(tenant.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let deleted = Client::try_from(deleted.ok_or(StoreError::NotFound(Missing::Client))?)?;
        finish(tx, &audit(&deleted)).await
    }
}
