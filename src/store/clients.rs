//! Clients: the `ClientStore` part of the store, and what both adapters do alike: the read
//! by id, the dry runs and the errors a create meets (the listing is `client_list`). The
//! writes are each adapter's own (`postgres/clients.rs`, `sqlite/clients.rs`).

use async_trait::async_trait;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, Type};

use super::dialect::Dialect;
use super::rows::ClientRow;
use super::{Audit, CredentialStore, StoreError, StoreResult, TenantStore};
use crate::domain::Missing;
use crate::domain::audit::Event;
use crate::domain::client::{Client, ClientId};
use crate::domain::credential::Credential;
use crate::domain::page::{Limit, Page};
use crate::domain::query::{ClientFilter, Position, Sorter};
use crate::domain::refusal::Refusal;
use crate::domain::secret::IssuedSecret;
use crate::domain::tenant::TenantId;
use crate::domain::token::TenantScope;

/// The domain's decision on a stored client: the new client with the event that records the
/// change, None to leave it as it is, or why it is refused. It is asked without the client's
/// credentials first, and again with them (read under the client's lock) if it needs them; it
/// may be asked on the client as last read, and again under the lock (`update_client`).
pub type ClientDecision<'a> = dyn Fn(&Client, Option<&[Credential]>) -> Result<Option<(Client, Event)>, Refusal>
    + Send
    + Sync
    + 'a;

/// Which clients a listing reaches: one tenant's, or those of the tenants a caller can see.
#[derive(Debug, Clone, Copy)]
pub enum Reach<'a> {
    Tenant(&'a TenantId),
    Tenants(TenantScope<'a>),
}

/// A page of clients: where, which, in what order, from where.
#[derive(Debug, Clone, Copy)]
pub struct ClientQuery<'a> {
    pub reach: Reach<'a>,
    pub filter: &'a ClientFilter,
    pub sorter: Sorter,
    pub after: Option<&'a Position>,
    pub limit: Limit,
}

/// Whether a write is made, or only rehearsed: a dry run takes every check of the real one
/// and stores nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    Apply,
    DryRun,
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Stores a new client with its first secret. Conflict when the id is taken; tenant not
    /// found when the tenant does not exist.
    async fn create_client(
        &self,
        client: &Client,
        secret: Option<&IssuedSecret>,
        event: &Event,
        mode: WriteMode,
    ) -> StoreResult<()>;
    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>>;
    /// A page of clients; `next_cursor` is an encoded `Position`.
    async fn list_clients(&self, query: &ClientQuery<'_>) -> StoreResult<Page<Client>>;
    /// How many clients the query's reach and filter match, whatever the page.
    async fn count_clients(&self, query: &ClientQuery<'_>) -> StoreResult<u64>;
    /// Lets `decide` say what the client becomes, and stores that: concurrent updates apply
    /// one after another, never over each other. Tenant not found when the client moves to a
    /// tenant that does not exist.
    ///
    /// Where the database allows, a change is first decided on `seen` (the client as last
    /// read, from memory say) or on the row read without a lock, and written in one
    /// statement only if the row is still exactly that. Otherwise, and for every answer that
    /// is not a write (a refusal, a patch that changes nothing), the client is locked and
    /// `decide` asked again.
    async fn update_client(
        &self,
        id: &ClientId,
        seen: Option<&Client>,
        decide: &ClientDecision<'_>,
        mode: WriteMode,
    ) -> StoreResult<Client>;
    /// Deletes the client, with its secrets and credentials, if it is still in `read`'s
    /// tenant. `read` is the client as the caller last saw it: when the row is still exactly
    /// that, the deletion and its event are one statement (where the database allows).
    async fn delete_client(&self, read: &Client, audit: &Audit<'_, Client>) -> StoreResult<()>;
}

const CLIENT_BY_ID: &str =
    "SELECT id, tenant_id, app_type, settings, manually_created, created, modified, last_used
     FROM clients WHERE id = $1";

/// What a create meets when the id is taken.
pub(super) const CLIENT_EXISTS: &str = "a client with this id exists";

/// A write that names a tenant that does not exist (or no longer does): the foreign key
/// says so.
pub(super) fn moved_away(e: sqlx::Error) -> StoreError {
    StoreError::on_foreign_key(e, StoreError::NotFound(Missing::Tenant))
}

/// A create's failure: the id taken, or the tenant missing.
pub(super) fn create_failed(e: sqlx::Error) -> StoreError {
    match StoreError::on_unique(e, CLIENT_EXISTS) {
        StoreError::Backend(e) => moved_away(e),
        other => other,
    }
}

/// Whether a tenant exists: the foreign key a real write meets, as a read.
async fn tenant_exists<S: TenantStore + ?Sized>(store: &S, tenant: &TenantId) -> StoreResult<bool> {
    let missing = store.missing_tenants(std::slice::from_ref(tenant)).await?;
    Ok(missing.is_empty())
}

/// The domain's decision on `current`, with its credentials read (by `credentials`, in the
/// caller's transaction or not) only when the decision turns on them.
pub(super) async fn decide_on<F, R>(
    current: &Client,
    decide: &ClientDecision<'_>,
    credentials: F,
) -> StoreResult<Option<(Client, Event)>>
where
    F: FnOnce() -> R,
    R: Future<Output = StoreResult<Vec<Credential>>>,
{
    match decide(current, None) {
        Err(Refusal::NeedsCredentials) => {
            let credentials = credentials().await?;
            Ok(decide(current, Some(&credentials))?)
        }
        decided => Ok(decided?),
    }
}

/// A dry run's create: the database's checks (the id is free, then the tenant exists, in
/// the order the insert meets them) as reads, so a rehearsal never takes the write lock or
/// queues behind writers.
pub(super) async fn rehearse_create<S>(store: &S, client: &Client) -> StoreResult<()>
where
    S: ClientStore + TenantStore + ?Sized,
{
    if store.client(&client.id).await?.is_some() {
        return Err(StoreError::Conflict(CLIENT_EXISTS));
    }
    if !tenant_exists(store, &client.tenant).await? {
        return Err(StoreError::NotFound(Missing::Tenant));
    }
    Ok(())
}

/// A dry run's patch: decided on the client as it is now, read without a lock.
pub(super) async fn rehearse_update<S>(
    store: &S,
    id: &ClientId,
    decide: &ClientDecision<'_>,
) -> StoreResult<Client>
where
    S: ClientStore + TenantStore + CredentialStore + ?Sized,
{
    let current = (store.client(id).await?).ok_or(StoreError::NotFound(Missing::Client))?;
    let read = || store.credentials(&current.id);
    let Some((changed, _)) = decide_on(&current, decide, read).await? else {
        return Ok(current);
    };
    if changed.tenant != current.tenant && !tenant_exists(store, &changed.tenant).await? {
        return Err(StoreError::NotFound(Missing::Tenant));
    }
    Ok(changed)
}

/// The client, locked until `tx` ends as the database locks it (`Dialect::LOCK_CLIENT`); not
/// found when it does not exist.
pub(super) async fn locked_client<DB>(
    tx: &mut sqlx::Transaction<'static, DB>,
    id: &ClientId,
) -> StoreResult<Client>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'r> ClientRow: FromRow<'r, DB::Row> + Send + Unpin,
{
    let row: Option<ClientRow> = sqlx::query_as(DB::LOCK_CLIENT)
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    Client::try_from(row.ok_or(StoreError::NotFound(Missing::Client))?)
}

/// The client with this id, if there is one: the same read on both databases.
pub(super) async fn client<DB>(pool: &Pool<DB>, id: &ClientId) -> StoreResult<Option<Client>>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'r> ClientRow: FromRow<'r, DB::Row> + Send + Unpin,
{
    let row: Option<ClientRow> = sqlx::query_as(CLIENT_BY_ID)
        .bind(id.as_str())
        .fetch_optional(pool)
        .await?;
    row.map(Client::try_from).transpose()
}
