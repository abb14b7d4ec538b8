//! The audit trail. Every write of the other parts inserts its event with `record` or
//! `finish` (`INSERT_EVENT`), in its own transaction; the trail is read and pruned here the
//! same way for both adapters, their `Dialect` matching the caller's tenants.

use async_trait::async_trait;
use futures_util::{Stream, TryStreamExt};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, QueryBuilder, Transaction, Type};
use uuid::Uuid;

use super::StoreResult;
use super::adapter::Adapter;
use super::dialect::Dialect;
use super::rows::EventRow;
use crate::domain::audit::{Event, EventFilters, FeedPosition, Order};
use crate::domain::client::ClientId;
use crate::domain::page::{Limit, Page};
use crate::domain::tenant::TenantId;
use crate::domain::time::Timestamp;
use crate::domain::token::TenantScope;

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

/// An event's insert, its seventeen columns in the order `bind_event` binds them.
pub(super) const INSERT_EVENT: &str = "INSERT INTO events
    (id, time, tenant_id, client_id, actor_kind, actor_token_id, actor_token_name, source_ip,
     request_id, action, resource_type, resource_id, resource_path, patch, changed, document,
     claim)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)";

type Query<'q, DB> = sqlx::query::Query<'q, DB, <DB as Database>::Arguments>;

/// How a database takes an event: the same on both, written once here; the blanket impl
/// below says once what sqlx needs of a database for it.
pub trait Recording: Database {
    /// Binds the event's seventeen columns, in `INSERT_EVENT`'s order, after what `query`
    /// has bound already.
    fn bind_event<'q>(query: Query<'q, Self>, event: &Event) -> Query<'q, Self>;

    /// Inserts `event` in the transaction of the change it records.
    fn record<'t>(
        tx: &'t mut Transaction<'static, Self>,
        event: &'t Event,
    ) -> impl Future<Output = StoreResult<()>> + Send + 't;
}

// A borrowed value is bound for as long as it is encoded ('t), which Option's impls need.
impl<DB> Recording for DB
where
    DB: Database,
    <DB as Database>::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'t> Uuid: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB> + Type<DB>,
    for<'t> Option<Uuid>: Encode<'t, DB> + Type<DB>,
    for<'t> Option<String>: Encode<'t, DB> + Type<DB>,
    for<'t> Option<Json<&'t Value>>: Encode<'t, DB> + Type<DB>,
    for<'t> Option<Json<&'t Vec<String>>>: Encode<'t, DB> + Type<DB>,
{
    fn bind_event<'q>(query: Query<'q, Self>, event: &Event) -> Query<'q, Self> {
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

    async fn record(tx: &mut Transaction<'static, Self>, event: &Event) -> StoreResult<()> {
        let insert = Self::bind_event(sqlx::query(INSERT_EVENT), event);
        insert.execute(&mut **tx).await?;
        Ok(())
    }
}

/// Binds the event's columns after what `query` has bound already (`Recording::bind_event`).
pub(super) fn bind_event<'q, DB: Recording>(query: Query<'q, DB>, event: &Event) -> Query<'q, DB> {
    DB::bind_event(query, event)
}

/// Inserts `event` in the transaction of the change it records.
pub(super) async fn record<DB: Recording>(
    tx: &mut Transaction<'static, DB>,
    event: &Event,
) -> StoreResult<()> {
    DB::record(tx, event).await
}

/// Commits with the change's event, and logs it once it is committed.
pub(super) async fn finish<DB: Recording>(
    mut tx: Transaction<'static, DB>,
    event: &Event,
) -> StoreResult<()> {
    record(&mut tx, event).await?;
    tx.commit().await?;
    event.log();
    Ok(())
}

/// Deletes the events older than `$1` among the `$2` oldest. The oldest rows by seq are the
/// oldest by time: a range of seq's index.
const PRUNE_EVENTS: &str = "DELETE FROM events WHERE time < $1 AND seq IN
    (SELECT seq FROM events ORDER BY seq LIMIT $2)";

/// The columns as `EventRow` takes them, after seq and the feed's xid.
const EVENT_COLUMNS: &str = " AS feed_xid, id, time, tenant_id, client_id, actor_kind,
    actor_token_id, actor_token_name, source_ip, request_id, action, resource_id,
    resource_path, patch, changed, document
    FROM events WHERE ";

/// A tenant created again under a deleted one's id starts with an empty trail: an event
/// of a tenant that exists now is shown only if it is no older than the tenant's latest
/// `tenant.create` (one probe of `events_by_tenant_action`). A client's events may span
/// tenants (it can move), so theirs is looked up for each event examined.
const SINCE_ITS_TENANT_BORN: &str = " AND seq >= coalesce((SELECT max(born.seq) FROM events born
    WHERE born.tenant_id = events.tenant_id AND born.action = 'tenant.create'
      AND EXISTS (SELECT 1 FROM tenants WHERE tenants.id = events.tenant_id)), 0)";

/// The same for one tenant's trail, found once for the page, so the page is a range of
/// `events_by_tenant` (or `events_by_tenant_action`) from there.
fn push_since_born<DB>(select: &mut sqlx::QueryBuilder<DB>, tenant: &str)
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

/// A page of the query's history, newest first, one row more than the page holds. Only the
/// filters given are in the query, so each can use its index (migration 0007 names them).
fn select_events<DB>(query: &EventQuery<'_>) -> QueryBuilder<DB>
where
    DB: Dialect,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> Uuid: Encode<'t, DB> + Type<DB>,
    for<'t> Timestamp: Encode<'t, DB> + Type<DB>,
{
    let filters = &query.filters;
    let mut select = QueryBuilder::new("SELECT seq, ");
    select.push(DB::FEED_XID).push(EVENT_COLUMNS);
    // Newest first by seq, the keyset of every page; oldest first in the feed's order.
    match filters.order {
        Order::NewestFirst => {
            select.push("seq < ");
            select.push_bind(filters.before.unwrap_or(i64::MAX));
        }
        Order::OldestFirst { after } => DB::push_feed_after(&mut select, after),
    }
    match &query.history {
        History::Everything => {}
        History::Tenant(tenant) => {
            select.push(" AND tenant_id = ");
            select.push_bind(tenant.as_str().to_owned());
            push_since_born(&mut select, tenant.as_str());
        }
        History::Client(client, scope) => {
            select.push(" AND client_id = ");
            select.push_bind(client.as_str().to_owned());
            if let TenantScope::Only(ids) = scope {
                select.push(" AND ");
                DB::push_tenant_in(&mut select, ids);
            }
            select.push(SINCE_ITS_TENANT_BORN);
        }
    }
    if let Some(action) = filters.action {
        select.push(" AND action = ");
        select.push_bind(action.as_str().to_owned());
    }
    if let Some(resource_type) = filters.resource_type {
        select.push(" AND resource_type = ");
        select.push_bind(resource_type.to_owned());
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
    select.push(match filters.order {
        Order::NewestFirst => " ORDER BY seq DESC",
        Order::OldestFirst { .. } => DB::FEED_ORDER,
    });
    select.push(" LIMIT ");
    select.push_bind(i64::from(filters.limit.get()) + 1);
    select
}

/// Reads `rows` (of `select_events`) row by row, and no further than the page needs. An
/// oldest-first page always has a cursor: where a follower goes on, even from its end.
async fn read_page<S>(mut rows: S, limit: Limit, order: Order) -> StoreResult<Page<Event>>
where
    S: Stream<Item = Result<EventRow, sqlx::Error>> + Unpin,
{
    let mut sized = Vec::new();
    while let Some(row) = rows.try_next().await? {
        let size = row.size();
        sized.push((row, size));
        if Page::is_full(&sized, limit) {
            break;
        }
    }
    drop(rows);
    let position = |row: &EventRow| FeedPosition {
        xid: row.feed_xid.parse().unwrap_or(0),
        seq: row.seq,
    };
    let mut page = match order {
        Order::NewestFirst => {
            Page::from_sized_rows(sized, limit, |row: &EventRow| row.seq.to_string())
        }
        Order::OldestFirst { after } => {
            let mut page =
                Page::from_sized_rows(sized, limit, |row: &EventRow| position(row).cursor());
            let last = page.items.last().map_or(after, position);
            page.next_cursor = Some(last.cursor());
            page
        }
    };
    let events = std::mem::take(&mut page.items)
        .into_iter()
        .map(Event::try_from)
        .collect::<StoreResult<_>>()?;
    Ok(Page {
        items: events,
        next_cursor: page.next_cursor,
    })
}

#[async_trait]
impl<S> EventStore for S
where
    S: Adapter,
    for<'c> &'c mut <S::Db as Database>::Connection: Executor<'c, Database = S::Db>,
    <S::Db as Database>::Arguments: IntoArguments<S::Db>,
    for<'t> String: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> i64: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Uuid: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Timestamp: Encode<'t, S::Db> + Type<S::Db>,
    for<'r> EventRow: FromRow<'r, <S::Db as Database>::Row> + Send + Unpin,
{
    async fn events(&self, query: &EventQuery<'_>) -> StoreResult<Page<Event>> {
        let mut select = select_events::<S::Db>(query);
        let rows = select.build_query_as::<EventRow>().fetch(self.reader());
        read_page(rows, query.filters.limit, query.filters.order).await
    }

    async fn prune_events(&self, before: Timestamp, batch: i64) -> StoreResult<u64> {
        let pruned = sqlx::query(PRUNE_EVENTS)
            .bind(before)
            .bind(batch)
            .execute(self.writer())
            .await?;
        Ok(S::Db::rows_affected(&pruned))
    }
}
