//! The database's upkeep that reads the same on both backends: pool statistics and the probe
//! outside the pool. Each adapter's `operations` module implements `Operations` with these and
//! its own migrations, change feed and claim on the database.

use sqlx::Connection;

use super::{PoolStats, StoreResult};

pub(super) fn pool_stats<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> PoolStats {
    PoolStats {
        connections: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
    }
}

/// Opens and closes one connection with the pool's options, but not through the pool.
pub(super) async fn probe<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> StoreResult<()> {
    let connection = DB::Connection::connect_with(&pool.connect_options()).await?;
    connection.close().await?;
    Ok(())
}
