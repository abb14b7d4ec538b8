//! Idempotency-Key records: the first answer to a creating or rotating POST, per caller and
//! key. `idempotency_store!` writes them once for both adapters.
//!
//! A claim has an id, which the event of the change it guards carries (`ChangeContext`).
//! Writing that event marks the claim committed, in the change's own transaction (migration
//! 0007's trigger): a claim is given up (released after a failure, or taken over once
//! abandoned) only while it is not committed, and a retry that finds it committed but with
//! no kept answer (the process stopped in between) is answered from the event.

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreResult;
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
pub struct Horizon {
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
        horizon: Horizon,
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

macro_rules! idempotency_store {
    ($store:ident) => {
        mod idempotency_store {
            use async_trait::async_trait;
            use sqlx::types::Json;

            use super::$store;
            use crate::domain::time::Timestamp;
            use crate::store::idempotency::{Claim, Horizon, IdempotencyStore, StoredAnswer};
            use crate::store::StoreResult;

            use crate::store::rows::EventRow;
            use uuid::Uuid;

            type Record = (Vec<u8>, Option<i32>, Option<Json<Vec<(String, String)>>>, Option<Vec<u8>>, Option<Uuid>, Option<bool>);

            const EVENT_OF_CLAIM: &str =
                concat!(crate::store::events::event_select!(), "claim = $1 ORDER BY seq LIMIT 1");

            #[async_trait]
            impl IdempotencyStore for $store {
                async fn claim_idempotency_key(
                    &self,
                    actor: &str,
                    key: &str,
                    request_hash: &[u8],
                    claim: Uuid,
                    horizon: Horizon,
                ) -> StoreResult<Claim> {
                    let mut tx = self.begin_write().await?;
                    // An abandoned claim is taken over only if its change never committed. A
                    // change still under way holds the row's lock: this waits for it, then
                    // sees it committed (on Postgres the condition is checked again on the
                    // row as the change left it).
                    sqlx::query(
                        "DELETE FROM idempotency_keys WHERE actor = $1 AND key = $2
                         AND (created < $3 OR (status IS NULL AND committed IS NULL AND created < $4))",
                    )
                        .bind(actor)
                        .bind(key)
                        .bind(horizon.expired)
                        .bind(horizon.abandoned)
                        .execute(&mut *tx)
                        .await?;
                    let claimed = sqlx::query(
                        "INSERT INTO idempotency_keys (actor, key, request_hash, created, claim)
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    )
                    .bind(actor)
                    .bind(key)
                    .bind(request_hash)
                    .bind(horizon.now)
                    .bind(claim)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1;
                    let claim = if claimed {
                        Claim::Claimed
                    } else {
                        let (hash, status, headers, body, first, committed): Record = sqlx::query_as(
                            "SELECT request_hash, status, headers, body, claim, committed
                             FROM idempotency_keys WHERE actor = $1 AND key = $2",
                        )
                        .bind(actor)
                        .bind(key)
                        .fetch_one(&mut *tx)
                        .await?;
                        match (status, first) {
                            _ if hash != request_hash => Claim::Mismatch,
                            (Some(status), _) => Claim::Replay(StoredAnswer {
                                status: u16::try_from(status).unwrap_or(200),
                                headers: headers.map(|h| h.0).unwrap_or_default(),
                                body: body.unwrap_or_default(),
                            }),
                            (None, Some(first)) if committed == Some(true) => {
                                let event: Option<EventRow> = sqlx::query_as(EVENT_OF_CLAIM)
                                    .bind(first)
                                    .fetch_optional(&mut *tx)
                                    .await?;
                                match event {
                                    Some(event) => Claim::Committed(Box::new(event.try_into()?)),
                                    None => Claim::Running,
                                }
                            }
                            (None, _) => Claim::Running,
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
                    sqlx::query(
                        "UPDATE idempotency_keys SET status = $3, headers = $4, body = $5
                         WHERE actor = $1 AND key = $2 AND claim = $6 AND status IS NULL",
                    )
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
                    sqlx::query(
                        "DELETE FROM idempotency_keys
                         WHERE actor = $1 AND key = $2 AND claim = $3 AND status IS NULL AND committed IS NULL",
                    )
                        .bind(actor)
                        .bind(key)
                        .bind(claim)
                        .execute(self.writer())
                        .await?;
                    Ok(())
                }

                async fn forget_idempotency_keys(&self, created_before: Timestamp) -> StoreResult<u64> {
                    let forgotten = sqlx::query("DELETE FROM idempotency_keys WHERE created < $1")
                        .bind(created_before)
                        .execute(self.writer())
                        .await?;
                    Ok(forgotten.rows_affected())
                }
            }
        }
    };
}
pub(super) use idempotency_store;
