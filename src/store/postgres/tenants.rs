//! Tenants on Postgres: a list of ids travels as a `text[]`, matched with `= ANY`.

use async_trait::async_trait;
use sqlx::Postgres;

use super::{PostgresStore, finish};
use crate::domain::Missing;
use crate::domain::audit::Event;
use crate::domain::page::{Limit, Page};
use crate::domain::tenant::{Tenant, TenantId};
use crate::domain::token::TenantScope;
use crate::store::dialect::Dialect;
use crate::store::rows::TenantRow;
use crate::store::tenants::{
    DELETE_TENANT, INSERT_TENANT, TENANT_BY_ID, id_taken, not_found, still_has_clients, tenant_page,
};
use crate::store::{Audit, StoreError, StoreResult, TenantStore};

const TENANTS_PAGE: &str = "SELECT id, name, created FROM tenants
     WHERE id > $1 AND ($2::text[] IS NULL OR id = ANY($2))
     ORDER BY id LIMIT $3";
const TENANTS_AMONG: &str = "SELECT id FROM tenants WHERE id = ANY($1)";

#[async_trait]
impl TenantStore for PostgresStore {
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
            .fetch_optional(&self.pool)
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
            TenantScope::Only(ids) => Some(Postgres::tenant_list(ids)),
        };
        let rows: Vec<TenantRow> = sqlx::query_as(TENANTS_PAGE)
            .bind(after.unwrap_or(""))
            .bind(only)
            .bind(i64::from(limit.get()) + 1)
            .fetch_all(&self.pool)
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
        let found: Vec<(String,)> = sqlx::query_as(TENANTS_AMONG)
            .bind(Postgres::tenant_list(ids))
            .fetch_all(&self.pool)
            .await?;
        Ok(not_found(ids, &found))
    }
}
