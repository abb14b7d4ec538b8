//! Client credentials on Postgres: a change locks the client's row; a listing matches the
//! caller's tenants with `= ANY`.

use async_trait::async_trait;
use sqlx::Postgres;

use super::{PostgresStore, finish, locked_client};
use crate::domain::client::{ClientId, CredentialChange};
use crate::domain::credential::Credential;
use crate::domain::page::Page;
use crate::domain::token::TenantScope;
use crate::store::credentials::{
    CREDENTIALS_OF_CLIENT, ClientCredential, CredentialQuery, DELETE_CREDENTIAL, INSERT_CREDENTIAL,
    LIST_CREDENTIALS_AFTER, ListedRow, REPLACE_CREDENTIAL, key_taken, listed_page, rehearse_change,
};
use crate::store::dialect::Dialect;
use crate::store::rows::{self, CredentialRow};
use crate::store::{CredentialDecision, CredentialStore, StoreResult, WriteMode};

/// A client's credentials, through the pool or inside a transaction.
pub(super) async fn credentials_of<'e, E>(
    executor: E,
    client: &ClientId,
) -> StoreResult<Vec<Credential>>
where
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    let rows: Vec<CredentialRow> = sqlx::query_as(CREDENTIALS_OF_CLIENT)
        .bind(client.as_str())
        .fetch_all(executor)
        .await?;
    rows::credentials(rows)
}

/// Writes the change decided for the client's credentials.
async fn write_change(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    client: &ClientId,
    change: &CredentialChange,
) -> StoreResult<()> {
    match change {
        CredentialChange::Add(c) => {
            sqlx::query(INSERT_CREDENTIAL)
                .bind(&c.id)
                .bind(client.as_str())
                .bind(&c.name)
                .bind(c.credential_type.as_str())
                .bind(&c.kid)
                .bind(c.alg.map(|alg| format!("{alg:?}")))
                .bind(&c.subject_dn)
                .bind(&c.thumbprint_sha256)
                .bind(&c.key_fingerprint)
                .bind(&c.pem)
                .bind(c.certificate_expires_at)
                .bind(c.created_at)
                .bind(c.updated_at)
                .bind(c.expires_at)
                .execute(&mut **tx)
                .await
                .map_err(key_taken)?;
        }
        CredentialChange::Replace(c) => {
            sqlx::query(REPLACE_CREDENTIAL)
                .bind(&c.id)
                .bind(client.as_str())
                .bind(c.expires_at)
                .bind(c.updated_at)
                .execute(&mut **tx)
                .await?;
        }
        CredentialChange::Remove(c) => {
            sqlx::query(DELETE_CREDENTIAL)
                .bind(&c.id)
                .bind(client.as_str())
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

#[async_trait]
impl CredentialStore for PostgresStore {
    async fn credentials(&self, client: &ClientId) -> StoreResult<Vec<Credential>> {
        credentials_of(&self.pool, client).await
    }

    async fn list_credentials(
        &self,
        query: &CredentialQuery<'_>,
    ) -> StoreResult<Page<ClientCredential>> {
        let mut select = sqlx::QueryBuilder::<sqlx::Postgres>::new(LIST_CREDENTIALS_AFTER);
        select.push_bind(query.after.unwrap_or("").to_owned());
        if let TenantScope::Only(ids) = query.tenants {
            select.push(" AND c.");
            Postgres::push_tenant_in(&mut select, ids);
        }
        if let Some(before) = query.expires_before {
            select.push(" AND k.expires_at < ").push_bind(before);
        }
        if let Some(client) = query.client {
            select
                .push(" AND k.client_id = ")
                .push_bind(client.as_str().to_owned());
        }
        if let Some(kind) = query.credential_type {
            select
                .push(" AND k.credential_type = ")
                .push_bind(kind.as_str());
        }
        select
            .push(" ORDER BY k.id LIMIT ")
            .push_bind(i64::from(query.limit.get()) + 1);
        let rows: Vec<ListedRow> = select.build_query_as().fetch_all(&self.pool).await?;
        listed_page(rows, query.limit)
    }

    async fn change_credentials(
        &self,
        client: &ClientId,
        decide: &CredentialDecision<'_>,
        mode: WriteMode,
    ) -> StoreResult<CredentialChange> {
        if mode == WriteMode::DryRun {
            return rehearse_change(self, client, decide).await;
        }
        let mut tx = self.begin_write().await?;
        let current = locked_client(&mut tx, client).await?;
        let existing = credentials_of(&mut *tx, client).await?;
        // The domain decides here, under the lock, on the credentials as they are.
        let (change, event) = decide(&current, &existing)?;
        write_change(&mut tx, client, &change).await?;
        finish(tx, &event).await?;
        Ok(change)
    }
}
