//! Admin API tokens: the trait, and the SQL text and row handling both adapters share. Each
//! adapter's `tokens` module says how a token's tenants are gathered into one column
//! (`string_agg` or `group_concat`) and how a list of them is inserted.

use async_trait::async_trait;
use uuid::Uuid;

use super::rows::TokenRow;
use super::{Audit, StoreError, StoreResult};
use crate::domain::audit::Event;
use crate::domain::page::{Limit, Page};
use crate::domain::secret::SecretHash;
use crate::domain::token::ApiToken;

/// A stored token with the hash its presented text must match.
pub struct StoredToken {
    pub token: ApiToken,
    pub hash: SecretHash,
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Conflict when one of its tenants disappeared meanwhile.
    async fn create_token(
        &self,
        token: &ApiToken,
        hash: &SecretHash,
        event: &Event,
    ) -> StoreResult<()>;
    /// Creates `token` only if this installation never issued a first token and has none:
    /// true when it did. Replicas racing at start issue one between them.
    async fn create_first_token(
        &self,
        token: &ApiToken,
        hash: &SecretHash,
        event: &Event,
    ) -> StoreResult<bool>;
    async fn token(&self, id: Uuid) -> StoreResult<Option<StoredToken>>;
    async fn list_tokens(&self, after: Option<Uuid>, limit: Limit) -> StoreResult<Page<ApiToken>>;
    async fn delete_token(&self, id: Uuid, audit: &Audit<'_, ApiToken>) -> StoreResult<()>;
}

pub(super) const INSERT_TOKEN: &str =
    "INSERT INTO api_tokens (id, name, token_hash, permissions, expires_at, created)
     VALUES ($1, $2, $3, $4, $5, $6)";
/// Marks the first token issued, once per installation: a second marking inserts nothing.
pub(super) const MARK_FIRST_TOKEN: &str =
    "INSERT INTO installation_events (name, happened) VALUES ('first_admin_token', $1)
     ON CONFLICT DO NOTHING";
pub(super) const ANY_TOKEN: &str = "SELECT EXISTS (SELECT 1 FROM api_tokens)";
pub(super) const DELETE_TOKEN: &str = "DELETE FROM api_tokens WHERE id = $1";

/// What inserting a token's tenants is told when one of them is gone.
pub(super) fn tenant_gone(error: sqlx::Error) -> StoreError {
    StoreError::on_foreign_key(
        error,
        StoreError::Conflict("one of the token's tenants was just deleted"),
    )
}

/// A page of tokens from one row more than `limit`, which says whether another page follows.
pub(super) fn token_page(rows: Vec<TokenRow>, limit: Limit) -> StoreResult<Page<ApiToken>> {
    let tokens = (rows.into_iter())
        .map(|row| StoredToken::try_from(row).map(|stored| stored.token))
        .collect::<StoreResult<_>>()?;
    Ok(Page::from_rows(tokens, limit, |t: &ApiToken| {
        t.id.to_string()
    }))
}
