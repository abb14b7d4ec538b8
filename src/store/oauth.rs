//! The token endpoint's state (DESIGN 15): each tenant's signing keys, revoked access tokens
//! and used client assertion ids. Written once for both adapters.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, QueryBuilder, Type};

use super::adapter::Adapter;
use super::dialect::Dialect;
use super::events::finish;
use super::{StoreError, StoreResult};
use crate::domain::Missing;
use crate::domain::audit::Event;
use crate::domain::client::ClientId;
use crate::domain::oauth::keys::{KeyChange, KeyState, SigningKey};
use crate::domain::oauth::signing::SigningAlg;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;

#[async_trait]
pub trait OAuthStore: Send + Sync {
    /// Every key of the tenant, published or not, oldest first.
    async fn signing_keys(&self, tenant: &TenantId) -> StoreResult<Vec<SigningKey>>;
    /// Applies `change`, with its event, if the tenant's current key is still the one it
    /// was decided on; false (and nothing written) when another change came first.
    async fn change_signing_keys(
        &self,
        tenant: &TenantId,
        change: &KeyChange,
        event: &Event,
    ) -> StoreResult<bool>;
    /// Remembers a revoked access token until it would have expired; again is a no-op.
    async fn revoke_access_token(
        &self,
        tenant: &TenantId,
        jti: &str,
        client: &ClientId,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    async fn access_token_revoked(&self, tenant: &TenantId, jti: &str) -> StoreResult<bool>;
    /// Records client assertions' jtis, each until its `expires_at`, in one statement; for
    /// each, false when its client already used it and it has not expired by `now` (a
    /// replay). No (client, jti) may be given twice.
    async fn use_assertions(
        &self,
        used: &[UsedAssertion],
        now: Timestamp,
    ) -> StoreResult<Vec<bool>>;
    /// Forgets what no longer matters at `now`: expired revocations and assertion ids, and
    /// keys no longer published. Returns how many rows went.
    async fn prune_token_state(&self, now: Timestamp) -> StoreResult<u64>;
}

/// A client assertion's id, to be remembered until the assertion expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedAssertion {
    pub client: ClientId,
    pub jti: String,
    pub expires_at: Timestamp,
}

const SELECT_KEYS: &str = "SELECT tenant_id, kid, alg, state, public_jwk, sealed_private_key,
    created, activated, deactivated, published_until
    FROM signing_keys WHERE tenant_id = $1 ORDER BY created, kid";
const CURRENT_KID: &str = "SELECT kid FROM signing_keys WHERE tenant_id = $1 AND state = 'current'";
const DEMOTE: &str = "UPDATE signing_keys SET state = $3, deactivated = $4, published_until = $5
    WHERE tenant_id = $1 AND kid = $2 AND state = 'current'";
const PROMOTE: &str = "UPDATE signing_keys SET state = 'current', activated = $3
    WHERE tenant_id = $1 AND kid = $2 AND state = 'next'";
const INSERT_KEY: &str = "INSERT INTO signing_keys (tenant_id, kid, alg, state, public_jwk,
    sealed_private_key, created, activated, deactivated, published_until)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL)";
const REVOKE: &str = "INSERT INTO revoked_access_tokens (tenant_id, jti, client_id, expires_at)
    VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, jti) DO NOTHING";
const REVOKED: &str =
    "SELECT count(*) FROM revoked_access_tokens WHERE tenant_id = $1 AND jti = $2";
/// A jti seen before counts as new again only once its first use has expired; the rows
/// written are the new ones.
const USED_AGAIN: &str =
    " ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at
    WHERE client_assertion_jtis.expires_at <= ";
const PRUNE: [&str; 3] = [
    "DELETE FROM revoked_access_tokens WHERE expires_at <= $1",
    "DELETE FROM client_assertion_jtis WHERE expires_at <= $1",
    "DELETE FROM signing_keys WHERE state IN ('previous', 'retired') AND published_until <= $1",
];

#[derive(FromRow)]
pub struct SigningKeyRow {
    tenant_id: String,
    kid: String,
    alg: String,
    state: String,
    public_jwk: String,
    sealed_private_key: Vec<u8>,
    created: DateTime<Utc>,
    activated: Option<DateTime<Utc>>,
    deactivated: Option<DateTime<Utc>>,
    published_until: Option<DateTime<Utc>>,
}

impl TryFrom<SigningKeyRow> for SigningKey {
    type Error = StoreError;

    fn try_from(row: SigningKeyRow) -> StoreResult<Self> {
        Ok(Self {
            tenant: TenantId::parse(&row.tenant_id).map_err(StoreError::Corrupt)?,
            kid: row.kid,
            alg: SigningAlg::parse(&row.alg).map_err(StoreError::Corrupt)?,
            state: KeyState::parse(&row.state).map_err(StoreError::Corrupt)?,
            public_jwk: serde_json::from_str(&row.public_jwk)
                .map_err(|e| StoreError::Corrupt(format!("a signing key's JWK: {e}")))?,
            sealed: row.sealed_private_key,
            created: row.created,
            activated: row.activated,
            deactivated: row.deactivated,
            published_until: row.published_until,
        })
    }
}

#[async_trait]
impl<S> OAuthStore for S
where
    S: Adapter,
    for<'c> &'c mut <S::Db as Database>::Connection: Executor<'c, Database = S::Db>,
    <S::Db as Database>::Arguments: IntoArguments<S::Db>,
    for<'t> &'t str: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> String: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> &'t [u8]: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Timestamp: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Option<Timestamp>: Encode<'t, S::Db> + Type<S::Db>,
    for<'r> SigningKeyRow: FromRow<'r, <S::Db as Database>::Row> + Send + Unpin,
    for<'r> (String,): FromRow<'r, <S::Db as Database>::Row> + Send + Unpin,
    for<'r> (i64,): FromRow<'r, <S::Db as Database>::Row> + Send + Unpin,
    for<'r> (String, String): FromRow<'r, <S::Db as Database>::Row> + Send + Unpin,
{
    async fn signing_keys(&self, tenant: &TenantId) -> StoreResult<Vec<SigningKey>> {
        let rows: Vec<SigningKeyRow> = sqlx::query_as(SELECT_KEYS)
            .bind(tenant.as_str())
            .fetch_all(self.reader())
            .await?;
        rows.into_iter().map(SigningKey::try_from).collect()
    }

    async fn change_signing_keys(
        &self,
        tenant: &TenantId,
        change: &KeyChange,
        event: &Event,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let locked: Option<(String,)> = sqlx::query_as(S::Db::LOCK_TENANT)
            .bind(tenant.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if locked.is_none() {
            return Err(StoreError::NotFound(Missing::Tenant));
        }
        let current: Option<(String,)> = sqlx::query_as(CURRENT_KID)
            .bind(tenant.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if current.map(|(kid,)| kid) != change.expected_current {
            return Ok(false);
        }
        // Each step changes exactly the row it names, or the keys are not as decided: then
        // nothing is written (the transaction rolls back as it goes) and the caller decides
        // again on what another change left.
        if let Some(demoted) = &change.demote {
            let done = sqlx::query(DEMOTE)
                .bind(tenant.as_str())
                .bind(demoted.kid.as_str())
                .bind(demoted.state.as_str())
                .bind(change.at)
                .bind(demoted.published_until)
                .execute(&mut *tx)
                .await?;
            if S::Db::rows_affected(&done) != 1 {
                return Ok(false);
            }
        }
        if let Some(promoted) = &change.promote {
            let done = sqlx::query(PROMOTE)
                .bind(tenant.as_str())
                .bind(promoted.as_str())
                .bind(change.at)
                .execute(&mut *tx)
                .await?;
            if S::Db::rows_affected(&done) != 1 {
                return Ok(false);
            }
        }
        for key in &change.insert {
            let inserted = sqlx::query(INSERT_KEY)
                .bind(tenant.as_str())
                .bind(key.kid.as_str())
                .bind(key.alg.as_str())
                .bind(key.state.as_str())
                .bind(key.public_jwk.to_string().as_str())
                .bind(key.sealed.as_slice())
                .bind(key.created)
                .bind(key.activated)
                .execute(&mut *tx)
                .await;
            match inserted {
                Ok(_) => {}
                // Another replica made the tenant's next key first.
                Err(sqlx::Error::Database(db))
                    if db.kind() == sqlx::error::ErrorKind::UniqueViolation =>
                {
                    return Ok(false);
                }
                Err(error) => return Err(error.into()),
            }
        }
        finish(tx, event).await?;
        Ok(true)
    }

    async fn revoke_access_token(
        &self,
        tenant: &TenantId,
        jti: &str,
        client: &ClientId,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query(REVOKE)
            .bind(tenant.as_str())
            .bind(jti)
            .bind(client.as_str())
            .bind(expires_at)
            .execute(self.writer())
            .await
            .map_err(|e| StoreError::on_foreign_key(e, StoreError::NotFound(Missing::Tenant)))?;
        Ok(())
    }

    async fn access_token_revoked(&self, tenant: &TenantId, jti: &str) -> StoreResult<bool> {
        let (count,): (i64,) = sqlx::query_as(REVOKED)
            .bind(tenant.as_str())
            .bind(jti)
            .fetch_one(self.reader())
            .await?;
        Ok(count > 0)
    }

    async fn use_assertions(
        &self,
        used: &[UsedAssertion],
        now: Timestamp,
    ) -> StoreResult<Vec<bool>> {
        let mut insert =
            QueryBuilder::new("INSERT INTO client_assertion_jtis (client_id, jti, expires_at) ");
        S::Db::push_assertion_rows(&mut insert, used);
        insert
            .push(USED_AGAIN)
            .push_bind(now)
            .push(" RETURNING client_id, jti");
        // Relaxed: the jti is all private_key_jwt writes, and waiting for its WAL flush
        // would cap the endpoint at the disk's commit rate. A database crash may forget the
        // jtis of its last moment; each assertion expires within five minutes anyway.
        let fresh: Vec<(String, String)> = insert
            .build_query_as()
            .fetch_all(self.relaxed_writer())
            .await
            .map_err(|e| StoreError::on_foreign_key(e, StoreError::NotFound(Missing::Client)))?;
        Ok((used.iter())
            .map(|one| {
                (fresh.iter()).any(|(client, jti)| client == one.client.as_str() && *jti == one.jti)
            })
            .collect())
    }

    async fn prune_token_state(&self, now: Timestamp) -> StoreResult<u64> {
        let mut pruned = 0;
        for statement in PRUNE {
            let done = sqlx::query(statement)
                .bind(now)
                .execute(self.writer())
                .await?;
            pruned += S::Db::rows_affected(&done);
        }
        Ok(pruned)
    }
}
