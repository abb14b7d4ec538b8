//! Idempotency-Key records: the first answer to a creating or rotating POST, per caller and
//! key. `idempotency_store!` writes them once for both adapters.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::time::Timestamp;

/// An answer kept for replay: never a secret or token text (the caller strips them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new (or its record expired): this request goes ahead.
    Claimed,
    /// The first request with this key is still running.
    Running,
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
    async fn claim_idempotency_key(
        &self,
        actor: &str,
        key: &str,
        request_hash: &[u8],
        horizon: Horizon,
    ) -> StoreResult<Claim>;
    /// Keeps the answer of the claim made with `request_hash` (a claim taken over since by
    /// another request is left alone).
    async fn complete_idempotency_key(
        &self,
        actor: &str,
        key: &str,
        request_hash: &[u8],
        answer: &StoredAnswer,
    ) -> StoreResult<()>;
    /// Forgets a claim whose request failed, so that a retry may try again.
    async fn release_idempotency_key(
        &self,
        actor: &str,
        key: &str,
        request_hash: &[u8],
    ) -> StoreResult<()>;
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

            type Record = (Vec<u8>, Option<i32>, Option<Json<Vec<(String, String)>>>, Option<Vec<u8>>);

            #[async_trait]
            impl IdempotencyStore for $store {
                async fn claim_idempotency_key(
                    &self,
                    actor: &str,
                    key: &str,
                    request_hash: &[u8],
                    horizon: Horizon,
                ) -> StoreResult<Claim> {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(
                        "DELETE FROM idempotency_keys WHERE actor = $1 AND key = $2
                         AND (created < $3 OR (status IS NULL AND created < $4))",
                    )
                    .bind(actor)
                    .bind(key)
                    .bind(horizon.expired)
                    .bind(horizon.abandoned)
                    .execute(&mut *tx)
                    .await?;
                    let claimed = sqlx::query(
                        "INSERT INTO idempotency_keys (actor, key, request_hash, created)
                         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    )
                    .bind(actor)
                    .bind(key)
                    .bind(request_hash)
                    .bind(horizon.now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1;
                    let claim = if claimed {
                        Claim::Claimed
                    } else {
                        let (hash, status, headers, body): Record = sqlx::query_as(
                            "SELECT request_hash, status, headers, body FROM idempotency_keys
                             WHERE actor = $1 AND key = $2",
                        )
                        .bind(actor)
                        .bind(key)
                        .fetch_one(&mut *tx)
                        .await?;
                        match status {
                            _ if hash != request_hash => Claim::Mismatch,
                            None => Claim::Running,
                            Some(status) => Claim::Replay(StoredAnswer {
                                status: u16::try_from(status).unwrap_or(200),
                                headers: headers.map(|h| h.0).unwrap_or_default(),
                                body: body.unwrap_or_default(),
                            }),
                        }
                    };
                    tx.commit().await?;
                    Ok(claim)
                }

                async fn complete_idempotency_key(
                    &self,
                    actor: &str,
                    key: &str,
                    request_hash: &[u8],
                    answer: &StoredAnswer,
                ) -> StoreResult<()> {
                    sqlx::query(
                        "UPDATE idempotency_keys SET status = $3, headers = $4, body = $5
                         WHERE actor = $1 AND key = $2 AND request_hash = $6 AND status IS NULL",
                    )
                    .bind(actor)
                    .bind(key)
                    .bind(i32::from(answer.status))
                    .bind(Json(&answer.headers))
                    .bind(&answer.body)
                    .bind(request_hash)
                    .execute(self.writer())
                    .await?;
                    Ok(())
                }

                async fn release_idempotency_key(
                    &self,
                    actor: &str,
                    key: &str,
                    request_hash: &[u8],
                ) -> StoreResult<()> {
                    sqlx::query(
                        "DELETE FROM idempotency_keys
                         WHERE actor = $1 AND key = $2 AND request_hash = $3 AND status IS NULL",
                    )
                        .bind(actor)
                        .bind(key)
                        .bind(request_hash)
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
