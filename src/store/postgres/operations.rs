//! The Postgres database's upkeep: migrations on a connection of their own, and the feed of
//! the changes every replica commits.

use async_trait::async_trait;
use sqlx::postgres::PgListener;

use super::PostgresStore;
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
        let mut listener = PgListener::connect_with(&self.listening).await?;
        // A lost connection ends the feed: the follower starts over, and knows it must.
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await?;
        Ok(Some(Box::new(Listening(listener))))
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

struct Listening(PgListener);

#[async_trait]
impl ChangeFeed for Listening {
    async fn next(&mut self) -> StoreResult<Option<Change>> {
        let notice = self.0.try_recv().await?;
        Ok(notice.map(|notice| Change::parse(notice.payload())))
    }

    async fn check(&mut self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&mut self.0).await?;
        Ok(())
    }
}
