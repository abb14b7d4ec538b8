//! The database's upkeep. `operations!` writes it once for both adapters; each brings its
//! migrations folder and `close_pools`.

macro_rules! operations {
    ($store:ident, $db:ty, $migrations:literal) => {
        mod operations {
            use async_trait::async_trait;

            use super::$store;
            use crate::store::{Operations, PoolStats, StoreResult};

            #[async_trait]
            impl Operations for $store {
                async fn migrate(&self) -> StoreResult<()> {
                    self.before_migrations().await?;
                    let migrated = sqlx::migrate!($migrations).run(self.migration_pool()).await;
                    self.after_migrations().await;
                    Ok(migrated?)
                }

                async fn ping(&self) -> StoreResult<()> {
                    sqlx::query("SELECT 1").execute(&self.pool).await?;
                    Ok(())
                }

                async fn probe(&self) -> StoreResult<()> {
                    use sqlx::Connection;
                    let options = self.pool.connect_options();
                    let connection =
                        <<$db as sqlx::Database>::Connection as Connection>::connect_with(&options)
                            .await?;
                    connection.close().await?;
                    Ok(())
                }

                fn pool_stats(&self) -> PoolStats {
                    PoolStats {
                        connections: self.pool.size(),
                        idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                    }
                }

                async fn changes(&self) -> StoreResult<Option<Box<dyn crate::store::ChangeFeed>>> {
                    self.change_feed().await
                }

                fn claim_sole_server(&self) -> StoreResult<()> {
                    self.claim_file()
                }

                async fn close(&self) {
                    self.close_pools().await;
                }
            }
        }
    };
}
pub(super) use operations;
