//! `/tenants`: create, list, read and delete tenants.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::AppState;
use super::auth::{Caller, not_found_tenant};
use super::error::ApiError;
use super::extract::{JsonBody, Paging, Prefix};
use crate::domain::tenant::{Tenant, TenantId};
use crate::domain::time;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tenants", get(list_tenants).post(create_tenant))
        .route(
            "/tenants/{tenant_id}",
            get(read_tenant).delete(delete_tenant),
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTenant {
    id: String,
    name: String,
}

async fn create_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Prefix(prefix): Prefix,
    JsonBody(body): JsonBody<CreateTenant>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_admin()?;
    let tenant = Tenant::new(&body.id, &body.name, time::now())?;
    state.store.create_tenant(&tenant).await?;
    let location = format!("{prefix}/tenants/{}", tenant.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(tenant),
    ))
}

async fn list_tenants(
    State(state): State<AppState>,
    caller: Caller,
    paging: Paging,
) -> Result<impl IntoResponse, ApiError> {
    let after = paging.cursor.as_ref().map(|cursor| cursor.key());
    let page = (state.store)
        .list_tenants(caller.grants.visible_tenants(), after, paging.limit)
        .await?;
    Ok(Json(page))
}

async fn read_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let tenant_id = TenantId::parse(&tenant_id).map_err(|_| not_found_tenant())?;
    caller.require_read(&tenant_id)?;
    let tenant = state.store.tenant(&tenant_id).await?;
    tenant.map(Json).ok_or_else(not_found_tenant)
}

async fn delete_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    let tenant_id = TenantId::parse(&tenant_id).map_err(|_| not_found_tenant())?;
    match state.store.delete_tenant(&tenant_id).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(crate::store::StoreError::NotFound) => Err(not_found_tenant()),
        Err(crate::store::StoreError::Conflict(_)) => Err(ApiError::Conflict(
            "the tenant still has clients; delete or move them first".to_owned(),
        )),
        Err(error) => Err(error.into()),
    }
}
