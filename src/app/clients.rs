//! Clients: create (Nexus), list, read, JSON Patch (SailPoint) and delete.

use std::sync::Arc;

use super::cache::CachedClient;
use super::{App, Caller, Error, Result};
use crate::domain::audit::{Action, Event, changed_fields};
use crate::domain::change::ChangeContext;
use crate::domain::client::{self, Client, ClientId, ClientPatch, ClientType, CreateClient};
use crate::domain::credential::Credential;
use crate::domain::page::{Limit, Page};
use crate::domain::query::{ClientFilter, Position, Sorter};
use crate::domain::secret::IssuedSecret;
use crate::domain::tenant::TenantId;
use crate::domain::{Invalid, Missing, time};
use crate::store::{Change, ClientQuery, Reach, StoreError, WriteMode};

/// A new client and, for a CONFIDENTIAL one, its first secret (shown this once). A dry run
/// makes every check a real create makes, the database's included, and keeps nothing: no
/// client, no secret, no event.
pub async fn create(
    app: &App,
    caller: &Caller,
    tenant: TenantId,
    request: CreateClient,
    mode: WriteMode,
) -> Result<(Client, Option<IssuedSecret>)> {
    // Answered before the tenant is looked up, so a 403 says nothing about whether it exists.
    if !caller.grants.can_write(&tenant) {
        return Err(Error::Forbidden(
            "this token may not create clients in this tenant (needs client.write on it)",
        ));
    }
    let client = request.into_client(tenant, time::now())?;
    let secret = match (client.client_type(), mode) {
        (ClientType::Confidential, WriteMode::Apply) => Some(IssuedSecret::generate()?),
        _ => None,
    };
    let event = event(&caller.change, Action::ClientCreate, &client);
    (app.store)
        .create_client(&client, secret.as_ref(), &event, mode)
        .await?;
    Ok((client, secret))
}

/// A listing as a caller asks for it: filter, order, where to start, whether to count.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub filter: ClientFilter,
    pub sorter: Sorter,
    pub after: Option<Position>,
    pub limit: Limit,
    pub count: bool,
}

/// A page of clients, with the number of all matches when asked for.
pub struct Listed {
    pub page: Page<Client>,
    pub total: Option<u64>,
}

/// A tenant's clients.
pub async fn list(
    app: &App,
    caller: &Caller,
    tenant: &TenantId,
    listing: &Listing,
) -> Result<Listed> {
    caller.require_read(tenant)?;
    let listed = run(app, listing, Reach::Tenant(tenant)).await?;
    // A client proves its tenant exists (a foreign key, and a tenant with clients cannot be
    // deleted), so only an empty page costs the lookup that tells 404 from no clients.
    if listed.page.items.is_empty() && app.store.tenant(tenant).await?.is_none() {
        return Err(Error::NotFound(Missing::Tenant));
    }
    Ok(listed)
}

/// The clients of every tenant the caller can read.
pub async fn list_all(app: &App, caller: &Caller, listing: &Listing) -> Result<Listed> {
    run(
        app,
        listing,
        Reach::Tenants(caller.grants.visible_tenants()),
    )
    .await
}

async fn run(app: &App, listing: &Listing, reach: Reach<'_>) -> Result<Listed> {
    let query = ClientQuery {
        reach,
        filter: &listing.filter,
        sorter: listing.sorter,
        after: listing.after.as_ref(),
        limit: listing.limit,
    };
    let page = app.store.list_clients(&query).await?;
    let total = match listing.count {
        true => Some(app.store.count_clients(&query).await?),
        false => None,
    };
    Ok(Listed { page, total })
}

/// The client (from memory when it can be), if it exists and the caller can see its tenant.
pub async fn read(app: &App, caller: &Caller, id: &ClientId) -> Result<Arc<CachedClient>> {
    match app.cache.client(app.store.as_ref(), id).await? {
        Some(cached) if caller.grants.can_read(&cached.client.tenant) => Ok(cached),
        _ => Err(Error::NotFound(Missing::Client)),
    }
}

/// Refuses a caller who may not change the client before any lock is taken or write begun,
/// judged on the client as memory holds it (or read, if it holds none). The store's decision,
/// under the lock, checks again on the row itself (the client may have moved meanwhile). A
/// caller who may write in every tenant cannot be refused here, and costs no read.
pub async fn require_writable(app: &App, caller: &Caller, id: &ClientId) -> Result<()> {
    if caller.grants.can_write_everywhere() {
        return Ok(());
    }
    let cached = app.cache.client(app.store.as_ref(), id).await?;
    let client = &cached.ok_or(Error::NotFound(Missing::Client))?.client;
    Ok(client::writable(client, &caller.grants)?)
}

/// Applies a JSON Patch to the client as stored, if `If-Match` (when given) names the stored
/// version: the store settles both (`ClientStore::update_client`). The event keeps the patch
/// as applied, the fields it changed and the resulting document; a patch that changes
/// nothing writes nothing.
pub async fn patch(
    app: &App,
    caller: &Caller,
    id: &ClientId,
    patch: &ClientPatch,
    if_match: Option<&[String]>,
    mode: WriteMode,
) -> Result<Client> {
    require_writable(app, caller, id).await?;
    let now = time::now();
    let decide = |current: &Client, credentials: Option<&[Credential]>| {
        let patched =
            client::decide_patch(current, credentials, patch, &caller.grants, if_match, now)?;
        Ok(patched.map(|after| {
            let document = after.document_value();
            let changed = changed_fields(&current.document_value(), &document);
            let event = about(&caller.change, Action::ClientPatch, &after)
                .with_document_value(Some(document))
                .with_patch(patch.to_value(), changed);
            (after, event)
        }))
    };
    // What memory holds is only where the store starts: it writes the change decided on it
    // only if the row is still that, and decides anything else under the client's lock.
    let seen = app.cache.held_client(id);
    let seen = seen.as_ref().map(|held| &held.client);
    let _forget =
        (mode == WriteMode::Apply).then(|| app.cache.forget_after(Change::Client(id.clone())));
    match app.store.update_client(id, seen, &decide, mode).await {
        // The client exists (its row was written): what is missing is the tenant it moves to.
        Err(StoreError::NotFound(Missing::Tenant)) => {
            Err(Invalid::one("/tenant", "no tenant with this id").into())
        }
        result => Ok(result?),
    }
}

pub async fn delete(app: &App, caller: &Caller, id: &ClientId) -> Result<()> {
    let client = &read(app, caller, id).await?.client;
    client::writable(client, &caller.grants)?;
    let audit = |deleted: &Client| event(&caller.change, Action::ClientDelete, deleted);
    let _forget = app.cache.forget_after(Change::Client(client.id.clone()));
    Ok(app.store.delete_client(client, &audit).await?)
}

/// A client's event, with its document as it is after the change (before, for a delete).
fn event(change: &ChangeContext, action: Action, client: &Client) -> Event {
    about(change, action, client).with_document(&client.document())
}

/// A client's event, without its document yet.
fn about(change: &ChangeContext, action: Action, client: &Client) -> Event {
    event_at(change, action, client, format!("/clients/{}", client.id))
}

/// An event of the client (its own, or of its secrets at `path`), in its history.
pub(super) fn event_at(
    change: &ChangeContext,
    action: Action,
    client: &Client,
    path: String,
) -> Event {
    Event::new(
        change,
        action,
        Some(&client.tenant),
        client.id.as_str(),
        path,
    )
    .of_client(&client.id)
}
