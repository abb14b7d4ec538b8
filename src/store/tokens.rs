//! Admin API tokens. `token_store!` writes the implementation once for both adapters; each
//! brings its `token_queries!` (how a token's tenants are gathered into one column:
//! `string_agg` or `group_concat`), `INSERT_TOKEN_TENANTS` and `tenant_list`.

use async_trait::async_trait;
use uuid::Uuid;

use super::{Audit, StoreResult};
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

/// The token queries, with a token's tenants gathered into one space-separated column by
/// the dialect's `$aggregate` (`string_agg` or `group_concat`), in one round trip.
macro_rules! token_queries {
    ($aggregate:literal) => {
        const TOKEN_BY_ID: &str = concat!(
            "SELECT t.id, t.name, t.token_hash, t.permissions, t.expires_at, t.created,
                    (SELECT coalesce(",
            $aggregate,
            "(tenant_id, ' '), '')
                     FROM api_token_tenants WHERE token_id = t.id) AS tenants
             FROM api_tokens t WHERE t.id = $1"
        );
        const TOKENS_PAGE: &str = concat!(
            "SELECT t.id, t.name, t.token_hash, t.permissions, t.expires_at, t.created,
                    (SELECT coalesce(",
            $aggregate,
            "(tenant_id, ' '), '')
                     FROM api_token_tenants WHERE token_id = t.id) AS tenants
             FROM api_tokens t WHERE t.id > $1 ORDER BY t.id LIMIT $2"
        );
    };
}
pub(super) use token_queries;

macro_rules! token_store {
    ($store:ident, $db:ty) => {
        mod token_store {
            use async_trait::async_trait;
            use uuid::Uuid;

            use super::event_store::record;
            use super::{$store, INSERT_TOKEN_TENANTS, TOKEN_BY_ID, TOKENS_PAGE, tenant_list};
            use crate::domain::Missing;
            use crate::domain::audit::Event;
            use crate::domain::page::{Limit, Page};
            use crate::domain::secret::SecretHash;
            use crate::domain::token::ApiToken;
            use crate::store::rows::{TokenRow, permissions_text};
            use crate::store::{Audit, StoreError, StoreResult, StoredToken, TokenStore};

            async fn insert_token(
                tx: &mut sqlx::Transaction<'static, $db>,
                token: &ApiToken,
                hash: &SecretHash,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO api_tokens (id, name, token_hash, permissions, expires_at, created)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(token.id)
                .bind(&token.name)
                .bind(hash.as_bytes())
                .bind(permissions_text(token))
                .bind(token.expires_at)
                .bind(token.created)
                .execute(&mut **tx)
                .await?;
                sqlx::query(INSERT_TOKEN_TENANTS)
                    .bind(token.id)
                    .bind(tenant_list(token.grants.tenants()))
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| {
                        StoreError::on_foreign_key(e, StoreError::Conflict("one of the token's tenants was just deleted"))
                    })?;
                Ok(())
            }

            #[async_trait]
            impl TokenStore for $store {
                async fn create_token(
                    &self,
                    token: &ApiToken,
                    hash: &SecretHash,
                    event: &Event,
                ) -> StoreResult<()> {
                    let mut tx = self.begin_write().await?;
                    insert_token(&mut tx, token, hash).await?;
                    record(&mut tx, event).await?;
                    tx.commit().await?;
                    event.log();
                    Ok(())
                }

                async fn create_first_token(
                    &self,
                    token: &ApiToken,
                    hash: &SecretHash,
                    event: &Event,
                ) -> StoreResult<bool> {
                    let mut tx = self.begin_write().await?;
                    let first = sqlx::query(
                        "INSERT INTO installation_events (name, happened) VALUES ('first_admin_token', $1)
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(token.created)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1;
                    let (has_tokens,): (bool,) =
                        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM api_tokens)")
                            .fetch_one(&mut *tx)
                            .await?;
                    let issue = first && !has_tokens;
                    if issue {
                        insert_token(&mut tx, token, hash).await?;
                        record(&mut tx, event).await?;
                    }
                    tx.commit().await?;
                    if issue {
                        event.log();
                    }
                    Ok(issue)
                }

                async fn token(&self, id: Uuid) -> StoreResult<Option<StoredToken>> {
                    let row: Option<TokenRow> = sqlx::query_as(TOKEN_BY_ID)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.map(StoredToken::try_from).transpose()
                }

                async fn list_tokens(&self, after: Option<Uuid>, limit: Limit) -> StoreResult<Page<ApiToken>> {
                    let rows: Vec<TokenRow> = sqlx::query_as(TOKENS_PAGE)
                        .bind(after.unwrap_or(Uuid::nil()))
                        .bind(i64::from(limit.get()) + 1)
                        .fetch_all(&self.pool)
                        .await?;
                    let tokens = (rows.into_iter())
                        .map(|row| StoredToken::try_from(row).map(|stored| stored.token))
                        .collect::<StoreResult<_>>()?;
                    Ok(Page::from_rows(tokens, limit, |t: &ApiToken| t.id.to_string()))
                }

                async fn delete_token(&self, id: Uuid, audit: &Audit<'_, ApiToken>) -> StoreResult<()> {
                    let mut tx = self.begin_write().await?;
                    let row: Option<TokenRow> = sqlx::query_as(TOKEN_BY_ID)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let token = StoredToken::try_from(row.ok_or(StoreError::NotFound(Missing::Token))?)?.token;
                    // Two revokes at once both read the token; only the one whose delete
                    // removes it records the revocation.
                    let deleted = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    if deleted.rows_affected() == 0 {
                        return Err(StoreError::NotFound(Missing::Token));
                    }
                    let event = audit(&token);
                    record(&mut tx, &event).await?;
                    tx.commit().await?;
                    event.log();
                    Ok(())
                }
            }
        }
    };
}
pub(super) use token_store;
