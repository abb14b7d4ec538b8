//! Admin API tokens on Postgres: a token's tenants are gathered with `string_agg` and
//! inserted from an array with `unnest`.

use async_trait::async_trait;
use sqlx::Postgres;
use uuid::Uuid;

use super::{PostgresStore, finish};
use crate::domain::Missing;
use crate::domain::audit::Event;
use crate::domain::page::{Limit, Page};
use crate::domain::secret::SecretHash;
use crate::domain::token::ApiToken;
use crate::store::dialect::Dialect;
use crate::store::rows::{TokenRow, permissions_text};
use crate::store::tokens::{
    ANY_TOKEN, DELETE_TOKEN, INSERT_TOKEN, MARK_FIRST_TOKEN, tenant_gone, token_page,
};
use crate::store::{Audit, StoreError, StoreResult, StoredToken, TokenStore};

/// A token with its tenants gathered into one space-separated column, in one round trip.
const TOKEN_BY_ID: &str =
    "SELECT t.id, t.name, t.token_hash, t.permissions, t.expires_at, t.created,
        (SELECT coalesce(string_agg(tenant_id, ' '), '')
         FROM api_token_tenants WHERE token_id = t.id) AS tenants
     FROM api_tokens t WHERE t.id = $1";
const TOKENS_PAGE: &str =
    "SELECT t.id, t.name, t.token_hash, t.permissions, t.expires_at, t.created,
        (SELECT coalesce(string_agg(tenant_id, ' '), '')
         FROM api_token_tenants WHERE token_id = t.id) AS tenants
     FROM api_tokens t WHERE t.id > $1 ORDER BY t.id LIMIT $2";
const INSERT_TOKEN_TENANTS: &str =
    "INSERT INTO api_token_tenants (token_id, tenant_id) SELECT $1, unnest($2::text[])";

async fn insert_token(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    token: &ApiToken,
    hash: &SecretHash,
) -> StoreResult<()> {
    sqlx::query(INSERT_TOKEN)
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
        .bind(Postgres::tenant_list(token.grants.tenants()))
        .execute(&mut **tx)
        .await
        .map_err(tenant_gone)?;
    Ok(())
}

#[async_trait]
impl TokenStore for PostgresStore {
    async fn create_token(
        &self,
        token: &ApiToken,
        hash: &SecretHash,
        event: &Event,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_token(&mut tx, token, hash).await?;
        finish(tx, event).await
    }

    async fn create_first_token(
        &self,
        token: &ApiToken,
        hash: &SecretHash,
        event: &Event,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let first = sqlx::query(MARK_FIRST_TOKEN)
            .bind(token.created)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        let (has_tokens,): (bool,) = sqlx::query_as(ANY_TOKEN).fetch_one(&mut *tx).await?;
        let issue = first && !has_tokens;
        if !issue {
            tx.commit().await?;
            return Ok(false);
        }
        insert_token(&mut tx, token, hash).await?;
        finish(tx, event).await?;
        Ok(true)
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
        token_page(rows, limit)
    }

    async fn delete_token(&self, id: Uuid, audit: &Audit<'_, ApiToken>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let row: Option<TokenRow> = sqlx::query_as(TOKEN_BY_ID)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let row = row.ok_or(StoreError::NotFound(Missing::Token))?;
        let token = StoredToken::try_from(row)?.token;
        // Two revokes at once both read the token; only the one whose delete removes it
        // records the revocation.
        let deleted = sqlx::query(DELETE_TOKEN).bind(id).execute(&mut *tx).await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound(Missing::Token));
        }
        let event = audit(&token);
        finish(tx, &event).await
    }
}
