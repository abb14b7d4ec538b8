//! The audit trail on Postgres: the insert every write's transaction ends with, and the
//! trail's pages.

use async_trait::async_trait;
use sqlx::Postgres;

use super::PostgresStore;
use crate::domain::audit::Event;
use crate::domain::page::Page;
use crate::domain::time::Timestamp;
use crate::store::events::{self, EventQuery, PRUNE_EVENTS};
use crate::store::rows::EventRow;
use crate::store::{EventStore, StoreResult};

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
