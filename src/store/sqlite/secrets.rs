//! Client secrets on SQLite: its CTEs cannot write, so a rotation step and its event are
//! statements of one transaction, and the writer's database lock (`BEGIN IMMEDIATE`) is the
//! client's lock.

use async_trait::async_trait;

use super::{SqliteStore, finish};
use crate::domain::client::{Client, ClientId};
use crate::domain::rotation::{self, SecretChange, StoredSecret};
use crate::domain::secret::SecretHash;
use crate::domain::time::Timestamp;
use crate::store::secrets::{self, RECORD_CLIENT_USE, RECORD_SECRET_USE};
use crate::store::{SecretDecision, SecretStore, StoreResult};

const START: &str = "INSERT INTO client_secrets (client_id, slot, secret_hash, last_four, created,
        check_at)
     VALUES ($1, 'next', $2, $3, $4, $4)";
/// Completing is the current secret dropped and the next one moved into its slot.
const DROP_CURRENT: &str = "DELETE FROM client_secrets WHERE client_id = $1 AND slot = 'current'";
/// The promoted secret is stale from `$2` (its policy's), not yet reported.
const PROMOTE_NEXT: &str = "UPDATE client_secrets SET slot = 'current', stale_at = $2,
        stale_noted = false, check_at = NULL, overdue_noted = false
     WHERE client_id = $1 AND slot = 'next'";
const DROP_NEXT: &str = "DELETE FROM client_secrets WHERE client_id = $1 AND slot = 'next'";

/// Writes a rotation step of the client `id`.
async fn write_step(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    id: &str,
    step: &SecretChange,
) -> StoreResult<()> {
    match step {
        SecretChange::Start(next) => {
            sqlx::query(START)
                .bind(id)
                .bind(next.hash.as_bytes())
                .bind(&next.last_four)
                .bind(next.created)
                .execute(&mut **tx)
                .await?;
        }
        SecretChange::Complete { stale_at } => {
            sqlx::query(DROP_CURRENT)
                .bind(id)
                .execute(&mut **tx)
                .await?;
            sqlx::query(PROMOTE_NEXT)
                .bind(id)
                .bind(*stale_at)
                .execute(&mut **tx)
                .await?;
        }
        SecretChange::Cancel => {
            sqlx::query(DROP_NEXT).bind(id).execute(&mut **tx).await?;
        }
    }
    Ok(())
}

#[async_trait]
impl SecretStore for SqliteStore {
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
        write_step(&mut tx, client.as_str(), &step).await?;
        finish(tx, &event).await?;
        Ok((current, rotation::after(&secrets, &step)))
    }

    async fn record_secret_use(
        &self,
        client: &ClientId,
        secret: &SecretHash,
        now: Timestamp,
        since: Timestamp,
    ) -> StoreResult<()> {
        // No row to lock first: the writer holds the database's lock from its first
        // statement, so a rotation step is either done or not yet begun.
        let mut tx = self.begin_write().await?;
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
