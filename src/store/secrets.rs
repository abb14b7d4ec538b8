//! Client secrets: what verification reads, rotation steps and use telemetry. `secret_store!`
//! writes the implementation once for both adapters.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::audit::Event;
use crate::domain::client::{Client, ClientId};
use crate::domain::refusal::Refusal;
use crate::domain::rotation::{SecretChange, StoredSecret};
use crate::domain::secret::SecretHash;
use crate::domain::time::Timestamp;

/// The domain's decision on a rotation step, made under the client's lock, with its event.
pub type SecretDecision<'a> =
    dyn Fn(&Client, &[StoredSecret]) -> Result<(SecretChange, Event), Refusal> + Send + Sync + 'a;

#[async_trait]
pub trait SecretStore: Send + Sync {
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
    ) -> StoreResult<(Client, Vec<StoredSecret>)>;
    /// Records a use of the client and of its secret that hashes to `secret` at `now`, unless
    /// one at or after `since` is recorded already; concurrent verifications write it once.
    /// The secret is named by its hash, not its slot: a use noted just before a rotation step
    /// lands on the secret that was used (promoted, it is current now) or on none (gone).
    async fn record_secret_use(
        &self,
        client: &ClientId,
        secret: &SecretHash,
        now: Timestamp,
        since: Timestamp,
    ) -> StoreResult<()>;
}

pub(super) const CLIENT_WITH_SECRETS: &str = "SELECT c.id, c.tenant_id, c.app_type, c.settings,
        c.manually_created, c.created, c.modified, c.last_used, s.slot, s.secret_hash,
        s.last_four, s.created AS secret_created, s.last_used AS secret_last_used
     FROM clients c LEFT JOIN client_secrets s ON s.client_id = c.id
     WHERE c.id = $1 ORDER BY s.slot";
pub(super) const SECRETS_OF_CLIENT: &str = "SELECT slot, secret_hash, last_four, created, last_used
     FROM client_secrets WHERE client_id = $1 ORDER BY slot";

/// A rotation step and its event in one statement, on a database whose CTEs may write. The
/// client is `$1`; the event's seventeen columns follow what the step binds.
pub(super) const START_AT_ONCE: &str = concat!(
    "WITH next AS (
        INSERT INTO client_secrets (client_id, slot, secret_hash, last_four, created)
        VALUES ($1, 'next', $2, $3, $4) RETURNING client_id
    )
    INSERT INTO events ",
    crate::store::events::event_columns!(),
    " SELECT $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21 FROM next"
);
/// The next secret takes the current one's place: its row is deleted and its values written
/// over the current one's, which keeps (client, slot) unique at every step of the statement.
pub(super) const COMPLETE_AT_ONCE: &str = concat!(
    "WITH next AS (
        DELETE FROM client_secrets WHERE client_id = $1 AND slot = 'next'
        RETURNING client_id, secret_hash, last_four, created, last_used
    ), promoted AS (
        INSERT INTO client_secrets (client_id, slot, secret_hash, last_four, created, last_used)
        SELECT client_id, 'current', secret_hash, last_four, created, last_used FROM next
        ON CONFLICT (client_id, slot) DO UPDATE SET secret_hash = excluded.secret_hash,
            last_four = excluded.last_four, created = excluded.created, last_used = excluded.last_used
        RETURNING client_id
    )
    INSERT INTO events ",
    crate::store::events::event_columns!(),
    " SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18 FROM promoted"
);
pub(super) const CANCEL_AT_ONCE: &str = concat!(
    "WITH dropped AS (
        DELETE FROM client_secrets WHERE client_id = $1 AND slot = 'next' RETURNING client_id
    )
    INSERT INTO events ",
    crate::store::events::event_columns!(),
    " SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18 FROM dropped"
);

macro_rules! secret_store {
    ($store:ident) => {
        mod secret_store {
            use async_trait::async_trait;

            use super::$store;
            use super::client_store::{finish, locked_client};
            use super::event_store::bind_event;
            use crate::domain::client::{Client, ClientId};
            use crate::domain::rotation::{self, SecretChange, StoredSecret};
            use crate::domain::secret::SecretHash;
            use crate::domain::time::Timestamp;
            use crate::store::rows::{self, ClientSecretRow, SecretRow};
            use crate::store::secrets::{
                CANCEL_AT_ONCE, CLIENT_WITH_SECRETS, COMPLETE_AT_ONCE, SECRETS_OF_CLIENT, START_AT_ONCE,
            };
            use crate::store::{SecretDecision, SecretStore, StoreResult};

            #[async_trait]
            impl SecretStore for $store {
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
                ) -> StoreResult<(Client, Vec<StoredSecret>)> {
                    let mut tx = self.begin_write().await?;
                    // Two statements: one that locked and joined would read the secrets as
                    // they were before it waited for the lock (read committed re-reads only
                    // the locked row).
                    let current = locked_client(&mut tx, client).await?;
                    let rows: Vec<SecretRow> = sqlx::query_as(SECRETS_OF_CLIENT)
                        .bind(client.as_str())
                        .fetch_all(&mut *tx)
                        .await?;
                    let secrets = rows::secrets(rows)?;
                    let (step, event) = decide(&current, &secrets)?;
                    let id = client.as_str();
                    if super::DATA_MODIFYING_CTE {
                        let statement = match &step {
                            SecretChange::Start(next) => sqlx::query(START_AT_ONCE)
                                .bind(id)
                                .bind(next.hash.as_bytes())
                                .bind(&next.last_four)
                                .bind(next.created),
                            SecretChange::Complete => sqlx::query(COMPLETE_AT_ONCE).bind(id),
                            SecretChange::Cancel => sqlx::query(CANCEL_AT_ONCE).bind(id),
                        };
                        bind_event(statement, &event).execute(&mut *tx).await?;
                        tx.commit().await?;
                        event.log();
                        return Ok((current, rotation::after(&secrets, &step)));
                    }
                    match &step {
                        SecretChange::Start(next) => {
                            sqlx::query(
                                "INSERT INTO client_secrets (client_id, slot, secret_hash, last_four, created)
                                 VALUES ($1, 'next', $2, $3, $4)",
                            )
                            .bind(id)
                            .bind(next.hash.as_bytes())
                            .bind(&next.last_four)
                            .bind(next.created)
                            .execute(&mut *tx)
                            .await?;
                        }
                        SecretChange::Complete => {
                            sqlx::query("DELETE FROM client_secrets WHERE client_id = $1 AND slot = 'current'")
                                .bind(id)
                                .execute(&mut *tx)
                                .await?;
                            sqlx::query("UPDATE client_secrets SET slot = 'current' WHERE client_id = $1 AND slot = 'next'")
                                .bind(id)
                                .execute(&mut *tx)
                                .await?;
                        }
                        SecretChange::Cancel => {
                            sqlx::query("DELETE FROM client_secrets WHERE client_id = $1 AND slot = 'next'")
                                .bind(id)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
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
                    let mut tx = self.begin_write().await?;
                    // The client's row is locked first, as every write that changes secrets
                    // locks it (rotation, deletion): in the other order a use deadlocks with a
                    // rotation step. Always locked, not only when the client's time is due: a
                    // step under way must finish first, or the secret it moves is missed.
                    sqlx::query(super::LOCK_CLIENT)
                        .bind(client.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                    // Not a client made after the use (deleted and made again, same id).
                    sqlx::query(
                        "UPDATE clients SET last_used = $2
                         WHERE id = $1 AND created <= $2 AND (last_used IS NULL OR last_used < $3)",
                    )
                    .bind(client.as_str())
                    .bind(now)
                    .bind(since)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE client_secrets SET last_used = $3
                         WHERE client_id = $1 AND secret_hash = $2 AND (last_used IS NULL OR last_used < $4)",
                    )
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
        }
    };
}
pub(super) use secret_store;
