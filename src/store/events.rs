//! The audit trail. Every write of the other parts inserts its event with `record`, in its
//! own transaction; `event_store!` writes that and the reading once for both adapters, which
//! bring `push_tenant_in` (how the caller's tenants are matched).

use super::StoreResult;
use crate::domain::audit::{Event, EventFilters};
use crate::domain::client::ClientId;
use crate::domain::page::Page;
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::token::TenantScope;
use async_trait::async_trait;

/// Whose history to read.
pub enum History<'a> {
    Everything,
    Tenant(&'a TenantId),
    /// A client's, within the tenants the caller can see.
    Client(&'a ClientId, TenantScope<'a>),
}

/// A page of history: newest first, filtered.
pub struct EventQuery<'a> {
    pub history: History<'a>,
    pub filters: EventFilters,
}

#[async_trait]
pub trait EventStore: Send + Sync {
    async fn events(&self, query: &EventQuery<'_>) -> StoreResult<Page<Event>>;
    /// Deletes the events older than `before` among the `batch` oldest: how many went.
    async fn prune_events(&self, before: Timestamp, batch: i64) -> StoreResult<u64>;
}

/// The columns an event is inserted with, in the order `bind_event` binds them.
macro_rules! event_columns {
    () => {
        "(id, time, tenant_id, client_id, actor_kind, actor_token_id, actor_token_name, source_ip,
          request_id, action, resource_type, resource_id, resource_path, patch, changed, document,
          claim)"
    };
}
pub(super) use event_columns;

/// The columns an event is read with, as `EventRow` takes them.
macro_rules! event_select {
    () => {
        "SELECT seq, id, time, tenant_id, client_id, actor_kind, actor_token_id, actor_token_name,
            source_ip, request_id, action, resource_id, resource_path, patch, changed, document
         FROM events WHERE "
    };
}
pub(super) use event_select;

/// Events are read newest first by seq, the keyset of every page.
pub(super) const SELECT_EVENTS: &str = concat!(event_select!(), "seq < ");

/// A tenant created again under a deleted one's id starts with an empty trail: an event
/// of a tenant that exists now is shown only if it is no older than the tenant's latest
/// `tenant.create` (one probe of `events_by_tenant_action`). A client's events may span
/// tenants (it can move), so theirs is looked up for each event examined.
pub(super) const SINCE_ITS_TENANT_BORN: &str =
    " AND seq >= coalesce((SELECT max(born.seq) FROM events born
    WHERE born.tenant_id = events.tenant_id AND born.action = 'tenant.create'
      AND EXISTS (SELECT 1 FROM tenants WHERE tenants.id = events.tenant_id)), 0)";

/// The same for one tenant's trail, found once for the page, so the page is a range of
/// `events_by_tenant` (or `events_by_tenant_action`) from there.
pub(super) fn push_since_born<DB>(select: &mut sqlx::QueryBuilder<DB>, tenant: &str)
where
    DB: sqlx::Database,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    select.push(
        " AND seq >= coalesce((SELECT max(born.seq) FROM events born WHERE born.tenant_id = ",
    );
    select.push_bind(tenant.to_owned());
    select.push(
        " AND born.action = 'tenant.create' AND EXISTS (SELECT 1 FROM tenants WHERE tenants.id = ",
    );
    select.push_bind(tenant.to_owned());
    select.push(")), 0)");
}

macro_rules! event_store {
    ($store:ident, $db:ty) => {
        mod event_store {
            use async_trait::async_trait;
            use sqlx::types::Json;

            use super::$store;
            use crate::domain::audit::Event;
            use crate::domain::page::Page;
            use crate::domain::time::Timestamp;
            use crate::domain::token::TenantScope;
            use crate::store::events::{EventQuery, History, SELECT_EVENTS, SINCE_ITS_TENANT_BORN};
            use crate::store::rows::EventRow;
            use crate::store::{EventStore, StoreResult};

            type Query<'q> = sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>;

            /// Inserts `event` in the transaction of the change it records.
            pub(super) async fn record(
                tx: &mut sqlx::Transaction<'static, $db>,
                event: &Event,
            ) -> StoreResult<()> {
                let insert = sqlx::query(concat!(
                    "INSERT INTO events ",
                    crate::store::events::event_columns!(),
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
                ));
                bind_event(insert, event).execute(&mut **tx).await?;
                Ok(())
            }

            /// Binds the event's seventeen columns, in `event_columns!` order, after what
            /// `query` has bound already.
            pub(super) fn bind_event<'q>(query: Query<'q>, event: &Event) -> Query<'q> {
                query
                .bind(event.id)
                .bind(event.time)
                .bind(event.tenant.as_ref().map(|t| t.as_str()))
                .bind(event.client.as_ref().map(|c| c.as_str()))
                .bind(&event.actor.kind)
                .bind(event.actor.token_id)
                .bind(&event.actor.token_name)
                .bind(event.source_ip.map(|ip| ip.to_string()))
                .bind(&event.request_id)
                .bind(event.action.as_str())
                .bind(event.resource_type)
                .bind(&event.resource_id)
                .bind(&event.resource_path)
                .bind(event.patch.as_ref().map(Json))
                .bind(event.changed.as_ref().map(Json))
                .bind(event.document.as_ref().map(Json))
                .bind(event.claim)
            }

            #[async_trait]
            impl EventStore for $store {
                /// Only the filters given are in the query, so each can use its index
                /// (migration 0007 names them).
                async fn events(&self, query: &EventQuery<'_>) -> StoreResult<Page<Event>> {
                    let filters = &query.filters;
                    let mut select = sqlx::QueryBuilder::<$db>::new(SELECT_EVENTS);
                    select.push_bind(filters.before.unwrap_or(i64::MAX));
                    match &query.history {
                        History::Everything => {}
                        History::Tenant(tenant) => {
                            select.push(" AND tenant_id = ").push_bind(tenant.as_str());
                            crate::store::events::push_since_born(&mut select, tenant.as_str());
                        }
                        History::Client(client, scope) => {
                            select.push(" AND client_id = ").push_bind(client.as_str());
                            if let TenantScope::Only(ids) = scope {
                                select.push(" AND ");
                                super::push_tenant_in(&mut select, ids);
                            }
                            select.push(SINCE_ITS_TENANT_BORN);
                        }
                    }
                    if let Some(action) = filters.action {
                        select.push(" AND action = ").push_bind(action.as_str());
                    }
                    if let Some(resource_type) = filters.resource_type {
                        select.push(" AND resource_type = ").push_bind(resource_type);
                    }
                    if let Some(actor) = filters.actor {
                        select.push(" AND actor_token_id = ").push_bind(actor);
                    }
                    if let Some(since) = filters.since {
                        select.push(" AND time >= ").push_bind(since);
                    }
                    if let Some(until) = filters.until {
                        select.push(" AND time < ").push_bind(until);
                    }
                    select.push(" ORDER BY seq DESC LIMIT ").push_bind(i64::from(filters.limit.get()) + 1);
                    // Read row by row, and no further than the page needs.
                    let mut rows = Vec::new();
                    let mut stream = select.build_query_as::<EventRow>().fetch(&self.pool);
                    while let Some(row) = futures_util::TryStreamExt::try_next(&mut stream).await? {
                        let size = row.size();
                        rows.push((row, size));
                        if Page::is_full(&rows, filters.limit) {
                            break;
                        }
                    }
                    drop(stream);
                    let mut page = Page::from_sized_rows(rows, filters.limit, |row: &EventRow| row.seq.to_string());
                    let events = std::mem::take(&mut page.items)
                        .into_iter()
                        .map(Event::try_from)
                        .collect::<StoreResult<_>>()?;
                    Ok(Page {
                        items: events,
                        next_cursor: page.next_cursor,
                    })
                }

                async fn prune_events(&self, before: Timestamp, batch: i64) -> StoreResult<u64> {
                    // The oldest rows by seq are the oldest by time: a range of seq's index.
                    let pruned = sqlx::query(
                        "DELETE FROM events WHERE time < $1 AND seq IN
                            (SELECT seq FROM events ORDER BY seq LIMIT $2)",
                    )
                    .bind(before)
                    .bind(batch)
                    .execute(self.writer())
                    .await?;
                    Ok(pruned.rows_affected())
                }
            }
        }
    };
}
pub(super) use event_store;
