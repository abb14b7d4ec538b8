//! The SQLite database's upkeep: migrations, an in-memory database held open, and the claim
//! that makes one server the only one on its file.

use async_trait::async_trait;

use super::SqliteStore;
use crate::store::changes::{Change, ChangeFeed};
use crate::store::operations::{pool_stats, probe};
use crate::store::{Operations, PoolStats, StoreError, StoreResult};

#[async_trait]
impl Operations for SqliteStore {
    /// An in-memory database must be held open before its schema is made.
    async fn migrate(&self) -> StoreResult<()> {
        self.keep_alive().await?;
        Ok(sqlx::migrate!("migrations/sqlite").run(&self.pool).await?)
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

    /// None: this process is the only writer (see `claim_sole_server`).
    async fn changes(&self) -> StoreResult<Option<Box<dyn ChangeFeed>>> {
        Ok(None)
    }

    async fn announce(&self, _changes: &[Change]) -> StoreResult<()> {
        Ok(())
    }

    /// No other process hears what this one changes, so a server that keeps clients and
    /// tokens in memory must be the only one on its file: it takes an exclusive lock on the
    /// database file itself, held until the store closes (or the process dies). The command
    /// line's offline `token create` takes none: a new token cannot be stale in anyone's
    /// memory. An in-memory database is this process's alone.
    fn claim_sole_server(&self) -> StoreResult<()> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let mut held = self.sole_server.lock().unwrap_or_else(|e| e.into_inner());
        if held.is_some() {
            return Ok(());
        }
        let cannot = |e: std::io::Error| {
            StoreError::Unavailable(sqlx::Error::Io(std::io::Error::new(
                e.kind(),
                format!("cannot open {} to lock it: {e}", path.display()),
            )))
        };
        // Created if missing, as SQLite would: an empty file is an empty database.
        let file = (std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true))
        .truncate(false)
        .open(path)
        .map_err(cannot)?;
        match file.try_lock() {
            Ok(()) => {
                *held = Some(file);
                Ok(())
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Conflict(
                "another clientd serves this SQLite file; SQLite is served by one process \
                 (use Postgres for several replicas)",
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(cannot(e)),
        }
    }

    fn database_file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }

    async fn close(&self) {
        self.sole_server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        self.writer.close().await;
        self.pool.close().await;
    }
}
