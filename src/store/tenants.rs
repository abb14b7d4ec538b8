//! Tenants: the trait, and the SQL text and row handling both adapters share. Each adapter's
//! `tenants` module says how a list of ids is matched and bound (an array or JSON).

use async_trait::async_trait;

use super::rows::TenantRow;
use super::{Audit, StoreError, StoreResult};
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

pub(super) const INSERT_TENANT: &str =
    "INSERT INTO tenants (id, name, created) VALUES ($1, $2, $3)";
pub(super) const TENANT_BY_ID: &str = "SELECT id, name, created FROM tenants WHERE id = $1";
pub(super) const DELETE_TENANT: &str =
    "DELETE FROM tenants WHERE id = $1 RETURNING id, name, created";

/// What an insert that met the tenant's id already taken is told.
pub(super) fn id_taken(error: sqlx::Error) -> StoreError {
    StoreError::on_unique(error, "a tenant with this id exists")
}

/// What a deletion that met the foreign key of one of the tenant's clients is told.
pub(super) fn still_has_clients(error: sqlx::Error) -> StoreError {
    StoreError::on_foreign_key(
        error,
        StoreError::Conflict("the tenant still has clients; delete or move them first"),
    )
}

/// A page of tenants from one row more than `limit`, which says whether another page follows.
pub(super) fn tenant_page(rows: Vec<TenantRow>, limit: Limit) -> StoreResult<Page<Tenant>> {
    let tenants = (rows.into_iter())
        .map(Tenant::try_from)
        .collect::<StoreResult<_>>()?;
    Ok(Page::from_rows(tenants, limit, |t: &Tenant| {
        t.id.to_string()
    }))
}

/// The ids among `ids` that are not among `found`.
pub(super) fn not_found(ids: &[TenantId], found: &[(String,)]) -> Vec<TenantId> {
    (ids.iter())
        .filter(|id| !found.iter().any(|(f,)| f == id.as_str()))
        .cloned()
        .collect()
}
