//! Clients: the `ClientStore` part of the store, and the listing query both adapters build
//! the same way, each through its `Dialect` for what its SQL spells differently. The writes
//! are each adapter's own (`postgres/clients.rs`, `sqlite/clients.rs`).

use async_trait::async_trait;
use futures_util::{Stream, TryStreamExt};
use sqlx::{Encode, QueryBuilder, Type};

use super::dialect::Dialect;
use super::rows::ClientRow;
use super::{Audit, CredentialStore, StoreError, StoreResult, TenantStore};
use crate::domain::Missing;
use crate::domain::audit::Event;
use crate::domain::client::{Client, ClientId};
use crate::domain::credential::Credential;
use crate::domain::page::{Limit, Page};
use crate::domain::query::{ClientFilter, Position, SortKey, Sorter, Term};
use crate::domain::refusal::Refusal;
use crate::domain::secret::IssuedSecret;
use crate::domain::tenant::TenantId;
use crate::domain::time::{self, Timestamp};
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

pub(super) const CLIENT_BY_ID: &str =
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

/// A client row with its name as the database orders it (lowercased).
#[derive(sqlx::FromRow)]
pub(super) struct SortedRow {
    #[sqlx(flatten)]
    client: ClientRow,
    sort_name: Option<String>,
}

/// A page of the query's clients, past its cursor, one row more than the page holds (so
/// the page knows whether another follows).
pub(super) fn select_page<DB>(query: &ClientQuery<'_>) -> QueryBuilder<DB>
where
    DB: Dialect,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    let mut select = QueryBuilder::new(
        "SELECT id, tenant_id, app_type, settings, manually_created, created, modified, last_used, ",
    );
    select
        .push(DB::NAME_KEY)
        .push(" AS sort_name FROM clients WHERE ");
    push_matches(&mut select, query);
    if let Some(after) = query.after {
        push_after(&mut select, query.sorter, after);
    }
    let direction = if query.sorter.descending { " DESC" } else { "" };
    select.push(" ORDER BY ");
    if query.sorter.key != SortKey::Id {
        select
            .push(sort_key::<DB>(query.sorter.key))
            .push(direction)
            .push(", ");
    }
    select.push("id").push(direction).push(" LIMIT ");
    select.push_bind(i64::from(query.limit.get()) + 1);
    select
}

/// How many clients the query's reach and filter match.
pub(super) fn select_count<DB>(query: &ClientQuery<'_>) -> QueryBuilder<DB>
where
    DB: Dialect,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
{
    let mut count = QueryBuilder::new("SELECT count(*) FROM clients WHERE ");
    push_matches(&mut count, query);
    count
}

/// Reads `rows` (of `select_page`) row by row, and no further than the page needs; measured
/// as the page shows them: documents, not rows.
pub(super) async fn read_page<S>(mut rows: S, query: &ClientQuery<'_>) -> StoreResult<Page<Client>>
where
    S: Stream<Item = Result<SortedRow, sqlx::Error>> + Unpin,
{
    let mut sized = Vec::new();
    while let Some(row) = rows.try_next().await? {
        let key = position(query.sorter, &row).encode();
        let client = Client::try_from(row.client)?;
        let size = crate::domain::json::json_size(&client.document());
        sized.push(((client, key), size));
        if Page::is_full(&sized, query.limit) {
            break;
        }
    }
    drop(rows);
    let page = Page::from_sized_rows(sized, query.limit, |(_, key): &(Client, String)| {
        key.clone()
    });
    let clients = page.items.into_iter().map(|(client, _)| client).collect();
    Ok(Page {
        items: clients,
        next_cursor: page.next_cursor,
    })
}

fn sort_key<DB: Dialect>(key: SortKey) -> &'static str {
    match key {
        SortKey::Id => "id",
        SortKey::Name => DB::NAME_KEY,
        SortKey::Created => "created",
        SortKey::Modified => "modified",
        SortKey::LastUsed => DB::LAST_USED_KEY,
    }
}

/// Where the page after `row` starts.
fn position(sorter: Sorter, row: &SortedRow) -> Position {
    let stamp = |at: &Timestamp| time::rfc3339(*at);
    let value = match sorter.key {
        SortKey::Id => None,
        SortKey::Name => row.sort_name.clone(),
        SortKey::Created => Some(stamp(&row.client.created)),
        SortKey::Modified => Some(stamp(&row.client.modified)),
        SortKey::LastUsed => row.client.last_used.as_ref().map(stamp),
    };
    Position {
        key: sorter.key,
        descending: sorter.descending,
        value,
        id: row.client.id.clone(),
    }
}

/// The reach and every term of the filter, each value bound.
fn push_matches<DB>(q: &mut QueryBuilder<DB>, query: &ClientQuery<'_>)
where
    DB: Dialect,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
{
    match query.reach {
        Reach::Tenant(tenant) => {
            q.push("tenant_id = ").push_bind(tenant.as_str().to_owned());
        }
        Reach::Tenants(TenantScope::All) => {
            q.push("true");
        }
        Reach::Tenants(TenantScope::Only(ids)) => DB::push_tenant_in(q, ids),
    }
    for term in &query.filter.0 {
        q.push(" AND ");
        push_term(q, term);
    }
}

/// One term of the filter, its value bound.
fn push_term<DB>(q: &mut QueryBuilder<DB>, term: &Term)
where
    DB: Dialect,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
{
    // `!` escapes LIKE's wildcards (and itself): no backslash, whose meaning in a string
    // literal depends on the server's settings.
    let like = |text: &str| {
        text.replace('!', "!!")
            .replace('%', "!%")
            .replace('_', "!_")
    };
    match term {
        // Both sides are lowercased by the database, so they fold alike.
        Term::NameEq(name) => {
            q.push(DB::NAME_KEY).push(" = ");
            DB::push_lower(q, name.clone());
        }
        Term::NameStartsWith(prefix) => {
            q.push(DB::NAME_KEY).push(" LIKE ");
            DB::push_lower(q, format!("{}%", like(prefix)));
            q.push(" ESCAPE '!'");
        }
        Term::NameContains(part) => {
            q.push(DB::NAME_KEY).push(" LIKE ");
            DB::push_lower(q, format!("%{}%", like(part)));
            q.push(" ESCAPE '!'");
        }
        Term::AppTypeIn(types) => {
            q.push("app_type IN (");
            let mut separated = q.separated(", ");
            for app_type in types {
                separated.push_bind(app_type.as_str().to_owned());
            }
            if types.is_empty() {
                separated.push("NULL");
            }
            q.push(")");
        }
        Term::Enabled(enabled) => {
            q.push(DB::ENABLED_KEY).push(" = ").push_bind(*enabled);
        }
        Term::OwnersContain(owner) => DB::push_contains(q, "owners", owner.clone()),
        Term::GrantTypesContain(grant) => {
            let name = serde_json::to_value(grant)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned));
            DB::push_contains(q, "grantTypes", name.unwrap_or_default());
        }
        // On the indexed expression, where never-used clients are the earliest.
        Term::LastUsedAtMost(at) => {
            q.push(DB::LAST_USED_KEY).push(" <= ");
            DB::push_last_used(q, Some(*at));
            q.push(" AND ").push(DB::LAST_USED_KEY).push(" > ");
            q.push(DB::NEVER_USED);
        }
        Term::LastUsedAtLeast(at) => {
            q.push(DB::LAST_USED_KEY).push(" >= ");
            DB::push_last_used(q, Some(*at));
        }
        Term::NeverUsed => {
            q.push(DB::LAST_USED_KEY).push(" = ").push(DB::NEVER_USED);
        }
        Term::CreatedAtMost(at) => {
            q.push("created <= ").push_bind(*at);
        }
        Term::CreatedAtLeast(at) => {
            q.push("created >= ").push_bind(*at);
        }
        Term::ModifiedAtMost(at) => {
            q.push("modified <= ").push_bind(*at);
        }
        Term::ModifiedAtLeast(at) => {
            q.push("modified >= ").push_bind(*at);
        }
    }
}

/// Keyset: past the cursor's (sort value, id), in the sorter's direction.
fn push_after<DB>(q: &mut QueryBuilder<DB>, sorter: Sorter, after: &Position)
where
    DB: Dialect,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
{
    let beyond = if sorter.descending { " < " } else { " > " };
    q.push(" AND ");
    match sorter.key {
        SortKey::Id => {
            q.push("id").push(beyond).push_bind(after.id.clone());
            return;
        }
        SortKey::Name => {
            q.push("(")
                .push(DB::NAME_KEY)
                .push(", id)")
                .push(beyond)
                .push("(");
            q.push_bind(after.value.clone().unwrap_or_default());
        }
        SortKey::Created | SortKey::Modified => {
            q.push("(").push(sort_key::<DB>(sorter.key)).push(", id)");
            q.push(beyond).push("(");
            q.push_bind(after.time().unwrap_or_default());
        }
        SortKey::LastUsed => {
            q.push("(").push(DB::LAST_USED_KEY).push(", id)");
            q.push(beyond).push("(");
            DB::push_last_used(q, after.time());
        }
    }
    q.push(", ").push_bind(after.id.clone()).push(")");
}
