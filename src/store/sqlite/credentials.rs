//! Client credentials on SQLite: a change holds the writer's database lock.

use async_trait::async_trait;

use super::{SqliteStore, locked_client};
use crate::domain::client::{ClientId, CredentialChange};
use crate::domain::credential::Credential;
use crate::domain::page::Page;
use crate::store::credentials::{
    self, ClientCredential, CredentialQuery, credentials_of, rehearse_change,
};
use crate::store::{CredentialDecision, CredentialStore, StoreResult, WriteMode};

#[async_trait]
impl CredentialStore for SqliteStore {
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
        credentials::decide_and_write(tx, &current, decide).await
    }
}
