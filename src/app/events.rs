//! Reading the audit trail: everything (admin), a tenant's, a client's, newest first. The
//! walls are the resources': a tenant's events are read with read on it, and a client's stay
//! readable after it is gone by anyone who can read the tenant it was in.

use uuid::Uuid;

use super::{App, Caller, Error, Result};
use crate::domain::Missing;
use crate::domain::audit::{Action, Event};
use crate::domain::client::ClientId;
use crate::domain::page::{Limit, Page};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::store::{EventQuery, History};

/// What a page of events is filtered by, and where it starts.
#[derive(Debug, Clone, Copy)]
pub struct Filters<'a> {
    pub before: Option<i64>,
    pub action: Option<Action>,
    pub resource_type: Option<&'a str>,
    pub actor: Option<Uuid>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub limit: Limit,
}

impl<'a> Filters<'a> {
    fn query(self, history: History<'a>) -> EventQuery<'a> {
        EventQuery {
            history,
            before: self.before,
            action: self.action,
            resource_type: self.resource_type,
            actor: self.actor,
            since: self.since,
            until: self.until,
            limit: self.limit,
        }
    }

    /// A first page of one event and no filter: whether there is any trail at all.
    fn first_unfiltered(self) -> Self {
        Self {
            before: None,
            action: None,
            resource_type: None,
            actor: None,
            since: None,
            until: None,
            limit: Limit::one(),
        }
    }
}

pub async fn everything(app: &App, caller: &Caller, filters: Filters<'_>) -> Result<Page<Event>> {
    caller.require_admin()?;
    Ok(app
        .store
        .events(&filters.query(History::Everything))
        .await?)
}

/// A tenant's events, also once it is deleted; 404 for a tenant with no trail at all.
pub async fn of_tenant(
    app: &App,
    caller: &Caller,
    tenant: &TenantId,
    filters: Filters<'_>,
) -> Result<Page<Event>> {
    caller.require_read(tenant)?;
    let page = app
        .store
        .events(&filters.query(History::Tenant(tenant)))
        .await?;
    if page.items.is_empty()
        && app.store.tenant(tenant).await?.is_none()
        && (app
            .store
            .events(&filters.first_unfiltered().query(History::Tenant(tenant)))
            .await?)
            .items
            .is_empty()
    {
        return Err(Error::NotFound(Missing::Tenant));
    }
    Ok(page)
}

/// A client's events (its own, its credentials' and its secrets'), within the tenants the
/// caller can read; 404 when the caller can see neither the client nor any of its events.
pub async fn of_client(
    app: &App,
    caller: &Caller,
    client: &ClientId,
    filters: Filters<'_>,
) -> Result<Page<Event>> {
    let history = || History::Client(client, caller.grants.visible_tenants());
    let visible = match app.store.client(client).await? {
        Some(current) => caller.grants.can_read(&current.tenant),
        None => {
            let any = app
                .store
                .events(&filters.first_unfiltered().query(history()))
                .await?;
            !any.items.is_empty()
        }
    };
    if !visible {
        return Err(Error::NotFound(Missing::Client));
    }
    Ok(app.store.events(&filters.query(history())).await?)
}
