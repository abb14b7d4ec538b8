//! The audit trail. Every write of the other parts inserts its event with `record`, in its
//! own transaction; `event_store!` writes that and the reading once for both adapters, which
//! bring `EVENTS_OF_CLIENT` (how the caller's tenants are matched) and `tenant_list`.

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
          request_id, action, resource_type, resource_id, resource_path, patch, changed, document)"
    };
}
pub(super) use event_columns;

/// The columns of an event, then the query's own clauses, then the filters every page takes.
macro_rules! event_query {
    ($where:literal) => {
        concat!(
            "SELECT seq, id, time, tenant_id, client_id, actor_kind, actor_token_id,
                    actor_token_name, source_ip, request_id, action, resource_id, resource_path,
                    patch, changed, document
             FROM events WHERE ",
            $where,
            " AND seq < $1
              AND ($2 IS NULL OR action = $2)
              AND ($3 IS NULL OR resource_type = $3)
              AND ($4 IS NULL OR actor_token_id = $4)
              AND ($5 IS NULL OR time >= $5)
              AND ($6 IS NULL OR time < $6)
             ORDER BY seq DESC LIMIT $7"
        )
    };
}
pub(super) use event_query;

pub(super) const ALL_EVENTS: &str = event_query!("true");
pub(super) const EVENTS_OF_TENANT: &str = event_query!("tenant_id = $8");

macro_rules! event_store {
    ($store:ident, $db:ty) => {
        mod event_store {
            use async_trait::async_trait;
            use sqlx::types::Json;

            use super::{$store, EVENTS_OF_CLIENT, tenant_list};
            use crate::domain::audit::Event;
            use crate::domain::page::Page;
            use crate::domain::time::Timestamp;
            use crate::domain::token::TenantScope;
            use crate::store::events::{ALL_EVENTS, EVENTS_OF_TENANT, EventQuery, History};
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
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
                ));
                bind_event(insert, event).execute(&mut **tx).await?;
                Ok(())
            }

            /// Binds the event's sixteen columns, in `event_columns!` order, after what
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
            }

            #[async_trait]
            impl EventStore for $store {
                async fn events(&self, query: &EventQuery<'_>) -> StoreResult<Page<Event>> {
                    let sql = match &query.history {
                        History::Everything => ALL_EVENTS,
                        History::Tenant(_) => EVENTS_OF_TENANT,
                        History::Client(..) => EVENTS_OF_CLIENT,
                    };
                    let mut select = sqlx::query_as::<_, EventRow>(sql)
                        .bind(query.filters.before.unwrap_or(i64::MAX))
                        .bind(query.filters.action.map(|action| action.as_str()))
                        .bind(query.filters.resource_type)
                        .bind(query.filters.actor)
                        .bind(query.filters.since)
                        .bind(query.filters.until)
                        .bind(i64::from(query.filters.limit.get()) + 1);
                    match &query.history {
                        History::Everything => {}
                        History::Tenant(tenant) => select = select.bind(tenant.as_str()),
                        History::Client(client, scope) => {
                            let only = match scope {
                                TenantScope::All => None,
                                TenantScope::Only(ids) => Some(tenant_list(ids)),
                            };
                            select = select.bind(client.as_str()).bind(only);
                        }
                    }
                    let rows = select.fetch_all(&self.pool).await?;
                    let mut page = Page::from_rows(rows, query.filters.limit, |row: &EventRow| {
                        row.seq.to_string()
                    });
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
                    // The oldest rows by seq are the oldest by time: no index on time needed.
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
