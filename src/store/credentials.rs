//! Client credentials. `credential_store!` writes the implementation once for both adapters.

use async_trait::async_trait;

use super::{Commit, StoreResult};
use crate::domain::audit::Event;
use crate::domain::client::{Client, ClientId, CredentialChange};
use crate::domain::credential::{Credential, CredentialType};
use crate::domain::page::{Limit, Page};
use crate::domain::refusal::Refusal;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::token::TenantScope;

/// The domain's decision on a client's credentials, made under the client's lock, with its
/// event.
pub type CredentialDecision<'a> =
    dyn Fn(&Client, &[Credential]) -> Result<(CredentialChange, Event), Refusal> + Send + Sync + 'a;

/// A credential with the client and tenant it belongs to, as a listing across clients shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClientCredential {
    #[serde(flatten)]
    pub credential: Credential,
    pub client_id: ClientId,
    pub tenant: TenantId,
}

/// Which credentials a listing across clients returns, by credential id.
#[derive(Debug, Clone, Copy)]
pub struct CredentialQuery<'a> {
    pub tenants: TenantScope<'a>,
    pub expires_before: Option<Timestamp>,
    pub client: Option<&'a ClientId>,
    pub credential_type: Option<CredentialType>,
    pub after: Option<&'a str>,
    pub limit: Limit,
}

#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// A client's credentials, oldest first.
    async fn credentials(&self, client: &ClientId) -> StoreResult<Vec<Credential>>;
    /// Credentials of every client the query reaches, by id.
    async fn list_credentials(
        &self,
        query: &CredentialQuery<'_>,
    ) -> StoreResult<Page<ClientCredential>>;
    /// Locks the client, lets `decide` say how its credentials change, and applies that.
    async fn change_credentials(
        &self,
        client: &ClientId,
        decide: &CredentialDecision<'_>,
        commit: Commit,
    ) -> StoreResult<CredentialChange>;
}

pub(super) const CREDENTIALS_OF_CLIENT: &str =
    "SELECT id, name, credential_type, kid, alg, subject_dn,
        thumbprint_sha256, key_fingerprint, pem, certificate_expires_at, created_at, updated_at,
        expires_at
     FROM client_credentials WHERE client_id = $1 ORDER BY created_at, id";

macro_rules! credential_store {
    ($store:ident, $db:ty) => {
        mod credential_store {
            use async_trait::async_trait;

            use super::$store;
            use super::client_store::{finish, locked_client};
            use crate::store::Commit;
            use crate::domain::client::{ClientId, CredentialChange};
            use crate::domain::credential::Credential;
            use crate::domain::page::Page;
            use crate::domain::tenant::TenantId;
            use crate::domain::token::TenantScope;
            use crate::store::credentials::{CREDENTIALS_OF_CLIENT, ClientCredential, CredentialQuery};
            use crate::store::rows::{self, CredentialRow};
            use crate::store::{CredentialDecision, CredentialStore, StoreError, StoreResult};

            /// A client's credentials, through the pool or inside a transaction.
            pub(super) async fn credentials_of<'e, E>(executor: E, client: &ClientId) -> StoreResult<Vec<Credential>>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                let rows: Vec<CredentialRow> = sqlx::query_as(CREDENTIALS_OF_CLIENT)
                    .bind(client.as_str())
                    .fetch_all(executor)
                    .await?;
                rows::credentials(rows)
            }

            #[derive(sqlx::FromRow)]
            struct ListedRow {
                #[sqlx(flatten)]
                credential: CredentialRow,
                client_id: String,
                tenant_id: String,
            }

            #[async_trait]
            impl CredentialStore for $store {
                async fn credentials(&self, client: &ClientId) -> StoreResult<Vec<Credential>> {
                    credentials_of(&self.pool, client).await
                }

                async fn list_credentials(
                    &self,
                    query: &CredentialQuery<'_>,
                ) -> StoreResult<Page<ClientCredential>> {
                    let mut select = sqlx::QueryBuilder::<$db>::new(
                        "SELECT k.id, k.name, k.credential_type, k.kid, k.alg, k.subject_dn,
                            k.thumbprint_sha256, k.key_fingerprint, k.pem, k.certificate_expires_at,
                            k.created_at, k.updated_at, k.expires_at, c.id AS client_id, c.tenant_id
                         FROM client_credentials k JOIN clients c ON c.id = k.client_id WHERE k.id > ",
                    );
                    select.push_bind(query.after.unwrap_or("").to_owned());
                    if let TenantScope::Only(ids) = query.tenants {
                        select.push(" AND c.");
                        super::push_tenant_in(&mut select, ids);
                    }
                    if let Some(before) = query.expires_before {
                        select.push(" AND k.expires_at < ").push_bind(before);
                    }
                    if let Some(client) = query.client {
                        select.push(" AND k.client_id = ").push_bind(client.as_str().to_owned());
                    }
                    if let Some(kind) = query.credential_type {
                        select.push(" AND k.credential_type = ").push_bind(kind.as_str());
                    }
                    select.push(" ORDER BY k.id LIMIT ").push_bind(i64::from(query.limit.get()) + 1);
                    let rows: Vec<ListedRow> = select.build_query_as().fetch_all(&self.pool).await?;
                    let mut listed = Vec::with_capacity(rows.len());
                    for row in rows {
                        let credential = rows::credentials(vec![row.credential])?.remove(0);
                        listed.push(ClientCredential {
                            credential,
                            client_id: ClientId::parse(&row.client_id).map_err(StoreError::Corrupt)?,
                            tenant: TenantId::parse(&row.tenant_id).map_err(StoreError::Corrupt)?,
                        });
                    }
                    Ok(Page::from_rows(listed, query.limit, |c: &ClientCredential| c.credential.id.clone()))
                }

                async fn change_credentials(
                    &self,
                    client: &ClientId,
                    decide: &CredentialDecision<'_>,
                    commit: Commit,
                ) -> StoreResult<CredentialChange> {
                    if commit == Commit::DryRun {
                        // Decided on the client as it is now, read without a lock: a
                        // rehearsal never takes the write lock or queues behind writers.
                        let current = crate::store::ClientStore::client(self, client).await?
                            .ok_or(StoreError::NotFound(crate::domain::Missing::Client))?;
                        let existing = credentials_of(&self.pool, client).await?;
                        return Ok(decide(&current, &existing)?.0);
                    }
                    let mut tx = self.begin_write().await?;
                    let current = locked_client(&mut tx, client).await?;
                    let existing = credentials_of(&mut *tx, client).await?;
                    let (change, event) = decide(&current, &existing)?;
                    match &change {
                        CredentialChange::Add(c) => {
                            sqlx::query(
                                "INSERT INTO client_credentials (id, client_id, name, credential_type, kid, alg,
                                    subject_dn, thumbprint_sha256, key_fingerprint, pem, certificate_expires_at,
                                    created_at, updated_at, expires_at)
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                            )
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
                            .execute(&mut *tx)
                            .await
                            .map_err(|e| StoreError::on_unique(e, "this client already has this key"))?;
                        }
                        CredentialChange::Replace(c) => {
                            sqlx::query(
                                "UPDATE client_credentials SET expires_at = $3, updated_at = $4
                                 WHERE id = $1 AND client_id = $2",
                            )
                            .bind(&c.id)
                            .bind(client.as_str())
                            .bind(c.expires_at)
                            .bind(c.updated_at)
                            .execute(&mut *tx)
                            .await?;
                        }
                        CredentialChange::Remove(c) => {
                            sqlx::query("DELETE FROM client_credentials WHERE id = $1 AND client_id = $2")
                                .bind(&c.id)
                                .bind(client.as_str())
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    finish(tx, &event).await?;
                    Ok(change)
                }
            }
        }
    };
}
pub(super) use credential_store;
