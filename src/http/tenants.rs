//! `/tenants`: create, list, read and delete tenants.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::extract::{JsonBody, Paging, Prefix, TenantPath};
use crate::app::{Caller, tenants};

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
    let tenant = tenants::create(&state.app, &caller, &body.id, &body.name).await?;
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
    Ok(Json(
        tenants::list(&state.app, &caller, after, paging.limit).await?,
    ))
}

async fn read_tenant(
    State(state): State<AppState>,
    caller: Caller,
    TenantPath(id): TenantPath,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(tenants::read(&state.app, &caller, &id).await?))
}

async fn delete_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    tenants::delete(&state.app, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
