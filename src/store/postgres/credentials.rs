//! Client credentials on Postgres: a change locks the client's row.

use async_trait::async_trait;

use super::{PostgresStore, finish, locked_client};
use crate::domain::client::{ClientId, CredentialChange};
use crate::domain::credential::Credential;
use crate::domain::page::Page;
use crate::store::credentials::{
    self, ClientCredential, CredentialQuery, DELETE_CREDENTIAL, INSERT_CREDENTIAL,
    REPLACE_CREDENTIAL, credentials_of, key_taken, rehearse_change,
};
use crate::store::{CredentialDecision, CredentialStore, StoreResult, WriteMode};

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
        credentials::list_credentials(&self.pool, query).await
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
