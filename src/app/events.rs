//! Reading the audit trail: everything (admin), a tenant's, a client's, newest first. The
//! walls are the resources': a tenant's events are read with read on it, and a client's stay
//! readable after it is gone by anyone who can read the tenant it was in. `audit.read` on
//! a tenant reads its trail, and nothing else of it.

use std::time::{Duration, Instant};

use super::{App, Caller, Error, Result};
use crate::domain::Missing;
use crate::domain::audit::{Event, EventFilters};
use crate::domain::client::ClientId;
use crate::domain::page::{Limit, Page};
use crate::domain::tenant::TenantId;
use crate::store::{EventQuery, History};

fn query(history: History<'_>, filters: EventFilters) -> EventQuery<'_> {
    EventQuery { history, filters }
}

/// How often a waiting feed request looks again, when no write of this process (or, on
/// Postgres, of another replica, as the feed hears it) wakes it sooner.
const LOOK_AGAIN: Duration = Duration::from_millis(250);

/// The page of `query`; an empty one, asked to `wait`, is read again as events may come,
/// until one does or the wait (kept inside the request timeout) is over.
async fn page(app: &App, query: &EventQuery<'_>, wait: Option<Duration>) -> Result<Page<Event>> {
    let deadline = wait.map(|wait| Instant::now() + wait.min(app.longest_wait));
    loop {
        let news = app.cache.news();
        let page = app.store.events(query).await?;
        let Some(deadline) = deadline.filter(|_| page.items.is_empty()) else {
            return Ok(page);
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(page);
        }
        let _ = tokio::time::timeout(left.min(LOOK_AGAIN), news).await;
    }
}

/// A first page of one event and no filter: whether there is any trail at all.
fn first_unfiltered() -> EventFilters {
    EventFilters {
        limit: Limit::one(),
        ..EventFilters::default()
    }
}

pub async fn everything(
    app: &App,
    caller: &Caller,
    filters: EventFilters,
    wait: Option<Duration>,
) -> Result<Page<Event>> {
    caller.require_admin()?;
    page(app, &query(History::Everything, filters), wait).await
}

/// A tenant's events, also once it is deleted; 404 for a tenant with no trail at all.
pub async fn of_tenant(
    app: &App,
    caller: &Caller,
    tenant: &TenantId,
    filters: EventFilters,
    wait: Option<Duration>,
) -> Result<Page<Event>> {
    caller.require_audit()?;
    if !caller.grants.can_read_audit(tenant) {
        return Err(Error::NotFound(Missing::Tenant));
    }
    let trail = query(History::Tenant(tenant), filters);
    let first = app.store.events(&trail).await?;
    if first.items.is_empty()
        && app.store.tenant(tenant).await?.is_none()
        && (app
            .store
            .events(&query(History::Tenant(tenant), first_unfiltered()))
            .await?)
            .items
            .is_empty()
    {
        return Err(Error::NotFound(Missing::Tenant));
    }
    match wait {
        Some(_) if first.items.is_empty() => page(app, &trail, wait).await,
        _ => Ok(first),
    }
}

/// A client's events (its own, its credentials' and its secrets'), within the tenants the
/// caller can read; 404 when the caller can see neither the client nor any of its events.
pub async fn of_client(
    app: &App,
    caller: &Caller,
    client: &ClientId,
    filters: EventFilters,
    wait: Option<Duration>,
) -> Result<Page<Event>> {
    caller.require_audit()?;
    let history = || History::Client(client, caller.grants.audit_tenants());
    let visible = match app.store.client(client).await? {
        Some(current) => caller.grants.can_read_audit(&current.tenant),
        None => {
            let any = app
                .store
                .events(&query(history(), first_unfiltered()))
                .await?;
            !any.items.is_empty()
        }
    };
    if !visible {
        return Err(Error::NotFound(Missing::Client));
    }
    page(app, &query(history(), filters), wait).await
}
