//! `/tenants/{tenantId}/clients` and `/clients/{clientId}`: create (Nexus), list, read,
//! JSON Patch (SailPoint) and delete OAuth clients.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use super::AppState;
use super::auth::{Caller, not_found_tenant};
use super::error::ApiError;
use super::extract::{JsonBody, NO_STORE, Paging, Prefix, parse_json};
use crate::domain::client::{
    self, Client, ClientId, ClientPatch, ClientType, CreateClient, IssuedSecret,
};
use crate::domain::credential::Credential;
use crate::domain::tenant::TenantId;
use crate::domain::time;
use crate::store::StoreError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/tenants/{tenant_id}/clients",
            get(list_clients).post(create_client),
        )
        .route(
            "/clients/{client_id}",
            get(read_client).patch(patch_client).delete(delete_client),
        )
}

/// The media types PATCH accepts, as announced in `Accept-Patch`.
pub const ACCEPT_PATCH: &str = "application/json-patch+json, application/json";

async fn create_client(
    State(state): State<AppState>,
    caller: Caller,
    Prefix(prefix): Prefix,
    Path(tenant_id): Path<String>,
    JsonBody(request): JsonBody<CreateClient>,
) -> Result<Response, ApiError> {
    let tenant = TenantId::parse(&tenant_id).map_err(|_| not_found_tenant())?;
    // Answered before the tenant is looked up, so a 403 says nothing about whether it exists.
    if !caller.grants.can_write(&tenant) {
        return Err(ApiError::Forbidden(
            "this token may not create clients in this tenant (needs client.write on it)"
                .to_owned(),
        ));
    }
    let client = request.into_client(tenant, time::now())?;
    let secret = match client.client_type() {
        ClientType::Confidential => Some(IssuedSecret::generate()?),
        ClientType::Public => None,
    };
    match state.store.create_client(&client, secret.as_ref()).await {
        Err(StoreError::UnknownTenant) => return Err(not_found_tenant()),
        result => result?,
    }
    let mut document = client.document_value();
    if let (Some(secret), Value::Object(fields)) = (&secret, &mut document) {
        fields.insert("secret".to_owned(), Value::from(secret.text.expose()));
    }
    let location = format!("{prefix}/clients/{}", client.id);
    let headers = [(header::LOCATION, location), (header::ETAG, client.etag())];
    Ok((StatusCode::CREATED, [NO_STORE], headers, Json(document)).into_response())
}

async fn list_clients(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant_id): Path<String>,
    paging: Paging,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = TenantId::parse(&tenant_id).map_err(|_| not_found_tenant())?;
    caller.require_read(&tenant)?;
    let after = paging.cursor.as_ref().map(|cursor| cursor.key());
    let page = state
        .store
        .list_clients(&tenant, after, paging.limit)
        .await?;
    // A client proves its tenant exists (a foreign key, and a tenant with clients cannot be
    // deleted), so only an empty page costs the lookup that tells 404 from no clients.
    if page.items.is_empty() && state.store.tenant(&tenant).await?.is_none() {
        return Err(not_found_tenant());
    }
    Ok(Json(page.map_ref(Client::document)).into_response())
}

/// The client, if it exists and the caller can see its tenant.
pub(super) async fn visible_client(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Client, ApiError> {
    let id = ClientId::parse(id).map_err(|_| not_found_client())?;
    match state.store.client(&id).await? {
        Some(client) if caller.grants.can_read(&client.tenant) => Ok(client),
        _ => Err(not_found_client()),
    }
}

async fn read_client(
    State(state): State<AppState>,
    caller: Caller,
    Path(client_id): Path<String>,
) -> Result<Response, ApiError> {
    let client = visible_client(&state, &caller, &client_id).await?;
    Ok(document_response(&client))
}

async fn patch_client(
    State(state): State<AppState>,
    caller: Caller,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !is_patch_media_type(&headers) {
        return Err(ApiError::UnsupportedPatchType);
    }
    let patch = ClientPatch::parse(parse_json::<Value>(&body)?)?;
    let id = ClientId::parse(&client_id).map_err(|_| not_found_client())?;
    let if_match = if_match(&headers)?;
    let now = time::now();
    let decide = |current: &Client, credentials: &[Credential]| {
        let grants = &caller.grants;
        client::decide_patch(
            current,
            credentials,
            &patch,
            grants,
            if_match.as_deref(),
            now,
        )
    };
    match state.store.update_client(&id, &decide).await {
        Ok(Ok(client)) => Ok(document_response(&client)),
        Ok(Err(refusal)) => Err(refusal.into()),
        Err(StoreError::NotFound) => Err(not_found_client()),
        Err(StoreError::UnknownTenant) => {
            Err(ApiError::Invalid(vec![crate::domain::FieldError::new(
                "/tenant",
                "no tenant with this id",
            )]))
        }
        Err(error) => Err(error.into()),
    }
}

async fn delete_client(
    State(state): State<AppState>,
    caller: Caller,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let client = visible_client(&state, &caller, &client_id).await?;
    if !caller.grants.can_write(&client.tenant) {
        return Err(ApiError::Forbidden(
            "this token may read but not change this tenant's clients".to_owned(),
        ));
    }
    match state.store.delete_client(&client.id, &client.tenant).await {
        Err(StoreError::NotFound) => Err(not_found_client()),
        result => result
            .map(|()| StatusCode::NO_CONTENT)
            .map_err(ApiError::from),
    }
}

/// The client's document with its ETag, serialized once for both.
fn document_response(client: &Client) -> Response {
    let Ok(body) = serde_json::to_vec(&client.document()) else {
        return ApiError::Internal("the client document did not serialize".to_owned())
            .into_response();
    };
    let headers = [
        (header::ETAG, client::etag_of(&body)),
        (header::CONTENT_TYPE, "application/json".to_owned()),
    ];
    (headers, body).into_response()
}

fn is_patch_media_type(headers: &HeaderMap) -> bool {
    let essence = (headers.get(header::CONTENT_TYPE))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase());
    matches!(
        essence.as_deref(),
        Some("application/json-patch+json" | "application/json")
    )
}

/// The entity tags of `If-Match`, or None when the header is absent or names none.
fn if_match(headers: &HeaderMap) -> Result<Option<Vec<String>>, ApiError> {
    let malformed = || {
        ApiError::BadRequest(
            "If-Match must be * or a comma-separated list of entity tags such as \"3f2a\" \
             (send back the ETag of a GET)"
                .to_owned(),
        )
    };
    let mut tags = Vec::new();
    for value in headers.get_all(header::IF_MATCH) {
        let value = value.to_str().map_err(|_| malformed())?;
        for tag in value
            .split(',')
            .map(str::trim)
            .filter(|tag| !tag.is_empty())
        {
            if tag != "*" && !is_entity_tag(tag) {
                return Err(malformed());
            }
            tags.push(tag.to_owned());
        }
    }
    Ok((!tags.is_empty()).then_some(tags))
}

/// `"opaque"` or `W/"opaque"` (RFC 9110 section 8.8.3).
fn is_entity_tag(tag: &str) -> bool {
    let opaque = tag.strip_prefix("W/").unwrap_or(tag);
    (opaque
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"')))
    .is_some_and(|inside| !inside.contains('"'))
}

pub(super) fn not_found_client() -> ApiError {
    ApiError::NotFound("no client with this id".to_owned())
}
