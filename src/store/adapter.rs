//! What the implementations both adapters share need of one: its database (with the
//! `Dialect` that says what its SQL spells differently), its pools, and how a write begins.
//! The trait is public only inside this private module: it is no part of the store's API.

use std::future::Future;

use sqlx::{Pool, Transaction};

use super::StoreResult;
use super::dialect::Dialect;
use super::events::Recording;

pub trait Adapter: Send + Sync {
    type Db: Dialect + Recording;

    /// The pool reads go through.
    fn reader(&self) -> &Pool<Self::Db>;
    /// The pool a write outside a transaction goes through.
    fn writer(&self) -> &Pool<Self::Db>;
    /// The pool of writes that may be lost if the database itself crashes in the moment
    /// after they commit (on Postgres their commits do not wait for the WAL flush): records
    /// whose loss costs little and expires soon, such as a client assertion's jti.
    fn relaxed_writer(&self) -> &Pool<Self::Db>;
    /// A write's transaction, begun as the database needs (SQLite takes its lock up front).
    fn begin_write(
        &self,
    ) -> impl Future<Output = StoreResult<Transaction<'static, Self::Db>>> + Send;
}
