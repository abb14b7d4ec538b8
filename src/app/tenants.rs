//! Tenants: create, list, read and delete.

use super::{App, Caller, Result};
use crate::domain::Missing;
use crate::domain::audit::{Action, Event};
use crate::domain::change::ChangeContext;
use crate::domain::page::{Limit, Page};
use crate::domain::tenant::{Tenant, TenantId};
use crate::domain::time;
use crate::store::Change;

pub async fn create(app: &App, caller: &Caller, id: &str, name: &str) -> Result<Tenant> {
    caller.require_admin()?;
    let tenant = Tenant::new(id, name, time::now())?;
    let event = event(&caller.change, Action::TenantCreate, &tenant);
    app.store.create_tenant(&tenant, &event).await?;
    Ok(tenant)
}

/// The tenants the caller can see, by id.
pub async fn list(
    app: &App,
    caller: &Caller,
    after: Option<&str>,
    limit: Limit,
) -> Result<Page<Tenant>> {
    let scope = caller.grants.visible_tenants();
    Ok(app.store.list_tenants(scope, after, limit).await?)
}

pub async fn read(app: &App, caller: &Caller, id: &TenantId) -> Result<Tenant> {
    caller.require_read(id)?;
    let tenant = app.store.tenant(id).await?;
    tenant.ok_or(super::Error::NotFound(Missing::Tenant))
}

/// Conflict while the tenant still has clients. The id is parsed after the permission
/// check, so only admins learn what is malformed.
pub async fn delete(app: &App, caller: &Caller, id: &str) -> Result<()> {
    caller.require_admin()?;
    let id = TenantId::parse(id).map_err(|_| super::Error::NotFound(Missing::Tenant))?;
    let audit = |tenant: &Tenant| event(&caller.change, Action::TenantDelete, tenant);
    // Every token that reached the tenant reaches it no more.
    let _forget = app.cache.forget_after(Change::EveryToken);
    Ok(app.store.delete_tenant(&id, &audit).await?)
}

fn event(change: &ChangeContext, action: Action, tenant: &Tenant) -> Event {
    let path = format!("/tenants/{}", tenant.id);
    Event::new(change, action, Some(&tenant.id), tenant.id.as_str(), path).with_document(tenant)
}
