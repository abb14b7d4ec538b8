//! Client credentials: the trait and its types, and one implementation for both adapters:
//! the reads (a listing matching the caller's tenants through its `Dialect`), the dry run,
//! and a change decided and written under the client's lock as the database takes it.

use async_trait::async_trait;
use sqlx::{Encode, Executor, FromRow, IntoArguments, Pool, QueryBuilder, Transaction, Type};

use super::adapter::Adapter;
use super::clients::locked_client;
use super::dialect::Dialect;
use super::events::{Recording, finish};
use super::rows::ClientRow;
use super::rows::{self, CredentialRow};
use super::{ClientStore, StoreError, StoreResult, WriteMode};
use crate::domain::Missing;
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
        mode: WriteMode,
    ) -> StoreResult<CredentialChange>;
}

const CREDENTIALS_OF_CLIENT: &str = "SELECT id, name, credential_type, kid, alg, subject_dn,
        thumbprint_sha256, key_fingerprint, pem, certificate_expires_at, created_at, updated_at,
        expires_at
     FROM client_credentials WHERE client_id = $1 ORDER BY created_at, id";

pub(super) const INSERT_CREDENTIAL: &str = "INSERT INTO client_credentials (id, client_id, name,
        credential_type, kid, alg, subject_dn, thumbprint_sha256, key_fingerprint, pem,
        certificate_expires_at, created_at, updated_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
pub(super) const REPLACE_CREDENTIAL: &str =
    "UPDATE client_credentials SET expires_at = $3, updated_at = $4,
        expiry_noted = CASE WHEN expires_at = $3 THEN expiry_noted ELSE 0 END
     WHERE id = $1 AND client_id = $2";
pub(super) const DELETE_CREDENTIAL: &str =
    "DELETE FROM client_credentials WHERE id = $1 AND client_id = $2";

/// Credentials with their client and tenant, from the first id after the bound one; the
/// listing's filters follow.
const LIST_CREDENTIALS_AFTER: &str =
    "SELECT k.id, k.name, k.credential_type, k.kid, k.alg, k.subject_dn,
        k.thumbprint_sha256, k.key_fingerprint, k.pem, k.certificate_expires_at,
        k.created_at, k.updated_at, k.expires_at, c.id AS client_id, c.tenant_id
     FROM client_credentials k JOIN clients c ON c.id = k.client_id WHERE k.id > ";

/// What adding a key the client has already is told.
pub(super) fn key_taken(error: sqlx::Error) -> StoreError {
    StoreError::on_unique(error, "this client already has this key")
}

/// A credential as a listing across clients reads it.
#[derive(sqlx::FromRow)]
pub struct ListedRow {
    #[sqlx(flatten)]
    credential: CredentialRow,
    client_id: String,
    tenant_id: String,
}

/// A page of listed credentials from one row more than `limit`, which says whether another
/// page follows.
fn listed_page(rows: Vec<ListedRow>, limit: Limit) -> StoreResult<Page<ClientCredential>> {
    let mut listed = Vec::with_capacity(rows.len());
    for row in rows {
        let credential = rows::credentials(vec![row.credential])?.remove(0);
        listed.push(ClientCredential {
            credential,
            client_id: ClientId::parse(&row.client_id).map_err(StoreError::Corrupt)?,
            tenant: TenantId::parse(&row.tenant_id).map_err(StoreError::Corrupt)?,
        });
    }
    Ok(Page::from_rows(listed, limit, |c: &ClientCredential| {
        c.credential.id.clone()
    }))
}

/// A dry run's change: decided on the client as it is now, read without a lock, so a
/// rehearsal never takes the write lock or queues behind writers.
pub(super) async fn rehearse_change<S>(
    store: &S,
    client: &ClientId,
    decide: &CredentialDecision<'_>,
) -> StoreResult<CredentialChange>
where
    S: ClientStore + CredentialStore + ?Sized,
{
    let current = ClientStore::client(store, client).await?;
    let current = current.ok_or(StoreError::NotFound(Missing::Client))?;
    let existing = store.credentials(client).await?;
    Ok(decide(&current, &existing)?.0)
}

/// The rest of a credential change once the adapter holds the client's lock (`current` is
/// the client read under it): the domain decides on the credentials as they are, and the
/// change and its event are written in that transaction.
async fn decide_and_write<DB>(
    mut tx: Transaction<'static, DB>,
    current: &Client,
    decide: &CredentialDecision<'_>,
) -> StoreResult<CredentialChange>
where
    DB: Recording,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB> + Type<DB>,
    for<'t> Option<String>: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
    for<'t> Option<Timestamp>: Encode<'t, DB> + Type<DB>,
    for<'r> CredentialRow: FromRow<'r, DB::Row> + Send + Unpin,
{
    let existing = credentials_of(&mut *tx, &current.id).await?;
    // The domain decides here, under the lock, on the credentials as they are.
    let (change, event) = decide(current, &existing)?;
    let client = current.id.as_str();
    let written = match &change {
        CredentialChange::Add(c) => sqlx::query(INSERT_CREDENTIAL)
            .bind(c.id.as_str())
            .bind(client)
            .bind(c.name.as_str())
            .bind(c.credential_type.as_str())
            .bind(c.kid.as_deref())
            .bind(c.alg.map(|alg| format!("{alg:?}")))
            .bind(c.subject_dn.as_deref())
            .bind(c.thumbprint_sha256.as_deref())
            .bind(c.key_fingerprint.as_str())
            .bind(c.pem.as_deref())
            .bind(c.certificate_expires_at)
            .bind(c.created_at)
            .bind(c.updated_at)
            .bind(c.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(key_taken),
        CredentialChange::Replace(c) => sqlx::query(REPLACE_CREDENTIAL)
            .bind(c.id.as_str())
            .bind(client)
            .bind(c.expires_at)
            .bind(c.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from),
        CredentialChange::Remove(c) => sqlx::query(DELETE_CREDENTIAL)
            .bind(c.id.as_str())
            .bind(client)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from),
    };
    written?;
    finish(tx, &event).await?;
    Ok(change)
}

/// A client's credentials, through the pool or inside a transaction.
pub(super) async fn credentials_of<'e, E, DB>(
    executor: E,
    client: &ClientId,
) -> StoreResult<Vec<Credential>>
where
    E: Executor<'e, Database = DB>,
    DB: sqlx::Database,
    DB::Arguments: IntoArguments<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'r> CredentialRow: FromRow<'r, DB::Row> + Send + Unpin,
{
    let rows: Vec<CredentialRow> = sqlx::query_as(CREDENTIALS_OF_CLIENT)
        .bind(client.as_str())
        .fetch_all(executor)
        .await?;
    rows::credentials(rows)
}

/// A page of credentials across clients, read through `pool`.
pub(super) async fn list_credentials<DB>(
    pool: &Pool<DB>,
    query: &CredentialQuery<'_>,
) -> StoreResult<Page<ClientCredential>>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'r> ListedRow: FromRow<'r, DB::Row> + Send + Unpin,
{
    let mut select = QueryBuilder::<DB>::new(LIST_CREDENTIALS_AFTER);
    select.push_bind(query.after.unwrap_or("").to_owned());
    if let TenantScope::Only(ids) = query.tenants {
        select.push(" AND c.");
        DB::push_tenant_in(&mut select, ids);
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
    let rows: Vec<ListedRow> = select.build_query_as().fetch_all(pool).await?;
    listed_page(rows, query.limit)
}

#[async_trait]
impl<S> CredentialStore for S
where
    S: Adapter + ClientStore,
    for<'c> &'c mut <S::Db as sqlx::Database>::Connection: Executor<'c, Database = S::Db>,
    <S::Db as sqlx::Database>::Arguments: IntoArguments<S::Db>,
    for<'t> String: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> &'t str: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Option<&'t str>: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Option<String>: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Timestamp: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Option<Timestamp>: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> i64: Encode<'t, S::Db> + Type<S::Db>,
    for<'r> ClientRow: FromRow<'r, <S::Db as sqlx::Database>::Row> + Send + Unpin,
    for<'r> CredentialRow: FromRow<'r, <S::Db as sqlx::Database>::Row> + Send + Unpin,
    for<'r> ListedRow: FromRow<'r, <S::Db as sqlx::Database>::Row> + Send + Unpin,
{
    async fn credentials(&self, client: &ClientId) -> StoreResult<Vec<Credential>> {
        credentials_of(self.reader(), client).await
    }

    async fn list_credentials(
        &self,
        query: &CredentialQuery<'_>,
    ) -> StoreResult<Page<ClientCredential>> {
        list_credentials(self.reader(), query).await
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
        decide_and_write(tx, &current, decide).await
    }
}
