//! The Postgres database's upkeep: migrations on a connection of their own, and the feed of
//! the changes every replica commits (feed.rs), with the notices that wake it.

use async_trait::async_trait;
use sqlx::postgres::PgListener;

use super::PostgresStore;
use super::feed::Following;
use crate::store::changes::{CHANNEL, Change, ChangeFeed};
use crate::store::operations::{pool_stats, probe};
use crate::store::{Operations, PoolStats, StoreResult};

#[async_trait]
impl Operations for PostgresStore {
    /// Migrations run on a connection of their own, without the requests' statement
    /// timeout: building an index over a long trail, or a replica waiting for another's
    /// migrations (the migrator's advisory lock), may take longer than any request.
    async fn migrate(&self) -> StoreResult<()> {
        let migrated = sqlx::migrate!("migrations/postgres")
            .run(&self.migrating)
            .await;
        self.migrating.close().await;
        Ok(migrated?)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn probe(&self) -> StoreResult<()> {
        probe(&self.pool).await
    }

    fn pool_stats(&self) -> PoolStats {
        pool_stats(&self.pool)
    }

    async fn changes(&self) -> StoreResult<Option<Box<dyn ChangeFeed>>> {
        let listener = PgListener::connect_with(&self.listening).await?;
        Ok(Some(Box::new(Following::start(listener).await?)))
    }

    /// Through the relaxed pool: a notice's commit gets an xid and a commit record, and
    /// need not wait for its WAL flush (the notice goes out at commit all the same); a
    /// notice lost with a crash of the database costs followers one poll.
    async fn announce(&self, changes: &[Change]) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload")
            .bind(CHANNEL)
            .bind(Change::payloads_of(changes))
            .execute(&self.relaxed)
            .await?;
        Ok(())
    }

    /// Every replica hears every change: any number may serve one database.
    fn claim_sole_server(&self) -> StoreResult<()> {
        Ok(())
    }

    fn database_file(&self) -> Option<&std::path::Path> {
        None
    }

    async fn close(&self) {
        self.listening.close().await;
        self.relaxed.close().await;
        self.pool.close().await;
    }
}
