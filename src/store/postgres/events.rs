//! The audit trail on Postgres: the insert every write's transaction ends with, and the
//! trail's pages.

use async_trait::async_trait;
use sqlx::Postgres;
use sqlx::types::Json;

use super::PostgresStore;
use crate::domain::audit::Event;
use crate::domain::page::Page;
use crate::domain::time::Timestamp;
use crate::store::events::{self, EventQuery, INSERT_EVENT, PRUNE_EVENTS};
use crate::store::rows::EventRow;
use crate::store::{EventStore, StoreResult};

type Query<'q> = sqlx::query::Query<'q, Postgres, <Postgres as sqlx::Database>::Arguments>;

/// Inserts `event` in the transaction of the change it records.
pub(super) async fn record(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    event: &Event,
) -> StoreResult<()> {
    let insert = sqlx::query(INSERT_EVENT);
    bind_event(insert, event).execute(&mut **tx).await?;
    Ok(())
}

/// Binds the event's seventeen columns, in `INSERT_EVENT`'s order, after what `query` has
/// bound already.
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
impl EventStore for PostgresStore {
    async fn events(&self, query: &EventQuery<'_>) -> StoreResult<Page<Event>> {
        let mut select = events::select_events::<Postgres>(query);
        let rows = select.build_query_as::<EventRow>().fetch(&self.pool);
        events::read_page(rows, query.filters.limit).await
    }

    async fn prune_events(&self, before: Timestamp, batch: i64) -> StoreResult<u64> {
        let pruned = sqlx::query(PRUNE_EVENTS)
            .bind(before)
            .bind(batch)
            .execute(self.writer())
            .await?;
        Ok(pruned.rows_affected())
    }
}
