//! Client secrets: what verification reads, rotation steps and use telemetry. The trait and
//! the SQL text both adapters share; each adapter's `secrets` module writes a rotation step
//! as its dialect allows (with its event in one statement, or in two).

use async_trait::async_trait;
use sqlx::{Encode, Executor, FromRow, IntoArguments, Pool, Transaction, Type};

use super::StoreResult;
use super::clients::locked_client;
use super::dialect::Dialect;
use super::rows::{self, ClientRow, ClientSecretRow, SecretRow};
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

const CLIENT_WITH_SECRETS: &str = "SELECT c.id, c.tenant_id, c.app_type, c.settings,
        c.manually_created, c.created, c.modified, c.last_used, s.slot, s.secret_hash,
        s.last_four, s.created AS secret_created, s.last_used AS secret_last_used
     FROM clients c LEFT JOIN client_secrets s ON s.client_id = c.id
     WHERE c.id = $1 ORDER BY s.slot";
const SECRETS_OF_CLIENT: &str = "SELECT slot, secret_hash, last_four, created, last_used
     FROM client_secrets WHERE client_id = $1 ORDER BY slot";

/// Not a client made after the use (deleted and made again, same id).
pub(super) const RECORD_CLIENT_USE: &str = "UPDATE clients SET last_used = $2
     WHERE id = $1 AND created <= $2 AND (last_used IS NULL OR last_used < $3)";
/// A next secret's first use is what a hands-free completion waits for: the autopilot
/// looks at the rotation again (`check_at`), rather than polling for it.
pub(super) const RECORD_SECRET_USE: &str = "UPDATE client_secrets SET last_used = $3,
        check_at = CASE WHEN slot = 'next' AND last_used IS NULL THEN $3 ELSE check_at END
     WHERE client_id = $1 AND secret_hash = $2 AND (last_used IS NULL OR last_used < $4)";

/// The client with its secrets, in one query on the reader pool: the same on both databases.
pub(super) async fn client_with_secrets<DB>(
    pool: &Pool<DB>,
    id: &ClientId,
) -> StoreResult<Option<(Client, Vec<StoredSecret>)>>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'r> ClientSecretRow: FromRow<'r, DB::Row> + Send + Unpin,
{
    let rows: Vec<ClientSecretRow> = sqlx::query_as(CLIENT_WITH_SECRETS)
        .bind(id.as_str())
        .fetch_all(pool)
        .await?;
    rows::client_with_secrets(rows)
}

/// The client locked in `tx`, then its secrets as they are under the lock: two statements,
/// as one that locked and joined would read the secrets as they were before it waited for
/// the lock (Postgres's read committed re-reads only the locked row).
pub(super) async fn locked_with_secrets<DB>(
    tx: &mut Transaction<'static, DB>,
    id: &ClientId,
) -> StoreResult<(Client, Vec<StoredSecret>)>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'r> ClientRow: FromRow<'r, DB::Row> + Send + Unpin,
    for<'r> SecretRow: FromRow<'r, DB::Row> + Send + Unpin,
{
    let current = locked_client(tx, id).await?;
    let rows: Vec<SecretRow> = sqlx::query_as(SECRETS_OF_CLIENT)
        .bind(id.as_str())
        .fetch_all(&mut **tx)
        .await?;
    Ok((current, rows::secrets(rows)?))
}

const CURRENT_CREATED: &str =
    "SELECT created FROM client_secrets WHERE client_id = $1 AND slot = 'current'";
const SET_STALE_AT: &str =
    "UPDATE client_secrets SET stale_at = $2 WHERE client_id = $1 AND slot = 'current'";
const LOOK_AT_ROTATION: &str =
    "UPDATE client_secrets SET check_at = $2 WHERE client_id = $1 AND slot = 'next'";

/// A patch that changes the client's secret policy, in its transaction: the current secret
/// is stale from when the new policy says, and a rotation under way is looked at again by
/// the autopilot's next run. A secret reported stale once is not reported again.
pub(super) async fn apply_secret_policy<DB>(
    tx: &mut Transaction<'static, DB>,
    before: &Client,
    after: &Client,
) -> StoreResult<()>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
    for<'t> Option<Timestamp>: Encode<'t, DB> + Type<DB>,
    for<'r> (Timestamp,): FromRow<'r, DB::Row> + Send + Unpin,
{
    let policy = &after.settings.secret_policy;
    if *policy == before.settings.secret_policy {
        return Ok(());
    }
    let id = after.id.as_str();
    let current: Option<(Timestamp,)> = sqlx::query_as(CURRENT_CREATED)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some((created,)) = current {
        sqlx::query(SET_STALE_AT)
            .bind(id)
            .bind(policy.stale_at(created))
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(LOOK_AT_ROTATION)
        .bind(id)
        .bind(after.modified)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
