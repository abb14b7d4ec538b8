//! Idempotency-Key records: the first answer to a creating or rotating POST, per caller and
//! key. The trait, implemented once for both adapters, each claim in a write transaction of
//! its adapter's (`Adapter::begin_write`).
//!
//! A claim has an id, which the event of the change it guards carries (`ChangeContext`).
//! Writing that event marks the claim committed, in the change's own transaction (migration
//! 0007's trigger): a claim is given up (released after a failure, or taken over once
//! abandoned) only while it is not committed, and a retry that finds it committed but with
//! no kept answer (the process stopped in between) is answered from the event.

use async_trait::async_trait;
use sqlx::types::Json;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};
use uuid::Uuid;

use super::StoreResult;
use super::adapter::Adapter;
use super::dialect::Dialect;
use super::rows::EventRow;
use crate::domain::audit::Event;
use crate::domain::time::Timestamp;

/// An answer kept for replay: never a secret or token text (the caller strips them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The key is new (or its record expired, or its first request was abandoned before
    /// its change committed): this request goes ahead.
    Claimed,
    /// The first request with this key is still running.
    Running,
    /// The first request's change committed, but its answer was never kept: the change's
    /// event is what a retry can be told.
    Committed(Box<Event>),
    /// The key was used for another request.
    Mismatch,
    Replay(StoredAnswer),
}

/// Which records a claim may take over: those created before `expired`, and those whose
/// first request never finished and was started before `abandoned`.
#[derive(Debug, Clone, Copy)]
pub struct ClaimDeadlines {
    pub now: Timestamp,
    pub expired: Timestamp,
    pub abandoned: Timestamp,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims the key for a request, as claim `claim` if it is free.
    async fn claim_idempotency_key(
        &self,
        actor: &str,
        key: &str,
        request_hash: &[u8],
        claim: Uuid,
        deadlines: ClaimDeadlines,
    ) -> StoreResult<Claim>;
    /// Keeps the answer of `claim` (a claim taken over since by another request is left
    /// alone).
    async fn complete_idempotency_key(
        &self,
        actor: &str,
        key: &str,
        claim: Uuid,
        answer: &StoredAnswer,
    ) -> StoreResult<()>;
    /// Forgets a claim whose request failed, so that a retry may try again; a claim whose
    /// change committed all the same is kept.
    async fn release_idempotency_key(&self, actor: &str, key: &str, claim: Uuid)
    -> StoreResult<()>;
    async fn forget_idempotency_keys(&self, created_before: Timestamp) -> StoreResult<u64>;
}

/// Frees the key of a record a new claim may take over (see `ClaimDeadlines`).
const TAKE_OVER: &str = "DELETE FROM idempotency_keys WHERE actor = $1 AND key = $2
     AND (created < $3 OR (status IS NULL AND committed IS NULL AND created < $4))";
const INSERT_CLAIM: &str = "INSERT INTO idempotency_keys (actor, key, request_hash, created, claim)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
const RECORD_OF_KEY: &str = "SELECT request_hash, status, headers, body, claim, committed
     FROM idempotency_keys WHERE actor = $1 AND key = $2";
/// The columns `EventRow` takes, of the first event the claim's change wrote.
const EVENT_OF_CLAIM: &str =
    "SELECT seq, '0' AS feed_xid, id, time, tenant_id, client_id, actor_kind, actor_token_id, actor_token_name,
        source_ip, request_id, action, resource_id, resource_path, patch, changed, document
     FROM events WHERE claim = $1 ORDER BY seq LIMIT 1";
const KEEP_ANSWER: &str = "UPDATE idempotency_keys SET status = $3, headers = $4, body = $5
     WHERE actor = $1 AND key = $2 AND claim = $6 AND status IS NULL";
const RELEASE_CLAIM: &str = "DELETE FROM idempotency_keys
     WHERE actor = $1 AND key = $2 AND claim = $3 AND status IS NULL AND committed IS NULL";
const FORGET_KEYS: &str = "DELETE FROM idempotency_keys WHERE created < $1";

/// The record a claim found in place of its own.
#[derive(sqlx::FromRow)]
pub struct KeyRecord {
    request_hash: Vec<u8>,
    status: Option<i32>,
    headers: Option<Json<Vec<(String, String)>>>,
    body: Option<Vec<u8>>,
    claim: Option<Uuid>,
    committed: Option<bool>,
}

/// What a record found in place says to a request with `request_hash`.
enum Found {
    Answer(Claim),
    /// The first claim's change committed without its answer kept: its event, if it can
    /// be read, is the answer.
    CommittedClaim(Uuid),
}

impl KeyRecord {
    fn read(self, request_hash: &[u8]) -> Found {
        match (self.status, self.claim) {
            _ if self.request_hash != request_hash => Found::Answer(Claim::Mismatch),
            (Some(status), _) => Found::Answer(Claim::Replay(StoredAnswer {
                status: u16::try_from(status).unwrap_or(200),
                headers: self.headers.map(|h| h.0).unwrap_or_default(),
                body: self.body.unwrap_or_default(),
            })),
            (None, Some(first)) if self.committed == Some(true) => Found::CommittedClaim(first),
            (None, _) => Found::Answer(Claim::Running),
        }
    }
}

#[async_trait]
impl<S> IdempotencyStore for S
where
    S: Adapter,
    for<'c> &'c mut <S::Db as Database>::Connection: Executor<'c, Database = S::Db>,
    <S::Db as Database>::Arguments: IntoArguments<S::Db>,
    for<'t> &'t str: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> &'t [u8]: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Uuid: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> i32: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Vec<u8>: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Timestamp: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Json<&'t Vec<(String, String)>>: Encode<'t, S::Db> + Type<S::Db>,
    for<'r> KeyRecord: FromRow<'r, <S::Db as Database>::Row> + Send + Unpin,
    for<'r> EventRow: FromRow<'r, <S::Db as Database>::Row> + Send + Unpin,
{
    async fn claim_idempotency_key(
        &self,
        actor: &str,
        key: &str,
        request_hash: &[u8],
        claim: Uuid,
        deadlines: ClaimDeadlines,
    ) -> StoreResult<Claim> {
        let mut tx = self.begin_write().await?;
        // An abandoned claim is taken over only if its change never committed. A change
        // still under way holds a lock this waits for: on Postgres the row's, and then sees
        // it committed (read committed checks the condition again on the row as the change
        // left it); on SQLite the database's, which this writer took only once it was free.
        sqlx::query(TAKE_OVER)
            .bind(actor)
            .bind(key)
            .bind(deadlines.expired)
            .bind(deadlines.abandoned)
            .execute(&mut *tx)
            .await?;
        let claimed = sqlx::query(INSERT_CLAIM)
            .bind(actor)
            .bind(key)
            .bind(request_hash)
            .bind(deadlines.now)
            .bind(claim)
            .execute(&mut *tx)
            .await?;
        let claimed = S::Db::rows_affected(&claimed) == 1;
        if claimed {
            tx.commit().await?;
            return Ok(Claim::Claimed);
        }
        let record: KeyRecord = sqlx::query_as(RECORD_OF_KEY)
            .bind(actor)
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
        let claim = match record.read(request_hash) {
            Found::Answer(claim) => claim,
            Found::CommittedClaim(first) => {
                let event: Option<EventRow> = sqlx::query_as(EVENT_OF_CLAIM)
                    .bind(first)
                    .fetch_optional(&mut *tx)
                    .await?;
                match event {
                    Some(event) => Claim::Committed(Box::new(event.try_into()?)),
                    None => Claim::Running,
                }
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    async fn complete_idempotency_key(
        &self,
        actor: &str,
        key: &str,
        claim: Uuid,
        answer: &StoredAnswer,
    ) -> StoreResult<()> {
        sqlx::query(KEEP_ANSWER)
            .bind(actor)
            .bind(key)
            .bind(i32::from(answer.status))
            .bind(Json(&answer.headers))
            .bind(&answer.body)
            .bind(claim)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn release_idempotency_key(
        &self,
        actor: &str,
        key: &str,
        claim: Uuid,
    ) -> StoreResult<()> {
        sqlx::query(RELEASE_CLAIM)
            .bind(actor)
            .bind(key)
            .bind(claim)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn forget_idempotency_keys(&self, created_before: Timestamp) -> StoreResult<u64> {
        let forgotten = sqlx::query(FORGET_KEYS)
            .bind(created_before)
            .execute(self.writer())
            .await?;
        Ok(S::Db::rows_affected(&forgotten))
    }
}
