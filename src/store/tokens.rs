//! Admin API tokens: the trait, implemented once for both adapters; each database's
//! `Dialect` says how a token's tenants are gathered into one column (`string_agg` or
//! `group_concat`) and how a list of them is inserted.

use async_trait::async_trait;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Transaction, Type};
use uuid::Uuid;

use super::adapter::Adapter;
use super::dialect::Dialect;
use super::events::finish;
use super::rows::{TokenRow, permissions_text};
use super::{Audit, StoreError, StoreResult};
use crate::domain::Missing;
use crate::domain::audit::Event;
use crate::domain::page::{Limit, Page};
use crate::domain::secret::SecretHash;
use crate::domain::time::Timestamp;
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

const INSERT_TOKEN: &str =
    "INSERT INTO api_tokens (id, name, token_hash, permissions, expires_at, created)
     VALUES ($1, $2, $3, $4, $5, $6)";
/// Marks the first token issued, once per installation: a second marking inserts nothing.
const MARK_FIRST_TOKEN: &str =
    "INSERT INTO installation_events (name, happened) VALUES ('first_admin_token', $1)
     ON CONFLICT DO NOTHING";
const ANY_TOKEN: &str = "SELECT EXISTS (SELECT 1 FROM api_tokens)";
const DELETE_TOKEN: &str = "DELETE FROM api_tokens WHERE id = $1";

/// What inserting a token's tenants is told when one of them is gone.
fn tenant_gone(error: sqlx::Error) -> StoreError {
    StoreError::on_foreign_key(
        error,
        StoreError::Conflict("one of the token's tenants was just deleted"),
    )
}

/// A page of tokens from one row more than `limit`, which says whether another page follows.
fn token_page(rows: Vec<TokenRow>, limit: Limit) -> StoreResult<Page<ApiToken>> {
    let tokens = (rows.into_iter())
        .map(|row| StoredToken::try_from(row).map(|stored| stored.token))
        .collect::<StoreResult<_>>()?;
    Ok(Page::from_rows(tokens, limit, |t: &ApiToken| {
        t.id.to_string()
    }))
}

/// Inserts the token and its tenants in `tx`.
async fn insert_token<DB>(
    tx: &mut Transaction<'static, DB>,
    token: &ApiToken,
    hash: &SecretHash,
) -> StoreResult<()>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> Uuid: Encode<'t, DB> + Type<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> &'t [u8]: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
    for<'t> Option<Timestamp>: Encode<'t, DB> + Type<DB>,
    for<'t> DB::TenantList: Encode<'t, DB> + Type<DB>,
{
    sqlx::query(INSERT_TOKEN)
        .bind(token.id)
        .bind(&token.name)
        .bind(hash.as_bytes())
        .bind(permissions_text(token))
        .bind(token.expires_at)
        .bind(token.created)
        .execute(&mut **tx)
        .await?;
    sqlx::query(DB::INSERT_TOKEN_TENANTS)
        .bind(token.id)
        .bind(DB::tenant_list(token.grants.tenants()))
        .execute(&mut **tx)
        .await
        .map_err(tenant_gone)?;
    Ok(())
}

#[async_trait]
impl<S> TokenStore for S
where
    S: Adapter,
    for<'c> &'c mut <S::Db as Database>::Connection: Executor<'c, Database = S::Db>,
    <S::Db as Database>::Arguments: IntoArguments<S::Db>,
    for<'t> Uuid: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> String: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> &'t [u8]: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Timestamp: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Option<Timestamp>: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> i64: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> <S::Db as Dialect>::TenantList: Encode<'t, S::Db> + Type<S::Db>,
    for<'r> TokenRow: FromRow<'r, <S::Db as Database>::Row> + Send + Unpin,
    for<'r> (bool,): FromRow<'r, <S::Db as Database>::Row> + Send + Unpin,
{
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
        let marked = sqlx::query(MARK_FIRST_TOKEN)
            .bind(token.created)
            .execute(&mut *tx)
            .await?;
        let first = S::Db::rows_affected(&marked) == 1;
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
        let row: Option<TokenRow> = sqlx::query_as(S::Db::TOKEN_BY_ID)
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        row.map(StoredToken::try_from).transpose()
    }

    async fn list_tokens(&self, after: Option<Uuid>, limit: Limit) -> StoreResult<Page<ApiToken>> {
        let rows: Vec<TokenRow> = sqlx::query_as(S::Db::TOKENS_PAGE)
            .bind(after.unwrap_or(Uuid::nil()))
            .bind(i64::from(limit.get()) + 1)
            .fetch_all(self.reader())
            .await?;
        token_page(rows, limit)
    }

    async fn delete_token(&self, id: Uuid, audit: &Audit<'_, ApiToken>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let row: Option<TokenRow> = sqlx::query_as(S::Db::TOKEN_BY_ID)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let row = row.ok_or(StoreError::NotFound(Missing::Token))?;
        let token = StoredToken::try_from(row)?.token;
        // Two revokes at once both read the token; only the one whose delete removes it
        // records the revocation.
        let deleted = sqlx::query(DELETE_TOKEN).bind(id).execute(&mut *tx).await?;
        if S::Db::rows_affected(&deleted) == 0 {
            return Err(StoreError::NotFound(Missing::Token));
        }
        finish(tx, &audit(&token)).await
    }
}
