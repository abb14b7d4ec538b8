//! What the rotation autopilot (DESIGN 16) reads and writes: the secrets, rotations and
//! credentials that are due, each found through a partial index of what is pending
//! (migration 0009), and each warning written with a conditional update in its event's
//! transaction, so that however many replicas run the autopilot, each happens once.
//! Written once for both adapters; also the admin tokens' recorded uses.

use async_trait::async_trait;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};
use uuid::Uuid;

use super::StoreResult;
use super::adapter::Adapter;
use super::dialect::Dialect;
use super::events::{Recording, record};
use crate::domain::audit::Event;
use crate::domain::autopilot::ExpiryNoted;
use crate::domain::client::ClientId;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::store::StoreError;

/// A current secret past its client's `maxAgeSeconds`, not yet reported.
#[derive(Debug, Clone, FromRow)]
pub struct StaleSecret {
    pub client_id: String,
    pub tenant_id: String,
    pub secret_hash: Vec<u8>,
    pub last_four: String,
    pub created: Timestamp,
    pub stale_at: Timestamp,
}

/// A rotation under way whose time to be looked at has come.
#[derive(Debug, Clone, FromRow)]
pub struct DueRotation {
    pub client_id: String,
    /// When the rotation started: its next secret's creation, which names the rotation.
    pub created: Timestamp,
    pub overdue_noted: bool,
    /// When it was due: what the autopilot's writes expect to find, so that a patch of the
    /// policy (which sets a new time) in between makes them give way.
    pub check_at: Timestamp,
}

/// A credential whose expiry warning is due, with how far its warnings went.
#[derive(Debug, Clone, FromRow)]
pub struct ExpiringCredential {
    pub id: String,
    pub client_id: String,
    pub tenant_id: String,
    pub name: String,
    pub credential_type: String,
    pub expires_at: Timestamp,
    pub expiry_noted: i64,
}

impl StaleSecret {
    pub fn client(&self) -> StoreResult<ClientId> {
        ClientId::parse(&self.client_id).map_err(StoreError::Corrupt)
    }

    pub fn tenant(&self) -> StoreResult<TenantId> {
        TenantId::parse(&self.tenant_id).map_err(StoreError::Corrupt)
    }
}

impl ExpiringCredential {
    pub fn noted(&self) -> StoreResult<ExpiryNoted> {
        ExpiryNoted::from_stored(self.expiry_noted).map_err(StoreError::Corrupt)
    }

    pub fn client(&self) -> StoreResult<ClientId> {
        ClientId::parse(&self.client_id).map_err(StoreError::Corrupt)
    }

    pub fn tenant(&self) -> StoreResult<TenantId> {
        TenantId::parse(&self.tenant_id).map_err(StoreError::Corrupt)
    }
}

#[async_trait]
pub trait AutopilotStore: Send + Sync {
    /// At most `limit` current secrets stale by `now` and not yet reported, stalest first.
    async fn stale_secrets(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<StaleSecret>>;
    /// Marks the secret reported and writes `event`, unless it was reported already (by
    /// another replica) or is no longer the client's current secret: true when this did.
    async fn note_stale(&self, secret: &StaleSecret, event: &Event) -> StoreResult<bool>;
    /// At most `limit` rotations whose time to be looked at has come by `now`.
    async fn rotations_due(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<DueRotation>>;
    /// When to look at the rotation `due` again (None: not until its next secret's first
    /// use or a new policy); nothing if it is over or was set to be looked at anew since.
    async fn reschedule_rotation(
        &self,
        due: &DueRotation,
        check_at: Option<Timestamp>,
    ) -> StoreResult<()>;
    /// Marks the rotation `due` overdue and writes `event`, unless it was marked already,
    /// is over, or was set to be looked at anew since (a new policy): true when this did.
    async fn note_overdue(&self, due: &DueRotation, event: &Event) -> StoreResult<bool>;
    /// At most `limit` credentials whose warning is due: unwarned ones expiring by
    /// `warn_until`, and warned ones expired by `now`; soonest first.
    async fn expiring_credentials(
        &self,
        warn_until: Timestamp,
        now: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<ExpiringCredential>>;
    /// Moves the credential's warnings from what `seen` holds to `to`, writing `events`,
    /// unless another replica moved them first or its expiry changed: true when this did.
    async fn note_expiry(
        &self,
        seen: &ExpiringCredential,
        to: ExpiryNoted,
        events: &[Event],
    ) -> StoreResult<bool>;
    /// Records a use of the admin token at `now`, unless one at or after `since` is
    /// recorded already.
    async fn record_token_use(&self, id: Uuid, now: Timestamp, since: Timestamp)
    -> StoreResult<()>;
}

const STALE_SECRETS: &str = "SELECT s.client_id, c.tenant_id, s.secret_hash, s.last_four,
        s.created, s.stale_at
    FROM client_secrets s JOIN clients c ON c.id = s.client_id
    WHERE s.stale_noted = false AND s.stale_at IS NOT NULL AND s.stale_at <= $1
    ORDER BY s.stale_at LIMIT $2";
/// Only while the secret is stale as it was read: a policy patched since says otherwise.
const NOTE_STALE: &str = "UPDATE client_secrets SET stale_noted = true
    WHERE client_id = $1 AND slot = 'current' AND secret_hash = $2 AND stale_noted = false
        AND stale_at = $3";
const ROTATIONS_DUE: &str = "SELECT client_id, created, overdue_noted, check_at
    FROM client_secrets
    WHERE check_at IS NOT NULL AND check_at <= $1 AND slot = 'next'
    ORDER BY check_at LIMIT $2";
const RESCHEDULE: &str = "UPDATE client_secrets SET check_at = $4
    WHERE client_id = $1 AND slot = 'next' AND created = $2 AND check_at = $3";
const NOTE_OVERDUE: &str = "UPDATE client_secrets SET overdue_noted = true
    WHERE client_id = $1 AND slot = 'next' AND created = $2 AND check_at = $3
        AND overdue_noted = false";
/// Two ranges of two partial indexes: the unwarned expiring soon, the warned expired.
const EXPIRING: &str = "SELECT k.id, k.client_id, c.tenant_id, k.name, k.credential_type,
        k.expires_at, CAST(k.expiry_noted AS bigint) AS expiry_noted
    FROM client_credentials k JOIN clients c ON c.id = k.client_id
    WHERE k.expiry_noted = 0 AND k.expires_at IS NOT NULL AND k.expires_at <= $1
    ORDER BY k.expires_at LIMIT $2";
const EXPIRED: &str = "SELECT k.id, k.client_id, c.tenant_id, k.name, k.credential_type,
        k.expires_at, CAST(k.expiry_noted AS bigint) AS expiry_noted
    FROM client_credentials k JOIN clients c ON c.id = k.client_id
    WHERE k.expiry_noted = 1 AND k.expires_at <= $1
    ORDER BY k.expires_at LIMIT $2";
const NOTE_EXPIRY: &str = "UPDATE client_credentials SET expiry_noted = $3
    WHERE id = $1 AND expiry_noted = $2 AND expires_at = $4";
const RECORD_TOKEN_USE: &str = "UPDATE api_tokens SET last_used = $2
    WHERE id = $1 AND (last_used IS NULL OR last_used < $3)";

#[async_trait]
impl<S> AutopilotStore for S
where
    S: Adapter,
    S::Db: Recording,
    for<'c> &'c mut <S::Db as Database>::Connection: Executor<'c, Database = S::Db>,
    <S::Db as Database>::Arguments: IntoArguments<S::Db>,
    for<'t> &'t str: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> &'t [u8]: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> i64: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Uuid: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Timestamp: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Option<Timestamp>: Encode<'t, S::Db> + Type<S::Db>,
    for<'r> StaleSecret: FromRow<'r, <S::Db as Database>::Row> + Send + Unpin,
    for<'r> DueRotation: FromRow<'r, <S::Db as Database>::Row> + Send + Unpin,
    for<'r> ExpiringCredential: FromRow<'r, <S::Db as Database>::Row> + Send + Unpin,
{
    async fn stale_secrets(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<StaleSecret>> {
        Ok(sqlx::query_as(STALE_SECRETS)
            .bind(now)
            .bind(limit)
            .fetch_all(self.reader())
            .await?)
    }

    async fn note_stale(&self, secret: &StaleSecret, event: &Event) -> StoreResult<bool> {
        let mark = sqlx::query(NOTE_STALE)
            .bind(secret.client_id.as_str())
            .bind(secret.secret_hash.as_slice())
            .bind(secret.stale_at);
        mark_then_record(self, mark, std::slice::from_ref(event)).await
    }

    async fn rotations_due(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<DueRotation>> {
        Ok(sqlx::query_as(ROTATIONS_DUE)
            .bind(now)
            .bind(limit)
            .fetch_all(self.reader())
            .await?)
    }

    async fn reschedule_rotation(
        &self,
        due: &DueRotation,
        check_at: Option<Timestamp>,
    ) -> StoreResult<()> {
        sqlx::query(RESCHEDULE)
            .bind(due.client_id.as_str())
            .bind(due.created)
            .bind(due.check_at)
            .bind(check_at)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn note_overdue(&self, due: &DueRotation, event: &Event) -> StoreResult<bool> {
        let mark = sqlx::query(NOTE_OVERDUE)
            .bind(due.client_id.as_str())
            .bind(due.created)
            .bind(due.check_at);
        mark_then_record(self, mark, std::slice::from_ref(event)).await
    }

    async fn expiring_credentials(
        &self,
        warn_until: Timestamp,
        now: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<ExpiringCredential>> {
        let mut due: Vec<ExpiringCredential> = sqlx::query_as(EXPIRING)
            .bind(warn_until)
            .bind(limit)
            .fetch_all(self.reader())
            .await?;
        let expired: Vec<ExpiringCredential> = sqlx::query_as(EXPIRED)
            .bind(now)
            .bind(limit)
            .fetch_all(self.reader())
            .await?;
        due.extend(expired);
        due.sort_by_key(|credential| credential.expires_at);
        due.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(due)
    }

    async fn note_expiry(
        &self,
        seen: &ExpiringCredential,
        to: ExpiryNoted,
        events: &[Event],
    ) -> StoreResult<bool> {
        let mark = sqlx::query(NOTE_EXPIRY)
            .bind(seen.id.as_str())
            .bind(seen.expiry_noted)
            .bind(to as i64)
            .bind(seen.expires_at);
        mark_then_record(self, mark, events).await
    }

    async fn record_token_use(
        &self,
        id: Uuid,
        now: Timestamp,
        since: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(RECORD_TOKEN_USE)
            .bind(id)
            .bind(now)
            .bind(since)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}

/// The autopilot's one way to write: a conditional mark (`mark`), and, only if it changed a
/// row, `events` in the same transaction. False, and nothing written, when the mark found
/// nothing to change: another replica got there first, or what it was decided on changed.
async fn mark_then_record<S>(
    store: &S,
    mark: sqlx::query::Query<'_, S::Db, <S::Db as Database>::Arguments>,
    events: &[Event],
) -> StoreResult<bool>
where
    S: Adapter,
    for<'c> &'c mut <S::Db as Database>::Connection: Executor<'c, Database = S::Db>,
    <S::Db as Database>::Arguments: IntoArguments<S::Db>,
{
    let mut tx = store.begin_write().await?;
    let marked = mark.execute(&mut *tx).await?;
    if S::Db::rows_affected(&marked) == 0 {
        return Ok(false);
    }
    for event in events {
        record(&mut tx, event).await?;
    }
    tx.commit().await?;
    events.iter().for_each(Event::log);
    Ok(true)
}
