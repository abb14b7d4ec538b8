//! Client secrets on Postgres: a rotation step and its event are one statement (a CTE may
//! write), and a use locks the client's row first, as every write that changes secrets does.

use async_trait::async_trait;

use super::{PostgresStore, bind_event};
use crate::domain::client::{Client, ClientId};
use crate::domain::rotation::{self, SecretChange, StoredSecret};
use crate::domain::secret::SecretHash;
use crate::domain::time::Timestamp;
use crate::store::dialect::Dialect;
use crate::store::secrets::{self, RECORD_CLIENT_USE, RECORD_SECRET_USE};
use crate::store::{SecretDecision, SecretStore, StoreResult};

/// A rotation step and its event in one statement. The client is `$1`; the event's
/// seventeen columns follow what the step binds.
const START_AT_ONCE: &str = "WITH next AS (
        INSERT INTO client_secrets (client_id, slot, secret_hash, last_four, created, check_at)
        VALUES ($1, 'next', $2, $3, $4, $4) RETURNING client_id
    )
    INSERT INTO events (id, time, tenant_id, client_id, actor_kind, actor_token_id,
        actor_token_name, source_ip, request_id, action, resource_type, resource_id,
        resource_path, patch, changed, document, claim)
    SELECT $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21
    FROM next";
/// The next secret takes the current one's place: its row is deleted and its values written
/// over the current one's, which keeps (client, slot) unique at every step of the statement.
/// The promoted secret is stale from `$2` (its policy's), not yet reported.
const COMPLETE_AT_ONCE: &str = "WITH next AS (
        DELETE FROM client_secrets WHERE client_id = $1 AND slot = 'next'
        RETURNING client_id, secret_hash, last_four, created, last_used
    ), promoted AS (
        INSERT INTO client_secrets (client_id, slot, secret_hash, last_four, created, last_used,
            stale_at)
        SELECT client_id, 'current', secret_hash, last_four, created, last_used, $2 FROM next
        ON CONFLICT (client_id, slot) DO UPDATE SET secret_hash = excluded.secret_hash,
            last_four = excluded.last_four, created = excluded.created,
            last_used = excluded.last_used, stale_at = excluded.stale_at, stale_noted = false
        RETURNING client_id
    )
    INSERT INTO events (id, time, tenant_id, client_id, actor_kind, actor_token_id,
        actor_token_name, source_ip, request_id, action, resource_type, resource_id,
        resource_path, patch, changed, document, claim)
    SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19
    FROM promoted";
const CANCEL_AT_ONCE: &str = "WITH dropped AS (
        DELETE FROM client_secrets WHERE client_id = $1 AND slot = 'next' RETURNING client_id
    )
    INSERT INTO events (id, time, tenant_id, client_id, actor_kind, actor_token_id,
        actor_token_name, source_ip, request_id, action, resource_type, resource_id,
        resource_path, patch, changed, document, claim)
    SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18
    FROM dropped";

#[async_trait]
impl SecretStore for PostgresStore {
    async fn client_with_secrets(
        &self,
        id: &ClientId,
    ) -> StoreResult<Option<(Client, Vec<StoredSecret>)>> {
        secrets::client_with_secrets(&self.pool, id).await
    }

    async fn rotate_secrets(
        &self,
        client: &ClientId,
        decide: &SecretDecision<'_>,
    ) -> StoreResult<(Client, Vec<StoredSecret>)> {
        let mut tx = self.begin_write().await?;
        let (current, secrets) = secrets::locked_with_secrets(&mut tx, client).await?;
        // The domain decides here, under the lock, on the client and secrets as they are.
        let (step, event) = decide(&current, &secrets)?;
        let id = client.as_str();
        let statement = match &step {
            SecretChange::Start(next) => sqlx::query(START_AT_ONCE)
                .bind(id)
                .bind(next.hash.as_bytes())
                .bind(&next.last_four)
                .bind(next.created),
            SecretChange::Complete { stale_at } => {
                sqlx::query(COMPLETE_AT_ONCE).bind(id).bind(*stale_at)
            }
            SecretChange::Cancel => sqlx::query(CANCEL_AT_ONCE).bind(id),
        };
        bind_event(statement, &event).execute(&mut *tx).await?;
        tx.commit().await?;
        event.log();
        Ok((current, rotation::after(&secrets, &step)))
    }

    async fn record_secret_use(
        &self,
        client: &ClientId,
        secret: &SecretHash,
        now: Timestamp,
        since: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        // The client's row is locked first, as every write that changes secrets locks it
        // (rotation, deletion): in the other order a use deadlocks with a rotation step.
        // Always locked, not only when the client's time is due: a step under way must
        // finish first, or the secret it moves is missed.
        sqlx::query(<sqlx::Postgres as Dialect>::LOCK_CLIENT)
            .bind(client.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        sqlx::query(RECORD_CLIENT_USE)
            .bind(client.as_str())
            .bind(now)
            .bind(since)
            .execute(&mut *tx)
            .await?;
        sqlx::query(RECORD_SECRET_USE)
            .bind(client.as_str())
            .bind(secret.as_bytes())
            .bind(now)
            .bind(since)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
