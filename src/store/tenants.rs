//! Tenants. `tenant_store!` writes the implementation once for both adapters; each brings
//! `TENANTS_PAGE` and `TENANTS_AMONG` (how a list of ids is matched: an array or JSON) and
//! `tenant_list` (how that list is bound).

use async_trait::async_trait;

use super::{Audit, StoreResult};
use crate::domain::audit::Event;
use crate::domain::page::{Limit, Page};
use crate::domain::tenant::{Tenant, TenantId};
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

macro_rules! tenant_store {
    ($store:ident) => {
        mod tenant_store {
            use async_trait::async_trait;

            use super::event_store::record;
            use super::{TENANTS_AMONG, TENANTS_PAGE, tenant_list, $store};
            use crate::domain::Missing;
            use crate::domain::audit::Event;
            use crate::domain::page::{Limit, Page};
            use crate::domain::tenant::{Tenant, TenantId};
            use crate::domain::token::TenantScope;
            use crate::store::rows::TenantRow;
            use crate::store::{Audit, StoreError, StoreResult, TenantStore};

            #[async_trait]
            impl TenantStore for $store {
                async fn create_tenant(&self, tenant: &Tenant, event: &Event) -> StoreResult<()> {
                    let mut tx = self.begin_write().await?;
                    sqlx::query("INSERT INTO tenants (id, name, created) VALUES ($1, $2, $3)")
                        .bind(tenant.id.as_str())
                        .bind(tenant.name.as_str())
                        .bind(tenant.created)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| StoreError::on_unique(e, "a tenant with this id exists"))?;
                    record(&mut tx, event).await?;
                    tx.commit().await?;
                    event.log();
                    Ok(())
                }

                async fn tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>> {
                    let row: Option<TenantRow> =
                        sqlx::query_as("SELECT id, name, created FROM tenants WHERE id = $1")
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
                        TenantScope::Only(ids) => Some(tenant_list(ids)),
                    };
                    let rows: Vec<TenantRow> = sqlx::query_as(TENANTS_PAGE)
                        .bind(after.unwrap_or(""))
                        .bind(only)
                        .bind(i64::from(limit.get()) + 1)
                        .fetch_all(&self.pool)
                        .await?;
                    let tenants = (rows.into_iter())
                        .map(Tenant::try_from)
                        .collect::<StoreResult<_>>()?;
                    Ok(Page::from_rows(tenants, limit, |t: &Tenant| {
                        t.id.to_string()
                    }))
                }

                async fn delete_tenant(
                    &self,
                    id: &TenantId,
                    audit: &Audit<'_, Tenant>,
                ) -> StoreResult<()> {
                    let mut tx = self.begin_write().await?;
                    let deleted: Option<TenantRow> = sqlx::query_as(
                        "DELETE FROM tenants WHERE id = $1 RETURNING id, name, created",
                    )
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| {
                        StoreError::on_foreign_key(
                            e,
                            StoreError::Conflict(
                                "the tenant still has clients; delete or move them first",
                            ),
                        )
                    })?;
                    let deleted = deleted.ok_or(StoreError::NotFound(Missing::Tenant))?;
                    let event = audit(&Tenant::try_from(deleted)?);
                    record(&mut tx, &event).await?;
                    tx.commit().await?;
                    event.log();
                    Ok(())
                }

                async fn missing_tenants(&self, ids: &[TenantId]) -> StoreResult<Vec<TenantId>> {
                    let found: Vec<(String,)> = sqlx::query_as(TENANTS_AMONG)
                        .bind(tenant_list(ids))
                        .fetch_all(&self.pool)
                        .await?;
                    Ok((ids.iter())
                        .filter(|id| !found.iter().any(|(f,)| f == id.as_str()))
                        .cloned()
                        .collect())
                }
            }
        }
    };
}
pub(super) use tenant_store;
