//! Tenants: the trait, implemented once for both adapters; each database's `Dialect` says
//! how a list of ids is bound and matched (an array or JSON).

use async_trait::async_trait;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};

use super::adapter::Adapter;
use super::dialect::Dialect;
use super::events::finish;
use super::rows::TenantRow;
use super::{Audit, StoreError, StoreResult};
use crate::domain::Missing;
use crate::domain::audit::Event;
use crate::domain::page::{Limit, Page};
use crate::domain::tenant::{Tenant, TenantId};
use crate::domain::time::Timestamp;
use crate::domain::token::TenantScope;

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Conflict when the id is taken.
    async fn create_tenant(&self, tenant: &Tenant, event: &Event) -> StoreResult<()>;
    async fn tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>>;
    async fn list_tenants(
        &self,
        scope: TenantScope<'_>,
        after: Option<&str>,
        limit: Limit,
    ) -> StoreResult<Page<Tenant>>;
    /// Not found, or conflict while the tenant still owns clients.
    async fn delete_tenant(&self, id: &TenantId, audit: &Audit<'_, Tenant>) -> StoreResult<()>;
    /// The ids among `ids` that name no tenant.
    async fn missing_tenants(&self, ids: &[TenantId]) -> StoreResult<Vec<TenantId>>;
}

const INSERT_TENANT: &str = "INSERT INTO tenants (id, name, created) VALUES ($1, $2, $3)";
const TENANT_BY_ID: &str = "SELECT id, name, created FROM tenants WHERE id = $1";
const DELETE_TENANT: &str = "DELETE FROM tenants WHERE id = $1 RETURNING id, name, created";

/// What an insert that met the tenant's id already taken is told.
fn id_taken(error: sqlx::Error) -> StoreError {
    StoreError::on_unique(error, "a tenant with this id exists")
}

/// What a deletion that met the foreign key of one of the tenant's clients is told.
fn still_has_clients(error: sqlx::Error) -> StoreError {
    StoreError::on_foreign_key(
        error,
        StoreError::Conflict("the tenant still has clients; delete or move them first"),
    )
}

/// A page of tenants from one row more than `limit`, which says whether another page follows.
fn tenant_page(rows: Vec<TenantRow>, limit: Limit) -> StoreResult<Page<Tenant>> {
    let tenants = (rows.into_iter())
        .map(Tenant::try_from)
        .collect::<StoreResult<_>>()?;
    Ok(Page::from_rows(tenants, limit, |t: &Tenant| {
        t.id.to_string()
    }))
}

/// The ids among `ids` that are not among `found`.
fn not_found(ids: &[TenantId], found: &[(String,)]) -> Vec<TenantId> {
    (ids.iter())
        .filter(|id| !found.iter().any(|(f,)| f == id.as_str()))
        .cloned()
        .collect()
}

#[async_trait]
impl<S> TenantStore for S
where
    S: Adapter,
    for<'c> &'c mut <S::Db as Database>::Connection: Executor<'c, Database = S::Db>,
    <S::Db as Database>::Arguments: IntoArguments<S::Db>,
    for<'t> &'t str: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Timestamp: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> i64: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> <S::Db as Dialect>::TenantList: Encode<'t, S::Db> + Type<S::Db>,
    for<'t> Option<<S::Db as Dialect>::TenantList>: Encode<'t, S::Db> + Type<S::Db>,
    for<'r> TenantRow: FromRow<'r, <S::Db as Database>::Row> + Send + Unpin,
    for<'r> (String,): FromRow<'r, <S::Db as Database>::Row> + Send + Unpin,
{
    async fn create_tenant(&self, tenant: &Tenant, event: &Event) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(INSERT_TENANT)
            .bind(tenant.id.as_str())
            .bind(tenant.name.as_str())
            .bind(tenant.created)
            .execute(&mut *tx)
            .await
            .map_err(id_taken)?;
        finish(tx, event).await
    }

    async fn tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>> {
        let row: Option<TenantRow> = sqlx::query_as(TENANT_BY_ID)
            .bind(id.as_str())
            .fetch_optional(self.reader())
            .await?;
        row.map(Tenant::try_from).transpose()
    }

    async fn list_tenants(
        &self,
        scope: TenantScope<'_>,
        after: Option<&str>,
        limit: Limit,
    ) -> StoreResult<Page<Tenant>> {
        let only = match scope {
            TenantScope::All => None,
            TenantScope::Only(ids) => Some(S::Db::tenant_list(ids)),
        };
        let rows: Vec<TenantRow> = sqlx::query_as(S::Db::TENANTS_PAGE)
            .bind(after.unwrap_or(""))
            .bind(only)
            .bind(i64::from(limit.get()) + 1)
            .fetch_all(self.reader())
            .await?;
        tenant_page(rows, limit)
    }

    async fn delete_tenant(&self, id: &TenantId, audit: &Audit<'_, Tenant>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let deleted: Option<TenantRow> = sqlx::query_as(DELETE_TENANT)
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(still_has_clients)?;
        let deleted = deleted.ok_or(StoreError::NotFound(Missing::Tenant))?;
        let event = audit(&Tenant::try_from(deleted)?);
        finish(tx, &event).await
    }

    async fn missing_tenants(&self, ids: &[TenantId]) -> StoreResult<Vec<TenantId>> {
        let found: Vec<(String,)> = sqlx::query_as(S::Db::TENANTS_AMONG)
            .bind(S::Db::tenant_list(ids))
            .fetch_all(self.reader())
            .await?;
        Ok(not_found(ids, &found))
    }
}
