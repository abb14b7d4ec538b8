//! Idempotency-Key records on SQLite. A claim's writer holds the database's lock, so no
//! change is under way while it reads the record.

use async_trait::async_trait;
use sqlx::types::Json;
use uuid::Uuid;

use super::SqliteStore;
use crate::domain::time::Timestamp;
use crate::store::idempotency::{
    EVENT_OF_CLAIM, FORGET_KEYS, Found, INSERT_CLAIM, KEEP_ANSWER, KeyRecord, RECORD_OF_KEY,
    RELEASE_CLAIM, TAKE_OVER,
};
use crate::store::rows::EventRow;
use crate::store::{Claim, ClaimDeadlines, IdempotencyStore, StoreResult, StoredAnswer};

#[async_trait]
impl IdempotencyStore for SqliteStore {
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
        // still under way holds the database's lock: this waited for it, and sees it
        // committed.
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
            .await?
            .rows_affected()
            == 1;
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
        Ok(forgotten.rows_affected())
    }
}
