//! Idempotency-Key records: the first answer to a creating or rotating POST, per caller and
//! key. The trait, and the SQL text and record reading both adapters share: each adapter's
//! `idempotency` module runs them in its own transactions.
//!
//! A claim has an id, which the event of the change it guards carries (`ChangeContext`).
//! Writing that event marks the claim committed, in the change's own transaction (migration
//! 0007's trigger): a claim is given up (released after a failure, or taken over once
//! abandoned) only while it is not committed, and a retry that finds it committed but with
//! no kept answer (the process stopped in between) is answered from the event.

use async_trait::async_trait;
use sqlx::types::Json;
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
pub(super) const TAKE_OVER: &str = "DELETE FROM idempotency_keys WHERE actor = $1 AND key = $2
     AND (created < $3 OR (status IS NULL AND committed IS NULL AND created < $4))";
pub(super) const INSERT_CLAIM: &str =
    "INSERT INTO idempotency_keys (actor, key, request_hash, created, claim)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";
pub(super) const RECORD_OF_KEY: &str =
    "SELECT request_hash, status, headers, body, claim, committed
     FROM idempotency_keys WHERE actor = $1 AND key = $2";
/// The columns `EventRow` takes, of the first event the claim's change wrote.
pub(super) const EVENT_OF_CLAIM: &str =
    "SELECT seq, id, time, tenant_id, client_id, actor_kind, actor_token_id, actor_token_name,
        source_ip, request_id, action, resource_id, resource_path, patch, changed, document
     FROM events WHERE claim = $1 ORDER BY seq LIMIT 1";
pub(super) const KEEP_ANSWER: &str =
    "UPDATE idempotency_keys SET status = $3, headers = $4, body = $5
     WHERE actor = $1 AND key = $2 AND claim = $6 AND status IS NULL";
pub(super) const RELEASE_CLAIM: &str = "DELETE FROM idempotency_keys
     WHERE actor = $1 AND key = $2 AND claim = $3 AND status IS NULL AND committed IS NULL";
pub(super) const FORGET_KEYS: &str = "DELETE FROM idempotency_keys WHERE created < $1";

/// The record a claim found in place of its own.
#[derive(sqlx::FromRow)]
pub(super) struct KeyRecord {
    request_hash: Vec<u8>,
    status: Option<i32>,
    headers: Option<Json<Vec<(String, String)>>>,
    body: Option<Vec<u8>>,
    claim: Option<Uuid>,
    committed: Option<bool>,
}

/// What a record found in place says to a request with `request_hash`.
pub(super) enum Found {
    Answer(Claim),
    /// The first claim's change committed without its answer kept: its event, if it can
    /// be read, is the answer.
    CommittedClaim(Uuid),
}

impl KeyRecord {
    pub(super) fn read(self, request_hash: &[u8]) -> Found {
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
